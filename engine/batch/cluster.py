"""Where the batch's tasks run: a local Dask cluster (N worker processes, one thread each) or a given scheduler."""

from __future__ import annotations

import contextlib
import logging
import sys
import types

from engine.batch.task import one_thread_env


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2):
    """Yields (client, description, n_workers). ``scheduler`` 'tcp://host:8786' connects to a running
    cluster; otherwise a ``LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)`` is
    started for the run and closed after it."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} ({str(exc).splitlines()[0][:120]}); "
                             "start it with `dask scheduler` (and workers with `dask worker`) or leave out --scheduler.") from None
        try:
            n = len(client.scheduler_info().get("workers", {}))
            if n == 0:
                client.wait_for_workers(1, timeout=60)
                n = len(client.scheduler_info().get("workers", {}))
            yield client, scheduler, n
        finally:
            client.close()
        return
    if workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {workers}); use 0 only to run in this process without Dask.")
    env = one_thread_env()
    with _plain_main(), dask.config.set({"distributed.nanny.pre-spawn-environ": {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **env}}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR, env=env)
    try:
        client = Client(cluster)
        try:
            yield client, f"LocalCluster({workers} processes x 1 thread)", workers
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def _plain_main():
    """Start worker processes without re-running the caller's ``__main__`` script.

    Spawned processes import the parent's ``__main__`` file before anything else. Under Streamlit
    (the Nightly batch page, and AppTest) ``__main__`` is the page script itself, so each worker
    would run the page and die ("Nanny failed to start"). The workers need nothing from it.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main
