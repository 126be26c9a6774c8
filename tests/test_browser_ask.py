"""Browser: ask one question on the Ask the data page in Chromium; the answer quotes the polars number."""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import pytest

from engine.ask.answer import format_value
from tests.browser_support import chromium_page, screenshot, streamlit_app, wait_until_idle

pytestmark = pytest.mark.browser


def test_ask_a_question_in_the_browser(demo_dir, demo, tmp_path):
    data = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, data)
    expected = int(demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)
                                     & pl.col("Date").is_between(dt.date(2017, 3, 1), dt.date(2017, 3, 31)))["Qty"].sum())
    with streamlit_app(data, env={"KMART_ASK_BACKEND": "none"}) as url, chromium_page() as page:
        page.goto(f"{url}/Ask_the_data")
        wait_until_idle(page, timeout=180_000)
        page.get_by_role("heading", name="Ask the data").first.wait_for()
        box = page.locator('[data-testid="stChatInputTextArea"]')
        box.fill("How many units of product 3 did store 44 sell in March 2017?")
        box.press("Enter")
        page.locator('[data-testid="stChatMessage"]').nth(1).wait_for(timeout=180_000)
        wait_until_idle(page, timeout=180_000)
        answer = page.locator('[data-testid="stChatMessage"]').nth(1)
        answer.get_by_text(format_value(expected)).first.wait_for()
        answer.get_by_text("Where this comes from").click()
        code = answer.locator('[data-testid="stCode"]').first
        code.wait_for()
        assert "SELECT" in code.inner_text().upper()
        path = screenshot(page, "ask_the_data")
        assert path.stat().st_size > 20_000


def test_a_korean_ranking_question_shows_the_ranked_rows_and_the_sql(demo_dir, demo, tmp_path):
    data = tmp_path / "data" / "current"
    shutil.copytree(demo_dir, data)
    # which store had the most customer visits in 2016: the ranking, computed with polars
    top = (demo.visits.filter(pl.col("Date").dt.year() == 2016).group_by("Store_ID").agg(pl.col("CustomerCount").sum())
           .sort(["CustomerCount", "Store_ID"], descending=[True, False]).head(2).rows())
    with streamlit_app(data, env={"KMART_ASK_BACKEND": "none"}) as url, chromium_page() as page:
        page.goto(f"{url}/Ask_the_data")
        wait_until_idle(page, timeout=180_000)
        box = page.locator('[data-testid="stChatInputTextArea"]')
        box.fill("2016년에 고객 방문이 가장 많은 매장은?")
        box.press("Enter")
        page.locator('[data-testid="stChatMessage"]').nth(1).wait_for(timeout=180_000)
        wait_until_idle(page, timeout=180_000)
        answer = page.locator('[data-testid="stChatMessage"]').nth(1)
        answer.get_by_text("고객 방문 순위").first.wait_for()
        text = answer.inner_text()
        first, second = (f"매장 {s}, 고객 수 합계 {format_value(c)}" for s, c in top)
        assert first in text and second in text and text.index(first) < text.index(second)  # ranked, most first
        answer.get_by_text("Where this comes from").click()
        code = answer.locator('[data-testid="stCode"]').first
        code.wait_for()
        sql = code.inner_text().upper()
        assert "FROM VISITS" in sql and "ORDER BY TOTAL_CUSTOMERS DESC" in sql
        answer.locator('[data-testid="stDataFrame"]').first.wait_for()  # the ranked rows as a table
        screenshot(page, "ask_ranking_ko")
