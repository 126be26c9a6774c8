"""`python -m engine bench <name>`: run engine/bench/<name>.py and print its table."""

from __future__ import annotations

import importlib
import pkgutil

import engine.bench
from engine.commands._output import format_table, print_json


def _names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(engine.bench.__path__) if not m.name.startswith("_"))


def _bench(args) -> int:
    module = importlib.import_module(f"engine.bench.{args.name}")
    rows = module.run(args)
    if args.json:
        print_json(rows)
    else:
        print(format_table(rows))
        for note in getattr(module, "NOTES", []):
            print(note)
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print a table: " + ", ".join(_names()))
    bench_sub = p.add_subparsers(dest="name", metavar="name", required=True)
    for name in _names():
        module = importlib.import_module(f"engine.bench.{name}")
        bp = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None)
        bp.add_argument("--data", default=None, help="data folder (default: a fresh demo set in a temporary folder)")
        bp.add_argument("--json", action="store_true")
        if hasattr(module, "add_arguments"):
            module.add_arguments(bp)
        bp.set_defaults(func=_bench)
