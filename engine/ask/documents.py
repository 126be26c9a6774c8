"""Documents for "Ask the data": what retrieval searches, built from the data and the app's outputs.

Every number in a document is computed here with polars from the loaded tables, so a passage
quoted in an answer can be checked against the data. Kinds (``metadata["source"]``):

- ``dictionary``: tables and columns with their meanings, the chain, and the KPI definitions and business
  rules written in ``definitions.md`` (prose kept out of the code).
- ``store`` / ``product``: one card per store and per product.
- ``summary``: period summaries: per store and per product (chain-wide) and year, monthly totals
  and notable days; the last 13 weeks per store and per product (weekly totals, trend);
  store x product cards (monthly, weekly, notable days) for the biggest stores only, so the
  count stays sane (about 600 documents on the 54-store demo).
- ``forecast``: model-evaluation reports from saved models (``<state>/models/*/meta.json``).
- ``ledger``: confirmed order summaries from the order ledger (``OrderLedger(path, read_only=True)``).
- ``upload``: TXT, MD and PDF files the user added (``<state>/uploads/``).

Metadata on every document: ``source``, ``store`` (int or None), ``product`` (int or None),
``period_start``, ``period_end`` (ISO date strings or None). ``split_document`` cuts long texts
into chunks that keep the metadata and repeat the title.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
from engine.ask.glossary import CATEGORY_KO, PRODUCT_KO
from engine.data.schema import HOLIDAYS, TABLES
from engine.forecasting.store import ModelStore
from engine.ordering.ledger import OrderLedger

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TOP_STORES_WITH_PRODUCT_CARDS = 5  # store x product cards for this many of the biggest stores
RECENT_WEEKS = 13
MAX_CHUNK_CHARS = 1500
USER_SUFFIXES = (".txt", ".md", ".markdown", ".pdf")

# Korean names so that keyword search finds Korean questions even before the glossary runs: the
# glossary's product and category names (engine.ask.glossary), and city names.
KO_CITY = {
    "New York": "뉴욕", "Buffalo": "버펄로", "Los Angeles": "로스앤젤레스", "San Diego": "샌디에이고",
    "San Francisco": "샌프란시스코", "Sacramento": "새크라멘토", "Houston": "휴스턴", "Dallas": "댈러스",
    "Austin": "오스틴", "Chicago": "시카고", "Springfield": "스프링필드", "Miami": "마이애미", "Orlando": "올랜도",
    "Tampa": "탬파", "Seattle": "시애틀", "Denver": "덴버", "Atlanta": "애틀랜타", "Boston": "보스턴",
}


@dataclass
class Document:
    id: str
    title: str
    text: str
    metadata: dict = field(default_factory=dict)  # source, store, product, period_start, period_end

    @property
    def content_hash(self) -> str:
        payload = json.dumps([self.title, self.text, _clean_meta(self.metadata)], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _clean_meta(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if v is not None}


def _meta(source: str, store=None, product=None, start=None, end=None, **extra) -> dict:
    return {
        "source": source,
        "store": None if store is None else int(store),
        "product": None if product is None else int(product),
        "period_start": None if start is None else str(start),
        "period_end": None if end is None else str(end),
        **extra,
    }


def fmt_qty(x) -> str:
    """Units as the data has them: whole numbers without decimals, fractions with two."""
    x = float(x or 0.0)
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def fmt_money(x) -> str:
    return f"${float(x or 0.0):,.2f}"


def fmt_pct(x) -> str:
    return "n/a" if x is None else f"{x:+.1f}%"


def _change(new: float, old: float) -> float | None:
    return None if not old else 100.0 * (new / old - 1.0)


# --------------------------------------------------------------------------------------------
# Data dictionary, KPI definitions and business rules
# --------------------------------------------------------------------------------------------

DEFINITIONS = Path(__file__).with_name("definitions.md")  # KPI definitions and business rules (prose, not code)


def definitions(path: Path = DEFINITIONS) -> dict[str, tuple[str, str]]:
    """``kind:key`` -> (title, text) of every ``## kind:key | title`` section of ``definitions.md``."""
    out = {}
    for section in re.split(r"(?m)^## ", path.read_text(encoding="utf-8"))[1:]:
        head, _, body = section.partition("\n")
        ident, _, title = head.partition(" | ")
        out[ident.strip()] = (title.strip(), " ".join(body.split()))
    return out


def _dictionary_documents(ds) -> list[Document]:
    docs = []
    rows = {"sales": ds.sales.height, "products": ds.products.height, "stores": ds.stores.height,
            "orders": ds.visits.height, "oil_price": ds.oil_price.height, "holidays": ds.holidays.height}
    ko = {"sales": "판매 매출 판매량", "products": "상품 제품", "stores": "매장 점포", "orders": "고객 수 방문객",
          "oil_price": "유가 원유 가격", "holidays": "공휴일 휴일"}
    for table in [*TABLES.values(), HOLIDAYS]:
        lines = [f"Table {table.name} ({ko.get(table.name, '')}): {table.meaning}.",
                 f"It has {rows.get(table.name, 0):,} rows in this data set ({ds.start} to {ds.end})."]
        if table.key:
            lines.append(f"One row per {', '.join(table.key)}.")
        lines.append("Columns:")
        for c in table.columns:
            lines.append(f"- {c.name} ({c.kind}){': ' + c.meaning if c.meaning else ''}")
        docs.append(Document(f"dictionary:table:{table.name}", f"Data dictionary: table {table.name}", "\n".join(lines),
                             _meta("dictionary", table=table.name)))
    for ident, (title, text) in definitions().items():
        docs.append(Document(f"dictionary:{ident}", title, text, _meta("dictionary")))
    return docs


# --------------------------------------------------------------------------------------------
# Shared aggregates
# --------------------------------------------------------------------------------------------


@dataclass
class _Frames:
    sales: pl.DataFrame  # Date, Store_ID, Product_ID, Qty, Value
    store_day: pl.DataFrame  # Store_ID, Date, Qty, Value (days with sales)
    product_day: pl.DataFrame  # Product_ID, Date, Qty, Value (days with sales, chain-wide)
    store_value: pl.DataFrame  # Store_ID, Qty, Value, rank (1 = biggest)
    product_value: pl.DataFrame  # Product_ID, Qty, Value, rank_value, rank_qty
    customers: pl.DataFrame  # Store_ID, Customers, Days, Avg, rank


def _frames(ds) -> _Frames:
    sales = ds.sales.join(ds.products.select("Product_ID", "Price"), on="Product_ID", how="left").with_columns(
        (pl.col("Qty") * pl.col("Price").fill_null(0.0)).alias("Value")
    ).select("Date", "Store_ID", "Product_ID", "Qty", "Value")
    store_day = sales.group_by("Store_ID", "Date").agg(pl.col("Qty").sum(), pl.col("Value").sum()).sort("Store_ID", "Date")
    product_day = sales.group_by("Product_ID", "Date").agg(pl.col("Qty").sum(), pl.col("Value").sum()).sort("Product_ID", "Date")
    store_value = (sales.group_by("Store_ID").agg(pl.col("Qty").sum(), pl.col("Value").sum())
                   .sort("Value", "Store_ID", descending=[True, False]).with_row_index("rank", offset=1))
    product_value = (sales.group_by("Product_ID").agg(pl.col("Qty").sum(), pl.col("Value").sum())
                     .sort("Value", "Product_ID", descending=[True, False]).with_row_index("rank_value", offset=1)
                     .sort("Qty", "Product_ID", descending=[True, False]).with_row_index("rank_qty", offset=1))
    customers = (ds.visits.group_by("Store_ID").agg(pl.col("CustomerCount").sum().alias("Customers"), pl.len().alias("Days"))
                 .with_columns((pl.col("Customers") / pl.col("Days")).alias("Avg"))
                 .sort("Customers", "Store_ID", descending=[True, False]).with_row_index("rank", offset=1))
    return _Frames(sales, store_day, product_day, store_value, product_value, customers)


def _store_label(ds, store: int) -> str:
    s = ds.store(store)
    return f"store {store} ({s.get('City') or '?'}, {s.get('State') or '?'})"


def _product_label(ds, product: int) -> str:
    try:
        p = ds.product(product)
    except KeyError:
        return f"product {product}"
    return f"product {product} ({p['SubCategory']})"


def _ko_store(ds, store: int) -> str:
    city = ds.store(store).get("City") or ""
    return f"{store}번 매장 {store}호점 {KO_CITY.get(city, '')}".strip()


def _ko_product(ds, product: int) -> str:
    try:
        sub = ds.product(product)["SubCategory"]
    except KeyError:
        sub = ""
    return f"{product}번 상품 {' '.join(PRODUCT_KO.get(str(sub).upper(), ()))}".strip()


def _weekday_pattern(daily: pl.DataFrame, start: dt.date, end: dt.date) -> str:
    """Average units per weekday over every calendar day (missing days count as 0), as % of the mean."""
    full = pl.DataFrame({"Date": pl.date_range(start, end, "1d", eager=True)}).join(daily.select("Date", "Qty"), on="Date", how="left").fill_null(0.0)
    by = full.group_by(pl.col("Date").dt.weekday().alias("wd")).agg(pl.col("Qty").mean()).sort("wd")
    mean = float(full["Qty"].mean() or 0.0)
    parts = []
    for wd, q in by.iter_rows():
        idx = 100.0 * q / mean if mean else 0.0
        parts.append(f"{WEEKDAYS[wd - 1]} {q:,.1f} ({idx:.0f}%)")
    return "average units per weekday (share of the daily mean): " + ", ".join(parts)


def _notable_days(daily: pl.DataFrame, start: dt.date, end: dt.date, holidays: pl.DataFrame, with_zero: bool = True) -> list[str]:
    """Max day, min day, zero days (no row) and holiday effects inside [start, end]."""
    days = pl.DataFrame({"Date": pl.date_range(start, end, "1d", eager=True)})
    full = days.join(daily.select("Date", "Qty"), on="Date", how="left").with_columns(pl.col("Qty").fill_null(0.0))
    out = []
    if full.height == 0:
        return out
    top = full.sort("Qty", "Date", descending=[True, False]).row(0, named=True)
    out.append(f"best day: {top['Date']} ({WEEKDAYS[top['Date'].weekday()]}) with {fmt_qty(top['Qty'])} units")
    sold = full.filter(pl.col("Qty") > 0)
    if sold.height:
        low = sold.sort("Qty", "Date").row(0, named=True)
        out.append(f"lowest day with sales: {low['Date']} ({WEEKDAYS[low['Date'].weekday()]}) with {fmt_qty(low['Qty'])} units")
    zero = full.filter(pl.col("Qty") == 0)["Date"].to_list()
    if with_zero:
        if zero:
            shown = ", ".join(str(d) for d in zero[:8]) + (f" and {len(zero) - 8} more" if len(zero) > 8 else "")
            out.append(f"days with no sales: {len(zero)} ({shown})")
        else:
            out.append("days with no sales: 0")
    hol = holidays.filter(pl.col("Date").is_between(start, end))
    if hol.height:
        mean_by_wd = dict(full.group_by(pl.col("Date").dt.weekday()).agg(pl.col("Qty").mean()).iter_rows())
        parts = []
        qty = dict(full.select("Date", "Qty").iter_rows())
        for d, name in hol.iter_rows():
            q = qty.get(d, 0.0)
            base = mean_by_wd.get(d.isoweekday(), 0.0)
            parts.append(f"{name} {d}: {fmt_qty(q)} units ({fmt_pct(_change(q, base)) if base else 'n/a'} vs the average {WEEKDAYS[d.weekday()]})")
        out.append("holidays: " + "; ".join(parts))
    return out


def _monthly_lines(daily: pl.DataFrame, start: dt.date, end: dt.date, with_value: bool = True) -> list[str]:
    inside = daily.filter(pl.col("Date").is_between(start, end))
    monthly = inside.group_by(pl.col("Date").dt.truncate("1mo").alias("Month")).agg(pl.col("Qty").sum(), pl.col("Value").sum()).sort("Month")
    lines = []
    for m, q, v in monthly.iter_rows():
        label = f"{MONTHS[m.month - 1]} {m.year} ({m:%Y-%m})"
        lines.append(f"- {label}: {fmt_qty(q)} units" + (f", {fmt_money(v)}" if with_value else ""))
    return lines


def _weekly_lines(daily: pl.DataFrame, end: dt.date, weeks: int = RECENT_WEEKS) -> tuple[list[str], float, float]:
    """Weekly totals of the last ``weeks`` weeks ending on ``end`` (newest last) and the totals of
    those weeks and of the same number of weeks before them."""
    lines = []
    for k in range(weeks - 1, -1, -1):
        w_end = end - dt.timedelta(days=7 * k)
        w_start = w_end - dt.timedelta(days=6)
        q = float(daily.filter(pl.col("Date").is_between(w_start, w_end))["Qty"].sum())
        lines.append(f"- week {w_start} to {w_end}: {fmt_qty(q)} units")
    recent_start = end - dt.timedelta(days=7 * weeks - 1)
    prev_end = recent_start - dt.timedelta(days=1)
    prev_start = prev_end - dt.timedelta(days=7 * weeks - 1)
    recent = float(daily.filter(pl.col("Date").is_between(recent_start, end))["Qty"].sum())
    previous = float(daily.filter(pl.col("Date").is_between(prev_start, prev_end))["Qty"].sum())
    return lines, recent, previous


def _year_earlier(d: dt.date) -> dt.date:
    return d.replace(year=d.year - 1) if (d.month, d.day) != (2, 29) else dt.date(d.year - 1, 2, 28)


def _year_windows(ds) -> list[tuple[int, dt.date, dt.date]]:
    return [(y, max(ds.start, dt.date(y, 1, 1)), min(ds.end, dt.date(y, 12, 31))) for y in range(ds.start.year, ds.end.year + 1)]


def _recent_window(ds) -> tuple[dt.date, dt.date]:
    return max(ds.start, ds.end - dt.timedelta(days=7 * RECENT_WEEKS - 1)), ds.end


# --------------------------------------------------------------------------------------------
# Cards
# --------------------------------------------------------------------------------------------


def _store_cards(ds, fr: _Frames) -> list[Document]:
    docs = []
    n_stores = len(ds.store_ids)
    value_rank = {r["Store_ID"]: r for r in fr.store_value.iter_rows(named=True)}
    cust = {r["Store_ID"]: r for r in fr.customers.iter_rows(named=True)}
    top_products = (fr.sales.group_by("Store_ID", "Product_ID").agg(pl.col("Value").sum(), pl.col("Qty").sum())
                    .sort("Value", "Product_ID", descending=[True, False]))
    span = fr.store_day.group_by("Store_ID").agg(pl.col("Date").min().alias("first"), pl.col("Date").max().alias("last"), pl.len().alias("days"))
    span = {r["Store_ID"]: r for r in span.iter_rows(named=True)}
    stores = {r["Store_ID"]: r for r in ds.stores.iter_rows(named=True)}
    total_days = (ds.end - ds.start).days + 1
    for s in ds.store_ids:
        info = stores.get(s, {"City": None, "State": None, "Store_Type": None})
        city, state = info.get("City"), info.get("State")
        same_city = [o for o, r in stores.items() if o != s and r["City"] == city and o in value_rank]
        same_state = [o for o, r in stores.items() if o != s and r["State"] == state and r["City"] != city and o in value_rank]
        v = value_rank.get(s, {"Qty": 0.0, "Value": 0.0, "rank": n_stores})
        c = cust.get(s)
        sp = span[s]
        tops = top_products.filter(pl.col("Store_ID") == s).head(5)
        lines = [
            f"Store {s} ({_ko_store(ds, s)}) is a type {info.get('Store_Type')} store in {city}, {state}.",
            f"Size: rank {v['rank']} of {n_stores} stores by sales value ({fmt_money(v['Value'])}, {fmt_qty(v['Qty'])} units "
            f"from {ds.start} to {ds.end}); 1 is the biggest.",
        ]
        if c:
            lines.append(f"Customers: {fmt_qty(c['Customers'])} customer visits in {c['Days']:,} days, on average {c['Avg']:,.0f} per day "
                         f"(rank {c['rank']} of {fr.customers.height} by customers).")
        lines.append(f"Selling days: {sp['days']:,} of {total_days:,}; first sale {sp['first']}, last sale {sp['last']}"
                     + (f" (opened later than the chain start {ds.start})" if sp["first"] > ds.start + dt.timedelta(days=7) else "") + ".")
        lines.append(f"Neighbours in {city}: " + (", ".join(f"store {o}" for o in sorted(same_city)) or "none") + ".")
        lines.append(f"Other stores in {state}: " + (", ".join(f"store {o}" for o in sorted(same_state)) or "none") + ".")
        lines.append("Top products by sales value: " + "; ".join(
            f"{_product_label(ds, p)} {fmt_money(val)}" for p, val in tops.select("Product_ID", "Value").iter_rows()) + ".")
        docs.append(Document(f"store:{s}", f"Store card: {_store_label(ds, s)}", "\n".join(lines),
                             _meta("store", store=s, start=ds.start, end=ds.end)))
    return docs


Z_99 = 2.326  # standard normal quantile of a 99% service level


def _store_day_variability(fr: _Frames, days: int) -> dict[int, tuple[float, float]]:
    """Product -> (mean, standard deviation) of units sold per store and day, averaged over the stores
    that sell it; days without a sales row count as 0 units."""
    if days <= 0 or fr.sales.height == 0:
        return {}
    per_store = (
        fr.sales.group_by("Product_ID", "Store_ID")
        .agg(pl.col("Qty").sum().alias("s"), (pl.col("Qty").cast(pl.Float64) ** 2).sum().alias("s2"))
        .with_columns((pl.col("s") / days).alias("mean"))
        .with_columns(((pl.col("s2") / days - pl.col("mean") ** 2).clip(lower_bound=0.0)).sqrt().alias("sd"))
        .group_by("Product_ID").agg(pl.col("mean").mean(), pl.col("sd").mean())
    )
    return {int(r[0]): (float(r[1]), float(r[2])) for r in per_store.iter_rows()}


def _safety_stock_line(p: int, lead_time, stats: tuple[float, float] | None) -> str:
    """Why product p's safety stock is what it is: lead time, demand variability, the formula."""
    head = (f"Safety stock (안전 재고) of product {p}: it covers demand the forecast misses during the lead time, so it "
            f"rises with the lead time ({lead_time} days) and with how much daily demand varies")
    if not stats or not lead_time:
        return head + "."
    mean, sd = stats
    cv = sd / mean if mean else 0.0
    guide = Z_99 * sd * float(lead_time) ** 0.5
    days = f", {guide / mean:.1f} days of average demand" if mean else ""
    return (head + f". Per store, daily demand (수요 변동성) averages {mean:,.1f} units with a standard deviation of "
            f"{sd:,.1f} (coefficient of variation {cv:.2f}). The normal approximation at a 99% service level, "
            f"z x sigma x sqrt(lead time) = {Z_99} x {sd:,.1f} x sqrt({lead_time}), gives about {guide:,.0f} units per store"
            f"{days}; the default method uses the spread of past forecast errors instead, which is smaller when "
            "the forecast follows the weekly pattern.")


def _product_cards(ds, fr: _Frames) -> list[Document]:
    docs = []
    n = len(ds.product_ids)
    ranks = {r["Product_ID"]: r for r in fr.product_value.iter_rows(named=True)}
    by_store = fr.sales.group_by("Product_ID", "Store_ID").agg(pl.col("Qty").sum(), pl.col("Value").sum()).sort("Qty", "Store_ID", descending=[True, False])
    total_days = (ds.end - ds.start).days + 1
    variability = _store_day_variability(fr, total_days)
    for p in ds.product_ids:
        try:
            info = ds.product(p)
        except KeyError:
            info = {"Product_Code": None, "SubCategory": None, "Category": None, "LeadTime": None, "Price": None}
        r = ranks[p]
        daily = fr.product_day.filter(pl.col("Product_ID") == p)
        stores = by_store.filter(pl.col("Product_ID") == p)
        month_mean = (daily.group_by(pl.col("Date").dt.month().alias("m")).agg((pl.col("Qty").sum() / pl.col("Date").n_unique()).alias("q"))
                      .sort("q", descending=True))
        peak = MONTHS[month_mean["m"][0] - 1] if month_mean.height else "n/a"
        low = MONTHS[month_mean["m"][-1] - 1] if month_mean.height else "n/a"
        sub = info.get("SubCategory")
        lines = [
            f"Product {p} ({_ko_product(ds, p)}), code {info.get('Product_Code')}: subcategory {sub}, category {info.get('Category')} "
            f"({' '.join(CATEGORY_KO.get(info.get('Category'), ()))}).",
            f"Lead time: {info.get('LeadTime')} days from order to arrival (리드타임). Price: {fmt_money(info.get('Price'))} per unit (가격).",
            f"Sales level: {fmt_qty(r['Qty'])} units and {fmt_money(r['Value'])} from {ds.start} to {ds.end} in the whole chain, "
            f"{float(r['Qty']) / total_days:,.1f} units per day; rank {r['rank_qty']} of {n} products by units and {r['rank_value']} of {n} by value.",
            f"Sold in {stores.height} stores. Top stores by units: " + "; ".join(
                f"store {s} {fmt_qty(q)}" for s, q in stores.select("Store_ID", "Qty").head(5).iter_rows()) + ".",
            "Weekday pattern, chain-wide " + _weekday_pattern(daily, ds.start, ds.end) + ".",
            f"Season: the strongest month of the year is {peak}, the weakest {low} (average units per selling day).",
        ]
        lines.append(_safety_stock_line(p, info.get("LeadTime"), variability.get(p)))
        docs.append(Document(f"product:{p}", f"Product card: {_product_label(ds, p)}", "\n".join(lines),
                             _meta("product", product=p, start=ds.start, end=ds.end)))
    return docs


def _chain_document(ds, fr: _Frames) -> Document:
    years = []
    for y, a, b in _year_windows(ds):
        q = fr.sales.filter(pl.col("Date").is_between(a, b)).select(pl.col("Qty").sum(), pl.col("Value").sum()).row(0)
        years.append(f"- {y} ({a} to {b}): {fmt_qty(q[0])} units, {fmt_money(q[1])}")
    top_s = "; ".join(f"{_store_label(ds, s)} {fmt_money(v)}" for s, v in fr.store_value.select("Store_ID", "Value").head(5).iter_rows())
    top_p = "; ".join(f"{_product_label(ds, p)} {fmt_money(v)}" for p, v in
                      fr.product_value.sort("rank_value").select("Product_ID", "Value").head(5).iter_rows())
    text = "\n".join([
        f"The K-Mart chain (전체 체인) in this data set: {len(ds.store_ids)} stores and {len(ds.product_ids)} products, sales from "
        f"{ds.start} to {ds.end}. Total {fmt_qty(fr.sales['Qty'].sum())} units, {fmt_money(fr.sales['Value'].sum())}.",
        "Totals per year:", *years,
        f"Biggest stores by sales value: {top_s}.",
        f"Biggest products by sales value: {top_p}.",
    ])
    return Document("chain", "The chain: size, period and yearly totals", text, _meta("dictionary", start=ds.start, end=ds.end))


# --------------------------------------------------------------------------------------------
# Period summaries
# --------------------------------------------------------------------------------------------


def _year_summary(ds, kind: str, key: int, daily: pl.DataFrame, label: str, ko: str, customers: pl.DataFrame | None = None) -> list[Document]:
    docs = []
    for y, a, b in _year_windows(ds):
        inside = daily.filter(pl.col("Date").is_between(a, b))
        total, value = float(inside["Qty"].sum()), float(inside["Value"].sum())
        a0, b0 = _year_earlier(a), _year_earlier(b)
        before = float(daily.filter(pl.col("Date").is_between(a0, b0))["Qty"].sum()) if a0 >= ds.start else 0.0
        whole = (a.month, a.day, b.month, b.day) == (1, 1, 12, 31)
        lines = [f"Sales of {label} ({ko}) in {y} ({a} to {b}): {fmt_qty(total)} units, {fmt_money(value)}"
                 + (f"; {fmt_pct(_change(total, before))} vs {'' if whole else 'the same days of '}{y - 1}" if before else "") + "."]
        if customers is not None:
            c = customers.filter(pl.col("Date").is_between(a, b))["CustomerCount"]
            if c.len():
                lines.append(f"Customer visits in {y}: {fmt_qty(c.sum())}, on average {float(c.mean()):,.0f} per open day.")
        lines.append(f"Monthly totals {y}:")
        lines += _monthly_lines(daily, a, b)
        lines.append(f"Notable days in {y}: " + "; ".join(_notable_days(daily, a, b, ds.holidays, with_zero=kind != "product")) + ".")
        scope = {"store": key} if kind == "store" else {"product": key}
        docs.append(Document(f"summary:{kind}:{key}:{y}", f"Summary {y}: {label}", "\n".join(lines),
                             _meta("summary", start=a, end=b, **scope)))
    return docs


def _recent_summary(ds, kind: str, key: int, daily: pl.DataFrame, label: str, ko: str, breakdown: pl.DataFrame, breakdown_label) -> Document:
    a, b = _recent_window(ds)
    weekly, recent, previous = _weekly_lines(daily, b)
    year_ago = float(daily.filter(pl.col("Date").is_between(a - dt.timedelta(days=364), b - dt.timedelta(days=364)))["Qty"].sum())
    trend = "up" if recent > previous * 1.02 else "down" if recent < previous * 0.98 else "flat"
    lines = [
        f"Last {RECENT_WEEKS} weeks of {label} ({ko}, 최근 13주, last quarter): {a} to {b}: {fmt_qty(recent)} units; "
        f"{fmt_pct(_change(recent, previous))} vs the {RECENT_WEEKS} weeks before ({fmt_qty(previous)} units), "
        f"{fmt_pct(_change(recent, year_ago))} vs the same weeks a year earlier ({fmt_qty(year_ago)} units). Trend: {trend}.",
        "Weekly totals:", *weekly,
    ]
    # breakdown: (id, recent qty, previous qty) for products of a store or stores of a product
    lines.append(f"Last {RECENT_WEEKS} weeks by {'product' if kind == 'store' else 'store'} (units, change vs the {RECENT_WEEKS} weeks before):")
    for other, q, pq in breakdown.iter_rows():
        lines.append(f"- {breakdown_label(other)}: {fmt_qty(q)} ({fmt_pct(_change(q, pq))})")
    scope = {"store": key} if kind == "store" else {"product": key}
    return Document(f"summary:{kind}:{key}:recent", f"Last {RECENT_WEEKS} weeks: {label}", "\n".join(lines), _meta("summary", start=a, end=b, **scope))


def _breakdown(fr: _Frames, ds, by: str, key: int, other: str) -> pl.DataFrame:
    a, b = _recent_window(ds)
    prev_end = a - dt.timedelta(days=1)
    prev_start = prev_end - dt.timedelta(days=7 * RECENT_WEEKS - 1)
    rows = fr.sales.filter(pl.col(by) == key)
    recent = rows.filter(pl.col("Date").is_between(a, b)).group_by(other).agg(pl.col("Qty").sum().alias("recent"))
    prev = rows.filter(pl.col("Date").is_between(prev_start, prev_end)).group_by(other).agg(pl.col("Qty").sum().alias("prev"))
    return recent.join(prev, on=other, how="full", coalesce=True).with_columns(pl.col("recent", "prev").fill_null(0.0)).sort("recent", other, descending=[True, False]).select(other, "recent", "prev")


def _store_product_card(ds, fr: _Frames, s: int, p: int) -> Document:
    daily = fr.sales.filter((pl.col("Store_ID") == s) & (pl.col("Product_ID") == p)).select("Date", "Qty", "Value")
    label = f"{_product_label(ds, p)} at {_store_label(ds, s)}"
    ko = f"{_ko_store(ds, s)} {_ko_product(ds, p)}"
    first = daily["Date"].min() or ds.start
    a_rec, b = _recent_window(ds)
    weekly, recent, previous = _weekly_lines(daily, b)
    y12, m12 = (b.year, b.month - 11) if b.month == 12 else (b.year - 1, b.month + 1)
    a12 = max(ds.start, dt.date(y12, m12, 1))
    lines = [f"{label[0].upper() + label[1:]} ({ko}): lead time {ds.lead_time(p)} days, price {fmt_money(ds.price(p))}."]
    for y, a, bb in _year_windows(ds):
        part = daily.filter(pl.col("Date").is_between(a, bb))
        lines.append(f"{y}: {fmt_qty(part['Qty'].sum())} units ({fmt_qty(float(part['Qty'].sum()) / ((bb - a).days + 1))} per day on average)")
    lines.append(f"Last {RECENT_WEEKS} weeks ({a_rec} to {b}): {fmt_qty(recent)} units, {fmt_pct(_change(recent, previous))} vs the {RECENT_WEEKS} weeks before.")
    lines.append("Weekly totals:")
    lines += weekly
    lines.append(f"Monthly totals, last 12 months ({a12} to {b}):")
    lines += _monthly_lines(daily, a12, b, with_value=False)
    lines.append("Notable days " + f"({first} to {ds.end}): " + "; ".join(_notable_days(daily, first, ds.end, ds.holidays.head(0))) + ".")
    pattern = _weekday_pattern(daily, first, ds.end)
    lines.append(pattern[0].upper() + pattern[1:] + ".")
    return Document(f"summary:store-product:{s}:{p}", f"Store x product: {label}", "\n".join(lines),
                    _meta("summary", store=s, product=p, start=first, end=ds.end))


def _summaries(ds, fr: _Frames) -> list[Document]:
    docs = []
    customers_all = ds.visits
    for p in ds.product_ids:
        daily = fr.product_day.filter(pl.col("Product_ID") == p)
        label, ko = _product_label(ds, p) + " in the whole chain", _ko_product(ds, p)
        docs += _year_summary(ds, "product", p, daily, label, ko)
        docs.append(_recent_summary(ds, "product", p, daily, label, ko, _breakdown(fr, ds, "Product_ID", p, "Store_ID").head(10),
                                    lambda o: f"store {o}"))
    for s in ds.store_ids:
        daily = fr.store_day.filter(pl.col("Store_ID") == s)
        label, ko = _store_label(ds, s) + ", all products", _ko_store(ds, s)
        docs += _year_summary(ds, "store", s, daily, label, ko, customers_all.filter(pl.col("Store_ID") == s))
        docs.append(_recent_summary(ds, "store", s, daily, label, ko, _breakdown(fr, ds, "Store_ID", s, "Product_ID"),
                                    lambda o: _product_label(ds, o)))
    for s in fr.store_value["Store_ID"].head(TOP_STORES_WITH_PRODUCT_CARDS).to_list():
        for p in ds.product_ids:
            if fr.sales.filter((pl.col("Store_ID") == s) & (pl.col("Product_ID") == p)).height:
                docs.append(_store_product_card(ds, fr, s, p))
    return docs


# --------------------------------------------------------------------------------------------
# Forecast reports and the order ledger
# --------------------------------------------------------------------------------------------


def _forecast_documents(ds, state: Path) -> list[Document]:
    groups: dict[tuple, list[dict]] = {}
    for meta in ModelStore(state / "models").saved():
        try:
            key = (int(meta["store"]), int(meta["product"]), str(meta["train_end"]))
        except (ValueError, KeyError, TypeError):
            continue
        groups.setdefault(key, []).append(meta)
    docs = []
    for (s, p, train_end), metas in sorted(groups.items()):
        rows = []
        for m in metas:
            cv = m.get("cv") or {}
            score = cv.get("score")
            rows.append((float(score) if isinstance(score, (int, float)) else float("inf"), m, cv))
        rows.sort(key=lambda r: (r[0], r[1].get("model", "")))
        best = rows[0]
        lines = [f"Forecast model evaluation (예측 모델 평가) for {_product_label(ds, p)} at {_store_label(ds, s)}, models trained on data up to {train_end}, "
                 f"horizons {', '.join(str(h) for h in rows[0][1].get('horizons', []))} days ahead."]
        lines.append(f"Best model by cross-validated WAPE: {best[1].get('model')} (WAPE {best[0]:.1%})." if best[0] != float("inf") else "No model has a validation score.")
        for score, m, cv in rows:
            metrics = cv.get("metrics") or {}
            parts = [f"{k.upper()} {v:.3f}" for k, v in metrics.items() if isinstance(v, (int, float))]
            lines.append(f"- {m.get('model')} params {json.dumps(m.get('params') or {}, sort_keys=True)}: validation WAPE "
                         + (f"{score:.1%}" if score != float("inf") else "n/a") + (f"; {', '.join(parts)}" if parts else "")
                         + f"; fitted {m.get('created', '?')} in {float(m.get('fit_seconds') or 0):.1f} s.")
        docs.append(Document(f"forecast:{s}:{p}:{train_end}", f"Forecast evaluation: {_product_label(ds, p)} at store {s} (trained to {train_end})",
                             "\n".join(lines), _meta("forecast", store=s, product=p, start=ds.start, end=train_end)))
    return docs


def _ledger_documents(ds, state: Path, recent_orders: int = 30) -> list[Document]:
    path = state / "ledger.sqlite"
    if not path.is_file():
        return []
    try:  # the ledger is opened only through OrderLedger, read-only
        history = OrderLedger(path, read_only=True).history()
    except ValueError:
        return []
    lines_df = history.with_columns(pl.col("order_date").cast(pl.String)).select(
        "store_id", "order_date", "version", "product_id", "recommended_qty", "final_qty", "reason", "confirmed_at")
    who = {(s, str(d), v): b for s, d, v, b in history.select("store_id", "order_date", "version", "confirmed_by").unique().iter_rows()}
    if lines_df.height == 0:
        return []
    latest = lines_df.join(lines_df.group_by("store_id", "order_date").agg(pl.col("version").max()), on=["store_id", "order_date", "version"], how="semi")
    docs = []
    for s in sorted(latest["store_id"].unique().to_list()):
        rows = latest.filter(pl.col("store_id") == s)
        dates = sorted(rows["order_date"].unique().to_list())
        versions = lines_df.filter(pl.col("store_id") == s).select("order_date", "version").unique().height
        changed = rows.filter(pl.col("final_qty") != pl.col("recommended_qty"))
        text = [f"Order ledger (발주 확정 내역) of {_store_label(ds, s)}: {len(dates)} order dates confirmed from {dates[0]} to {dates[-1]}, "
                f"{versions} confirmations in all (a re-confirmation adds a new version; the latest counts).",
                f"In the latest versions {rows.height} order lines: recommended {fmt_qty(rows['recommended_qty'].sum())} units, "
                f"final {fmt_qty(rows['final_qty'].sum())} units; {changed.height} lines changed by the store "
                f"(final minus recommended {fmt_qty(float(changed['final_qty'].sum() - changed['recommended_qty'].sum()))} units)."]
        by_product = rows.group_by("product_id").agg(pl.col("recommended_qty").sum(), pl.col("final_qty").sum()).sort("product_id")
        text.append("Per product (recommended / final units): " + "; ".join(
            f"product {p} {fmt_qty(r)} / {fmt_qty(f)}" for p, r, f in by_product.iter_rows()) + ".")
        docs.append(Document(f"ledger:{s}", f"Order ledger: {_store_label(ds, s)}", "\n".join(text),
                             _meta("ledger", store=s, start=dates[0], end=dates[-1])))
        for d in dates[-recent_orders:]:
            day = rows.filter(pl.col("order_date") == d).sort("product_id")
            v = int(day["version"][0])
            by = who.get((s, d, v))
            body = [f"Confirmed order of {_store_label(ds, s)} for {d} (version {v}, confirmed {day['confirmed_at'][0]}"
                    + (f" by {by}" if by else "") + f"): {day.height} lines, final {fmt_qty(day['final_qty'].sum())} units."]
            for _, _, _, p, r, f, reason, _ in day.iter_rows():
                body.append(f"- {_product_label(ds, p)}: recommended {fmt_qty(r)}, final {fmt_qty(f)}" + (f" ({reason})" if reason else ""))
            docs.append(Document(f"ledger:{s}:{d}", f"Confirmed order: store {s} on {d}", "\n".join(body),
                                 _meta("ledger", store=s, start=d, end=d)))
    return docs


# --------------------------------------------------------------------------------------------
# User documents
# --------------------------------------------------------------------------------------------


def uploads_dir(state: Path) -> Path:
    """Where the user's own documents live (the index picks up every file there)."""
    return Path(state) / "uploads"


def _read_user_file(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in USER_SUFFIXES:
        raise ValueError(f"{path.name} is not a TXT, MD or PDF file; convert it to one of those and add it again.")
    if suffix == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(str(path))
            if reader.is_encrypted:
                try:
                    reader.decrypt("")
                except Exception as exc:  # noqa: BLE001  (pypdf raises several types here)
                    raise ValueError(f"{path.name} is a password-protected PDF; save it without a password and add it again.") from exc
            text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
        except ValueError:
            raise
        except (PdfReadError, OSError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path.name} could not be read as a PDF ({type(exc).__name__}); check that the file is a complete PDF and add it again.") from exc
        if not text.strip():
            raise ValueError(f"{path.name} has no text layer (it may be a scanned image); add a PDF with selectable text or a TXT/MD file.")
        return text
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp949", "latin-1"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if "\x00" in text:
        raise ValueError(f"{path.name} is not a text file (it contains binary data); save it as plain text and add it again.")
    if not text.strip():
        raise ValueError(f"{path.name} is empty; add a file with some text.")
    return text


def load_user_documents(paths, errors: list[str] | None = None) -> list[Document]:
    """TXT, MD and PDF files as documents (id ``upload:<file name>``).

    An unreadable file raises ValueError with one sentence naming it; when ``errors`` is a list,
    the sentence is appended there instead and the other files are still read.
    """
    docs = []
    for p in paths:
        path = Path(p)
        try:
            if not path.is_file():
                raise ValueError(f"{path} does not exist or is not a file; check the path.")
            text = _read_user_file(path)
        except ValueError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        text = re.sub(r"[ \t]+\n", "\n", text).strip()
        docs.append(Document(f"upload:{path.name}", f"Uploaded document: {path.name}", text, _meta("upload", file=path.name)))
    return docs


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def build_documents(ds, state: Path | None = None, errors: list[str] | None = None) -> list[Document]:
    """Every document for the index, from the data set and (when given) its state folder."""
    fr = _frames(ds)
    docs = _dictionary_documents(ds)
    docs.append(_chain_document(ds, fr))
    docs += _store_cards(ds, fr)
    docs += _product_cards(ds, fr)
    docs += _summaries(ds, fr)
    if state is not None:
        state = Path(state)
        docs += _forecast_documents(ds, state)
        docs += _ledger_documents(ds, state)
        up = uploads_dir(state)
        if up.is_dir():
            files = sorted(f for f in up.iterdir() if f.is_file() and not f.name.startswith("."))
            docs += load_user_documents(files, errors=errors if errors is not None else [])
    seen = set()
    for d in docs:
        if d.id in seen:
            raise AssertionError(f"duplicate document id {d.id}")
        seen.add(d.id)
    return docs


def split_document(doc: Document, max_chars: int = MAX_CHUNK_CHARS) -> list[Document]:
    """Chunks of at most about ``max_chars`` characters, cut at line breaks (then at sentences or
    spaces), each starting with the title and keeping the metadata plus ``doc_id`` and ``chunk``.
    Chunk ids are ``<doc id>#<n>``."""
    pieces: list[str] = []
    for line in doc.text.split("\n"):
        while len(line) > max_chars:
            cut = max(line.rfind(". ", 0, max_chars), line.rfind(" ", 0, max_chars))
            cut = cut + 1 if cut > max_chars // 3 else max_chars
            pieces.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        pieces.append(line)
    chunks: list[list[str]] = [[]]
    size = 0
    for piece in pieces:
        if chunks[-1] and size + len(piece) + 1 > max_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(piece)
        size += len(piece) + 1
    out = []
    for n, lines in enumerate(c for c in chunks if any(x.strip() for x in c)):
        body = "\n".join(lines).strip()
        text = body if n == 0 else f"{doc.title} (continued)\n{body}"
        out.append(replace(doc, id=f"{doc.id}#{n}", text=text, metadata={**doc.metadata, "doc_id": doc.id, "chunk": n}))
    return out
