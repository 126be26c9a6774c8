"""Benchmarks: each module has ``run(args) -> list[dict]`` (rows of the printed table)."""
