"""Data commands: demo, validate, import-favorita."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.data.demo import write_demo
from engine.commands._output import print_json
from engine.data.dataset import read_dataset
from engine.data.favorita import import_favorita


def _demo(args) -> int:
    written = write_demo(args.dir, seed=args.seed, n_stores=args.stores, fmt=args.format)
    if args.json:
        print_json({name: str(p) for name, p in written.items()})
    else:
        print(f"Wrote demo data ({args.stores} stores) to {args.dir}: " + ", ".join(p.name for p in written.values()))
    return 0


def _validate(args) -> int:
    ds, report = read_dataset(args.dir)
    if args.json:
        print_json(report.to_dict())
        return 0 if report.ok else 1
    if not report.ok:
        print(f"{args.dir}: {len(report.errors)} problem(s) must be fixed before the data can be used:")
        for s in report.error_sentences():
            print(f"- {s}")
    else:
        s = report.summary
        print(
            f"{args.dir}: OK. {s['days']:,} days ({s['start']} to {s['end']}), {s['stores']} stores, "
            f"{s['products']} products, {s['sales_rows']:,} sales rows, {s['total_qty']:,.0f} units sold."
        )
    for w in report.warning_sentences():
        print(f"warning: {w}")
    return 0 if report.ok else 1


def _import_favorita(args) -> int:
    result = import_favorita(args.src, args.dir, lead_time=args.lead_time, price=args.price)
    if args.json:
        print_json(result)
    else:
        print(f"Imported Kaggle store-sales files from {args.src} into {args.dir}:")
        for name, rows in result["rows"].items():
            print(f"- {name}: {rows:,} rows")
        for note in result["notes"]:
            print(f"note: {note}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="write the deterministic demo chain (five tables) into DIR")
    p.add_argument("dir", type=Path)
    p.add_argument("--seed", type=int, default=20170331)
    p.add_argument("--stores", type=int, default=54, help="number of stores (store 44 is always included)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_demo)

    p = sub.add_parser("validate", help="check the five tables in DIR; exit 1 with one sentence per problem")
    p.add_argument("dir", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_validate)

    p = sub.add_parser("import-favorita", help="convert Kaggle store-sales (Favorita) files in SRC into the five tables in DIR")
    p.add_argument("src", type=Path)
    p.add_argument("dir", type=Path)
    p.add_argument("--lead-time", type=int, default=2, help="LeadTime given to every product (edit products.csv later)")
    p.add_argument("--price", type=float, default=1.0, help="Price given to every product (edit products.csv later)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_import_favorita)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m engine demo|validate|import-favorita")
