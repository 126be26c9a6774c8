"""Text-to-SQL: the prompt and reading SQL out of a model reply."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from engine.ask.entities import extract_entities
from engine.ask.sql_engine import SqlEngine
from engine.ask.sql_guard import UnsafeSQL, check_sql
from engine.ask.text_to_sql import (FEW_SHOT, PROMPT_TOKEN_BUDGET, TABLE_NOTES, build_sql_prompt, extract_sql,
                                    messages_tokens)


@pytest.fixture(scope="module")
def engine(demo_dir, demo):
    return SqlEngine(demo_dir, ds=demo)


def test_prompt_has_rules_the_question_s_tables_examples_and_resolved_entities(engine, demo):
    q = "지난주 44번 매장 음료 판매량은?"
    msgs = build_sql_prompt(q, engine, extract_entities(q, demo))
    assert msgs[0]["role"] == "system"
    system = msgs[0]["content"]
    assert "ONE DuckDB SQL SELECT" in system and "- sales(Date DATE" in system and str(demo.end) in system
    # only the tables the question is about: no customer visits, oil, stores or ledger for a sales question
    assert "- visits(" not in system and "- oil_price(" not in system and "- stores(" not in system
    assert "- order_lines(" not in system
    shots = [shot for shot in FEW_SHOT if shot[0] <= {"sales"}][:2]
    assert [m["content"] for m in msgs[1:-1]] == [x for _, q2, sql in shots for x in (q2, f"```sql\n{sql}\n```")]
    last = msgs[-1]["content"]
    assert last.startswith(q)
    assert "stores: 44" in last and "products: 3 = BEVERAGES" in last and "2017-03-20 to 2017-03-26" in last
    assert "store 44" in last  # the glossary-normalized question


@pytest.mark.parametrize("question, tables", [
    ("How many customers visited store 44 in 2016?", {"visits"}),
    ("2016년 1월 평균 유가는?", {"oil_price"}),
    ("Which city's stores sold the most units?", {"sales", "stores"}),
    ("How many stores are in Texas?", {"stores"}),
    ("What is the average price of the products sold at store 7?", {"sales", "products"}),
    ("매장 44의 2016년 고객 수와 판매량", {"sales", "visits"}),
])
def test_prompt_carries_only_the_tables_the_question_names(engine, demo, question, tables):
    system = build_sql_prompt(question, engine, extract_entities(question, demo))[0]["content"]
    shown = {t for t in engine.tables if f"- {t}(" in system}
    assert shown == tables & set(engine.tables)


def test_prompt_lists_the_exact_values_of_small_text_columns(engine, demo):
    """So a model writes State = 'TX' (the data's value), not 'Texas'; only when the stores table is in it."""
    q = "How many stores are in each state?"
    system = build_sql_prompt(q, engine, extract_entities(q, demo))[0]["content"]
    for column in ("State", "City", "Store_Type"):
        want = sorted(str(v) for v in demo.stores[column].unique().to_list())
        line = next(ln for ln in system.splitlines() if ln.strip().startswith(f"stores.{column}:"))
        assert line.strip() == f"stores.{column}: " + ", ".join(repr(v) for v in want)
    assert all(len(s) <= 3 for s in demo.stores["State"].unique().to_list())  # codes such as 'TX', which the model copies


def test_prompts_share_their_prefix_per_table_set_and_stay_short(engine, demo):
    prompts = [build_sql_prompt(q, engine, extract_entities(q, demo)) for q in
               ("How many units did store 44 sell last week?", "2016년 3월 12번 상품 판매량 합계는?", "Top 5 stores in 2016 by units sold")]
    assert prompts[0][:-1] == prompts[1][:-1] == prompts[2][:-1]  # llama.cpp's prompt cache reuses everything but the question
    assert max(messages_tokens(m) for m in prompts) <= PROMPT_TOKEN_BUDGET


def test_few_shot_examples_pass_the_guard_and_are_right(engine, demo):
    for tables, _, sql in FEW_SHOT:
        check_sql(sql, set(TABLE_NOTES))  # raises if the guard refuses an example we teach
        if tables <= set(engine.tables):
            engine.run(sql)  # and DuckDB runs it (the demo folder has no ledger)
    res = engine.run(next(sql for tables, q, sql in FEW_SHOT if q.startswith("Compare units of product 3")))
    sold = demo.sales.filter((pl.col("Store_ID") == 7) & (pl.col("Product_ID") == 3))
    want = [(y, sold.filter(pl.col("Date").dt.year() == y)["Qty"].sum()) for y in (2015, 2016)]
    assert [(r["year"], r["total_qty"]) for r in res.rows] == [(y, pytest.approx(q)) for y, q in want]
    res = engine.run(next(sql for tables, q, sql in FEW_SHOT if q.startswith("Average daily customers")))
    days = demo.visits.filter((pl.col("Store_ID") == 7) & pl.col("Date").is_between(dt.date(2015, 5, 1), dt.date(2015, 5, 31)))
    assert (res.rows[0]["avg_customers"], res.rows[0]["days"]) == (pytest.approx(days["CustomerCount"].mean(), abs=0.005),
                                                                    days.height)


@pytest.mark.parametrize(
    "reply, sql",
    [
        ("```sql\nSELECT sum(Qty) FROM sales\n```", "SELECT sum(Qty) FROM sales"),
        ("Here it is:\n```SQL\nSELECT 1\nFROM stores\n```\nIt counts stores.", "SELECT 1\nFROM stores"),
        ("```\nWITH a AS (SELECT 1 AS x) SELECT x FROM a\n```", "WITH a AS (SELECT 1 AS x) SELECT x FROM a"),
        ("SELECT Store_ID FROM stores; This lists the stores.", "SELECT Store_ID FROM stores;"),
        ("Sure! select a\nfrom b\n\nThis selects a.", "select a\nfrom b"),
        ("```sql\nSELECT 1; DROP TABLE sales\n```", "SELECT 1; DROP TABLE sales"),  # kept whole: the guard refuses it
        ("SELECT 1;\nDROP TABLE sales\n\nDone, it drops.", "SELECT 1;\nDROP TABLE sales"),  # the prose goes, not the DROP
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
