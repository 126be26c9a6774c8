"""`python -m engine forecast`: backtest models on a test window and print the forecasts (JSON or a table)."""

from __future__ import annotations

import datetime as dt
import sys
from engine.commands._output import print_json
from engine.data.dataset import load_dataset
from engine.forecasting import run_forecast
from engine.data.storage import data_dir
from engine.commands._output import format_table


def _products(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"--products must be product ids separated by commas (e.g. 3,12), not {text!r}.") from None


def _forecast(args) -> int:

    ds = load_dataset(args.data or data_dir())

    def progress(name, frac, msg):
        if args.verbose:
            print(f"[{name}] {frac:4.0%} {msg}", file=sys.stderr)

    results = run_forecast(ds, args.store, _products(args.products), args.test_start, args.test_end, models=args.models,
                           models_dir=args.models_dir, progress=progress)
    if args.json:
        print_json({"results": [r.to_dict() for r in results]})
        return 0

    for r in results:
        print(f"store {r.store} product {r.product} (lead time {r.lead_time} days), test {r.test_start} to {r.test_end}: chosen {r.model}")
        rows = [{k: v for k, v in row.items() if k != "chosen"} | {"chosen": "*" if row["chosen"] else ""} for row in r.comparison().to_dicts()]
        print(format_table(rows))
        print()
    return 0


def register(sub) -> None:
    p = sub.add_parser("forecast", help="backtest forecasting models on a test window (train before it, walk forward through it)")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--store", type=int, default=44)
    p.add_argument("--products", default="3,12,42", help="product ids, comma-separated")
    p.add_argument("--test-start", type=dt.date.fromisoformat, required=True, help="first day of the test window (training uses days before it)")
    p.add_argument("--test-end", type=dt.date.fromisoformat, required=True)
    p.add_argument("--models", default="auto", help="'auto' (cheap models), 'all' (adds LSTM and CNN) or a list like gboost,lstm,cnn")
    p.add_argument("--models-dir", default=None, help="where fitted models are saved (default: <state>/models beside the data)")
    p.add_argument("--verbose", action="store_true", help="print training progress to stderr")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_forecast)
