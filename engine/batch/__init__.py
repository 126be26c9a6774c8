"""Nightly batch: forecasts, backtests and order recommendations for every (store, product), on Dask.

``run_batch`` (engine.batch.runner) is the entry point of the CLI and the Nightly batch page;
``read_summary`` / ``last_batch_line`` (engine.batch.summary) read the last run without importing Dask.
"""

from engine.batch.summary import LastBatch, last_batch, last_batch_line, read_output, read_summary


def run_batch(*args, **kwargs) -> dict:
    """See engine.batch.runner.run_batch (imported lazily: it pulls in the forecasting engine)."""
    from engine.batch.runner import run_batch as _run_batch

    return _run_batch(*args, **kwargs)


__all__ = ["LastBatch", "last_batch", "last_batch_line", "read_output", "read_summary", "run_batch"]
