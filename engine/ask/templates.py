"""Vetted SQL for the most common numeric questions (English and Korean).

A template is chosen from the question's entities (stores, products, period, top N) and keywords,
and its SQL is built only from validated integers and ISO dates, so it can be trusted without a
language model. Each still passes the guard when run. Templates:

- ``oil_price``: the last quoted WTI price on or before a day, or the average/min/max over the
  quoted days of a period (with how many there were); ``oil_days``: the days ranked by price
- ``product_info``: lead time and price of products
- ``ledger_orders``: confirmed order quantity (the order ledger, latest version per store and day)
- ``customers``: customer visits of stores (total and average per day); ``customers_by_store`` /
  ``customers_by_day``: stores or days ranked by visits ("which store had the most visits")
- ``top_products`` / ``top_stores`` / ``top_days``: products, stores or days ranked by units sold
  (most first, or least first for least / fewest / lowest / 가장 적은)
- ``sales_by_store`` / ``sales_by_product``: units sold per store / per product
- ``sales_by_day`` / ``sales_by_week`` / ``sales_by_month``: units sold per day/week/month
- ``sales_average``: average units sold per day (days without a sales row count as 0)
- ``sales_max_day`` / ``sales_min_day``: the largest / smallest units sold on a single day
- ``sales_total``: units sold (total) of products at stores over a period
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.ask.entities import Entities
from engine.ask.sql_engine import ledger_path


@dataclass
class TemplateMatch:
    name: str
    sql: str
    description: str


_KW = {
    "oil": ("oil", "wti", "crude", "유가", "기름값", "원유"),
    "info": ("lead time", "leadtime", "lead-time", "price", "cost of", "리드타임", "리드 타임", "조달기간", "가격", "단가", "판매가"),
    "ledger": ("order qty", "order quantity", "ordered", "purchase order", "confirmed order", "orders placed", "order total",
               "order volume", "발주", "주문량", "주문 수량", "주문수량"),
    "recommended": ("recommend", "권장", "추천"),
    "customers": ("customer", "visit", "visitor", "traffic", "transactions", "footfall", "고객", "방문", "손님", "거래건수"),
    "top": ("top", "best", "most", "highest", "largest", "biggest", "ranking", "rank", "leading",
            "가장", "제일", "순위", "상위", "랭킹", "베스트", "1위"),
    "store_word": ("store", "shop", "branch", "매장", "점포", "지점"),
    "product_word": ("product", "item", "sku", "category", "상품", "제품", "품목"),
    "by_store": ("by store", "per store", "each store", "every store", "for each store", "store by store", "매장별", "점포별", "지점별"),
    "by_product": ("by product", "per product", "each product", "every product", "for each product", "product by product",
                   "상품별", "제품별", "품목별"),
    "by_day": ("by day", "daily", "per day", "each day", "day by day", "일별", "날짜별", "일자별", "매일"),
    "by_week": ("by week", "weekly", "per week", "each week", "week by week", "주별", "주간", "주 단위", "주단위"),
    "by_month": ("by month", "monthly", "per month", "each month", "month by month", "월별", "월간", "월 단위", "달별"),
    "by_year": ("by year", "yearly", "per year", "each year", "year by year", "연도별", "연간", "해별"),
    "compare": ("compare", "comparison", " vs", "versus", "against", "비교", "대비"),
    "average": ("average", "avg", "mean", "typical", "평균"),
    "explain": ("why", "explain", "reason", "how come", "what does", "what is a", "what is the meaning", "define", "definition",
                "safety stock", "forecast", "model", "stockout", "service level", "recommend",
                "왜", "이유", "설명", "의미", "뜻", "안전재고", "안전 재고", "예측", "모델", "결품", "품절", "서비스 수준", "권장", "추천"),
    # questions about where data lives / the tables' columns: the data dictionary answers those
    "schema": ("which table", "what table", "which tables", "what tables", "column", "field", "schema",
               "table has", "in the table", "테이블", "컬럼", "칼럼", "열 이름", "스키마", "필드"),
    # the largest / smallest value on ONE day (a max-by-day question, not a total or a ranking)
    "extreme": ("largest", "biggest", "highest", "max", "maximum", "peak", "most", "record", "best day",
                "최대", "최고", "가장 많", "제일 많", "피크"),
    "least": ("lowest", "smallest", "least", "minimum", "min", "fewest", "worst", "bottom", "최소", "최저", "가장 적",
              "제일 적", "가장 낮", "제일 낮", "하위"),
    "which": ("which", "what store", "what product", "what day", "what date", "when", "어느", "어떤", "언제", "며칠", "무슨"),
    "one_day": ("single day", "single-day", "one day", "a day", "any day", "in a day", "on a day", "single-date", "best day",
                "하루", "단일 일", "일 최대", "일일 최대", "일 최고", "일일 최고"),
    "sales": ("sell", "sold", "sale", "qty", "quantity", "units", "how many", "how much", "total", "sum", "demand",
              "판매", "팔", "매출", "수량", "합계", "총", "얼마", "몇 개", "몇개"),
}


def _has(text: str, key: str) -> bool:
    for word in _KW[key]:
        if re.match(r"[a-z]", word):
            if re.search(rf"(?<![a-z]){re.escape(word)}", text):
                return True
        elif word in text:
            return True
    return False


def _ints(values) -> list[int]:
    out = []
    for v in values:
        i = int(v)
        if i < 0 or i > 10**9:
            raise ValueError(f"the id {v} is out of range.")
        out.append(i)
    return out


def _in(column: str, ids: list[int]) -> str:
    ids = _ints(ids)
    return f"{column} = {ids[0]}" if len(ids) == 1 else f"{column} IN ({', '.join(str(i) for i in ids)})"


def _date(d: dt.date) -> str:
    if not isinstance(d, dt.date):
        raise ValueError("a period bound is not a date.")
    return f"DATE '{dt.date(d.year, d.month, d.day).isoformat()}'"


def _period(entities: Entities, ds) -> tuple[dt.date, dt.date, str]:
    """The question's period clipped to the data (the whole data when none is named)."""
    first, last = ds.start, ds.end
    if entities.start is None or entities.end is None:
        return first, last, f"the whole data ({first}..{last})"
    start, end = max(entities.start, first), min(entities.end, last)
    label = entities.period_label or f"{entities.start}..{entities.end}"
    return start, end, label


def _where(entities: Entities, start: dt.date, end: dt.date, store_col="Store_ID", product_col="Product_ID", date_col="Date",
           stores=True, products=True) -> str:
    parts = [f"{date_col} BETWEEN {_date(start)} AND {_date(end)}"]
    if stores and entities.stores:
        parts.append(_in(store_col, entities.stores))
    if products and entities.products:
        parts.append(_in(product_col, entities.products))
    return " AND ".join(parts)


def _who(entities: Entities, ds) -> str:
    stores = f"store{'s' if len(entities.stores) > 1 else ''} {', '.join(map(str, entities.stores))}" if entities.stores else "all stores"
    if entities.products:
        names = []
        for p in entities.products:
            try:
                names.append(f"product {p} ({ds.product(p)['SubCategory']})")
            except KeyError:
                names.append(f"product {p}")
        products = ", ".join(names)
    else:
        products = "all products"
    return f"{products} at {stores}"


_DAY_TARGET = re.compile(r"(?:which|what) (?:day|date)|\bwhen\b|어느 날|어떤 날|언제|며칠|무슨 날|날짜는|날은")


def _top_target(text: str, entities: Entities) -> str:
    """'stores', 'products' or 'days': what a ranking question ranks."""
    if _DAY_TARGET.search(text):
        return "days"
    m = re.search(r"(?:top|best|most|least|fewest|highest|lowest|which|what|상위|하위|가장|제일|어느|어떤|순위)[^.?!]{0,40}?"
                  r"(store|shop|branch|product|item|category|매장|점포|지점|상품|제품|품목)", text)
    if m:
        return "stores" if m.group(1) in ("store", "shop", "branch", "매장", "점포", "지점") else "products"
    m = re.search(r"(stores|shops|branches|products|items|매장들|상품들)", text)
    if m:
        return "stores" if m.group(1) in ("stores", "shops", "branches", "매장들") else "products"
    if entities.products and not entities.stores:
        return "stores"
    return "products"


def _ranking(text: str) -> str | None:
    """'DESC' (most first) or 'ASC' (least first) for a ranking question (which / top / most / least /
    가장 / 제일), None otherwise."""
    if _has(text, "least"):
        return "ASC"
    if _has(text, "top"):
        return "DESC"
    return None


def _group(text: str, entities: Entities, key: str) -> tuple[str, str] | None:
    """How to split a comparison: ("year(Date)", "year") when two years are compared, (key, key) when
    several stores (``key`` Store_ID) or products (Product_ID) are named; None otherwise."""
    years = set(re.findall(r"(?<!\d)(20\d\d)(?!\d)", text))
    if _has(text, "compare") and len(years) >= 2 or _has(text, "by_year"):
        return "year(Date)", "year"
    named = entities.stores if key == "Store_ID" else entities.products
    return (key, key) if len(named) > 1 else None


def _stores(entities: Entities) -> str:
    return f"store{'s' if len(entities.stores) > 1 else ''} {', '.join(map(str, entities.stores))}" if entities.stores else "all stores"


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
    start, end, label = _period(entities, ds)
    if start > end:
        return None

    if _has(text, "schema"):
        return None  # "which table has the oil prices?", "columns of sales": the data dictionary answers

    if _has(text, "oil"):
        if entities.start is not None and entities.start == entities.end:
            sql = f"SELECT Date, WTI_Price FROM oil_price WHERE Date <= {_date(start)} ORDER BY Date DESC LIMIT 1"
            return TemplateMatch("oil_price", sql, f"the last quoted WTI oil price (USD per barrel) on or before {start}")
        where = f"Date BETWEEN {_date(start)} AND {_date(end)}"
        if ranked := _ranking(text):
            n = max(1, min(int(entities.top_n or 5), 50))
            sql = f"SELECT Date, WTI_Price FROM oil_price WHERE {where} ORDER BY WTI_Price {ranked}, Date LIMIT {n}"
            return TemplateMatch("oil_days", sql, f"the quoted days of {label} ranked by WTI oil price ({'highest' if ranked == 'DESC' else 'lowest'} first)")
        sql = (f"SELECT round(avg(WTI_Price), 2) AS avg_price, min(WTI_Price) AS min_price, max(WTI_Price) AS max_price, "
               f"count(*) AS quoted_days FROM oil_price WHERE {where}")
        return TemplateMatch("oil_price", sql, f"WTI oil price (USD per barrel) over the quoted days of {label}: average, lowest, highest")

    if _has(text, "info") and entities.products and not _has(text, "customers"):
        sql = f"SELECT Product_ID, SubCategory, Category, LeadTime, Price FROM products WHERE {_in('Product_ID', entities.products)} ORDER BY Product_ID"
        return TemplateMatch("product_info", sql, "lead time (days from order to arrival) and price per unit from the products table")

    if _has(text, "ledger"):
        column = "recommended_qty" if _has(text, "recommended") else "final_qty"
        if tables is not None and "order_lines" not in tables:
            sql = "SELECT 0 AS confirmed_lines, CAST(NULL AS DOUBLE) AS total_qty"
            return TemplateMatch("ledger_orders", sql, "no order has been confirmed yet (the order ledger is empty), so there are no order quantities")
        where = _where(entities, start, end, "store_id", "product_id", "order_date")  # order_lines: latest versions only
        sql = (f"SELECT sum({column}) AS total_qty, count(*) AS confirmed_lines, count(DISTINCT order_date) AS order_days "
               f"FROM order_lines WHERE {where}")
        what = "recommended" if column == "recommended_qty" else "confirmed (final)"
        return TemplateMatch("ledger_orders", sql, f"{what} order quantity in the order ledger (latest confirmation per store and day) for {_who(entities, ds)}, {label}")

    if _has(text, "customers"):
        where = _where(entities, start, end, products=False)
        ranked = _ranking(text)
        target = _top_target(text, entities) if ranked else None
        if ranked and target in ("stores", "days"):
            n = max(1, min(int(entities.top_n or 5), 50))
            key, name = ("Store_ID", "customers_by_store") if target == "stores" else ("Date", "customers_by_day")
            sql = (f"SELECT {key}, sum(CustomerCount) AS total_customers FROM visits WHERE {where} "
                   f"GROUP BY {key} ORDER BY total_customers {ranked}, {key} LIMIT {n}")
            return TemplateMatch(name, sql, f"{target} ranked by customer visits ({'most' if ranked == 'DESC' else 'fewest'} first), "
                                            f"{_stores(entities)}, {label}")
        group = _group(text, entities, "Store_ID")
        if group:  # several stores named, or two years compared: one row each
            key, alias = group
            sql = (f"SELECT {key} AS {alias}, sum(CustomerCount) AS total_customers, round(avg(CustomerCount), 1) AS avg_per_store_day, "
                   f"count(DISTINCT Date) AS days FROM visits WHERE {where} GROUP BY 1 ORDER BY 1")
            return TemplateMatch("customers_compare", sql, f"customer visits per {alias.lower().removesuffix('_id')} of {_stores(entities)}, {label}")
        sql = (f"SELECT sum(CustomerCount) AS total_customers, round(avg(CustomerCount), 1) AS avg_per_store_day, "
               f"count(DISTINCT Date) AS days FROM visits WHERE {where}")
        return TemplateMatch("customers", sql, f"customer visits (visits.CustomerCount) of {_stores(entities)}, {label}: total and average per store-day")

    if _has(text, "explain"):
        return None  # "why ...", definitions, safety stock, forecasts: retrieval and the language model answer
    if not (entities.stores or entities.products or entities.start or _has(text, "top") or _has(text, "least")):
        return None

    one_day = not _has(text, "average") and (_has(text, "one_day") or (_has(text, "extreme") and re.search(r"\bpeak\b|피크", text) and not (
            _has(text, "by_week") or _has(text, "by_month"))))
    if one_day and re.search(r"(?:which|what)\s+(?:stores?|shops?|branch|products?|items?)|(?:어느|어떤)\s*(?:매장|점포|상품|제품)", text):
        return None  # "which store sold the most in one day": a per-store peak, left to text-to-SQL
    if one_day:
        if _has(text, "least") and not _has(text, "extreme"):
            direction, word = "ASC", "smallest"
        elif _has(text, "extreme"):
            direction, word = "DESC", "largest"
        else:
            return None  # "one day" without largest/smallest: text-to-SQL works out what is meant
        where = _where(entities, start, end)
        sql = (f"SELECT Date, sum(Qty) AS day_qty FROM sales WHERE {where} "
               f"GROUP BY Date ORDER BY day_qty {direction}, Date LIMIT 1")
        return TemplateMatch("sales_max_day" if direction == "DESC" else "sales_min_day", sql,
                             f"the {word} quantity sold on a single day (days with a sales row) of {_who(entities, ds)}, {label}")
    ranked = _ranking(text)
    if not ranked and _has(text, "one_day") and not _has(text, "average"):
        return None  # a single day without a template of its own: text-to-SQL answers

    if ranked:
        n = max(1, min(int(entities.top_n or 5), 50))
        target = _top_target(text, entities)
        order = f"{'top' if ranked == 'DESC' else 'bottom'} {n}"
        if target == "stores":
            where = _where(entities, start, end, stores=False)
            sql = (f"SELECT Store_ID, sum(Qty) AS total_qty FROM sales WHERE {where} "
                   f"GROUP BY Store_ID ORDER BY total_qty {ranked}, Store_ID LIMIT {n}")
            prods = f"product{'s' if len(entities.products) > 1 else ''} {', '.join(map(str, entities.products))}" if entities.products else "all products"
            return TemplateMatch("top_stores", sql, f"{order} stores by units sold of {prods}, {label}")
        if target == "days":
            where = _where(entities, start, end)
            sql = (f"SELECT Date, sum(Qty) AS day_qty FROM sales WHERE {where} "
                   f"GROUP BY Date ORDER BY day_qty {ranked}, Date LIMIT {n}")
            return TemplateMatch("top_days", sql, f"{order} days by units sold (days with a sales row) of {_who(entities, ds)}, {label}")
        where = _where(entities, start, end, store_col="s.Store_ID", product_col="s.Product_ID", date_col="s.Date")
        sql = (f"SELECT s.Product_ID, p.SubCategory, sum(s.Qty) AS total_qty FROM sales AS s JOIN products AS p ON p.Product_ID = s.Product_ID "
               f"WHERE {where} GROUP BY s.Product_ID, p.SubCategory ORDER BY total_qty {ranked}, s.Product_ID LIMIT {n}")
        return TemplateMatch("top_products", sql, f"{order} products by units sold at {_stores(entities)}, {label}")

    group = _group(text, entities, "Store_ID") or _group(text, entities, "Product_ID")
    if group and group[0] == "year(Date)":
        where = _where(entities, start, end)
        sql = f"SELECT year(Date) AS year, coalesce(sum(Qty), 0) AS total_qty FROM sales WHERE {where} GROUP BY 1 ORDER BY 1"
        return TemplateMatch("sales_by_year", sql, f"units sold per year of {_who(entities, ds)}, {label}")
    if _has(text, "by_store") or _has(text, "by_product") or group:
        if group and not (_has(text, "by_store") or _has(text, "by_product")):
            text += " by store" if group[0] == "Store_ID" else " by product"
        if _has(text, "by_store"):
            where = _where(entities, start, end)
            sql = f"SELECT Store_ID, sum(Qty) AS total_qty FROM sales WHERE {where} GROUP BY Store_ID ORDER BY Store_ID"
            return TemplateMatch("sales_by_store", sql, f"units sold per store of {_who(entities, ds)}, {label}")
        where = _where(entities, start, end, store_col="s.Store_ID", product_col="s.Product_ID", date_col="s.Date")
        sql = (f"SELECT s.Product_ID, p.SubCategory, sum(s.Qty) AS total_qty FROM sales AS s JOIN products AS p ON p.Product_ID = s.Product_ID "
               f"WHERE {where} GROUP BY s.Product_ID, p.SubCategory ORDER BY s.Product_ID")
        return TemplateMatch("sales_by_product", sql, f"units sold per product of {_who(entities, ds)}, {label}")

    where = _where(entities, start, end)
    for key, unit in (("by_day", "day"), ("by_week", "week"), ("by_month", "month")):
        if _has(text, key) and not (key == "by_day" and _has(text, "average")):
            bucket = "Date" if unit == "day" else f"CAST(date_trunc('{unit}', Date) AS DATE)"
            sql = f"SELECT {bucket} AS {unit}, sum(Qty) AS total_qty FROM sales WHERE {where} GROUP BY 1 ORDER BY 1"
            note = " (weeks start on Monday)" if unit == "week" else ""
            return TemplateMatch(f"sales_by_{unit}", sql, f"units sold per {unit}{note} of {_who(entities, ds)}, {label}")

    if _has(text, "average"):
        days = (end - start).days + 1
        sql = (f"SELECT round(coalesce(sum(Qty), 0) / {days}, 2) AS avg_daily_qty, coalesce(sum(Qty), 0) AS total_qty, {days} AS days "
               f"FROM sales WHERE {where}")
        return TemplateMatch("sales_average", sql, f"average units sold per day (total / {days} days; days without sales count as 0) of {_who(entities, ds)}, {label}")

    if _has(text, "sales") or entities.products or entities.stores:
        sql = f"SELECT coalesce(sum(Qty), 0) AS total_qty, count(DISTINCT Date) AS days_with_sales FROM sales WHERE {where}"
        return TemplateMatch("sales_total", sql, f"units sold (sum of sales.Qty) of {_who(entities, ds)}, {label}")
    return None
