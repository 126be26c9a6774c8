"""Text-to-SQL: the prompt, reading SQL out of a model reply, and which questions are numeric."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from engine.ask.entities import extract_entities
from engine.ask.sql_engine import SqlEngine
from engine.ask.sql_guard import UnsafeSQL
from engine.ask.text_to_sql import FEW_SHOT, PROMPT_SHOTS, build_sql_prompt, extract_sql, is_numeric_question


@pytest.fixture(scope="module")
def engine(demo_dir, demo):
    return SqlEngine(demo_dir, ds=demo)


def test_prompt_has_rules_schema_glossary_examples_and_resolved_entities(engine, demo):
    q = "지난주 44번 매장 음료 판매량은?"
    msgs = build_sql_prompt(q, engine, extract_entities(q, demo))
    assert msgs[0]["role"] == "system"
    system = msgs[0]["content"]
    assert "ONE DuckDB SQL SELECT" in system and "sales(Date DATE" in system
    assert "- order_lines(" not in system  # no ledger in the demo folder: the model is not offered that table
    assert "3 BEVERAGES" in system and "판매량=sales qty" in system and "2017-03-31" in system
    assert "stores.State: 'CA'" in system  # exact codes, so the model writes State = 'TX', not 'Texas'
    assert [m["role"] for m in msgs[1:-1]] == ["user", "assistant"] * len(PROMPT_SHOTS)
    last = msgs[-1]["content"]
    assert last.startswith(q)
    assert "stores: 44" in last and "products: 3" in last and "2017-03-20 to 2017-03-26" in last
    assert "store 44" in last  # the glossary-normalized question


def test_few_shot_examples_pass_the_guard_and_are_right(engine, demo):
    for _, sql in FEW_SHOT:
        engine.run(sql)  # raises if the guard or DuckDB refuses an example we teach
    res = engine.run(FEW_SHOT[0][1])
    want = demo.sales.filter(
        (pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3) & pl.col("Date").is_between(dt.date(2017, 3, 20), dt.date(2017, 3, 26))
    )["Qty"].sum()
    assert res.scalar() == pytest.approx(want)


@pytest.mark.parametrize(
    "reply, sql",
    [
        ("```sql\nSELECT sum(Qty) FROM sales\n```", "SELECT sum(Qty) FROM sales"),
        ("Here it is:\n```SQL\nSELECT 1\nFROM stores\n```\nIt counts stores.", "SELECT 1\nFROM stores"),
        ("```\nWITH a AS (SELECT 1 AS x) SELECT x FROM a\n```", "WITH a AS (SELECT 1 AS x) SELECT x FROM a"),
        ("SELECT Store_ID FROM stores; This lists the stores.", "SELECT Store_ID FROM stores;"),
        ("Sure! select a\nfrom b\n\nThis selects a.", "select a\nfrom b"),
        ("```sql\nSELECT 1; DROP TABLE sales\n```", "SELECT 1; DROP TABLE sales"),  # kept whole: the guard refuses it
    ],
)
def test_extract_sql(reply, sql):
    assert extract_sql(reply) == sql


def test_extract_sql_refuses_replies_without_sql(engine):
    for reply in ("", "I am not sure.", "```\n\n```"):
        with pytest.raises(UnsafeSQL):
            extract_sql(reply)
    with pytest.raises(UnsafeSQL):
        engine.run(extract_sql("```sql\nSELECT 1; DROP TABLE sales\n```"))


@pytest.mark.parametrize(
    "question, numeric",
    [
        ("What did store 44 sell of product 3 last week?", True),
        ("3월 12번 상품 발주량 합계는?", True),
        ("Top 5 stores in 2016", True),
        ("지난주 44번 매장 고객수", True),
        ("What was the oil price on 2017-03-01?", True),
        ("Why is the safety stock of product 42 so high?", False),
        ("안전재고가 왜 높아?", False),
        ("What does WAPE mean?", False),
        ("How does the forecasting model work?", False),
        ("Why did store 44 sell so much, and how many units was it?", True),
    ],
)
def test_is_numeric_question(demo, question, numeric):
    assert is_numeric_question(question, extract_entities(question, demo)) is numeric
