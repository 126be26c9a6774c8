"""AppTest of the Ask the data page: the chat shows the polars number, the SQL and its table, the sources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from engine.ask.answer import allowed_numbers, format_value, unsupported_numbers

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "5_Ask_the_data.py")
SECRET = "sk-test-PAGE-NEVER-SHOW-44aa"


@pytest.fixture
def data(ask_data, monkeypatch):
    """The shared Ask demo copy as the app's current data."""
    monkeypatch.setenv("KMART_DATA", str(ask_data))
    return ask_data


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=600)
    at.run()
    assert not at.exception
    return at


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_numeric_question_without_a_model_shows_number_sql_and_table(data, demo):
    expected = int(demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)
                                     & pl.col("Date").is_between(dt.date(2017, 3, 1), dt.date(2017, 3, 31)))["Qty"].sum())
    at = _page()
    at.sidebar.radio(key="backend").set_value("none").run()
    at.chat_input(key="question").set_value("How many units of product 3 did store 44 sell in March 2017?").run()
    assert not at.exception and not at.error
    assert format_value(expected) in _text(at)
    assert at.expander[0].label == "Where this comes from"
    sql = at.expander[0].code[0].value
    assert sql.upper().lstrip().startswith(("SELECT", "WITH")) and "44" in sql
    table = at.expander[0].dataframe[0].value
    assert expected in table.to_numpy().ravel().tolist()
    # Korean follow-up in the same chat: both turns stay on screen
    at.chat_input(key="question").set_value("44번 매장의 2017년 2월 3번 상품 판매량은?").run()
    feb = int(demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)
                                & pl.col("Date").is_between(dt.date(2017, 2, 1), dt.date(2017, 2, 28)))["Qty"].sum())
    text = _text(at)
    assert format_value(expected) in text and format_value(feb) in text
    assert len(at.chat_message) == 4


def test_openai_key_field_is_a_password_and_never_shown(data):
    at = _page()
    at.sidebar.radio(key="backend").set_value("openai").run()
    key_box = at.sidebar.text_input(key="api_key")
    assert key_box.proto.type == key_box.proto.PASSWORD
    at.sidebar.text_input(key="base_url").set_value("http://127.0.0.1:9/v1")
    at.sidebar.text_input(key="openai_model").set_value("m")
    at.sidebar.number_input(key="timeout").set_value(5)
    key_box.set_value(SECRET).run()
    at.chat_input(key="question").set_value("How many stores are in Texas?").run()
    assert not at.exception
    shown = _text(at) + "".join(w.value for w in at.warning) + "".join(c.value for c in at.caption)
    assert "cannot be reached" in shown
    assert SECRET not in shown
    state = data.parent / "state"
    assert all(SECRET.encode() not in p.read_bytes() for p in state.rglob("*") if p.is_file())


@pytest.mark.slow
def test_local_small_model_answers_a_descriptive_question_with_sources(data):
    at = _page()
    at.sidebar.radio(key="backend").set_value("local").run()
    at.sidebar.selectbox(key="local_model").set_value("qwen2.5-coder-0.5b").run()
    at.chat_input(key="question").set_value("How is the order quantity calculated?").run()
    assert not at.exception
    answer = at.chat_message[1].markdown[0].value
    assert answer.strip()
    expander = at.expander[0]
    passages = "\n".join(m.value for m in expander.markdown)
    assert "[1]" in passages
    cited = "\n".join(c.value for c in expander.caption)
    assert not unsupported_numbers(answer, allowed_numbers([], "How is the order quantity calculated?", cited))
    assert "backend local" in "".join(c.value for c in at.caption)


def test_rebuild_button_updates_the_index_status(data):
    at = _page()
    at.sidebar.button(key="rebuild").click().run()
    assert not at.exception and not at.sidebar.error
    status = "".join(c.value for c in at.sidebar.caption)
    assert " documents" in status and "out of date" not in status
    assert int(status.split(" documents")[0].split()[-1]) > 50
