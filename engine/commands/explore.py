"""`python -m engine explore decompose|patterns|factors|diagnostics`: the Explore page's numbers."""

from __future__ import annotations

import datetime as dt

from engine.data.dataset import load_dataset
from engine.data.storage import data_dir
from engine.commands._output import print_json
from engine.analysis.decomposition import decompose
from engine.analysis.patterns import patterns
from engine.analysis.factors import factor_analysis
from engine.analysis.diagnostics import series_diagnostics


def _product(value: str) -> int | None:
    return None if value.lower() in ("all", "total", "none") else int(value)


def _load(args):
    return load_dataset(args.data or data_dir())


def _json(obj) -> None:
    """print_json with NaN written as null (strict JSON)."""
    import math

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    print_json(clean(obj))


def _frame_text(frame, rows: int = 40) -> str:
    import polars as pl

    with pl.Config(tbl_rows=rows, tbl_cols=20, fmt_str_lengths=200, tbl_width_chars=200):
        return str(frame)


def _decompose(args) -> int:
    d = decompose(_load(args), args.store, args.product, args.start, args.end, period=args.period, method=args.method)
    if args.json:
        _json({**d.to_dict(), "frame": d.frame.to_dicts() if args.rows else None})
        return 0
    print(d.verdict)
    print(_frame_text(d.seasonal_profile))
    print(_frame_text(d.frame.tail(args.tail), args.tail))
    return 0


def _patterns(args) -> int:
    p = patterns(_load(args), args.store, args.product, args.start, args.end)
    if args.json:
        _json(p.to_dict())
        return 0
    print(f"{p.label}, {p.start} to {p.end}")
    for title, frame, verdict in (("Weekday profile", p.weekday, p.weekday_verdict), ("Monthly profile", p.monthly, p.monthly_verdict),
                                  ("Holidays", p.holidays, p.holiday_verdict)):
        print(f"\n{title}: {verdict}")
        print(_frame_text(frame))
    print("\nEffects:")
    for row in p.effects.iter_rows(named=True):
        print(f"- {row['verdict']}")
    return 0


def _factors(args) -> int:
    a = factor_analysis(_load(args), args.store, args.product, args.start, args.end, max_lag=args.max_lag,
                        rolling_window=args.rolling_window, transform=args.transform, target=args.target)
    if args.json:
        _json(a.to_dict())
        return 0
    print(f"{a.label}, {a.start} to {a.end}, {a.target} ({a.transform}), rolling window {a.rolling_window} days")
    print(_frame_text(a.summary().drop("verdict")))
    for r in a.results:
        print(f"- {r.verdict}")
    print(f"\nOil bands: {a.band_verdict}")
    print(_frame_text(a.band_means))
    return 0


def _diagnostics(args) -> int:
    d = series_diagnostics(_load(args), args.store, args.product, args.start, args.end, of=args.of, method=args.method,
                           period=args.period, lags=args.lags)
    if args.json:
        _json(d.to_dict())
        return 0
    print(_frame_text(d.table().drop("sentence", "question")))
    for t in d.tests:
        print(f"- {t.sentence}")
    print(f"- {d.acf_sentence}")
    print(f"- {d.pacf_sentence}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("explore", help="decomposition, calendar patterns, outside factors and diagnostics of a series (the Explore page)")
    ex = p.add_subparsers(dest="analysis", metavar="analysis", required=True)

    def common(q):
        q.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
        q.add_argument("--store", type=int, default=44)
        q.add_argument("--product", type=_product, default=3, help="product id, or 'all' for the store's total")
        q.add_argument("--start", type=dt.date.fromisoformat, default=None)
        q.add_argument("--end", type=dt.date.fromisoformat, default=None)
        q.add_argument("--json", action="store_true")

    q = ex.add_parser("decompose", help="trend + seasonal + residual (STL or classical)")
    common(q)
    q.add_argument("--method", choices=["stl", "classical"], default="stl")
    q.add_argument("--period", default="weekly", help="weekly, yearly or a number of days")
    q.add_argument("--tail", type=int, default=10, help="last days of the components to print")
    q.add_argument("--rows", action="store_true", help="with --json: include every day's components")
    q.set_defaults(func=_decompose)

    q = ex.add_parser("patterns", help="weekday / month profiles, payday and holiday effects")
    common(q)
    q.set_defaults(func=_patterns)

    q = ex.add_parser("factors", help="oil and customer factors: correlation, lag profile, rolling stability")
    common(q)
    q.add_argument("--transform", choices=["level", "change_7d"], default="level")
    q.add_argument("--target", choices=["sales", "customers"], default="sales")
    q.add_argument("--max-lag", type=int, default=14)
    q.add_argument("--rolling-window", type=int, default=90)
    q.set_defaults(func=_factors)

    q = ex.add_parser("diagnostics", help="Shapiro-Wilk, ADF, Ljung-Box, ACF/PACF of a series")
    common(q)
    q.add_argument("--of", choices=["residual", "sales", "changes"], default="residual")
    q.add_argument("--method", choices=["stl", "classical"], default="stl")
    q.add_argument("--period", default="weekly")
    q.add_argument("--lags", type=int, default=28)
    q.set_defaults(func=_diagnostics)
