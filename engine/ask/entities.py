"""Stores, products and the period a question names, read in its glossary English ("44번 매장" -> "store 44").

Periods are relative to the LAST DAY OF THE DATA, never today: that day is "yesterday", "last week" the
last full Monday-Sunday week, "last month" the last full month, "March" the latest March that has started,
"2016-03" / "2016" / "2016-03-05" / "March 5, 2016" / "Q1 2016" / "last 3 months" / a holiday's name what
they say. Several mentions widen the period, so "from 2017-03-01 to 2017-03-10" is that range.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta  # pandas' dependency: month arithmetic that clips the day

from engine.ask.glossary import MONTHS_EN, apply_glossary, first_group, is_korean


@dataclass
class Entities:
    stores: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None
    language: str = "en"  # "ko" | "en"
    normalized: str = ""  # the question after the KO->EN glossary ("dictionary first")
    period_label: str = ""  # e.g. "last week (2017-03-20..2017-03-26)"
    unknown_stores: list[int] = field(default_factory=list)  # named but not in the data
    unknown_products: list[int] = field(default_factory=list)
    top_n: int | None = None


_MONTH_WORDS = {w: i + 1 for i, m in enumerate(MONTHS_EN) for w in (m.lower(), m[:3].lower())} | {"sept": 9}
_MONTH_RE = "|".join(sorted(_MONTH_WORDS, key=len, reverse=True))

_NUM_LIST = r"#?\d+(?:\s*(?:,|and|&|or|/|및|과|와)\s*#?\d+)*"
_STORE_EN = re.compile(rf"\b(?:stores?|shops?|branch(?:es)?)\s*(?:#|no\.?|number|id)?\s*({_NUM_LIST})", re.I)
_PRODUCT_EN = re.compile(rf"\b(?:products?|items?|skus?)\s*(?:#|no\.?|number|id)?\s*({_NUM_LIST})", re.I)
_TOP_N = re.compile(r"\b(?:top|best|bottom|worst)\s*(\d{1,3})\b|(?:상위|하위)\s*(\d{1,3})"
                    r"|(\d{1,3})\s*(?:위까지|개\s*(?:상품|매장)|곳)", re.I)

_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_EN_DATE_MDY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s*(\d{{4}}))?\b", re.I)
_EN_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?(?:,?\s*(\d{{4}}))?\b", re.I)
_ISO_MONTH = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})(?![\d\-/.])")
_EN_MONTH_YEAR = re.compile(rf"\b({_MONTH_RE})\.?(?:\s+of)?,?\s+(\d{{4}})\b", re.I)
_EN_MONTH = re.compile(rf"\b(?:in\s+|during\s+|for\s+|of\s+)?({_MONTH_RE})\b", re.I)
_YEAR = re.compile(r"(?<![\d\-/.])((?:19|20)\d{2})(?![\d\-/]|\.\d)")  # "in 2016." is a year
_QUANTITY_AFTER = re.compile(r"\s*(?:units?|pcs|pieces|items?|customers?|visits?|orders?|boxes|packs?|usd|dollars?"
                             r"|\$|%|개|명|건|원|달러|박스|팩|회)", re.I)
_QUANTITY_BEFORE = re.compile(r"(?:than|over|under|above|below|least|most|exceed(?:s|ed)?|[<>=$]|이상|이하|초과|미만)\s*$",
                              re.I)
_QUARTER = re.compile(r"(?:(\d{4})\s+)?\bq([1-4])\b(?:\s*(\d{4}))?", re.I)
_LAST_N = re.compile(r"\b(?:last|past|previous)\s+(\d{1,4})\s+(day|week|month)s?\b", re.I)


def product_name(ds, product: int) -> str | None:
    """The product's name (``SubCategory``) in the data, None for an id the data does not have."""
    try:
        return ds.product(product)["SubCategory"]
    except KeyError:
        return None


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date, str] | None:
    if not 1 <= month <= 12:
        return None
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]), f"{year}-{month:02d}"


def _day(year, month, day, last: dt.date | None = None) -> tuple[dt.date, dt.date, str] | None:
    """That day (None when there is none); without a year, the latest one on or before ``last``."""
    for y in [year] if year else [last.year, last.year - 1]:
        with contextlib.suppress(ValueError):
            found = dt.date(int(y), int(month), int(day))
            if year or found <= last:
                return found, found, found.isoformat()
    return None


def _holiday(text: str, holidays, start, end, last) -> tuple[dt.date, dt.date, str] | None:
    """The days of a holiday the question names by its name in the data's holidays table ("Black Friday
    2015"): those within the period it also names, else the latest one up to ``last``."""
    if holidays is None or holidays.height == 0:
        return None
    names = sorted({str(n) for n in holidays["Holiday"].drop_nulls().to_list()}, key=len, reverse=True)
    name = next((n for n in names if re.search(rf"(?<![\w+-]){re.escape(n.lower())}(?![\w+-])", text.lower())), None)
    if name is None:
        return None
    days = sorted(d for d, h in holidays.select("Date", "Holiday").iter_rows() if h == name and d <= last)
    within = [d for d in days if start is not None and start <= d <= end]
    days = within or days[-1:]
    return (days[0], days[-1], f"{name} ({days[0]}..{days[-1]})") if days else None


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def find_period(text: str, last: dt.date) -> tuple[dt.date | None, dt.date | None, str]:
    """(start, end, label) of the period named in ``text`` (English: Korean goes through the glossary
    first, as in ``extract_entities``) relative to ``last``."""
    today = last + dt.timedelta(days=1)  # the morning after the data's last close
    week = today - dt.timedelta(days=today.weekday())
    before = today.replace(day=1) - dt.timedelta(days=1)

    def month_word(m, group: int) -> int:
        return _MONTH_WORDS[m.group(group).rstrip(".")]

    def latest_month(month: int):  # "March": the latest March that has started in the data
        return _month_range(last.year if month <= last.month else last.year - 1, month)

    def quarter(m):
        q, year = int(m.group(2)), m.group(1) or m.group(3)
        y = int(year) if year else (last.year if (q - 1) * 3 + 1 <= last.month else last.year - 1)
        return dt.date(y, (q - 1) * 3 + 1, 1), _month_range(y, q * 3)[1], f"Q{q} {y}"

    def year(m):
        around = m.string[max(0, m.start() - 12): m.start()], m.string[m.end(): m.end() + 12]
        if not around[0].endswith("in ") and (_QUANTITY_AFTER.match(around[1]) or _QUANTITY_BEFORE.search(around[0])):
            return None  # "more than 2000 units" is a quantity, not a year
        return dt.date(int(m.group(1)), 1, 1), dt.date(int(m.group(1)), 12, 31), m.group(1)

    rules = [  # most specific first: what a rule matched is blanked out for the rules after it
        (_ISO_DATE, lambda m: _day(*m.groups())),
        (_EN_DATE_MDY, lambda m: _day(m.group(3), month_word(m, 1), m.group(2), last)),
        (_EN_DATE_DMY, lambda m: _day(m.group(3), month_word(m, 2), m.group(1), last)),
        (_ISO_MONTH, lambda m: _month_range(int(m.group(1)), int(m.group(2)))),
        (_EN_MONTH_YEAR, lambda m: _month_range(int(m.group(2)), month_word(m, 1))),
        (_QUARTER, quarter),
        (r"\b(?:last|previous) week\b",
         lambda m: (week - dt.timedelta(days=7), week - dt.timedelta(days=1), "last week")),
        (r"\bthis week\b", lambda m: (last - dt.timedelta(days=last.weekday()), last, "this week")),
        (r"\b(?:last|previous) month\b", lambda m: (*_month_range(before.year, before.month)[:2], "last month")),
        (r"\bthis month\b", lambda m: (last.replace(day=1), last, "this month")),
        (r"\b(?:last|previous) year\b",
         lambda m: (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31), "last year")),
        (r"\bthis year\b", lambda m: (dt.date(last.year, 1, 1), last, "this year")),
        (r"\byesterday\b|\blast day\b", lambda m: (last, last, "yesterday (the data's last day)")),
        (r"\btoday\b", lambda m: (last, last, "today (the data's last day)")),
        (_LAST_N, lambda m: (last - relativedelta(**{f"{m.group(2)}s": int(m.group(1))}) + dt.timedelta(days=1), last,
                             f"last {m.group(1)} {m.group(2)}s")),  # 12 months to 2016-12-31: from 2016-01-01
        (_EN_MONTH, lambda m: None if m.group(0) == "may" else latest_month(month_word(m, 1))),  # "may": the verb
        (_YEAR, year),
    ]
    ranges, masked = [], text.lower()
    for regex, fn in rules:
        for m in list(re.finditer(regex, masked)):
            if r := fn(m):
                ranges.append(r)
                masked = _blank(masked, *m.span())
    if not ranges:
        return None, None, ""
    start, end = min(r[0] for r in ranges), max(r[1] for r in ranges)
    labels = ", ".join(dict.fromkeys(r[2] for r in ranges))
    return start, end, f"{labels} ({start.isoformat()}..{end.isoformat()})"


def extract_entities(question: str, ds, last: dt.date | None = None) -> Entities:
    """Stores, products, period (relative to the data's last day, ``last`` when there is no ``ds``) and
    language of ``question``."""
    normalized = apply_glossary(question or "")
    text, stores, products = normalized, [], []
    for regex, target in ((_STORE_EN, stores), (_PRODUCT_EN, products)):
        for m in list(regex.finditer(text)):
            target.extend(int(n) for n in re.findall(r"\d+", m.group(1)))
            text = _blank(text, *m.span())  # ids are not periods, names or other ids
    # product names (SubCategory) from the data, longest first (a Korean name arrives as its English one);
    # read in reverse so that of two products with one name the first in the data wins
    rows = reversed(ds.products.select("Product_ID", "SubCategory").rows()) if ds is not None else ()
    terms, rest = {name: int(p) for p, n in rows if (name := str(n or "").strip().lower())}, text.lower()
    for name in sorted(terms, key=len, reverse=True):
        pattern = rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])" if re.match(r"[a-z0-9]", name) else re.escape(name)
        if m := re.search(pattern, rest):
            products.append(terms[name])
            rest = _blank(rest, *m.span())
    stores, products = list(dict.fromkeys(stores)), list(dict.fromkeys(products))
    last = ds.end if ds is not None else last  # without a data set: the last day given, else no period
    start, end, label = find_period(text, last) if last else (None, None, "")
    if last and (holiday := _holiday(text, getattr(ds, "holidays", None), start, end, last)):
        start, end, label = holiday
    # a store of the store master or with visits is known (real data: visits of 54 stores, sales of a few)
    known_stores = {*ds.store_ids, *ds.stores["Store_ID"], *ds.visits["Store_ID"]} if ds is not None else set(stores)
    known_products = set(ds.products["Product_ID"]) if ds is not None else set(products)
    top = next((int(first_group(m)) for m in _TOP_N.finditer(question or "")), None)
    return Entities(stores=stores, products=products, start=start, end=end, period_label=label, top_n=top,
                    language="ko" if is_korean(question or "") else "en", normalized=normalized,
                    unknown_stores=[s for s in stores if s not in known_stores],
                    unknown_products=[p for p in products if p not in known_products])
