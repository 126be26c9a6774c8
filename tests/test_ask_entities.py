"""Stores, products, periods (relative to the data's last day) and language, in English and Korean."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.ask.entities import extract_entities, find_period
from engine.ask.glossary import GLOSSARY, apply_glossary, is_korean

D = dt.date


@pytest.mark.parametrize(
    "question, stores, products",
    [
        ("What did store 44 sell of product 3 last week?", [44], [3]),
        ("44번 매장 3번 상품 판매량", [44], [3]),
        ("44호점의 12번 제품", [44], [12]),
        ("매장 44 상품 42 판매", [44], [42]),
        ("stores 44, 45 and 47 beverages", [44, 45, 47], [3]),
        ("products 3 and 12 at store #7", [7], [3, 12]),
        ("44번 매장 음료 판매량 지난달", [44], [3]),
        ("과자랑 식료품 2 판매", [], [42, 13]),
        ("sales of GROCERY I and GROCERY II", [], [12, 13]),
        ("How much oil cost in 2016?", [], []),
    ],
)
def test_stores_and_products(demo, question, stores, products):
    e = extract_entities(question, demo)
    assert e.stores == stores
    assert sorted(e.products) == sorted(products)


def test_unknown_ids_are_flagged(demo):
    e = extract_entities("store 99 product 77 yesterday", demo)
    assert e.stores == [99] and e.unknown_stores == [99]
    assert e.products == [77] and e.unknown_products == [77]


def test_language_and_glossary(demo):
    assert extract_entities("3월 12번 상품 발주량 합계는?", demo).language == "ko"
    assert extract_entities("What did store 44 sell?", demo).language == "en"
    assert is_korean("매장") and not is_korean("store")
    norm = extract_entities("3월 12번 상품 발주량 합계는?", demo).normalized
    assert "March" in norm and "product 12" in norm and "order qty" in norm and "sum" in norm
    assert apply_glossary("44호점 안전재고와 리드타임") .startswith("store 44")
    assert "safety stock" in apply_glossary("44호점 안전재고와 리드타임") and "lead time" in apply_glossary("44호점 안전재고와 리드타임")
    assert apply_glossary("What did store 44 sell?") == "What did store 44 sell?"  # English passes through
    for ko, en in {"판매량": "sales qty", "발주량": "order qty", "재고": "stock", "고객수": "customers", "유가": "oil price",
                   "평균": "average", "합계": "sum", "상위": "top", "지난주": "last week", "지난달": "last month"}.items():
        assert GLOSSARY[ko] == en


def test_periods_are_relative_to_the_last_day_of_the_data(demo):
    last = demo.end
    assert last == D(2017, 3, 31)  # a Friday
    cases = {
        "last week": (D(2017, 3, 20), D(2017, 3, 26)),
        "지난주": (D(2017, 3, 20), D(2017, 3, 26)),
        "last month": (D(2017, 3, 1), D(2017, 3, 31)),
        "지난달": (D(2017, 3, 1), D(2017, 3, 31)),
        "in March": (D(2017, 3, 1), D(2017, 3, 31)),
        "3월": (D(2017, 3, 1), D(2017, 3, 31)),
        "in April": (D(2016, 4, 1), D(2016, 4, 30)),  # the latest April in the data
        "12월": (D(2016, 12, 1), D(2016, 12, 31)),
        "2017-03": (D(2017, 3, 1), D(2017, 3, 31)),
        "2016년 2월": (D(2016, 2, 1), D(2016, 2, 29)),
        "February 2015": (D(2015, 2, 1), D(2015, 2, 28)),
        "2016": (D(2016, 1, 1), D(2016, 12, 31)),
        "2016년": (D(2016, 1, 1), D(2016, 12, 31)),
        "on 2017-03-05": (D(2017, 3, 5), D(2017, 3, 5)),
        "2017년 3월 5일": (D(2017, 3, 5), D(2017, 3, 5)),
        "March 5, 2016": (D(2016, 3, 5), D(2016, 3, 5)),
        "3월 5일": (D(2017, 3, 5), D(2017, 3, 5)),
        "yesterday": (D(2017, 3, 31), D(2017, 3, 31)),
        "어제": (D(2017, 3, 31), D(2017, 3, 31)),
        "오늘 판매량": (D(2017, 3, 31), D(2017, 3, 31)),
        "last 7 days": (D(2017, 3, 25), D(2017, 3, 31)),
        "최근 7일": (D(2017, 3, 25), D(2017, 3, 31)),
        "최근 2주": (D(2017, 3, 18), D(2017, 3, 31)),
        "2016년 1분기": (D(2016, 1, 1), D(2016, 3, 31)),
        "5월 판매량": (D(2016, 5, 1), D(2016, 5, 31)),  # a month, not the verb "may"
        "last year": (D(2016, 1, 1), D(2016, 12, 31)),
        "Q1 2017": (D(2017, 1, 1), D(2017, 3, 31)),
        "from 2017-03-01 to 2017-03-10": (D(2017, 3, 1), D(2017, 3, 10)),
    }
    for text, (start, end) in cases.items():
        e = extract_entities(text, None, last=last)  # Korean through the glossary, as for a question
        assert (e.start, e.end) == (start, end), text
        assert e.period_label
    assert find_period("How may I help you?", last)[:2] == (None, None)
    assert find_period("store 44 product 3", last)[:2] == (None, None)


def test_last_week_when_the_data_ends_on_a_sunday():
    # data through Sunday 2017-03-26: that week has closed, so it is "last week"
    assert find_period("last week", D(2017, 3, 26))[:2] == (D(2017, 3, 20), D(2017, 3, 26))
    # data through Monday 2017-03-27: the week of the 20th is still the last full week
    assert find_period("last week", D(2017, 3, 27))[:2] == (D(2017, 3, 20), D(2017, 3, 26))
    # data through 2017-03-15: last month is February
    assert find_period("last month", D(2017, 3, 15))[:2] == (D(2017, 2, 1), D(2017, 2, 28))


def test_ids_in_dates_are_not_stores(demo):
    e = extract_entities("44번 매장 2017년 3월 5일 판매량", demo)
    assert e.stores == [44] and e.products == []
    assert (e.start, e.end) == (D(2017, 3, 5), D(2017, 3, 5))
    e = extract_entities("top 5 products in store 44 in 2017-03", demo)
    assert e.top_n == 5 and e.stores == [44] and (e.start, e.end) == (D(2017, 3, 1), D(2017, 3, 31))
    assert extract_entities("상위 3개 매장 지난주", demo).top_n == 3


def test_quantities_are_not_years(demo):
    e = extract_entities("Which stores sold more than 2000 units last week?", demo)
    assert (e.start, e.end) == (D(2017, 3, 20), D(2017, 3, 26))
    assert extract_entities("2017개 이상 팔린 날", demo).start is None
    assert find_period("sales in 2015", demo.end)[:2] == (D(2015, 1, 1), D(2015, 12, 31))


def test_a_holiday_named_in_the_question_is_its_day(demo):
    """"Black Friday 2015" is the day the data's holidays table gives that name in 2015, not the year 2015;
    without a year, the latest one in the data."""
    import polars as pl

    days = demo.holidays.filter(pl.col("Holiday") == "Black Friday")["Date"].sort().to_list()
    in_2015 = [d for d in days if d.year == 2015]
    assert len(in_2015) == 1 and days[-1] <= demo.end
    e = extract_entities("Sales of store 44 on Black Friday 2015", demo)
    assert (e.start, e.end) == (in_2015[0], in_2015[0]) and "Black Friday" in e.period_label
    e = extract_entities("2015년 Black Friday 44번 매장 판매량", demo)
    assert (e.start, e.end) == (in_2015[0], in_2015[0])
    latest = max(d for d in days if d <= demo.end)
    assert (extract_entities("Black Friday sales of store 44", demo).start) == latest


@pytest.mark.parametrize("question", ["store 44 sales in the last 3 months", "최근 3개월 44번 매장 판매량"])
def test_last_n_months_end_on_the_data_s_last_day(demo, question):
    e = extract_entities(question, demo)
    end = demo.end
    y, m = (end.year, end.month - 3) if end.month > 3 else (end.year - 1, end.month + 9)
    import calendar

    first = dt.date(y, m, min(end.day, calendar.monthrange(y, m)[1])) + dt.timedelta(days=1)
    assert (e.start, e.end) == (first, end)
