"""Shared by the benchmarks: the data folder to measure on."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from engine.data.demo import write_demo


@contextlib.contextmanager
def bench_data(args):
    """Yields (data folder, a temporary folder for the run's own files): ``--data`` when given, else a
    fresh demo chain written into the temporary folder (removed afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data
        if folder is None:
            folder = Path(tmp) / "data" / "current"
            write_demo(folder)
        yield folder, tmp
