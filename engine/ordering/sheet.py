"""The evening order sheet: one recommended order per product for a store's close.

For a close date d the policy is simulated from SIM_START (the first day of the month before d)
through d, with forecasts from models trained before the validation days that precede that start
(``engine.inventory.forecasts``), to get the closing stock of d and what is in transit (ordered
before d, arriving after d). The forecasts for d+1 .. d+L are the ones made at 22:00 of d. The
recommended order is the order-up-to rule

    order = max(0, forecast of the L days + safety stock - on hand - in transit), rounded up to packs

and ``closing_stock={product: counted}`` replaces the simulated closing stock ("the real count
wins") and recomputes the order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import polars as pl

from engine.data.dataset import store_products
from engine.inventory.forecasts import lead_window
from engine.inventory.policy import run_policy
from engine.inventory.safety import make_plan
from engine.inventory.simulation import round_up


@dataclass
class OrderLine:
    store: int
    product: int
    date: dt.date  # the close (business day) the order is placed at 22:00
    lead_time: int
    price: float
    pack_size: int
    closing_stock: float  # simulated closing stock of `date`, or the count the user entered
    closing_source: str  # "simulated" | "counted"
    in_transit: float  # ordered before `date`, arriving after `date`
    forecasts: list[float]  # demand forecast for date+1 .. date+lead_time
    safety_stock: float
    safety_form: str
    recommended: int  # order quantity, >= 0, rounded up to pack_size
    reason: str
    model: str  # forecasting model used
    simulated_closing: float | None = None  # the simulation's closing stock (kept when a count replaces it)

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
                        "recommended": int(ln.recommended), "reason": ln.reason, "model": ln.model})
            rows.append(row)
        schema = {"product": pl.Int64, "lead_time": pl.Int64, "price": pl.Float64, "pack_size": pl.Int64, "closing_stock": pl.Float64,
                  "closing_source": pl.String, "in_transit": pl.Float64, **{f"forecast_d{h + 1}": pl.Float64 for h in range(width)},
                  "forecast_total": pl.Float64, "safety_stock": pl.Float64, "safety_form": pl.String, "recommended": pl.Int64,
                  "reason": pl.String, "model": pl.String}
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


def sim_start(date: dt.date) -> dt.date:
    """First day of the month before ``date`` (the simulation that yields the closing stock starts there)."""
    first = date.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def order_sheet(ds, store: int, date: dt.date | None = None, products: list[int] | None = None,
                safety_stock: str = "service-level:0.99", closing_stock: dict[int, float] | None = None,
                model: str = "auto", models_dir=None, form: str = "best", pack_size: int | dict[int, int] = 1) -> OrderSheet:
    """The order sheet of ``store`` at the close of ``date`` (default: the last day of the data); see the module docstring."""
    date = ds.end if date is None else date
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    if date > ds.end:
        raise ValueError(f"{date} is after the last day of data ({ds.end}); pick a business date on or before it.")
    counted = {int(k): v for k, v in (closing_stock or {}).items()}
    for p, v in counted.items():
        if v is None or not float(v) >= 0:
            raise ValueError(f"the counted closing stock of product {p} must be a number of 0 or more, not {v!r}.")
    start = sim_start(date)
    sheet = OrderSheet(int(store), date, str(safety_stock))
    for p in store_products(ds, store, products):
        pack = int(pack_size.get(p, 1) if isinstance(pack_size, dict) else pack_size)
        lw = lead_window(ds, store, p, start, date, model=model, models_dir=models_dir)
        plan = make_plan(lw, safety_stock, form, pack)
        ss = plan.values(lw.lead_forecast, lw.weekdays)
        sim = run_policy(lw, ss, pack)
        simulated = float(sim.closing[-1])
        closing = float(counted[p]) if p in counted else simulated
        forecasts = [float(x) for x in lw.forecasts[-1]]
        qty, reason = recommend_order(forecasts, float(ss[-1]), closing, float(sim.in_transit[-1]), pack)
        sheet.lines.append(OrderLine(
            store=int(store), product=p, date=date, lead_time=lw.lead_time, price=ds.price(p), pack_size=pack, closing_stock=closing,
            closing_source="counted" if p in counted else "simulated", in_transit=float(sim.in_transit[-1]), forecasts=forecasts,
            safety_stock=float(ss[-1]), safety_form=plan.label, recommended=qty, reason=reason, model=lw.model,
            simulated_closing=simulated))
    return sheet
