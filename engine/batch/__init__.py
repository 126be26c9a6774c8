"""Nightly batch: forecasts, backtests and order recommendations for every (store, product), on Dask.

``engine.batch.runner.run_batch`` is the entry point of the CLI and the Nightly batch page;
``engine.batch.summary`` reads the last run without importing Dask.
"""
