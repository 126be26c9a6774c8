"""Vetted SQL for the common numeric questions (English and Korean), built only from validated
integers and ISO dates, so it is trusted without a model (it still passes the guard when run).

Chosen from the question's entities and keywords: ``oil_price`` (a day's last quote, or the average /
min / max over a period's quoted days and how many) and ``oil_days`` (days ranked by price);
``product_info``; ``ledger_orders`` (latest confirmation per store and day); ``customers``,
``customers_compare``, ``customers_by_store|day`` (rankings by visits); ``top_stores|products|days``
(most first, or least first for least / fewest / 가장 적은); ``sales_by_store|product|day|week|month|year``;
``sales_average`` (per calendar day); ``sales_max_day`` / ``sales_min_day``; ``sales_total``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.ask.entities import Entities, product_name
from engine.ask.sql_engine import ledger_path


@dataclass
class TemplateMatch:
    name: str
    sql: str
    description: str  # the result's heading in English
    korean: str = ""  # the same in Korean (stores, products and period from the entities)


_KW = {
    "oil": ("oil", "wti", "crude", "유가", "기름값", "원유"),
    "info": ("lead time", "leadtime", "lead-time", "price", "cost of", "리드타임", "리드 타임", "조달기간", "가격", "단가",
             "판매가"),
    "ledger": ("order qty", "order quantity", "ordered", "purchase order", "confirmed order", "orders placed",
               "order total", "order volume", "발주", "주문량", "주문 수량", "주문수량"),
    "recommended": ("recommend", "권장", "추천"),
    "customers": ("customer", "visit", "visitor", "traffic", "transactions", "footfall", "고객", "방문", "손님", "거래건수"),
    "top": ("top", "best", "most", "highest", "largest", "biggest", "ranking", "rank", "leading",
            "가장", "제일", "순위", "상위", "랭킹", "베스트", "1위"),
    "by_store": ("by store", "per store", "each store", "every store", "for each store", "store by store", "매장별",
                 "점포별", "지점별"),
    "by_product": ("by product", "per product", "each product", "every product", "for each product",
                   "product by product", "상품별", "제품별", "품목별"),
    "by_day": ("by day", "daily", "per day", "each day", "day by day", "일별", "날짜별", "일자별", "매일"),
    "by_week": ("by week", "weekly", "per week", "each week", "week by week", "주별", "주간", "주 단위", "주단위"),
    "by_month": ("by month", "monthly", "per month", "each month", "month by month", "월별", "월간", "월 단위", "달별"),
    "by_year": ("by year", "yearly", "per year", "each year", "year by year", "연도별", "연간", "해별"),
    "compare": ("compare", "comparison", " vs", "versus", "against", "비교", "대비"),
    "average": ("average", "avg", "mean", "typical", "평균"),
    # what the sales templates do not compute (forecasts, safety stock, ...): text-to-SQL answers
    "other": ("forecast", "model", "safety stock", "stockout", "service level", "recommend", "권장", "추천"),
    # the largest / smallest value on ONE day (a max-by-day question, not a total or a ranking)
    "extreme": ("largest", "biggest", "highest", "max", "maximum", "peak", "most", "record", "best day",
                "최대", "최고", "가장 많", "제일 많", "피크"),
    "least": ("lowest", "smallest", "least", "minimum", "min", "fewest", "worst", "bottom", "최소", "최저", "가장 적",
              "제일 적", "가장 낮", "제일 낮", "하위"),
    "one_day": ("single day", "single-day", "one day", "a day", "any day", "in a day", "on a day", "single-date",
                "best day", "하루", "단일 일", "일 최대", "일일 최대", "일 최고", "일일 최고"),
    "sales": ("sell", "sold", "sale", "qty", "quantity", "units", "how many", "how much", "total", "sum", "demand",
              "판매", "팔", "매출", "수량", "합계", "총", "얼마", "몇 개", "몇개"),
}
# Korean headings of the templates' results
KOREAN = {
    "sales_total": "판매량 합계", "sales_average": "일평균 판매량", "customers": "고객 수",
    "top_stores": "판매량 상위 매장", "top_products": "판매량 상위 상품", "product_info": "리드타임(일)과 단가",
    "oil_price": "WTI 유가 (USD/배럴)", "ledger_orders": "발주 원장의 발주량", "sales_by_store": "매장별 판매량",
    "sales_by_product": "상품별 판매량", "sales_by_day": "일별 판매량", "sales_by_week": "주별 판매량",
    "sales_by_month": "월별 판매량", "sales_max_day": "하루 판매량이 가장 많았던 날",
    "sales_min_day": "하루 판매량이 가장 적었던 날", "top_days": "판매량 순위 (날짜)",
    "customers_by_store": "고객 방문 순위 (매장)", "customers_by_day": "고객 방문 순위 (날짜)",
    "oil_days": "유가 순위 (시세가 있는 날)", "customers_compare": "고객 수 비교", "sales_by_year": "연도별 판매량",
}
_JOIN = "sales AS s JOIN products AS p ON p.Product_ID = s.Product_ID"
_DAY_TARGET = re.compile(r"(?:which|what) (?:day|date)|\bwhen\b|어느 날|어떤 날|언제|며칠|무슨 날|날짜는|날은")


def _has(text: str, key: str) -> bool:
    return any(re.search(rf"(?<![a-z]){re.escape(w)}", text) if re.match(r"[a-z]", w) else w in text for w in _KW[key])


def _in(column: str, ids: list[int]) -> str:
    ids = [int(i) for i in ids]
    if any(i < 0 or i > 10**9 for i in ids):
        raise ValueError("an id is out of range.")
    return f"{column} = {ids[0]}" if len(ids) == 1 else f"{column} IN ({', '.join(map(str, ids))})"


def _date(d: dt.date) -> str:
    if not isinstance(d, dt.date):
        raise ValueError("a period bound is not a date.")
    return f"DATE '{dt.date(d.year, d.month, d.day).isoformat()}'"


def _where(entities: Entities, start: dt.date, end: dt.date, prefix: str = "", stores=True, products=True,
           columns=("Store_ID", "Product_ID", "Date")) -> str:
    store, product, date = (prefix + c for c in columns)
    parts = [f"{date} BETWEEN {_date(start)} AND {_date(end)}"]
    if stores and entities.stores:
        parts.append(_in(store, entities.stores))
    if products and entities.products:
        parts.append(_in(product, entities.products))
    return " AND ".join(parts)


def _stores(entities: Entities) -> str:
    if not entities.stores:
        return "all stores"
    return f"store{'s' if len(entities.stores) > 1 else ''} {', '.join(map(str, entities.stores))}"


def _who(entities: Entities, ds) -> str:
    names = [f"product {p}" + (f" ({n})" if (n := product_name(ds, p)) else "") for p in entities.products]
    return f"{', '.join(names) or 'all products'} at {_stores(entities)}"


def _korean(name: str, entities: Entities, ds, ascending: bool) -> str:
    """The Korean heading: products, stores and period (numbers and dates as in the SQL), then what it is."""
    what = KOREAN[name]
    if ascending:
        what = what.replace("상위", "하위") + " (적은 순)"
    parts = [f"{p}번 상품" + (f"({n})" if (n := product_name(ds, p)) else "") for p in entities.products]
    if entities.stores:
        parts.append(", ".join(f"{s}번 매장" for s in entities.stores))
    elif name not in ("product_info", "oil_price"):
        parts.append("전체 매장")
    if entities.start and entities.end:
        parts.append(f"{entities.start}~{entities.end}")
    return (" · ".join(parts) + " — " if parts else "") + what


def _top_target(text: str, entities: Entities) -> str:
    """'stores', 'products' or 'days': what a ranking question ranks."""
    if _DAY_TARGET.search(text):
        return "days"
    m = re.search(r"(?:top|best|most|least|fewest|highest|lowest|which|what|상위|하위|가장|제일|어느|어떤|순위)[^.?!]{0,40}?"
                  r"(store|shop|branch|product|item|category|매장|점포|지점|상품|제품|품목)", text)
    m = m or re.search(r"(stores|shops|branches|products|items|매장들|상품들)", text)
    if m:
        return "stores" if re.match(r"store|shop|branch|매장|점포|지점", m.group(1)) else "products"
    return "stores" if entities.products and not entities.stores else "products"


def _ranking(text: str) -> str | None:
    """'DESC' (most first) or 'ASC' (least first) for a ranking question (which / top / most / least /
    가장 / 제일), None otherwise."""
    return "ASC" if _has(text, "least") else ("DESC" if _has(text, "top") else None)


def _group(text: str, entities: Entities, key: str) -> tuple[str, str] | None:
    """How to split a comparison: ("year(Date)", "year") when two years are compared, (key, key) when
    several stores (``key`` Store_ID) or products (Product_ID) are named; None otherwise."""
    years = set(re.findall(r"(?<!\d)(20\d\d)(?!\d)", text))
    if _has(text, "compare") and len(years) >= 2 or _has(text, "by_year"):
        return "year(Date)", "year"
    named = entities.stores if key == "Store_ID" else entities.products
    return (key, key) if len(named) > 1 else None


def _ranked(table: str, key: str, value: str, alias: str, where: str, direction: str, n: int, tie: str = "") -> str:
    """Groups of ``key`` ranked by ``value`` (ties: the smaller key first), at most ``n`` rows."""
    return (f"SELECT {key}, {value} AS {alias} FROM {table} WHERE {where} GROUP BY {key} "
            f"ORDER BY {alias} {direction}, {tie or key} LIMIT {n}")


def _per(select: str, where: str, table: str = "sales") -> str:
    """One row per group (the non-aggregate columns of ``select``), in the order of the first column."""
    return f"SELECT {select} FROM {table} WHERE {where} GROUP BY ALL ORDER BY 1"


def match_template(question: str, entities: Entities, ds, tables: set[str] | None = None) -> TemplateMatch | None:
    """Vetted SQL for ``question`` or None when no template fits (then text-to-SQL or retrieval answers).

    ``tables``: the engine's tables (``SqlEngine.allowed_tables``; by default: whether the data folder's
    ledger file exists); without ``order_lines`` a ledger question gets a query that says no order
    has been confirmed yet.
    """
    text = f"{(question or '').lower()} \n {(entities.normalized or '').lower()}"
    if tables is None and getattr(ds, "folder", ""):
        tables = {"order_lines"} if ledger_path(ds.folder).is_file() else set()
    if entities.unknown_stores or entities.unknown_products:
        return None  # the answer layer says which id is not in the data
    first, last = ds.start, ds.end  # the question's period clipped to the data (the whole data when none)
    start, end = max(entities.start or first, first), min(entities.end or last, last)
    label = entities.period_label or f"{entities.start}..{entities.end}"
    if entities.start is None or entities.end is None:
        label = f"the whole data ({first}..{last})"
    if start > end:
        return None
    direction, n = _ranking(text), max(1, min(int(entities.top_n or 5), 50))
    who, stores = _who(entities, ds), _stores(entities)

    def match(name: str, sql: str, description: str) -> TemplateMatch:
        return TemplateMatch(name, sql, description, _korean(name, entities, ds, " ASC," in sql))

    if _has(text, "oil"):
        if entities.start is not None and entities.start == entities.end:
            sql = f"SELECT Date, WTI_Price FROM oil_price WHERE Date <= {_date(start)} ORDER BY Date DESC LIMIT 1"
            return match("oil_price", sql, f"the last quoted WTI oil price (USD per barrel) on or before {start}")
        where = f"Date BETWEEN {_date(start)} AND {_date(end)}"
        if direction:
            sql = f"SELECT Date, WTI_Price FROM oil_price WHERE {where} ORDER BY WTI_Price {direction}, Date LIMIT {n}"
            order = "highest" if direction == "DESC" else "lowest"
            return match("oil_days", sql, f"the quoted days of {label} ranked by WTI oil price ({order} first)")
        sql = (f"SELECT round(avg(WTI_Price), 2) AS avg_price, min(WTI_Price) AS min_price, "
               f"max(WTI_Price) AS max_price, count(*) AS quoted_days FROM oil_price WHERE {where}")
        return match("oil_price", sql, f"WTI oil price (USD per barrel) over the quoted days of {label}: "
                                       f"average, lowest, highest")

    if _has(text, "info") and entities.products and not _has(text, "customers"):
        sql = (f"SELECT Product_ID, SubCategory, Category, LeadTime, Price FROM products "
               f"WHERE {_in('Product_ID', entities.products)} ORDER BY Product_ID")
        return match("product_info", sql, "lead time (days from order to arrival) and price per unit from the "
                                          "products table")

    if _has(text, "ledger"):
        if tables is not None and "order_lines" not in tables:
            return match("ledger_orders", "SELECT 0 AS confirmed_lines, CAST(NULL AS DOUBLE) AS total_qty",
                         "no order has been confirmed yet (the order ledger is empty), so there are no order "
                         "quantities")
        recommended = _has(text, "recommended")
        column, what = ("recommended_qty", "recommended") if recommended else ("final_qty", "confirmed (final)")
        where = _where(entities, start, end, columns=("store_id", "product_id", "order_date"))
        sql = (f"SELECT sum({column}) AS total_qty, count(*) AS confirmed_lines, count(DISTINCT order_date) AS "
               f"order_days FROM order_lines WHERE {where}")  # order_lines: latest versions only
        return match("ledger_orders", sql, f"{what} order quantity in the order ledger (latest confirmation per store "
                                           f"and day) for {who}, {label}")

    if _has(text, "customers"):
        where = _where(entities, start, end, products=False)
        target = _top_target(text, entities) if direction else None
        if target in ("stores", "days"):
            key, name = ("Store_ID", "customers_by_store") if target == "stores" else ("Date", "customers_by_day")
            sql = _ranked("visits", key, "sum(CustomerCount)", "total_customers", where, direction, n)
            order = "most" if direction == "DESC" else "fewest"
            return match(name, sql, f"{target} ranked by customer visits ({order} first), {stores}, {label}")
        totals = ("sum(CustomerCount) AS total_customers, round(avg(CustomerCount), 1) AS avg_per_store_day, "
                  "count(DISTINCT Date) AS days")
        if group := _group(text, entities, "Store_ID"):  # several stores named, or two years compared
            key, alias = group
            return match("customers_compare", _per(f"{key} AS {alias}, {totals}", where, "visits"),
                         f"customer visits per {alias.lower().removesuffix('_id')} of {stores}, {label}")
        return match("customers", f"SELECT {totals} FROM visits WHERE {where}",
                     f"customer visits (visits.CustomerCount) of {stores}, {label}: total and average per store-day")

    if _has(text, "other"):
        return None
    if not (entities.stores or entities.products or entities.start or _has(text, "top") or _has(text, "least")):
        return None

    where = _where(entities, start, end)
    peak = _has(text, "extreme") and re.search(r"\bpeak\b|피크", text)
    peak = peak and not (_has(text, "by_week") or _has(text, "by_month"))
    if not _has(text, "average") and (_has(text, "one_day") or peak):
        if re.search(r"(?:which|what)\s+(?:stores?|shops?|branch|products?|items?)|(?:어느|어떤)\s*(?:매장|점포|상품|제품)", text):
            return None  # "which store sold the most in one day": a per-store peak, left to text-to-SQL
        if not (_has(text, "least") or _has(text, "extreme")):
            return None  # "one day" without largest/smallest: text-to-SQL works out what is meant
        smallest = _has(text, "least") and not _has(text, "extreme")
        sql = _ranked("sales", "Date", "sum(Qty)", "day_qty", where, "ASC" if smallest else "DESC", 1)
        return match("sales_min_day" if smallest else "sales_max_day", sql,
                     f"the {'smallest' if smallest else 'largest'} quantity sold on a single day (days with a sales "
                     f"row) of {who}, {label}")
    if not direction and _has(text, "one_day") and not _has(text, "average"):
        return None  # a single day without a template of its own: text-to-SQL answers

    joined = _where(entities, start, end, prefix="s.")
    if direction:
        target, order = _top_target(text, entities), f"{'top' if direction == 'DESC' else 'bottom'} {n}"
        if target == "stores":
            products = ", ".join(f"product {p}" for p in entities.products) or "all products"
            sql = _ranked("sales", "Store_ID", "sum(Qty)", "total_qty", _where(entities, start, end, stores=False),
                          direction, n)
            return match("top_stores", sql, f"{order} stores by units sold of {products}, {label}")
        if target == "days":
            sql = _ranked("sales", "Date", "sum(Qty)", "day_qty", where, direction, n)
            return match("top_days", sql, f"{order} days by units sold (days with a sales row) of {who}, {label}")
        sql = _ranked(_JOIN, "s.Product_ID, p.SubCategory", "sum(s.Qty)", "total_qty", joined, direction, n,
                      tie="s.Product_ID")
        return match("top_products", sql, f"{order} products by units sold at {stores}, {label}")

    group = _group(text, entities, "Store_ID") or _group(text, entities, "Product_ID")
    if group and group[0] == "year(Date)":
        return match("sales_by_year", _per("year(Date) AS year, coalesce(sum(Qty), 0) AS total_qty", where),
                     f"units sold per year of {who}, {label}")
    if _has(text, "by_store") or (group and group[0] == "Store_ID" and not _has(text, "by_product")):
        return match("sales_by_store", _per("Store_ID, sum(Qty) AS total_qty", where),
                     f"units sold per store of {who}, {label}")
    if _has(text, "by_product") or group:
        return match("sales_by_product", _per("s.Product_ID, p.SubCategory, sum(s.Qty) AS total_qty", joined, _JOIN),
                     f"units sold per product of {who}, {label}")

    for unit in ("day", "week", "month"):
        if _has(text, f"by_{unit}") and not (unit == "day" and _has(text, "average")):
            bucket = "Date" if unit == "day" else f"CAST(date_trunc('{unit}', Date) AS DATE)"
            note = " (weeks start on Monday)" if unit == "week" else ""
            return match(f"sales_by_{unit}", _per(f"{bucket} AS {unit}, sum(Qty) AS total_qty", where),
                         f"units sold per {unit}{note} of {who}, {label}")

    if _has(text, "average"):
        days = (end - start).days + 1
        sql = (f"SELECT round(coalesce(sum(Qty), 0) / {days}, 2) AS avg_daily_qty, coalesce(sum(Qty), 0) AS total_qty, "
               f"{days} AS days FROM sales WHERE {where}")
        return match("sales_average", sql, f"average units sold per day (total / {days} days; days without sales "
                                           f"count as 0) of {who}, {label}")
    if _has(text, "sales") or entities.products or entities.stores:
        sql = (f"SELECT coalesce(sum(Qty), 0) AS total_qty, count(DISTINCT Date) AS days_with_sales"
               f" FROM sales WHERE {where}")
        return match("sales_total", sql, f"units sold (sum of sales.Qty) of {who}, {label}")
    return None
