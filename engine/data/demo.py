"""Deterministic demo chain: five tables for 54 US stores and 24 products, 2014-01-01..2017-03-31.

Built to look like a real chain rather than noise:
- customers per store and day = store size x trend x weekday x season x payday x holiday
  x oil-driven economy x a city shock shared by the stores of one city x noise;
  Christmas Day is closed, two stores open late and one closes for a refit;
- product demand = customers x product rate x store affinity x product weekday/season pattern
  x promotions x over-dispersed (gamma-Poisson) noise; days with nothing sold have no row;
- WTI oil on business days only, with empty cells on market holidays and the 2014-2016 crash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from engine.data.calendar import us_holidays

START = dt.date(2014, 1, 1)
END = dt.date(2017, 3, 31)
PILOT_STORE = 44
PILOT_PRODUCTS = (3, 12, 42)

# City, State, number of stores (54 in all); store 44 is in New York, the biggest city.
CITIES = [
    ("New York", "NY", 12), ("Buffalo", "NY", 2), ("Los Angeles", "CA", 6), ("San Diego", "CA", 3),
    ("San Francisco", "CA", 3), ("Sacramento", "CA", 1), ("Houston", "TX", 4), ("Dallas", "TX", 3),
    ("Austin", "TX", 2), ("Chicago", "IL", 4), ("Springfield", "IL", 1), ("Miami", "FL", 3),
    ("Orlando", "FL", 2), ("Tampa", "FL", 1), ("Seattle", "WA", 2), ("Denver", "CO", 1),
    ("Atlanta", "GA", 2), ("Boston", "MA", 2),
]


@dataclass(frozen=True)
class ProductSpec:
    id: int
    subcategory: str
    category: str
    lead_time: int
    price: float
    rate: float  # units per customer
    weekend: float = 0.0  # extra weekend lift
    summer: float = 0.0  # lift at the July peak
    december: float = 0.0  # lift in the weeks before Christmas
    payday: float = 0.05  # lift on paydays
    back_to_school: float = 0.0


PRODUCTS = [
    ProductSpec(0, "AUTOMOTIVE", "Hardlines", 5, 12.99, 0.0025),
    ProductSpec(1, "BABY CARE", "Personal Care", 4, 9.49, 0.0008),
    ProductSpec(2, "BEAUTY", "Personal Care", 4, 7.99, 0.0012, december=0.3),
    ProductSpec(3, "BEVERAGES", "Grocery", 2, 1.89, 0.62, weekend=0.18, summer=0.22, payday=0.08),
    ProductSpec(5, "BREAD/BAKERY", "Fresh", 1, 2.49, 0.12, weekend=0.05),
    ProductSpec(7, "CLEANING", "Household", 3, 4.99, 0.24, payday=0.12),
    ProductSpec(8, "DAIRY", "Fresh", 1, 3.29, 0.22),
    ProductSpec(9, "DELI", "Fresh", 1, 5.99, 0.07, weekend=0.1),
    ProductSpec(10, "EGGS", "Fresh", 2, 2.99, 0.06, december=0.1),
    ProductSpec(11, "FROZEN FOODS", "Grocery", 3, 4.49, 0.05, summer=0.1, december=0.4),
    ProductSpec(12, "GROCERY I", "Grocery", 2, 2.19, 2.05, weekend=0.04, payday=0.22, december=0.15),
    ProductSpec(13, "GROCERY II", "Grocery", 3, 3.49, 0.006),
    ProductSpec(14, "HARDWARE", "Hardlines", 7, 15.99, 0.0004),
    ProductSpec(18, "HOME CARE", "Household", 3, 6.49, 0.06, payday=0.1),
    ProductSpec(22, "LIQUOR,WINE,BEER", "Beverages", 3, 11.99, 0.03, weekend=0.6, december=0.5),
    ProductSpec(24, "MEATS", "Fresh", 1, 8.99, 0.07, weekend=0.15, summer=0.1),
    ProductSpec(25, "PERSONAL CARE", "Personal Care", 3, 5.49, 0.06, payday=0.1),
    ProductSpec(26, "PET SUPPLIES", "Household", 4, 8.99, 0.002),
    ProductSpec(28, "POULTRY", "Fresh", 1, 6.49, 0.07, weekend=0.1),
    ProductSpec(29, "PREPARED FOODS", "Fresh", 1, 7.49, 0.02, weekend=0.12),
    ProductSpec(30, "PRODUCE", "Fresh", 1, 1.99, 0.42, weekend=0.08, summer=0.08),
    ProductSpec(31, "SCHOOL AND OFFICE SUPPLIES", "Hardlines", 5, 4.99, 0.0015, back_to_school=4.0),
    ProductSpec(32, "SEAFOOD", "Fresh", 2, 12.99, 0.005, december=0.3),
    ProductSpec(42, "SNACKS", "Grocery", 2, 3.99, 0.31, weekend=0.25, summer=0.1, payday=0.1, december=0.2),
]

OIL_ANCHORS = [  # (date, USD) of the WTI path, crash included
    ("2014-01-01", 95), ("2014-06-20", 107), ("2014-12-31", 53), ("2015-01-28", 44), ("2015-05-06", 62),
    ("2015-08-24", 38), ("2015-10-09", 49), ("2015-12-21", 34), ("2016-02-11", 26), ("2016-06-08", 51),
    ("2016-08-02", 40), ("2016-10-19", 52), ("2016-11-14", 43), ("2016-12-28", 54), ("2017-02-28", 54),
    ("2017-03-31", 50),
]
LATE_OPENINGS = {20: dt.date(2015, 6, 1), 52: dt.date(2016, 3, 15)}
REFIT = {18: (dt.date(2016, 4, 10), dt.date(2016, 5, 20))}
HOLIDAY_EFFECT = {
    "New Year's Day": -0.55, "Easter Sunday": -0.15, "Memorial Day": 0.06, "Independence Day": -0.12,
    "Labor Day": 0.05, "Halloween": 0.08, "Thanksgiving": -0.45, "Black Friday": 0.35,
    "Christmas Eve": 0.3, "New Year's Eve": 0.2,
}


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sigma: float) -> np.ndarray:
    eps = rng.normal(0.0, sigma, size=shape)
    out = np.empty(shape)
    out[..., 0] = eps[..., 0] / np.sqrt(1 - phi**2)
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + eps[..., t]
    return out


def _oil(rng: np.random.Generator, dates: list[dt.date]) -> tuple[np.ndarray, pl.DataFrame]:
    """Daily WTI path (for effects) and the oil_price table (business days, blank on market holidays)."""
    ordinals = np.array([d.toordinal() for d in dates])
    ax = np.array([dt.date.fromisoformat(d).toordinal() for d, _ in OIL_ANCHORS])
    ay = np.log([p for _, p in OIL_ANCHORS])
    path = np.exp(np.interp(ordinals, ax, ay) + _ar1(rng, (len(dates),), 0.93, 0.012))
    market_closed = set()
    for year in range(START.year, END.year + 1):
        h = us_holidays(year)
        market_closed |= {d for d, n in h.items() if n in ("New Year's Day", "Martin Luther King Jr. Day", "Presidents' Day",
                                                            "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving", "Christmas Day")}
        market_closed.add([d for d, n in h.items() if n == "Easter Sunday"][0] - dt.timedelta(days=2))  # Good Friday
    rows = [(d, None if d in market_closed else round(float(p), 2)) for d, p in zip(dates, path) if d.weekday() < 5]
    table = pl.DataFrame(rows, schema={"Date": pl.Date, "WTI_Price": pl.Float64}, orient="row")
    return path, table


def generate(seed: int = 20170331, n_stores: int = 54) -> dict[str, pl.DataFrame]:
    """The five demo tables. Same seed and store count -> identical tables."""
    rng = np.random.default_rng(seed)
    dates = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
    n_days = len(dates)
    t_years = np.arange(n_days) / 365.25
    dow = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    day = np.array([d.day for d in dates])
    month_end = np.array([(d + dt.timedelta(days=1)).month != d.month for d in dates])
    payday = (day == 15) | month_end
    after_payday = np.roll(payday, 1)
    closed = np.array([(d.month, d.day) == (12, 25) for d in dates])
    holidays = {}
    for year in range(START.year, END.year + 1):
        holidays.update(us_holidays(year))
    holiday_lift = np.array([HOLIDAY_EFFECT.get(holidays.get(d, ""), 0.0) for d in dates])
    days_to_xmas = np.array([(dt.date(d.year, 12, 25) - d).days for d in dates])
    xmas_run = np.where((days_to_xmas > 0) & (days_to_xmas <= 21), (21 - days_to_xmas) / 21, 0.0)
    summer = np.exp(-0.5 * ((doy - 196) / 30) ** 2)
    school = np.exp(-0.5 * ((doy - 228) / 9) ** 2)
    oil_path, oil_table = _oil(rng, dates)
    oil_lag = np.concatenate([np.full(21, oil_path[0]), oil_path[:-21]])
    economy = 0.06 * (np.log(oil_lag) - np.log(60.0))

    # stores
    store_ids = np.arange(1, 55)
    city_of = [(c, s) for c, s, n in CITIES for _ in range(n)]
    # place store 44 in New York: swap with the 1st New York slot so cities stay contiguous by id otherwise
    city_of[43], city_of[0] = city_of[0], city_of[43]
    keep = [i for i in range(54) if store_ids[i] == PILOT_STORE or i < n_stores]
    keep = sorted(set(keep))[: max(n_stores, 1)] if n_stores < 54 else list(range(54))
    if n_stores < 54 and 43 not in keep:
        keep[-1] = 43
    store_ids = store_ids[keep]
    city_of = [city_of[i] for i in keep]
    n_s = len(store_ids)
    size = np.exp(rng.normal(np.log(1400), 0.45, n_s))
    size[store_ids == PILOT_STORE] = max(4300.0, 1.2 * size[store_ids != PILOT_STORE].max(initial=0.0))  # the top store
    types = np.where(size > 2500, "A", np.where(size > 1700, "B", np.where(size > 1200, "C", np.where(size > 900, "D", "E"))))
    cities = sorted({c for c in city_of})
    city_idx = np.array([cities.index(c) for c in city_of])
    city_shock = _ar1(rng, (len(cities), n_days), 0.9, 0.035)
    state_names = sorted({s for _, s in city_of})
    state_idx = np.array([state_names.index(s) for _, s in city_of])
    state_shock = _ar1(rng, (len(state_names), n_days), 0.97, 0.012)
    growth = rng.normal(0.025, 0.02, n_s)
    growth[store_ids == PILOT_STORE] = 0.03
    trend = growth[:, None] * t_years[None, :]
    weekday_profile = np.array([-0.06, -0.08, -0.04, -0.02, 0.04, 0.14, 0.10])
    log_c = (
        np.log(size)[:, None] + trend + weekday_profile[dow][None, :]
        + 0.08 * payday[None, :] + 0.03 * after_payday[None, :] + holiday_lift[None, :]
        + 0.25 * xmas_run[None, :] - 0.07 * (doy <= 20)[None, :] + 0.04 * summer[None, :]
        + economy[None, :] + city_shock[city_idx] + state_shock[state_idx] + rng.normal(0, 0.035, (n_s, n_days))
    )
    open_ = np.ones((n_s, n_days), dtype=bool)
    open_[:, closed] = False
    date_arr = np.array(dates, dtype="datetime64[D]")
    for sid, opening in LATE_OPENINGS.items():
        if sid in store_ids:
            open_[store_ids == sid, :] &= date_arr >= np.datetime64(opening)
    for sid, (a, b) in REFIT.items():
        if sid in store_ids:
            open_[store_ids == sid, :] &= ~((date_arr >= np.datetime64(a)) & (date_arr <= np.datetime64(b)))
    customers = np.where(open_, np.round(np.exp(log_c)), 0.0)

    # products
    n_p = len(PRODUCTS)
    qty = np.zeros((n_s, n_p, n_days))
    weekend = dow >= 5
    for j, p in enumerate(PRODUCTS):
        affinity = np.exp(rng.normal(0, 0.15, n_s))
        pattern = (
            1 + p.weekend * weekend + p.summer * summer + p.december * xmas_run
            + p.payday * payday + p.back_to_school * school
        )
        promo = 1 + 0.5 * (rng.random((n_s, n_days)) < 0.015)
        mean = customers * p.rate * affinity[:, None] * pattern[None, :] * promo
        k = 60.0
        lam = rng.gamma(k, mean / k, size=mean.shape) if mean.max() > 0 else mean
        q = rng.poisson(np.maximum(lam, 0))
        q[rng.random(q.shape) < 0.003] = 0  # occasional zero days (stock-outs, scanner down)
        qty[:, j, :] = q

    s_i, p_i, d_i = np.nonzero(qty)
    sales = pl.DataFrame(
        {
            "Date": date_arr[d_i],
            "Store_ID": store_ids[s_i].astype(np.int64),
            "Qty": qty[s_i, p_i, d_i].astype(np.int64),
            "Product_ID": np.array([p.id for p in PRODUCTS])[p_i].astype(np.int64),
        },
        schema={"Date": pl.Date, "Store_ID": pl.Int64, "Qty": pl.Int64, "Product_ID": pl.Int64},
    ).sort("Date", "Store_ID", "Product_ID")
    products = pl.DataFrame(
        {
            "Product_ID": [p.id for p in PRODUCTS],
            "Product_Code": [f"KM-{p.id:04d}" for p in PRODUCTS],
            "SubCategory": [p.subcategory for p in PRODUCTS],
            "Category": [p.category for p in PRODUCTS],
            "LeadTime": [p.lead_time for p in PRODUCTS],
            "Price": [p.price for p in PRODUCTS],
        }
    )
    stores = pl.DataFrame(
        {"Store_ID": store_ids.astype(np.int64), "City": [c for c, _ in city_of], "State": [s for _, s in city_of], "Store_Type": types.tolist()}
    )
    o_s, o_d = np.nonzero(customers)
    orders = pl.DataFrame(
        {"Date": date_arr[o_d], "Store_ID": store_ids[o_s].astype(np.int64), "CustomerCount": customers[o_s, o_d].astype(np.int64)},
        schema={"Date": pl.Date, "Store_ID": pl.Int64, "CustomerCount": pl.Int64},
    ).sort("Date", "Store_ID")
    return {"sales": sales, "products": products, "stores": stores, "orders": orders, "oil_price": oil_table}


def write_demo(folder: str | Path, seed: int = 20170331, n_stores: int = 54, fmt: str = "csv") -> dict[str, Path]:
    """Write the demo tables into ``folder`` (created if needed). Returns the written paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in generate(seed, n_stores).items():
        path = folder / f"{name}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        if fmt == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp, date_format="%Y-%m-%d")
        tmp.replace(path)
        written[name] = path
    return written
