"""`python -m engine bench <name>`: run engine/bench/<name>.py and print its table."""

from __future__ import annotations

import importlib
import pkgutil


def _names() -> list[str]:
    import engine.bench

    return sorted(m.name for m in pkgutil.iter_modules(engine.bench.__path__) if not m.name.startswith("_"))


def format_table(rows: list[dict]) -> str:
    """Plain-text table with right-aligned numbers."""
    if not rows:
        return "(no rows)"
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v):
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
        return "" if v is None else str(v)

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in cells:
        out.append("  ".join(v.rjust(w) if v[:1].isdigit() or v[:1] == "-" else v.ljust(w) for v, w in zip(row, widths)))
    return "\n".join(out)


def _bench(args) -> int:
    from engine.cli import print_json

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
