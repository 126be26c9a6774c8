"""`python -m engine ask`: the --json shape, the numbers, errors as one sentence, the key never printed."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from engine.ask.answer import format_value
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-test-CLI-NEVER-PRINT-7c1e"


@pytest.fixture
def data(ask_data):
    return ask_data


def engine(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_json_shape_and_number(data, demo):
    out = engine("ask", "--data", str(data), "--backend", "none", "--json", "How many units of product 3 did store 44 sell in March 2017?")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert {"answer", "route", "sql", "rows", "sources", "backend", "seconds"} <= set(answer)
    expected = int(demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)
                                     & pl.col("Date").is_between(dt.date(2017, 3, 1), dt.date(2017, 3, 31)))["Qty"].sum())
    assert answer["route"] == "sql" and answer["backend"] == "none"
    assert answer["sql"].upper().startswith(("SELECT", "WITH"))
    assert expected in [v for row in answer["rows"] for v in row.values()]
    assert format_value(expected) in answer["answer"]
    assert isinstance(answer["sources"], list) and isinstance(answer["seconds"], float)


def test_text_output_shows_the_sql_and_the_korean_answer(data, demo):
    out = engine("ask", "--data", str(data), "--backend", "none", "3월 12번 상품 판매량 합계는?")
    assert out.returncode == 0, out.stderr
    expected = int(demo.sales.filter((pl.col("Product_ID") == 12)
                                     & pl.col("Date").is_between(dt.date(2017, 3, 1), dt.date(2017, 3, 31)))["Qty"].sum())
    assert format_value(expected) in out.stdout
    assert "SQL: SELECT" in out.stdout.upper().replace("SQL: WITH", "SQL: SELECT")
    assert "(sql, backend none" in out.stdout


def test_errors_are_one_sentence(data, tmp_path):
    out = engine("ask", "--data", str(data), "--backend", "none", " ")
    assert out.returncode == 2 and out.stderr.strip() == "error: The question is empty: type a question about the data."
    out = engine("ask", "--data", str(tmp_path / "missing"), "--backend", "none", "Tell me about store 44")
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr
    out = engine("ask", "--data", str(data), "--backend", "openai", "Tell me about store 44", env={"KMART_OPENAI_BASE_URL": ""})
    assert out.returncode == 2 and "needs a base URL" in out.stderr


def test_openai_key_from_the_environment_is_never_printed(data):
    env = {"KMART_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "KMART_OPENAI_MODEL": "m",
           "KMART_OPENAI_API_KEY": SECRET, "KMART_OPENAI_TIMEOUT": "5"}
    out = engine("ask", "--data", str(data), "--backend", "openai", "--json",
                 "How many stores are in Texas?", env=env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert any("cannot be reached" in n for n in answer["notes"])
    assert SECRET not in out.stdout + out.stderr
    state = data.parent / "state"
    assert all(SECRET.encode() not in p.read_bytes() for p in state.rglob("*") if p.is_file())
