"""Documents for "Ask the data": what retrieval searches, built from the data and the app's outputs.

Every number in a document is computed here with polars from the loaded tables, so a passage quoted
in an answer can be checked against the data. Kinds (``metadata["source"]``):

- ``dictionary``: the tables and their columns, the chain, and the KPI definitions and business rules
  of ``definitions.md`` (prose kept out of the code);
- ``store`` / ``product``: one card per store and per product;
- ``summary``: per store and per product (chain-wide) and year (monthly totals, notable days); the
  last 13 weeks per store and per product (weekly totals, trend, breakdown); store x product cards
  for the biggest stores only, so the count stays sane (about 600 documents on the 54-store demo);
- ``forecast``: the saved models' evaluation (``<state>/models/*/meta.json``);
- ``ledger``: confirmed orders (``OrderLedger(path, read_only=True)``);
- ``upload``: TXT, MD and PDF files the user added (``<state>/uploads/``).

Metadata on every document: ``source``, ``store`` and ``product`` (int or None), ``period_start`` and
``period_end`` (ISO dates or None). ``split_document`` cuts long texts into chunks that keep it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import textwrap
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
DEFINITIONS = Path(__file__).with_name("definitions.md")  # KPI definitions and business rules (prose, not code)
Z_99 = 2.326  # standard normal quantile of a 99% service level

# Korean words, so that keyword search finds Korean questions even before the glossary runs: each
# table's Dataset attribute and Korean names, and city names (product names come from the glossary).
TABLE_WORDS = {"sales": ("sales", "판매 매출 판매량"), "products": ("products", "상품 제품"),
               "stores": ("stores", "매장 점포"), "orders": ("visits", "고객 수 방문객"),
               "oil_price": ("oil_price", "유가 원유 가격"), "holidays": ("holidays", "공휴일 휴일")}
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
        meta = {k: v for k, v in self.metadata.items() if v is not None}
        payload = json.dumps([self.title, self.text, meta], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _meta(source: str, store=None, product=None, start=None, end=None, **extra) -> dict:
    return {"source": source, "store": None if store is None else int(store),
            "product": None if product is None else int(product), "period_start": None if start is None else str(start),
            "period_end": None if end is None else str(end), **extra}


def fmt_qty(x) -> str:
    """Units as the data has them: whole numbers without decimals, fractions with two."""
    x = float(x or 0.0)
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def fmt_money(x) -> str:
    return f"${float(x or 0.0):,.2f}"


def _pct(new: float, old: float) -> str:
    """The change from ``old`` to ``new`` in percent ("n/a" without a base)."""
    return "n/a" if not old else f"{100.0 * (new / old - 1.0):+.1f}%"


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
    for table in [*TABLES.values(), HOLIDAYS]:
        attribute, ko = TABLE_WORDS.get(table.name, ("", ""))
        lines = [f"Table {table.name} ({ko}): {table.meaning}.",
                 f"It has {getattr(ds, attribute).height if attribute else 0:,} rows in this data set "
                 f"({ds.start} to {ds.end}).", *([f"One row per {', '.join(table.key)}."] if table.key else []),
                 "Columns:", *(f"- {c.name} ({c.kind}){': ' + c.meaning if c.meaning else ''}" for c in table.columns)]
        docs.append(Document(f"dictionary:table:{table.name}", f"Data dictionary: table {table.name}",
                             "\n".join(lines), _meta("dictionary", table=table.name)))
    return docs + [Document(f"dictionary:{i}", t, text, _meta("dictionary")) for i, (t, text) in definitions().items()]


# --------------------------------------------------------------------------------------------
# Names and daily series
# --------------------------------------------------------------------------------------------


def _store_label(ds, store: int) -> str:
    s = ds.store(store)
    return f"store {store} ({s.get('City') or '?'}, {s.get('State') or '?'})"


def _subcategory(ds, product: int) -> str:
    sub = ds.products.filter(pl.col("Product_ID") == product)["SubCategory"]
    return str(sub[0]) if sub.len() else ""


def _product_label(ds, product: int) -> str:
    sub = _subcategory(ds, product)
    return f"product {product} ({sub})" if sub else f"product {product}"


def _ko_store(ds, store: int) -> str:
    return f"{store}번 매장 {store}호점 {KO_CITY.get(ds.store(store).get('City') or '', '')}".strip()


def _ko_product(ds, product: int) -> str:
    return f"{product}번 상품 {' '.join(PRODUCT_KO.get(_subcategory(ds, product).upper(), ()))}".strip()


def _daily(sales: pl.DataFrame, by: str) -> dict[int, pl.DataFrame]:
    """Per store (or product): Date, Qty and Value of every day with sales, oldest first."""
    days = sales.group_by(by, "Date").agg(pl.col("Qty", "Value").sum()).sort(by, "Date")
    return {key: part.drop(by) for (key,), part in days.partition_by(by, as_dict=True).items()}


def _sum(daily: pl.DataFrame, a: dt.date, b: dt.date, column: str = "Qty") -> float:
    return float(daily.filter(pl.col("Date").is_between(a, b))[column].sum())


def _calendar(daily: pl.DataFrame, a: dt.date, b: dt.date) -> pl.DataFrame:
    """Date and Qty of every calendar day from a to b; a day without a row sold 0."""
    days = pl.DataFrame({"Date": pl.date_range(a, b, "1d", eager=True)})
    return days.join(daily.select("Date", "Qty"), on="Date", how="left").with_columns(pl.col("Qty").fill_null(0.0))


def _weekday_pattern(daily: pl.DataFrame, a: dt.date, b: dt.date) -> str:
    """Average units per weekday over every calendar day (missing days count as 0), as % of the mean."""
    full = _calendar(daily, a, b)
    mean = float(full["Qty"].mean() or 0.0)
    by = full.group_by(pl.col("Date").dt.weekday().alias("wd")).agg(pl.col("Qty").mean()).sort("wd")
    parts = [f"{WEEKDAYS[wd - 1]} {q:,.1f} ({100.0 * q / mean if mean else 0.0:.0f}%)" for wd, q in by.iter_rows()]
    return "average units per weekday (share of the daily mean): " + ", ".join(parts)


def _notable_days(daily: pl.DataFrame, a: dt.date, b: dt.date, holidays=None, with_zero: bool = True) -> str:
    """Best day, lowest day with sales, days without sales and holiday effects from a to b."""
    full = _calendar(daily, a, b)

    def day(row) -> str:
        return f"{row[0]} ({WEEKDAYS[row[0].weekday()]}) with {fmt_qty(row[1])} units"

    out = [f"best day: {day(full.sort('Qty', 'Date', descending=[True, False]).row(0))}"]
    sold = full.filter(pl.col("Qty") > 0)
    out += [f"lowest day with sales: {day(sold.sort('Qty', 'Date').row(0))}"] if sold.height else []
    zero = full.filter(pl.col("Qty") == 0)["Date"].to_list()
    more = f" and {len(zero) - 8} more" if len(zero) > 8 else ""
    shown = f" ({', '.join(str(d) for d in zero[:8])}{more})" if zero else ""
    out += [f"days with no sales: {len(zero)}{shown}"] if with_zero else []
    hol = holidays.filter(pl.col("Date").is_between(a, b)) if holidays is not None else None
    if hol is not None and hol.height:
        by_weekday = dict(full.group_by(pl.col("Date").dt.weekday()).agg(pl.col("Qty").mean()).iter_rows())
        qty = dict(full.iter_rows())
        out.append("holidays: " + "; ".join(
            f"{name} {d}: {fmt_qty(qty[d])} units ({_pct(qty[d], by_weekday.get(d.isoweekday(), 0.0))} vs the average "
            f"{WEEKDAYS[d.weekday()]})" for d, name in hol.iter_rows()))
    return "; ".join(out)


def _monthly_lines(daily: pl.DataFrame, a: dt.date, b: dt.date, with_value: bool = True) -> list[str]:
    monthly = (daily.filter(pl.col("Date").is_between(a, b)).group_by(pl.col("Date").dt.truncate("1mo").alias("M"))
               .agg(pl.col("Qty", "Value").sum()).sort("M"))
    return [f"- {MONTHS[m.month - 1]} {m.year} ({m:%Y-%m}): {fmt_qty(q)} units"
            + (f", {fmt_money(v)}" if with_value else "") for m, q, v in monthly.iter_rows()]


def _year_windows(ds) -> list[tuple[int, dt.date, dt.date]]:
    years = range(ds.start.year, ds.end.year + 1)
    return [(y, max(ds.start, dt.date(y, 1, 1)), min(ds.end, dt.date(y, 12, 31))) for y in years]


def _year_earlier(d: dt.date) -> dt.date:
    return d.replace(year=d.year - 1) if (d.month, d.day) != (2, 29) else dt.date(d.year - 1, 2, 28)


def _ranked(sales: pl.DataFrame, by: str, measure: str = "Value", rank: str = "rank") -> pl.DataFrame:
    """Qty and Value per store (or product), biggest ``measure`` first, with its ``rank`` (1 = biggest)."""
    return (sales.group_by(by).agg(pl.col("Qty", "Value").sum())
            .sort(measure, by, descending=[True, False]).with_row_index(rank, offset=1))


# --------------------------------------------------------------------------------------------
# The chain and the cards
# --------------------------------------------------------------------------------------------


def _chain_document(ds, sales: pl.DataFrame) -> Document:
    years = [f"- {y} ({a} to {b}): {fmt_qty(_sum(sales, a, b))} units, {fmt_money(_sum(sales, a, b, 'Value'))}"
             for y, a, b in _year_windows(ds)]
    biggest = {by: "; ".join(f"{name(ds, k)} {fmt_money(v)}"
                             for k, v in _ranked(sales, by).head(5)[[by, "Value"]].rows())
               for by, name in (("Store_ID", _store_label), ("Product_ID", _product_label))}
    text = "\n".join([
        f"The K-Mart chain (전체 체인) in this data set: {len(ds.store_ids)} stores and {len(ds.product_ids)} products, "
        f"sales from {ds.start} to {ds.end}. Total {fmt_qty(sales['Qty'].sum())} units, "
        f"{fmt_money(sales['Value'].sum())}.",
        "Totals per year:", *years,
        f"Biggest stores by sales value: {biggest['Store_ID']}.",
        f"Biggest products by sales value: {biggest['Product_ID']}.",
    ])
    return Document("chain", "The chain: size, period and yearly totals", text,
                    _meta("dictionary", start=ds.start, end=ds.end))


def _store_cards(ds, sales: pl.DataFrame) -> list[Document]:
    visits = (ds.visits.group_by("Store_ID").agg(Customers=pl.col("CustomerCount").sum(), Days=pl.len())
              .sort("Customers", "Store_ID", descending=[True, False]).with_row_index("by_visits", offset=1))
    spans = sales.group_by("Store_ID").agg(first=pl.col("Date").min(), last=pl.col("Date").max(),
                                           days=pl.col("Date").n_unique())
    cards = (_ranked(sales, "Store_ID").join(spans, on="Store_ID").join(visits, on="Store_ID", how="left")
             .join(ds.stores, on="Store_ID", how="left").sort("Store_ID"))
    docs = []
    for c in cards.iter_rows(named=True):
        s, city = c["Store_ID"], c["City"]
        neighbours = cards.filter((pl.col("City") == city) & (pl.col("Store_ID") != s))["Store_ID"]
        late = c["first"] > ds.start + dt.timedelta(days=7)
        lines = [
            f"Store {s} ({_ko_store(ds, s)}) is a type {c['Store_Type']} store in {city}, {c['State']}.",
            f"Size: rank {c['rank']} of {cards.height} stores by sales value ({fmt_money(c['Value'])}, "
            f"{fmt_qty(c['Qty'])} units from {ds.start} to {ds.end}); 1 is the biggest.",
            *([f"Customers: {fmt_qty(c['Customers'])} customer visits in {c['Days']:,} days, on average "
               f"{c['Customers'] / c['Days']:,.0f} per day (rank {c['by_visits']} of {visits.height} by customers)."]
              if c["Days"] else []),
            f"Selling days: {c['days']:,} of {(ds.end - ds.start).days + 1:,}; first sale {c['first']}, "
            f"last sale {c['last']}" + (f" (opened later than the chain start {ds.start})." if late else "."),
            f"Neighbours in {city}: " + (", ".join(f"store {o}" for o in neighbours) or "none") + ".",
        ]
        docs.append(Document(f"store:{s}", f"Store card: {_store_label(ds, s)}", "\n".join(lines),
                             _meta("store", store=s, start=ds.start, end=ds.end)))
    return docs


def _safety_stock_line(sales: pl.DataFrame, p: int, lead_time, days: int) -> str:
    """Why product p's safety stock is what it is: lead time, per-store daily demand variability (days without
    a sales row count as 0 units, averaged over the stores that sell it), the formula."""
    head = (f"Safety stock (안전 재고) of product {p}: it covers demand the forecast misses during the lead time, so it "
            f"rises with the lead time ({lead_time} days) and with how much daily demand varies")
    per_store = (sales.filter(pl.col("Product_ID") == p).group_by("Store_ID")
                 .agg(pl.col("Qty").sum().alias("s"), (pl.col("Qty").cast(pl.Float64) ** 2).sum().alias("s2"))
                 .with_columns((pl.col("s") / days).alias("mean"))
                 .with_columns((pl.col("s2") / days - pl.col("mean") ** 2).clip(lower_bound=0.0).sqrt().alias("sd")))
    if not lead_time or per_store.height == 0:
        return head + "."
    mean, sd = float(per_store["mean"].mean()), float(per_store["sd"].mean())
    guide = Z_99 * sd * float(lead_time) ** 0.5
    return (head + f". Per store, daily demand (수요 변동성) averages {mean:,.1f} units with a standard deviation of "
            f"{sd:,.1f} (coefficient of variation {sd / mean if mean else 0.0:.2f}). The normal approximation at a 99% "
            f"service level, z x sigma x sqrt(lead time) = {Z_99} x {sd:,.1f} x sqrt({lead_time}), gives about "
            f"{guide:,.0f} units per store" + (f", {guide / mean:.1f} days of average demand" if mean else "")
            + "; the default method uses the spread of past forecast errors instead, which is smaller when "
            "the forecast follows the weekly pattern.")


def _product_cards(ds, sales: pl.DataFrame, daily: dict[int, pl.DataFrame]) -> list[Document]:
    by_qty = _ranked(sales, "Product_ID", "Qty", "by_qty").select("Product_ID", "by_qty")
    cards = _ranked(sales, "Product_ID").join(by_qty, on="Product_ID").join(ds.products, on="Product_ID", how="left")
    days = (ds.end - ds.start).days + 1
    docs = []
    for c in cards.sort("Product_ID").iter_rows(named=True):
        p, n = c["Product_ID"], cards.height
        months = (daily[p].group_by(pl.col("Date").dt.month().alias("m"))
                  .agg((pl.col("Qty").sum() / pl.col("Date").n_unique()).alias("q")).sort("q", descending=True))["m"]
        lines = [
            f"Product {p} ({_ko_product(ds, p)}), code {c['Product_Code']}: subcategory {c['SubCategory']}, "
            f"category {c['Category']} ({' '.join(CATEGORY_KO.get(c['Category'], ()))}).",
            f"Lead time: {c['LeadTime']} days from order to arrival (리드타임). "
            f"Price: {fmt_money(c['Price'])} per unit (가격).",
            f"Sales level: {fmt_qty(c['Qty'])} units and {fmt_money(c['Value'])} from {ds.start} to {ds.end} in the "
            f"whole chain, {float(c['Qty']) / days:,.1f} units per day; rank {c['by_qty']} of {n} products by units "
            f"and {c['rank']} of {n} by value.",
            "Weekday pattern, chain-wide " + _weekday_pattern(daily[p], ds.start, ds.end) + ".",
            f"Season: the strongest month of the year is {MONTHS[months[0] - 1]}, the weakest {MONTHS[months[-1] - 1]} "
            "(average units per selling day).",
            _safety_stock_line(sales, p, c["LeadTime"], days),
        ]
        docs.append(Document(f"product:{p}", f"Product card: {_product_label(ds, p)}", "\n".join(lines),
                             _meta("product", product=p, start=ds.start, end=ds.end)))
    return docs


# --------------------------------------------------------------------------------------------
# Period summaries: per store or product and year; the last 13 weeks; store x product cards
# --------------------------------------------------------------------------------------------


def _windows(ds) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """The last RECENT_WEEKS weeks (from the data's start at the earliest) and as many weeks before them."""
    b, span, day = ds.end, dt.timedelta(days=7 * RECENT_WEEKS), dt.timedelta(days=1)
    return (max(ds.start, b - span + day), b), (b - 2 * span + day, b - span)


def _recent(ds, daily: pl.DataFrame, title: str) -> list[str]:
    """The last weeks' total against the weeks before and the same weeks a year earlier, the trend, and the
    weekly totals."""
    ((a, b), previous_weeks), year = _windows(ds), dt.timedelta(days=364)
    recent, previous, year_ago = _sum(daily, a, b), _sum(daily, *previous_weeks), _sum(daily, a - year, b - year)
    trend = "up" if recent > previous * 1.02 else "down" if recent < previous * 0.98 else "flat"
    weeks = [(b - dt.timedelta(days=7 * k + 6), b - dt.timedelta(days=7 * k)) for k in range(RECENT_WEEKS - 1, -1, -1)]
    return [
        f"Last {RECENT_WEEKS} weeks of {title}: {a} to {b}: {fmt_qty(recent)} units; "
        f"{_pct(recent, previous)} vs the {RECENT_WEEKS} weeks before ({fmt_qty(previous)} units), "
        f"{_pct(recent, year_ago)} vs the same weeks a year earlier ({fmt_qty(year_ago)} units). Trend: {trend}.",
        "Weekly totals:", *(f"- week {w0} to {w1}: {fmt_qty(_sum(daily, w0, w1))} units" for w0, w1 in weeks)]


def _summaries_of(ds, kind: str, key: int, daily: pl.DataFrame, sales: pl.DataFrame) -> list[Document]:
    """A store's (or a product's, chain-wide) summary per year: totals and change, customer visits (stores),
    monthly totals, notable days; and of its last weeks, with the units and change per product of the store
    (or per store of the product, its 10 biggest)."""
    if kind == "store":
        label, ko, by, other = _store_label(ds, key) + ", all products", _ko_store(ds, key), "Store_ID", "Product_ID"
    else:
        label, ko = f"{_product_label(ds, key)} in the whole chain", _ko_product(ds, key)
        by, other = "Product_ID", "Store_ID"
    docs = []
    for y, a, b in _year_windows(ds):
        total, a0, b0 = _sum(daily, a, b), _year_earlier(a), _year_earlier(b)
        before = _sum(daily, a0, b0) if a0 >= ds.start else 0.0
        whole = (a.month, a.day, b.month, b.day) == (1, 1, 12, 31)
        change = f"; {_pct(total, before)} vs {'' if whole else 'the same days of '}{y - 1}" if before else ""
        lines = [f"Sales of {label} ({ko}) in {y} ({a} to {b}): {fmt_qty(total)} units, "
                 f"{fmt_money(_sum(daily, a, b, 'Value'))}{change}."]
        if kind == "store":
            visits = ds.visits.filter((pl.col("Store_ID") == key) & pl.col("Date").is_between(a, b))["CustomerCount"]
            lines += [f"Customer visits in {y}: {fmt_qty(visits.sum())}, on average {float(visits.mean()):,.0f} "
                      "per open day."] if visits.len() else []
        lines += [f"Monthly totals {y}:", *_monthly_lines(daily, a, b),
                  f"Notable days in {y}: {_notable_days(daily, a, b, ds.holidays, with_zero=kind != 'product')}."]
        docs.append(Document(f"summary:{kind}:{key}:{y}", f"Summary {y}: {label}", "\n".join(lines),
                             _meta("summary", start=a, end=b, **{kind: key})))
    rows, windows = sales.filter(pl.col(by) == key), _windows(ds)
    recent, before = (rows.filter(pl.col("Date").is_between(*w)).group_by(other).agg(pl.col("Qty").sum())
                      for w in windows)
    breakdown = (recent.join(before, on=other, how="full", coalesce=True, suffix="_before")
                 .with_columns(pl.col("Qty", "Qty_before").fill_null(0.0))
                 .sort("Qty", other, descending=[True, False]).head(10 if kind == "product" else rows.height))
    lines = [*_recent(ds, daily, f"{label} ({ko}, 최근 13주, last quarter)"),
             f"Last {RECENT_WEEKS} weeks by {'product' if kind == 'store' else 'store'} (units, change vs the "
             f"{RECENT_WEEKS} weeks before):",
             *(f"- {_product_label(ds, o) if kind == 'store' else f'store {o}'}: {fmt_qty(q)} ({_pct(q, pq)})"
               for o, q, pq in breakdown.select(other, "Qty", "Qty_before").rows())]
    return docs + [Document(f"summary:{kind}:{key}:recent", f"Last {RECENT_WEEKS} weeks: {label}", "\n".join(lines),
                            _meta("summary", start=windows[0][0], end=ds.end, **{kind: key}))]


def _store_product_card(ds, s: int, p: int, daily: pl.DataFrame) -> Document:
    """Lead time and price, the last weeks, the monthly totals of the last 12 months and the notable days."""
    label, ko = f"{_product_label(ds, p)} at {_store_label(ds, s)}", f"{_ko_store(ds, s)} {_ko_product(ds, p)}"
    b = ds.end
    first, a12 = daily["Date"].min(), max(ds.start, dt.date(b.year - (b.month < 12), b.month % 12 + 1, 1))
    lines = [f"{label[0].upper() + label[1:]} ({ko}): lead time {ds.lead_time(p)} days, "
             f"price {fmt_money(ds.price(p))}.",
             *_recent(ds, daily, "this product at this store (최근 13주)"),
             f"Monthly totals, last 12 months ({a12} to {b}):", *_monthly_lines(daily, a12, b, with_value=False),
             f"Notable days ({first} to {b}): {_notable_days(daily, first, b)}."]
    return Document(f"summary:store-product:{s}:{p}", f"Store x product: {label}", "\n".join(lines),
                    _meta("summary", store=s, product=p, start=first, end=b))


def _summaries(ds, sales: pl.DataFrame, daily: dict[str, dict]) -> list[Document]:
    docs = [d for kind in ("product", "store") for key, days in sorted(daily[kind].items())
            for d in _summaries_of(ds, kind, key, days, sales)]
    for s in _ranked(sales, "Store_ID")["Store_ID"].head(TOP_STORES_WITH_PRODUCT_CARDS).to_list():
        for p, days in sorted(_daily(sales.filter(pl.col("Store_ID") == s), "Product_ID").items()):
            docs.append(_store_product_card(ds, s, p, days))
    return docs


# --------------------------------------------------------------------------------------------
# Forecast reports and the order ledger
# --------------------------------------------------------------------------------------------


def _forecast_documents(ds, state: Path) -> list[Document]:
    """Per store, product and training end: the saved models, best validation WAPE first."""
    groups: dict[tuple, list[dict]] = {}
    for meta in ModelStore(state / "models").saved():
        try:
            groups.setdefault((int(meta["store"]), int(meta["product"]), str(meta["train_end"])), []).append(meta)
        except (ValueError, KeyError, TypeError):
            continue

    def wape(m: dict) -> float:
        value = (m.get("cv") or {}).get("score")
        return float(value) if isinstance(value, (int, float)) else float("inf")

    docs = []
    for (s, p, train_end), metas in sorted(groups.items()):
        metas.sort(key=lambda m: (wape(m), m.get("model", "")))
        horizons = ", ".join(str(h) for h in metas[0].get("horizons", []))
        lines = [f"Forecast model evaluation (예측 모델 평가) for {_product_label(ds, p)} at {_store_label(ds, s)}, models "
                 f"trained on data up to {train_end}, horizons {horizons} days ahead.",
                 f"Best model by cross-validated WAPE: {metas[0].get('model')} (WAPE {wape(metas[0]):.1%})."
                 if wape(metas[0]) != float("inf") else "No model has a validation score."]
        for m in metas:
            metrics = [f"{k.upper()} {v:.3f}" for k, v in ((m.get("cv") or {}).get("metrics") or {}).items()
                       if isinstance(v, (int, float))]
            score = f"{wape(m):.1%}" if wape(m) != float("inf") else "n/a"
            params = json.dumps(m.get("params") or {}, sort_keys=True)
            lines.append(f"- {m.get('model')} params {params}: validation WAPE {score}{'; ' if metrics else ''}"
                         f"{', '.join(metrics)}; fitted {m.get('created', '?')} in "
                         f"{float(m.get('fit_seconds') or 0):.1f} s.")
        title = f"Forecast evaluation: {_product_label(ds, p)} at store {s} (trained to {train_end})"
        docs.append(Document(f"forecast:{s}:{p}:{train_end}", title, "\n".join(lines),
                             _meta("forecast", store=s, product=p, start=ds.start, end=train_end)))
    return docs


def _ledger_documents(ds, state: Path, recent_orders: int = 30) -> list[Document]:
    """Per store a summary of the latest versions of its confirmed orders, and its last ``recent_orders`` orders."""
    path = state / "ledger.sqlite"
    try:  # the ledger is opened only through OrderLedger, read-only
        history = OrderLedger(path, read_only=True).history() if path.is_file() else None
    except ValueError:
        history = None
    if history is None or history.height == 0:
        return []
    history = history.with_columns(pl.col("order_date").cast(pl.String))
    latest = history.filter(pl.col("version") == pl.col("version").max().over("store_id", "order_date"))
    docs = []
    for (s,), rows in sorted(latest.partition_by("store_id", as_dict=True).items()):
        dates = sorted(rows["order_date"].unique().to_list())
        versions = history.filter(pl.col("store_id") == s).select("order_date", "version").unique().height
        changed = rows.filter(pl.col("final_qty") != pl.col("recommended_qty"))
        by_product = rows.group_by("product_id").agg(pl.col("recommended_qty", "final_qty").sum()).sort("product_id")
        change = changed["final_qty"].sum() - changed["recommended_qty"].sum()
        text = [f"Order ledger (발주 확정 내역) of {_store_label(ds, s)}: {len(dates)} order dates confirmed from "
                f"{dates[0]} to {dates[-1]}, {versions} confirmations in all (a re-confirmation adds a new version; "
                "the latest counts).",
                f"In the latest versions {rows.height} order lines: recommended "
                f"{fmt_qty(rows['recommended_qty'].sum())} units, final {fmt_qty(rows['final_qty'].sum())} units; "
                f"{changed.height} lines changed by the store (final minus recommended {fmt_qty(change)} units).",
                "Per product (recommended / final units): "
                + "; ".join(f"product {p} {fmt_qty(r)} / {fmt_qty(f)}" for p, r, f in by_product.iter_rows()) + "."]
        docs.append(Document(f"ledger:{s}", f"Order ledger: {_store_label(ds, s)}", "\n".join(text),
                             _meta("ledger", store=s, start=dates[0], end=dates[-1])))
        for d in dates[-recent_orders:]:
            day = rows.filter(pl.col("order_date") == d).sort("product_id")
            v, by = int(day["version"][0]), day["confirmed_by"][0]
            body = [f"Confirmed order of {_store_label(ds, s)} for {d} (version {v}, confirmed {day['confirmed_at'][0]}"
                    + (f" by {by}" if by else "") + f"): {day.height} lines, final "
                    f"{fmt_qty(day['final_qty'].sum())} units."]
            body += [f"- {_product_label(ds, p)}: recommended {fmt_qty(r)}, final {fmt_qty(f)}"
                     + (f" ({why})" if why else "")
                     for p, r, f, why in day.select("product_id", "recommended_qty", "final_qty", "reason").rows()]
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
    """The text of a TXT, MD (UTF-8, or Korean Windows cp949) or PDF file, or ValueError with one sentence."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if not path.is_file():
        raise ValueError(f"{path} does not exist or is not a file; check the path.")
    if path.suffix.lower() not in USER_SUFFIXES:
        raise ValueError(f"{path.name} is not a TXT, MD or PDF file; convert it to one of those and add it again.")
    if path.suffix.lower() == ".pdf":
        try:  # a PDF without a user password is decrypted on opening
            text = "\n\n".join((page.extract_text() or "") for page in PdfReader(str(path)).pages)
        except FileNotDecryptedError as exc:
            raise ValueError(f"{path.name} is a password-protected PDF; save it without a password and add it "
                             "again.") from exc
        except (PdfReadError, OSError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path.name} could not be read as a PDF ({type(exc).__name__}); check that the file is a "
                             "complete PDF and add it again.") from exc
        if not text.strip():
            raise ValueError(f"{path.name} has no text layer (it may be a scanned image); add a PDF with selectable "
                             "text or a TXT/MD file.")
        return text
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949", "latin-1"):  # latin-1 decodes any bytes
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if "\x00" in text:
        raise ValueError(f"{path.name} is not a text file (it contains binary data); save it as plain text and add "
                         "it again.")
    if not text.strip():
        raise ValueError(f"{path.name} is empty; add a file with some text.")
    return text


def load_user_documents(paths, errors: list[str] | None = None) -> list[Document]:
    """TXT, MD and PDF files as documents (id ``upload:<file name>``).

    An unreadable file raises ValueError with one sentence naming it; when ``errors`` is a list,
    the sentence is appended there instead and the other files are still read.
    """
    docs = []
    for path in map(Path, paths):
        try:
            text = re.sub(r"[ \t]+\n", "\n", _read_user_file(path)).strip()
        except ValueError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        docs.append(Document(f"upload:{path.name}", f"Uploaded document: {path.name}", text,
                             _meta("upload", file=path.name)))
    return docs


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def build_documents(ds, state: Path | None = None, errors: list[str] | None = None) -> list[Document]:
    """Every document for the index, from the data set and (when given) its state folder."""
    sales = (ds.sales.join(ds.products.select("Product_ID", "Price"), on="Product_ID", how="left")
             .with_columns((pl.col("Qty") * pl.col("Price").fill_null(0.0)).alias("Value"))
             .select("Date", "Store_ID", "Product_ID", "Qty", "Value"))
    daily = {"store": _daily(sales, "Store_ID"), "product": _daily(sales, "Product_ID")}
    docs = [*_dictionary_documents(ds), _chain_document(ds, sales), *_store_cards(ds, sales),
            *_product_cards(ds, sales, daily["product"]), *_summaries(ds, sales, daily)]
    if state is not None:
        docs += _forecast_documents(ds, Path(state)) + _ledger_documents(ds, Path(state))
        up = uploads_dir(state)
        files = sorted(f for f in up.iterdir() if f.is_file() and not f.name.startswith(".")) if up.is_dir() else []
        docs += load_user_documents(files, errors=errors if errors is not None else [])
    return docs


def split_document(doc: Document, max_chars: int = MAX_CHUNK_CHARS) -> list[Document]:
    """Chunks of at most about ``max_chars`` characters, cut at line breaks (a longer line at spaces,
    by ``textwrap``), each starting with the title and keeping the metadata plus ``doc_id`` and
    ``chunk``. Chunk ids are ``<doc id>#<n>``."""
    lines = doc.text.split("\n")
    chunks: list[list[str]] = [[]]
    size = 0
    for piece in (p for line in lines for p in (textwrap.wrap(line, max_chars) if len(line) > max_chars else [line])):
        if chunks[-1] and size + len(piece) + 1 > max_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(piece)
        size += len(piece) + 1
    out = []
    for n, part in enumerate(c for c in chunks if any(x.strip() for x in c)):
        body = "\n".join(part).strip()
        text = body if n == 0 else f"{doc.title} (continued)\n{body}"
        out.append(replace(doc, id=f"{doc.id}#{n}", text=text, metadata={**doc.metadata, "doc_id": doc.id, "chunk": n}))
    return out
