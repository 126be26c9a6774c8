"""`python -m engine batch`: the nightly batch (forecasts, backtests, orders) for every store x product on Dask."""

from __future__ import annotations

import datetime as dt
import sys

from engine.access.batch import run_batch
from engine.access.roles import cli_user
from engine.commands._output import print_json


class ProgressBar:
    """`[#####.....] 12/54 series, 1 failed` redrawn on stderr."""

    def __init__(self, stream=None, width: int = 30):
        # sys.stderr is looked up now, not when the module was imported (it may have been replaced and closed since)
        self.stream, self.width, self.drawn = stream if stream is not None else sys.stderr, width, False

    def __call__(self, done: int, total: int, failed: int, status: dict | None = None) -> None:
        filled = int(self.width * done / total) if total else self.width
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} series, {failed} failed"
        self.stream.write(line)
        if status and not status.get("ok"):
            self.stream.write("\n  " + str(status.get("error")) + "\n")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def summary_text(summary: dict) -> str:
    lines = [
        f"Nightly batch for the close of {summary['date']} ({summary['scheduler']}): "
        f"{summary['series_ok']}/{summary['series_total']} series ok, {summary['series_failed']} failed, "
        f"{summary['series_skipped']} skipped (inputs unchanged), {summary['series_computed']} computed in {summary['seconds']:.1f} s.",
        f"Stores: {len(summary['stores'])} · products: {len(summary['products'])} · models: {', '.join(summary['models'])}.",
        f"Outputs in {summary['out']}: forecasts.parquet, metrics.parquet, order_sheets.parquet, failures.parquet, summary.json.",
    ]
    if summary["failures"]:
        lines.append("Failures:")
        lines.extend(f"- {f}" for f in summary["failures"])
    return "\n".join(lines)


def _batch(args) -> int:
    bar = ProgressBar()
    try:
        summary = run_batch(cli_user(args.by), args.data, stores=args.stores, products=args.products, models=args.models, date=args.date,
                            scheduler=args.scheduler, workers=args.workers, out=args.out, safety_stock=args.safety_stock,
                            models_dir=args.models_dir, progress=None if args.quiet else bar)
    finally:
        bar.close()
    if args.json:
        print_json(summary)
    else:
        print(summary_text(summary))
    return 0


def register(sub) -> None:
    p = sub.add_parser("batch", help="nightly batch: fit/reload, backtest, forecast and order every store x product (Dask)")
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--stores", default="all", help="'all' or store ids, comma-separated (e.g. 44,45)")
    p.add_argument("--products", default="all", help="'all' or product ids, comma-separated (e.g. 3,12)")
    p.add_argument("--models", default="auto", help="'auto' (cheap models), 'all' or a list like weekday_mean4,gboost")
    p.add_argument("--date", type=dt.date.fromisoformat, default=None, help="the close (default: the last day of data)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, help="address of a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--workers", type=int, default=None,
                       help="worker processes of the local cluster (default: CPU count; 0 = in this process, without Dask)")
    p.add_argument("--out", default=None, help="output folder (default: <state>/batch beside the data)")
    p.add_argument("--safety-stock", default="service-level:0.99", help="safety stock rule passed to the ordering engine")
    p.add_argument("--models-dir", default=None, help="where fitted models are saved (default: <state>/models)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--by", default=None, help="who runs it, written to <state>/audit.jsonl (default: the OS user)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_batch)
