"""Vetted SQL for the common numeric questions (English and Korean), built only from validated integers
and ISO dates, so it is trusted without a model (it still passes the guard when run).

Chosen from the question's entities and keywords (on the question and its glossary English): ``oil_price``
(a day's last quote, or average / min / max over a period's quoted days), ``oil_days``, ``product_info``,
``ledger_orders``; then units sold or customer visits as a ranking (``top_*``, ``customers_by_*``,
``sales_max_day|min_day``), one row per group (``sales_by_*``, ``customers_compare``) or the total
(``sales_total``, ``sales_average`` per calendar day, ``customers``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.ask.entities import Entities, product_name


@dataclass
class TemplateMatch:
    name: str
    sql: str
    description: str  # the result's heading in English
    korean: str = ""  # the same in Korean (stores, products and period from the entities)


_KW = {  # a Korean word the glossary translates is matched through its English
    "oil": ("oil", "wti", "crude", "원유"),
    "info": ("lead time", "leadtime", "lead-time", "price", "cost of"),
    "ledger": ("order qty", "order quantity", "ordered", "purchase order", "confirmed order", "orders placed",
               "order total", "order volume", "발주"),
    "recommended": ("recommend", "권장", "추천"),
    "customers": ("customer", "visit", "visitor", "traffic", "transactions", "footfall", "방문"),
    "top": ("top", "best", "most", "highest", "largest", "biggest", "ranking", "rank", "leading", "가장", "제일", "1위"),
    "compare": ("compare", "comparison", " vs", "versus", "against", "대비"),
    "average": ("average", "avg", "mean", "typical"),
    # what the sales templates do not compute (forecasts, safety stock, ...): text-to-SQL answers
    "other": ("forecast", "model", "safety stock", "stockout", "service level", "recommend", "권장", "추천"),
    # the largest / smallest value on ONE day (a max-by-day question, not a total or a ranking)
    "extreme": ("largest", "biggest", "highest", "max", "peak", "most", "record", "best day", "가장 많", "제일 많", "피크"),
    "least": ("lowest", "smallest", "least", "min", "fewest", "worst", "bottom", "가장 적", "제일 적", "가장 낮",
              "제일 낮"),
    "one_day": ("single day", "single-day", "one day", "a day", "any day", "in a day", "on a day", "single-date",
                "best day", "하루", "단일 일", "일 최대", "일일 최대", "일 최고", "일일 최고"),
    "sales": ("sell", "sold", "sale", "qty", "quantity", "units", "how many", "how much", "total", "sum", "demand",
              "팔"),
}
# one row per ...: "by store", "per store", "each store", "every store", "store by store" and other ways to say it
_KW.update({f"by_{unit}": (f"by {unit}", f"per {unit}", f"each {unit}", f"every {unit}", f"{unit} by {unit}", *more)
            for unit, more in {"store": ("매장별", "점포별", "지점별"), "product": ("상품별", "제품별", "품목별"),
                               "day": ("daily", "매일"), "week": ("weekly", "주 단위", "주단위"),
                               "month": ("monthly", "월 단위", "달별"), "year": ("yearly", "해별")}.items()})
# units sold and customer visits: (table, the value a group's rows add up to, its column, English, Korean)
MEASURES = {"sales": ("sales", "sum(Qty)", "total_qty", "units sold", "판매량"),
            "customers": ("visits", "sum(CustomerCount)", "total_customers", "customer visits", "고객 방문")}
# what one row of a ranking or of a per-group result is: (columns, English, Korean)
GROUPS = {
    "stores": ("Store_ID", "store", "매장"), "products": ("Product_ID, SubCategory", "product", "상품"),
    "days": ("Date", "day", "일"), "year": ("year(Date) AS year", "year", "연도"),
    "week": ("CAST(date_trunc('week', Date) AS DATE) AS week", "week (weeks start on Monday)", "주"),
    "month": ("CAST(date_trunc('month', Date) AS DATE) AS month", "month", "월"),
}
CUSTOMER_TOTALS = ("sum(CustomerCount) AS total_customers, round(avg(CustomerCount), 1) AS avg_per_store_day, "
                   "count(DISTINCT Date) AS days")
_DAY_TARGET = re.compile(r"(?:which|what) (?:day|date)|\bwhen\b|어느 날|어떤 날|언제|며칠|무슨 날|날짜는|날은")


def _has(text: str, key: str) -> bool:
    return any(re.search(rf"(?<![a-z]){re.escape(w)}", text) if re.match(r"[a-z]", w) else w in text for w in _KW[key])


def _in(column: str, ids: list[int]) -> str:
    ids = [int(i) for i in ids]
    if any(i < 0 or i > 10**9 for i in ids):
        raise ValueError("an id is out of range.")
    return f"{column} = {ids[0]}" if len(ids) == 1 else f"{column} IN ({', '.join(map(str, ids))})"


def _date(d: dt.date) -> str:
    return f"DATE '{dt.date.isoformat(d)}'"  # a TypeError for anything but a date


def _where(entities: Entities, start: dt.date, end: dt.date, products=True, date: str = "Date") -> str:
    parts = [f"{date} BETWEEN {_date(start)} AND {_date(end)}", entities.stores and _in("Store_ID", entities.stores),
             products and entities.products and _in("Product_ID", entities.products)]
    return " AND ".join(part for part in parts if part)  # DuckDB's names ignore case: Store_ID = store_id


def _heading(en: str, ko: str, scope: str, entities: Entities, ds, label: str) -> tuple[str, str]:
    """The result's heading in English and Korean: what it is, then of which products and stores
    (``scope`` "sales"; "stores": the stores only) and when ("period": only when)."""
    products = [(p, product_name(ds, p)) for p in entities.products] if scope == "sales" else []
    stores = f"store{'s' * (len(entities.stores) > 1)} {', '.join(map(str, entities.stores))}"
    stores = stores if entities.stores else "all stores"
    names = ", ".join(f"product {p}" + (f" ({n})" if n else "") for p, n in products) or "all products"
    who = {"sales": f" of {names} at {stores}", "stores": f" at {stores}"}.get(scope, "")
    parts = [f"{p}번 상품" + (f"({n})" if n else "") for p, n in products]
    if scope in ("sales", "stores"):
        parts.append(", ".join(f"{s}번 매장" for s in entities.stores) or "전체 매장")
    if scope and entities.start:
        parts.append(f"{entities.start}~{entities.end}")
    return f"{en}{who}{', ' + label if scope else ''}", " · ".join(parts) + " — " * bool(parts) + ko


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


def _per_group(text: str, entities: Entities) -> str | None:
    """What one row per group is keyed by (a ``GROUPS`` key), or None for one total: years when two are
    compared, stores / products when several are named or asked for, else a day, week or month."""
    years = set(re.findall(r"(?<!\d)(20\d\d)(?!\d)", text))
    if _has(text, "compare") and len(years) >= 2 or _has(text, "by_year"):
        return "year"
    if _has(text, "by_store") or (len(entities.stores) > 1 and not _has(text, "by_product")):
        return "stores"
    if _has(text, "by_product") or len(entities.products) > 1:
        return "products"
    return next((unit for unit, key in (("days", "by_day"), ("week", "by_week"), ("month", "by_month"))
                 if _has(text, key) and not (unit == "days" and _has(text, "average"))), None)


def _grouped(table: str, keys: str, values: str, where: str, order: str = "1") -> str:
    """One row per group of ``keys`` (ties and groups in the order of the first key)."""
    return f"SELECT {keys}, {values} FROM {table} WHERE {where} GROUP BY ALL ORDER BY {order}"


def match_template(question: str, entities: Entities, ds, tables) -> TemplateMatch | None:
    """Vetted SQL for ``question`` or None when no template fits (then text-to-SQL answers). ``tables``: the
    engine's (``SqlEngine.allowed_tables``); without ``order_lines`` a ledger question says no order is confirmed."""
    text = f"{(question or '').lower()} \n {(entities.normalized or '').lower()}"
    if entities.unknown_stores or entities.unknown_products:
        return None  # the answer layer says which id is not in the data
    first, last = ds.start, ds.end  # the question's period clipped to the data (the whole data when none)
    start, end = max(entities.start or first, first), min(entities.end or last, last)
    label = entities.period_label if entities.start and entities.end else f"the whole data ({first}..{last})"
    if start > end:
        return None
    direction = "ASC" if _has(text, "least") else "DESC" if _has(text, "top") else None  # least / most first
    n, day = max(1, min(int(entities.top_n or 5), 50)), None

    def match(name: str, sql: str, en: str, ko: str, scope: str = "sales") -> TemplateMatch:
        return TemplateMatch(name, sql, *_heading(en, ko, scope, entities, ds, label))

    if _has(text, "oil"):
        if entities.start is not None and entities.start == entities.end:
            sql = f"SELECT Date, WTI_Price FROM oil_price WHERE Date <= {_date(start)} ORDER BY Date DESC LIMIT 1"
            return match("oil_price", sql, f"the last quoted WTI oil price (USD per barrel) on or before {start}",
                         "WTI 유가 (USD/배럴)", "")
        where = f"Date BETWEEN {_date(start)} AND {_date(end)}"
        if direction:
            sql = f"SELECT Date, WTI_Price FROM oil_price WHERE {where} ORDER BY WTI_Price {direction}, Date LIMIT {n}"
            return match("oil_days", sql, f"the quoted days ranked by WTI oil price "
                                          f"({'highest' if direction == 'DESC' else 'lowest'} first)",
                         f"유가 순위 (시세가 있는 날, {'높은' if direction == 'DESC' else '낮은'} 순)", "period")
        sql = (f"SELECT round(avg(WTI_Price), 2) AS avg_price, min(WTI_Price) AS min_price, "
               f"max(WTI_Price) AS max_price, count(*) AS quoted_days FROM oil_price WHERE {where}")
        return match("oil_price", sql, "WTI oil price (USD per barrel) over the quoted days: average, lowest, highest",
                     "WTI 유가 (USD/배럴)", "period")

    if _has(text, "info") and entities.products and not _has(text, "customers"):
        sql = (f"SELECT Product_ID, SubCategory, Category, LeadTime, Price FROM products "
               f"WHERE {_in('Product_ID', entities.products)} ORDER BY Product_ID")
        return match("product_info", sql, "lead time (days from order to arrival) and price per unit from the "
                                          "products table", "리드타임(일)과 단가", "")

    if _has(text, "ledger"):
        if "order_lines" not in tables:
            return match("ledger_orders", "SELECT 0 AS confirmed_lines, CAST(NULL AS DOUBLE) AS total_qty",
                         "no order has been confirmed yet (the order ledger is empty), so there are no order "
                         "quantities", "발주 원장의 발주량", "")
        column, what = ("recommended_qty", "recommended") if _has(text, "recommended") else ("final_qty", "confirmed")
        where = _where(entities, start, end, date="order_date")
        sql = (f"SELECT sum({column}) AS total_qty, count(*) AS confirmed_lines, count(DISTINCT order_date) AS "
               f"order_days FROM order_lines WHERE {where}")  # order_lines: latest versions only
        return match("ledger_orders", sql, f"{what} order quantity in the order ledger (latest confirmation per "
                                           f"store and day)", "발주 원장의 발주량")

    measure = "customers" if _has(text, "customers") else "sales"
    table, value, alias, measure_en, measure_ko = MEASURES[measure]
    where = _where(entities, start, end, products=measure == "sales")
    scope = "sales" if measure == "sales" else "stores"
    if measure == "sales":
        if _has(text, "other") or not (entities.stores or entities.products or entities.start or direction):
            return None
        peak = re.search(r"\bpeak\b|피크", text) and not (_has(text, "by_week") or _has(text, "by_month"))
        if (_has(text, "one_day") or peak) and not _has(text, "average"):
            if re.search(r"(?:which|what)\s+(?:stores?|shops?|branch|products?|items?)|(?:어느|어떤)\s*(?:매장|점포|상품|제품)",
                         text) or not (_has(text, "least") or _has(text, "extreme")):
                return None  # a per-store peak, or "one day" without largest/smallest: text-to-SQL works it out
            smallest = _has(text, "least") and not _has(text, "extreme")  # the single day: a ranking of one
            direction, n, day = ("ASC", 1, "sales_min_day") if smallest else ("DESC", 1, "sales_max_day")

    target = "days" if day else _top_target(text, entities) if direction else None
    if target and (measure == "sales" or target != "products"):
        column = "day_qty" if (measure, target) == ("sales", "days") else alias
        source = f"{table} JOIN products USING (Product_ID)" if target == "products" else table
        sql = _grouped(source, GROUPS[target][0], f"{value} AS {column}", where, f"{column} {direction}, 1 LIMIT {n}")
        most = direction == "DESC"
        name = day or (f"top_{target}" if measure == "sales" else f"customers_by_{GROUPS[target][1]}")
        return match(name, sql, f"{target} ranked by {measure_en} ({'most' if most else 'fewest'} first, at most {n})",
                     f"{measure_ko} 순위 ({GROUPS[target][2]}별, {'많은' if most else '적은'} 순)",
                     "stores" if target == "products" else scope)

    if measure == "sales" and not (_has(text, "sales") or entities.products or entities.stores):
        return None
    group = _per_group(text, entities)
    if group and (measure == "sales" or group != "products"):
        columns, group_en, group_ko = GROUPS[group]
        source = f"{table} JOIN products USING (Product_ID)" if group == "products" else table
        values = f"{value} AS {alias}" if measure == "sales" else CUSTOMER_TOTALS
        name = f"sales_by_{group.removesuffix('s')}" if measure == "sales" else "customers_compare"
        return match(name, _grouped(source, columns, values, where), f"{measure_en} per {group_en}",
                     f"{group_ko}별 {measure_ko}", scope)

    if measure == "customers":
        return match("customers", f"SELECT {CUSTOMER_TOTALS} FROM visits WHERE {where}",
                     "customer visits (visits.CustomerCount): total and average per store-day", "고객 수", scope)
    if _has(text, "average"):
        days = (end - start).days + 1
        sql = (f"SELECT round(coalesce(sum(Qty), 0) / {days}, 2) AS avg_daily_qty, coalesce(sum(Qty), 0) AS total_qty, "
               f"{days} AS days FROM sales WHERE {where}")
        return match("sales_average", sql, f"average units sold per day (total / {days} days; days without sales "
                                           f"count as 0)", "일평균 판매량")
    sql = f"SELECT coalesce(sum(Qty), 0) AS total_qty, count(DISTINCT Date) AS days_with_sales FROM sales WHERE {where}"
    return match("sales_total", sql, "units sold (sum of sales.Qty)", "판매량 합계")

