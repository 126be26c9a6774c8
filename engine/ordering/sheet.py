"""The evening order sheet: one recommended order per product for a store's close.

For the close d (orders placed at 22:00, arriving before opening on d + L):

- the **forecast** is the one made at 22:00 of d by a model trained up to d: a
  ``LeadWindowQuantiles`` per product (``forecasts=``: a mapping product -> quantiles, or a callable
  ``(ds, store, product, date)``; default ``engine.ordering.close_forecast``, which the nightly batch
  feeds with the models it just trained);
- the **stock** comes from the stock book (``engine.ordering.stockbook``): the count of d, or the last
  count + receipts − sales since ("book"); in transit = confirmed orders not received yet. Where the
  book has nothing, a short simulation of the policy over the last weeks estimates both ("estimated");
  ``closing_stock={product: counted}`` replaces the closing stock with a count typed now ("counted");
- the **order** goes up to a quantile of lead-window demand:

    order = max(0, Q(level) of the L-day demand − on hand − in transit), rounded up to packs,

  where the level comes from the policy (``engine.inventory.quantile_policy.order_up_to_safety``): the fill
  rate promised (``service-level:0.99``, default), a plain quantile (``quantile:0.95``) or the cost
  option (``cost[:carrying rate]``: newsvendor critical ratio of lost margin vs holding cost).
  Safety stock = Q(level) − the point forecast. Q is ``LeadWindowQuantiles``' split-conformal quantile of the
  lead-window total errors after one-off shocks are clipped to Tukey's far-out fence
  (``engine.inventory.quantile_policy.fenced``). Each line says which quantile and why, in one sentence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from engine.data.dataset import store_products
from engine.inventory.quantile_policy import DEMAND_DAYS, order_up_to_safety, parse_policy
from engine.inventory.simulation import round_up, simulate_policy
from engine.ordering.ledger import default_ledger_path
from engine.ordering.stockbook import StockBook, censored_days, daily_sales, stock_position

ESTIMATE_DAYS = 35  # the estimate of stock (no book yet) simulates the policy over these last days


@dataclass
class OrderLine:
    store: int
    product: int
    date: dt.date  # the close (business day) the order is placed at 22:00
    lead_time: int
    price: float
    pack_size: int
    closing_stock: float  # closing stock of `date`: counted, from the book, or estimated
    closing_source: str  # "counted" | "book" | "estimated"
    in_transit: float  # ordered before `date`, arriving after `date`
    forecasts: list[float]  # demand forecast for date+1 .. date+lead_time
    safety_stock: float
    safety_form: str
    recommended: int  # order quantity, >= 0, rounded up to pack_size
    reason: str
    model: str  # forecasting model used
    simulated_closing: float | None = None  # the estimate's closing stock (kept when a count or the book replaces it)
    in_transit_source: str = "estimated"  # "ledger" | "estimated" | "ledger + estimated"
    level: float | None = None  # the quantile of lead-window demand ordered up to
    order_up_to: float | None = None  # Q(level) of the L-day demand
    why_level: str = ""  # one sentence: which quantile and why
    censored: bool = False  # the book closed at 0 today: today's sales understate demand
    last_week: float | None = None  # demand of the same L days one week earlier (for the exceptions)
    baseline: float | None = None  # weekday-mean forecast of the L days (mean of the 4 previous same weekdays)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["date"] = str(self.date)
        return out


@dataclass
class OrderSheet:
    store: int
    date: dt.date
    policy: str
    lines: list[OrderLine] = field(default_factory=list)

    def to_frame(self) -> pl.DataFrame:
        """One row per line; forecasts as columns forecast_d1 .. forecast_dL (L = the largest lead time).
        Store and date are the sheet's (not repeated as columns)."""
        width = max((ln.lead_time for ln in self.lines), default=0)
        rows = []
        for ln in self.lines:
            row = {"product": ln.product, "lead_time": ln.lead_time, "price": ln.price, "pack_size": ln.pack_size,
                   "closing_stock": float(ln.closing_stock), "closing_source": ln.closing_source, "in_transit": float(ln.in_transit)}
            for h in range(width):
                row[f"forecast_d{h + 1}"] = float(ln.forecasts[h]) if h < len(ln.forecasts) else None
            row.update({"forecast_total": float(sum(ln.forecasts)), "safety_stock": float(ln.safety_stock), "safety_form": ln.safety_form,
                        "recommended": int(ln.recommended), "reason": ln.reason, "model": ln.model,
                        "in_transit_source": ln.in_transit_source, "level": ln.level, "why_level": ln.why_level})
            rows.append(row)
        schema = {"product": pl.Int64, "lead_time": pl.Int64, "price": pl.Float64, "pack_size": pl.Int64, "closing_stock": pl.Float64,
                  "closing_source": pl.String, "in_transit": pl.Float64, **{f"forecast_d{h + 1}": pl.Float64 for h in range(width)},
                  "forecast_total": pl.Float64, "safety_stock": pl.Float64, "safety_form": pl.String, "recommended": pl.Int64,
                  "reason": pl.String, "model": pl.String, "in_transit_source": pl.String, "level": pl.Float64, "why_level": pl.String}
        return pl.DataFrame(rows, schema=schema)

    def to_dict(self) -> dict:
        return {"store": self.store, "date": str(self.date), "policy": self.policy, "lines": [ln.to_dict() for ln in self.lines]}


def _n(x: float) -> str:
    return f"{x:,.0f}"


def recommend_order(forecasts, safety_stock, closing_stock, in_transit, pack_size=1) -> tuple[int, str]:
    """(order quantity, reason): max(0, sum(forecasts) + safety - on hand - in transit) rounded up to pack_size.

    reason: "forecast 2 days = 21,400 + safety 2,100 − on hand 9,800 − in transit 10,500 = 3,200"."""
    total = float(sum(float(f) for f in forecasts))
    raw = total + float(safety_stock) - float(closing_stock) - float(in_transit)
    qty = round_up(raw, int(pack_size))
    days = len(list(forecasts))
    text = (f"forecast {days} day{'s' if days != 1 else ''} = {_n(total)} + safety {_n(safety_stock)} − on hand {_n(closing_stock)} "
            f"− in transit {_n(in_transit)}")
    if raw <= 1e-9:
        text += " = 0" if round(raw) == 0 else f" = {_n(raw).replace('-', '−')} → order 0 (enough stock)"
    elif int(pack_size) > 1 and qty != round_up(raw, 1):
        text += f" = {_n(raw)} → {_n(qty)} (packs of {int(pack_size)})"
    else:
        text += f" = {_n(qty)}"
    return qty, text


def estimate_position(ds, store: int, product: int, date: dt.date, safety: float, pack_size: int = 1) -> tuple[float, dict]:
    """(closing stock of ``date``, {close: units ordered}) estimated by running the order-up-to policy over the
    last ESTIMATE_DAYS days of real sales, with the mean of the 4 previous same weekdays as forecast and
    ``safety`` as safety stock, from a start where stock = safety and the pipeline holds the forecasts."""
    L = ds.lead_time(int(product))
    sales = daily_sales(ds, store, product)
    first = date - dt.timedelta(days=ESTIMATE_DAYS - 1)

    def qty(day):
        return sales.get(day, 0.0)

    def weekday_mean(day):
        return float(np.mean([qty(day - dt.timedelta(days=7 * k)) for k in range(1, 5)]))

    days = [first + dt.timedelta(days=i) for i in range(ESTIMATE_DAYS)]
    demand = [qty(d) for d in days]
    lead = [sum(weekday_mean(d + dt.timedelta(days=h)) for h in range(1, L + 1)) for d in days]
    pipeline = [round_up(weekday_mean(first + dt.timedelta(days=h)), pack_size) for h in range(L)]
    sim = simulate_policy(demand, L, lead, safety, initial_closing=float(round_up(safety, 1)), pipeline=pipeline, pack_size=pack_size)
    return float(sim.closing[-1]), {d: float(o) for d, o in zip(days, sim.order)}


def _quantiles(forecasts, ds, store, product, date):
    if forecasts is None:
        return None
    if callable(forecasts):
        return forecasts(ds, store, product, date)
    q = forecasts.get(product) if hasattr(forecasts, "get") else None
    if q is None:
        raise ValueError(f"no lead-window forecast was given for product {product}; give one per product on the sheet.")
    return q


def default_book(ds) -> StockBook | None:
    """The stock book beside the data (read-only: the sheet never writes), or None for a dataset without a folder."""
    return StockBook(default_ledger_path(ds.folder), read_only=True) if getattr(ds, "folder", None) else None


def order_sheet(ds, store: int, date: dt.date | None = None, products: list[int] | None = None,
                safety_stock: str = "service-level:0.99", closing_stock: dict[int, float] | None = None,
                model: str = "auto", models_dir=None, form: str = "best", pack_size: int | dict[int, int] = 1,
                forecasts=None, book: StockBook | None | bool = None) -> OrderSheet:
    """The order sheet of ``store`` at the close of ``date`` (default: the last day of data); see the module docstring.

    ``forecasts``: {product: LeadWindowQuantiles} or a callable (ds, store, product, date) -> LeadWindowQuantiles;
    default: models trained up to the close (``model``, ``models_dir``). ``book``: the StockBook (default: the
    one beside the data, read-only; False = none). ``form`` is accepted for the CLI's sake: the quantile policy
    keeps per-weekday calibration errors where there are enough of them."""
    from engine.ordering.close_forecast import default_producer

    date = ds.end if date is None else date
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    if date > ds.end:
        raise ValueError(f"{date} is after the last day of data ({ds.end}); pick a business date on or before it.")
    kind, value = parse_policy(safety_stock)
    counted = {int(k): v for k, v in (closing_stock or {}).items()}
    for p, v in counted.items():
        if v is None or not float(v) >= 0:
            raise ValueError(f"the counted closing stock of product {p} must be a number of 0 or more, not {v!r}.")
    book = default_book(ds) if book is None else (book or None)
    producer = forecasts if forecasts is not None else default_producer(model, models_dir, book)
    sheet = OrderSheet(int(store), date, str(safety_stock))
    for p in store_products(ds, store, products):
        pack = int(pack_size.get(p, 1) if isinstance(pack_size, dict) else pack_size)
        q = _quantiles(producer, ds, store, p, date)
        L = q.lead_time
        point = [float(x) for x in q.point]
        sales = daily_sales(ds, store, p)
        if kind == "fixed":
            level, up_to = None, q.point_total + float(value)
            why = f"fixed safety stock of {value:,.0f} units on top of the forecast"
        else:
            span = [sales.get(date - dt.timedelta(days=k), 0.0) for k in range(DEMAND_DAYS)]
            level, extra, why = order_up_to_safety(safety_stock, q, float(np.mean(span)), ds.price(p))
            up_to = max(0.0, q.point_total + extra)
            why = f"order up to P{level * 100:g} of the {L}-day demand ({up_to:,.0f} units): {why}"
        safety = max(0.0, up_to - q.point_total)
        est_closing, est_orders = estimate_position(ds, store, p, date, safety, pack)
        pos = stock_position(ds, book, store, p, date, est_closing, est_orders)
        closing, source = (float(counted[p]), "counted") if p in counted else (pos.closing, pos.closing_source)
        qty, reason = recommend_order(point, safety, closing, pos.in_transit, pack)
        last_week = sum(sales.get(date + dt.timedelta(days=h - 7), 0.0) for h in range(1, L + 1))
        baseline = sum(sales.get(date + dt.timedelta(days=h - 7 * k), 0.0) for h in range(1, L + 1) for k in range(1, 5)) / 4
        sheet.lines.append(OrderLine(
            store=int(store), product=p, date=date, lead_time=L, price=ds.price(p), pack_size=pack, closing_stock=closing,
            closing_source=source, in_transit=pos.in_transit, forecasts=point, safety_stock=safety,
            safety_form=(f"{len(q.total_errors())} calibration errors ("
                         + ("the close's weekday" if len(q.total_errors()) < len(q.errors) else "all weekdays") + ")"),
            recommended=qty, reason=reason, model=q.model, simulated_closing=est_closing, in_transit_source=pos.in_transit_source,
            level=level, order_up_to=up_to, why_level=why, censored=pos.censored or date in censored_days(ds, book, store, p),
            last_week=last_week, baseline=baseline))
    return sheet
