"""Each vetted template answers an English and a Korean question with the number polars computes."""

from __future__ import annotations

from tests.ask_support import write_ledger

import datetime as dt
import shutil

import polars as pl
import pytest

from engine.ask.entities import extract_entities
from engine.ask.sql_engine import SqlEngine
from engine.ask.templates import match_template

D = dt.date
LAST_WEEK = (D(2017, 3, 20), D(2017, 3, 26))  # the demo ends on Friday 2017-03-31
MARCH = (D(2017, 3, 1), D(2017, 3, 31))
Y2016 = (D(2016, 1, 1), D(2016, 12, 31))

# the ledger rows the test writes: (confirmation, store, date, version, product, recommended, final)
LEDGER = [
    ("a1", 44, "2017-03-30", 1, 12, 3200.0, 3000.0),
    ("a1", 44, "2017-03-30", 1, 3, 900.0, 900.0),
    ("a2", 44, "2017-03-30", 2, 12, 3200.0, 3500.0),  # re-confirmed: version 2 replaces version 1
    ("a2", 44, "2017-03-30", 2, 3, 900.0, 800.0),
    ("b1", 3, "2017-03-15", 1, 12, 1100.0, 1200.0),
    ("c1", 44, "2017-02-27", 1, 12, 2500.0, 2400.0),  # February: outside "3월"
]


def _write_ledger(path):
    """The LEDGER rows, confirmed through a real OrderLedger (one confirmation per id, in order)."""
    confirmations = {}
    for cid, store, date, _version, product, recommended, final in LEDGER:
        confirmations.setdefault(cid, (store, date, [], None))[2].append((product, recommended, final, "r"))
    write_ledger(path, list(confirmations.values()))


@pytest.fixture(scope="module")
def engine(demo_dir, demo, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tpl") / "data" / "current"
    shutil.copytree(demo_dir, folder)
    _write_ledger(folder.parent / "state" / "ledger.sqlite")
    return SqlEngine(folder, ds=demo)


def _sales(ds, stores=None, products=None, period=None) -> pl.DataFrame:
    f = ds.sales
    if stores:
        f = f.filter(pl.col("Store_ID").is_in(stores))
    if products:
        f = f.filter(pl.col("Product_ID").is_in(products))
    if period:
        f = f.filter(pl.col("Date").is_between(*period))
    return f


def _ledger_total(product, period, column="final_qty"):
    f = pl.DataFrame(LEDGER, schema=["cid", "store", "date", "version", "product", "recommended_qty", "final_qty"], orient="row")
    f = f.with_columns(pl.col("date").str.to_date())
    latest = f.group_by("store", "date").agg(pl.col("version").max())
    f = f.join(latest, on=["store", "date", "version"])
    return f.filter((pl.col("product") == product) & pl.col("date").is_between(*period))[column].sum()


def expected(name: str, ds):
    """The right answer, computed independently with polars (first column of the result)."""
    if name == "sales_total":
        return _sales(ds, [44], [3], LAST_WEEK)["Qty"].sum()
    if name == "sales_average":
        return round(_sales(ds, [44], [3], MARCH)["Qty"].sum() / 31, 2)
    if name == "sales_by_day":
        f = _sales(ds, [44], [3], LAST_WEEK).group_by("Date").agg(pl.col("Qty").sum()).sort("Date")
        return list(zip([d.isoformat() for d in f["Date"]], f["Qty"].to_list()))
    if name == "sales_by_week":
        f = _sales(ds, [44], [42], MARCH).group_by(pl.col("Date").dt.truncate("1w")).agg(pl.col("Qty").sum()).sort("Date")
        return list(zip([d.isoformat() for d in f["Date"]], f["Qty"].to_list()))
    if name == "sales_by_month":
        f = _sales(ds, None, [12], Y2016).group_by(pl.col("Date").dt.month_start()).agg(pl.col("Qty").sum()).sort("Date")
        return list(zip([d.isoformat() for d in f["Date"]], f["Qty"].to_list()))
    if name == "sales_by_store":
        f = _sales(ds, None, [3], LAST_WEEK).group_by("Store_ID").agg(pl.col("Qty").sum()).sort("Store_ID")
        return list(zip(f["Store_ID"].to_list(), f["Qty"].to_list()))
    if name == "sales_by_product":
        f = _sales(ds, [44], None, MARCH).group_by("Product_ID").agg(pl.col("Qty").sum()).sort("Product_ID")
        return list(zip(f["Product_ID"].to_list(), f["Qty"].to_list()))
    if name == "top_products":
        f = _sales(ds, [44], None, MARCH).group_by("Product_ID").agg(pl.col("Qty").sum()).sort(["Qty", "Product_ID"], descending=[True, False]).head(5)
        return list(zip(f["Product_ID"].to_list(), f["Qty"].to_list()))
    if name == "top_stores":
        f = _sales(ds, None, [3], Y2016).group_by("Store_ID").agg(pl.col("Qty").sum()).sort(["Qty", "Store_ID"], descending=[True, False]).head(3)
        return list(zip(f["Store_ID"].to_list(), f["Qty"].to_list()))
    if name == "customers":
        return ds.visits.filter((pl.col("Store_ID") == 44) & pl.col("Date").is_between(*LAST_WEEK))["CustomerCount"].sum()
    quoted = ds.oil_price.filter(~pl.col("WTI_Filled") & pl.col("WTI_Price").is_not_null())  # not the filled days
    if name == "oil_price":  # the last quote on or before the day
        return quoted.filter(pl.col("Date") <= D(2017, 3, 1)).sort("Date")["WTI_Price"][-1]
    if name == "oil_average":
        return round(quoted.filter(pl.col("Date").is_between(*Y2016))["WTI_Price"].mean(), 2)
    if name == "product_info":
        row = ds.products.filter(pl.col("Product_ID") == 42).row(0, named=True)
        return (row["LeadTime"], row["Price"])
    if name == "ledger_orders":
        return _ledger_total(12, MARCH)
    raise AssertionError(name)


def actual(name: str, res):
    cols = res.columns
    if name in ("sales_by_day", "sales_by_week", "sales_by_month", "sales_by_store"):
        return [(r[cols[0]], r[cols[1]]) for r in res.rows]
    if name in ("top_products", "sales_by_product"):
        return [(r["Product_ID"], r["total_qty"]) for r in res.rows]
    if name == "top_stores":
        return [(r["Store_ID"], r["total_qty"]) for r in res.rows]
    if name == "oil_average":
        return res.rows[0]["avg_price"]
    if name == "oil_price":
        return res.rows[0]["WTI_Price"]
    if name == "product_info":
        return (res.rows[0]["LeadTime"], res.rows[0]["Price"])
    return res.rows[0][cols[0]]


CASES = [
    ("sales_total", "What did store 44 sell of product 3 last week?", "지난주 44번 매장 3번 상품 판매량은?"),
    ("sales_average", "Average daily sales of beverages at store 44 in March 2017", "44호점 음료 3월 평균 판매량"),
    ("sales_by_day", "Daily sales of product 3 at store 44 last week", "44번 매장 3번 상품 지난주 일별 판매량"),
    ("sales_by_week", "Weekly sales of product 42 at store 44 in March", "44번 매장 과자 3월 주별 판매량"),
    ("sales_by_month", "Monthly sales of product 12 in 2016", "12번 상품 2016년 월별 판매량"),
    ("sales_by_store", "Beverages sold by store last week", "지난주 음료 매장별 판매량"),
    ("sales_by_product", "Sales per product at store 44 in March 2017", "44번 매장 3월 상품별 판매량"),
    ("top_products", "Top 5 products at store 44 last month", "지난달 44번 매장 상위 5개 상품"),
    ("top_stores", "Which 3 stores sold the most beverages in 2016? top 3", "2016년 음료를 가장 많이 판 상위 3개 매장은?"),
    ("customers", "How many customers did store 44 have last week?", "지난주 44번 매장 고객수 합계"),
    ("oil_price", "What was the oil price on 2017-03-01?", "2017년 3월 1일 유가는?"),
    ("oil_average", "Average oil price in 2016", "2016년 평균 유가"),
    ("product_info", "What is the lead time and price of product 42?", "42번 상품 리드타임과 가격"),
    ("ledger_orders", "How many units of product 12 were ordered in March?", "3월 12번 상품 발주량 합계는?"),
]


@pytest.mark.parametrize("name, english, korean", CASES, ids=[c[0] for c in CASES])
def test_template_answers_english_and_korean(engine, demo, name, english, korean):
    want = expected(name, demo)
    template = {"oil_average": "oil_price"}.get(name, name)
    answers = []
    for question in (english, korean):
        entities = extract_entities(question, demo)
        match = match_template(question, entities, demo, engine.allowed_tables)
        assert match is not None, question
        assert match.name == template, (question, match.name)
        assert match.description
        res = engine.run(match.sql)
        got = actual(name, res)
        if isinstance(want, list):
            assert len(got) == len(want) and len(want) > 0
            for (gk, gv), (wk, wv) in zip(got, want):
                assert gk == wk and gv == pytest.approx(wv)
        elif isinstance(want, tuple):
            assert got == pytest.approx(want)
        else:
            assert got == pytest.approx(want), question
        answers.append(got)
    assert answers[0] == answers[1]


def test_ledger_versions_and_recommended_quantities(engine, demo):
    q = "Total recommended order qty of product 12 in March 2017"
    m = match_template(q, extract_entities(q, demo), demo, engine.allowed_tables)
    assert m.name == "ledger_orders"
    assert engine.run(m.sql).rows[0]["total_qty"] == pytest.approx(_ledger_total(12, MARCH, "recommended_qty"))
    q = "44번 매장 3월 발주량"
    m = match_template(q, extract_entities(q, demo), demo, engine.allowed_tables)
    assert engine.run(m.sql).rows[0]["total_qty"] == pytest.approx(3500.0 + 800.0)  # version 2 only


def test_ledger_question_without_a_ledger_says_so(demo_dir, demo):
    eng = SqlEngine(demo_dir, ds=demo)
    q = "3월 12번 상품 발주량 합계는?"
    m = match_template(q, extract_entities(q, demo), demo, eng.allowed_tables)
    assert m.name == "ledger_orders" and "no order has been confirmed" in m.description
    assert eng.run(m.sql).rows == [{"confirmed_lines": 0, "total_qty": None}]


@pytest.mark.parametrize(
    "question",
    ["Why is the safety stock of product 42 so high?", "안전재고가 왜 높아?", "hello", "What does WAPE mean?", "store 99 sales last week"],
)
def test_no_template_for_untemplated_topics_or_unknown_ids(engine, demo, question):
    assert match_template(question, extract_entities(question, demo), demo, engine.allowed_tables) is None


def test_template_sql_inlines_only_validated_values(engine, demo):
    q = "What did store 44 sell of product 3 last week?"
    e = extract_entities(q, demo)
    m = match_template(q, e, demo, engine.allowed_tables)
    assert "Store_ID = 44" in m.sql and "Product_ID = 3" in m.sql and "DATE '2017-03-20' AND DATE '2017-03-26'" in m.sql
    e.stores = ["44; DROP TABLE sales"]
    with pytest.raises(ValueError):
        match_template(q, e, demo, engine.allowed_tables)


def _max_day(ds, store, product, period=None, smallest=False):
    """(date, qty) of the day with the largest (smallest) units sold, computed with polars."""
    f = _sales(ds, [store], [product], period).group_by("Date").agg(pl.col("Qty").sum())
    f = f.sort(["Qty", "Date"], descending=[not smallest, False])
    return f["Date"][0].isoformat(), f["Qty"][0]


@pytest.mark.parametrize("question", [
    "What was the largest quantity of product 3 sold by store 44 on a single day?",
    "What was the peak single-day quantity of product 3 at store 44?",
    "Highest number of units of product 3 store 44 sold in one day",
    "44번 매장에서 3번 상품이 하루에 가장 많이 팔린 수량은?",
    "44번 매장 3번 상품 하루 최대 판매량은?",
])
def test_max_single_day_is_not_a_total_or_a_ranking(engine, demo, question):
    m = match_template(question, extract_entities(question, demo), demo, engine.allowed_tables)
    assert m is not None and m.name == "sales_max_day", (question, m and m.name)
    row = engine.run(m.sql).rows[0]
    day, qty = _max_day(demo, 44, 3)
    assert (row["Date"], row["day_qty"]) == (day, pytest.approx(qty))
    assert qty < _sales(demo, [44], [3])["Qty"].sum()  # not the total


def test_max_single_day_within_a_period_and_smallest_day(engine, demo):
    q = "What was the largest quantity of product 3 sold by store 44 on a single day in March 2017?"
    m = match_template(q, extract_entities(q, demo), demo, engine.allowed_tables)
    row = engine.run(m.sql).rows[0]
    assert (row["Date"], row["day_qty"]) == (_max_day(demo, 44, 3, MARCH)[0], pytest.approx(_max_day(demo, 44, 3, MARCH)[1]))
    q = "What was the smallest quantity of product 3 sold by store 44 on a single day in March 2017?"
    m = match_template(q, extract_entities(q, demo), demo, engine.allowed_tables)
    assert m.name == "sales_min_day"
    row = engine.run(m.sql).rows[0]
    want = _max_day(demo, 44, 3, MARCH, smallest=True)
    assert (row["Date"], row["day_qty"]) == (want[0], pytest.approx(want[1]))


def test_no_template_for_a_per_store_single_day_peak(engine, demo):
    question = "Which store sold the most of product 3 in a single day?"  # text-to-SQL works it out
    assert match_template(question, extract_entities(question, demo), demo, engine.allowed_tables) is None


def test_average_per_day_still_uses_the_average_template(engine, demo):
    q = "How many units a day did store 44 sell of product 3 on average in March 2017?"
    assert match_template(q, extract_entities(q, demo), demo, engine.allowed_tables).name == "sales_average"


@pytest.mark.parametrize("question", ["Which store had the fewest sales of product 3 in 2016?",
                                      "2016년 3번 상품 판매량이 가장 적은 매장은?"])
def test_least_ranking_lists_the_stores_fewest_first(engine, demo, question):
    m = match_template(question, extract_entities(question, demo), demo, engine.allowed_tables)
    assert m.name == "top_stores" and "ASC" in m.sql
    f = _sales(demo, None, [3], Y2016).group_by("Store_ID").agg(pl.col("Qty").sum()).sort(["Qty", "Store_ID"]).head(5)
    rows = engine.run(m.sql).rows
    assert [r["Store_ID"] for r in rows] == f["Store_ID"].to_list()
    assert [r["total_qty"] for r in rows] == pytest.approx(f["Qty"].to_list())


@pytest.mark.parametrize("question", ["Which store had the most customer visits in 2016? Give the store id.",
                                      "2016년에 고객 방문이 가장 많은 매장은?"])
def test_which_store_most_visits_is_a_ranking_not_the_chain_total(engine, demo, question):
    m = match_template(question, extract_entities(question, demo), demo, engine.allowed_tables)
    assert m.name == "customers_by_store"
    f = (demo.visits.filter(pl.col("Date").is_between(*Y2016)).group_by("Store_ID").agg(pl.col("CustomerCount").sum())
         .sort(["CustomerCount", "Store_ID"], descending=[True, False]).head(5))
    rows = engine.run(m.sql).rows
    assert [(r["Store_ID"], r["total_customers"]) for r in rows] == list(zip(f["Store_ID"].to_list(), f["CustomerCount"].to_list()))


@pytest.mark.parametrize("question", ["Monthly customer visits of store 44 in 2016", "44번 매장 2016년 월별 고객 수"])
def test_customer_visits_per_month_share_the_per_group_builder_with_sales(engine, demo, question):
    m = match_template(question, extract_entities(question, demo), demo, engine.allowed_tables)
    assert m.name == "customers_compare" and "FROM visits" in m.sql
    f = (demo.visits.filter((pl.col("Store_ID") == 44) & pl.col("Date").is_between(*Y2016))
         .group_by(pl.col("Date").dt.month_start()).agg(pl.col("CustomerCount").sum()).sort("Date"))
    rows = engine.run(m.sql).rows
    want = [(d.isoformat(), c) for d, c in zip(f["Date"].to_list(), f["CustomerCount"].to_list())]
    assert [(r["month"], r["total_customers"]) for r in rows] == want
