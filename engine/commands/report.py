"""`python -m engine report`: the 3–4 page pilot report (PDF), or its numbers with --json."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.commands._options import product_ids
from engine.commands._output import print_json
from engine.data.dataset import load_dataset
from engine.data.storage import data_dir
from engine.report.pilot import pilot_report


def _report(args) -> int:
    ds = load_dataset(args.data or data_dir())
    out = args.out or "report.pdf"

    def progress(name, frac, msg):
        if args.verbose:
            print(f"[{name}] {frac:4.0%} {msg}", file=sys.stderr)

    write_pdf = not args.json or args.out is not None
    numbers, pdf = pilot_report(ds, args.store, product_ids(args.products, "3,12,42"), args.windows, lang=args.lang, models=args.models,
                                safety_stock=args.safety_stock, models_dir=args.models_dir, out_name=out, pdf=write_pdf, progress=progress,
                                inventory_model=args.inventory_model)
    if pdf is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(pdf)
    if args.json:
        print_json(numbers)
    else:
        print(f"wrote {out} ({len(pdf):,} bytes): store {numbers['store']}, products {', '.join(map(str, numbers['products']))}, "
              f"windows {numbers['windows'][0]['start']} to {numbers['windows'][-1]['end']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="the pilot report: data and patterns, forecasts vs baselines, inventory vs the bound, next steps (PDF)")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--store", type=int, default=44)
    p.add_argument("--products", default="3,12,42", help="product ids, comma-separated")
    p.add_argument("--windows", default=None,
                   help="evaluation windows: 2016-07..2016-12 (one per month), 2016-12, or 2016-12-01..2016-12-14 (default: the last 3 full months)")
    p.add_argument("--lang", default="en", choices=["en", "ko"])
    p.add_argument("--models", default="auto", help="'auto' (cheap models), 'all' (adds LSTM and CNN) or a list like gboost,lstm")
    p.add_argument("--safety-stock", default="service-level:0.99", help="the honest policy: service-level[:0.99] or a number of units")
    p.add_argument("--inventory-model", default="auto", help="forecasting model of the inventory simulation (auto = the best cheap model by backtest)")
    p.add_argument("--models-dir", default=None, help="where fitted models are saved (default: <state>/models beside the data)")
    p.add_argument("--out", default=None, help="the PDF to write (default report.pdf; with --json only when given)")
    p.add_argument("--verbose", action="store_true", help="print training progress to stderr")
    p.add_argument("--json", action="store_true", help="print every number of the report as JSON")
    p.set_defaults(func=_report)
