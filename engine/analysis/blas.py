"""Run small linear algebra on one BLAS thread.

The Explore computations are many tiny regressions (ADF's lag search, STL's loess). With a
multi-threaded BLAS on a busy 2-core machine, thread hand-offs cost far more than the maths:
ADF on 1,186 days took 0.1-4 s with default threads and 0.03 s on one thread (measured here).
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
