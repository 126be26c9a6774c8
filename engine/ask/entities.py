"""Stores, products and the period a question names (English or Korean).

Periods are relative to the LAST DAY OF THE DATA, never today's date: the data's last day is
"yesterday" (its close is the latest one known), "last week" is the last full Monday-Sunday week
before the week that follows it, "last month" the last full calendar month, "March"/"3월" the latest
March that has started in the data, "2017-03" and "2016" that month/year, and explicit dates
("2017-03-05", "2017년 3월 5일", "March 5, 2017") that day. Several mentions widen the period
(earliest start, latest end), so "from 2017-03-01 to 2017-03-10" is that range.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from engine.ask.glossary import (
    PRODUCT_KO_AFTER,
    PRODUCT_KO_BEFORE,
    STORE_KO_AFTER,
    STORE_KO_BEFORE,
    MONTHS_EN,
    apply_glossary,
    first_group,
    is_korean,
    product_terms,
)


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

    def to_dict(self) -> dict:
        return {
            "stores": self.stores, "products": self.products,
            "start": self.start.isoformat() if self.start else None, "end": self.end.isoformat() if self.end else None,
            "language": self.language, "normalized": self.normalized, "period_label": self.period_label,
            "unknown_stores": self.unknown_stores, "unknown_products": self.unknown_products, "top_n": self.top_n,
        }


_MONTH_WORDS = {m.lower(): i + 1 for i, m in enumerate(MONTHS_EN)}
_MONTH_WORDS.update({m[:3].lower(): i + 1 for i, m in enumerate(MONTHS_EN)})
_MONTH_WORDS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTH_WORDS, key=len, reverse=True))

_NUM_LIST = r"#?\d+(?:\s*(?:,|and|&|or|/|및|과|와)\s*#?\d+)*"
_STORE_EN = re.compile(rf"\b(?:stores?|shops?|branch(?:es)?)\s*(?:#|no\.?|number|id)?\s*({_NUM_LIST})", re.I)
_PRODUCT_EN = re.compile(rf"\b(?:products?|items?|skus?)\s*(?:#|no\.?|number|id)?\s*({_NUM_LIST})", re.I)
_TOP_N = re.compile(r"\b(?:top|best|bottom|worst)\s*(\d{1,3})\b|(?:상위|하위)\s*(\d{1,3})|(\d{1,3})\s*(?:위까지|개\s*(?:상품|매장)|곳)", re.I)

_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_KO_DATE = re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_EN_DATE_MDY = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s*(\d{{4}}))?\b", re.I)
_EN_DATE_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?(?:,?\s*(\d{{4}}))?\b", re.I)
_KO_MD = re.compile(r"(?<![\d년])(\d{1,2})\s*월\s*(\d{1,2})\s*일")
_ISO_MONTH = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})(?![\d\-/.])")
_KO_YM = re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월")
_EN_MONTH_YEAR = re.compile(rf"\b({_MONTH_RE})\.?(?:\s+of)?,?\s+(\d{{4}})\b", re.I)
_EN_MONTH = re.compile(rf"\b(?:in\s+|during\s+|for\s+|of\s+)?({_MONTH_RE})\b", re.I)
_KO_MONTH = re.compile(r"(?<!\d)(\d{1,2})\s*월(?!\s*\d)")
_YEAR = re.compile(r"(?<![\d\-/.])((?:19|20)\d{2})(?:\s*년)?(?![\d\-/]|\.\d)")  # "in 2016." is a year
_QUANTITY_AFTER = re.compile(r"\s*(?:units?|pcs|pieces|items?|customers?|visits?|orders?|boxes|packs?|usd|dollars?|\$|%|개|명|건|원|달러|박스|팩|회)", re.I)
_QUANTITY_BEFORE = re.compile(r"(?:than|over|under|above|below|least|most|exceed(?:s|ed)?|[<>=$]|이상|이하|초과|미만)\s*$", re.I)
_QUARTER = re.compile(r"\bq([1-4])(?:\s*(\d{4}))?\b|(?:(\d{4})\s*년\s*)?([1-4])\s*분기", re.I)
_LAST_N_DAYS = re.compile(r"\b(?:last|past|previous)\s+(\d{1,4})\s+days?\b|최근\s*(\d{1,4})\s*일", re.I)
_LAST_N_WEEKS = re.compile(r"\b(?:last|past|previous)\s+(\d{1,3})\s+weeks?\b|최근\s*(\d{1,3})\s*주", re.I)


def _ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _latest_month(month: int, last: dt.date) -> tuple[dt.date, dt.date]:
    year = last.year if month <= last.month else last.year - 1
    return _month_range(year, month)


def _latest_day(month: int, day: int, last: dt.date) -> dt.date | None:
    for year in (last.year, last.year - 1):
        try:
            d = dt.date(year, month, day)
        except ValueError:
            continue
        if d <= last:
            return d
    return None


def _date(y, m, d) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def find_period(text: str, last: dt.date) -> tuple[dt.date | None, dt.date | None, str]:
    """(start, end, label) of the period named in ``text`` (English or Korean) relative to ``last``."""
    ranges: list[tuple[dt.date, dt.date, str]] = []
    low = text.lower()
    masked = low

    def take(regex, fn):
        nonlocal masked
        for m in list(regex.finditer(masked)):
            r = fn(m)
            if r is not None:
                ranges.append(r)
                masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end():]

    today = last + dt.timedelta(days=1)  # the morning after the data's last close
    # explicit days
    take(_ISO_DATE, lambda m: (lambda d: (d, d, d.isoformat()) if d else None)(_date(*m.groups())))
    take(_KO_DATE, lambda m: (lambda d: (d, d, d.isoformat()) if d else None)(_date(*m.groups())))

    def en_day(month_word, day, year):
        month = _MONTH_WORDS.get(month_word.lower().rstrip("."))
        if not month:
            return None
        d = _date(year, month, day) if year else _latest_day(month, int(day), last)
        return (d, d, d.isoformat()) if d else None

    take(_EN_DATE_MDY, lambda m: en_day(m.group(1), m.group(2), m.group(3)))
    take(_EN_DATE_DMY, lambda m: en_day(m.group(2), m.group(1), m.group(3)))
    take(_KO_MD, lambda m: (lambda d: (d, d, d.isoformat()) if d else None)(_latest_day(int(m.group(1)), int(m.group(2)), last)))
    # months with a year
    take(_ISO_MONTH, lambda m: (*_month_range(int(m.group(1)), int(m.group(2))), f"{m.group(1)}-{int(m.group(2)):02d}") if 1 <= int(m.group(2)) <= 12 else None)
    take(_KO_YM, lambda m: (*_month_range(int(m.group(1)), int(m.group(2))), f"{m.group(1)}-{int(m.group(2)):02d}") if 1 <= int(m.group(2)) <= 12 else None)
    take(_EN_MONTH_YEAR, lambda m: (*_month_range(int(m.group(2)), _MONTH_WORDS[m.group(1).lower().rstrip('.')]),
                                    f"{m.group(2)}-{_MONTH_WORDS[m.group(1).lower().rstrip('.')]:02d}"))

    def quarter(m):
        q = int(m.group(1) or m.group(4))
        year = m.group(2) or m.group(3)
        if year:
            y = int(year)
        else:
            y = last.year if (q - 1) * 3 + 1 <= last.month else last.year - 1
        start = dt.date(y, (q - 1) * 3 + 1, 1)
        return start, _month_range(y, q * 3)[1], f"Q{q} {y}"

    take(_QUARTER, quarter)
    # relative periods
    week_start = today - dt.timedelta(days=today.weekday())
    rel = [
        (r"\blast\s+week\b|\bprevious\s+week\b|지난\s*주|전주|저번\s*주",
         lambda: (week_start - dt.timedelta(days=7), week_start - dt.timedelta(days=1), "last week")),
        (r"\bthis\s+week\b|이번\s*주|금주", lambda: (last - dt.timedelta(days=last.weekday()), last, "this week")),
        (r"\blast\s+month\b|\bprevious\s+month\b|지난\s*달|전월|저번\s*달",
         lambda: (*_month_range((today.replace(day=1) - dt.timedelta(days=1)).year, (today.replace(day=1) - dt.timedelta(days=1)).month), "last month")),
        (r"\bthis\s+month\b|이번\s*달|금월", lambda: (last.replace(day=1), last, "this month")),
        (r"\blast\s+year\b|\bprevious\s+year\b|작년|지난\s*해|전년", lambda: (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31), "last year")),
        (r"\bthis\s+year\b|올해|금년", lambda: (dt.date(last.year, 1, 1), last, "this year")),
        (r"\byesterday\b|어제|\blast\s+day\b", lambda: (last, last, "yesterday (the data's last day)")),
        (r"\btoday\b|오늘", lambda: (last, last, "today (the data's last day)")),
    ]
    for pattern, fn in rel:
        if re.search(pattern, masked):
            ranges.append(fn())
            masked = re.sub(pattern, " ", masked)
    for m in _LAST_N_DAYS.finditer(masked):
        n = int(m.group(1) or m.group(2))
        ranges.append((last - dt.timedelta(days=n - 1), last, f"last {n} days"))
    masked = _LAST_N_DAYS.sub(" ", masked)
    for m in _LAST_N_WEEKS.finditer(masked):
        n = int(m.group(1) or m.group(2))
        ranges.append((last - dt.timedelta(days=7 * n - 1), last, f"last {n} weeks"))
    masked = _LAST_N_WEEKS.sub(" ", masked)
    # bare months and years
    for m in _KO_MONTH.finditer(masked):
        month = int(m.group(1))
        if 1 <= month <= 12:
            s, e = _latest_month(month, last)
            ranges.append((s, e, f"{s:%Y-%m}"))
    masked = _KO_MONTH.sub(" ", masked)
    for m in _EN_MONTH.finditer(masked):
        word = m.group(1).lower()
        if word == "may" and m.group(0).lower() == word:  # "may" alone is usually the verb
            continue
        s, e = _latest_month(_MONTH_WORDS[word], last)
        ranges.append((s, e, f"{s:%Y-%m}"))
    masked = _EN_MONTH.sub(" ", masked)
    for m in _YEAR.finditer(masked):
        y = int(m.group(1))
        before, after = masked[max(0, m.start() - 12): m.start()], masked[m.end(): m.end() + 12]
        if _QUANTITY_AFTER.match(after) or _QUANTITY_BEFORE.search(before):
            continue  # "more than 2000 units" is a quantity, not a year
        ranges.append((dt.date(y, 1, 1), dt.date(y, 12, 31), str(y)))
    if not ranges:
        return None, None, ""
    start = min(r[0] for r in ranges)
    end = max(r[1] for r in ranges)
    labels = ", ".join(dict.fromkeys(r[2] for r in ranges))
    return start, end, f"{labels} ({start.isoformat()}..{end.isoformat()})"


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = " "
    return "".join(chars)


def extract_entities(question: str, ds, last: dt.date | None = None) -> Entities:
    """Stores, products, period (relative to the data's last day, ``last`` when there is no ``ds``) and
    language of ``question``."""
    text = question or ""
    language = "ko" if is_korean(text) else "en"
    normalized = apply_glossary(text, getattr(ds, "products", None))
    stores: list[int] = []
    products: list[int] = []
    spans: list[tuple[int, int]] = []
    for regex, target in ((STORE_KO_AFTER, stores), (PRODUCT_KO_AFTER, products), (STORE_KO_BEFORE, stores),
                          (PRODUCT_KO_BEFORE, products), (_STORE_EN, stores), (_PRODUCT_EN, products)):
        for m in regex.finditer(_mask(text, spans)):
            target.extend(_ids(first_group(m)))
            spans.append(m.span())
    # product names from the data (English SubCategory and Korean names), longest first
    terms = product_terms(getattr(ds, "products", None))
    rest = _mask(text, spans).lower()
    for name in sorted(terms, key=len, reverse=True):
        pattern = re.escape(name)
        if re.match(r"[a-z0-9]", name):
            pattern = rf"(?<![a-z0-9]){pattern}(?![a-z0-9])"
        m = re.search(pattern, rest)
        if m:
            products.append(terms[name])
            rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end():]
    stores = list(dict.fromkeys(stores))
    products = list(dict.fromkeys(products))
    last = ds.end if ds is not None else last  # without a data set: the last day given, else no period
    start, end, label = find_period(_mask(text, spans), last) if last else (None, None, "")
    if ds is not None and getattr(ds, "sales", None) is not None:
        # a store of the store master or with visits is known (real data: visits of 54 stores, sales of a few)
        known_stores = set(ds.store_ids) | set(ds.stores["Store_ID"].to_list()) | set(ds.visits["Store_ID"].unique().to_list())
        known_products = set(int(p) for p in ds.products["Product_ID"].to_list())
    else:
        known_stores, known_products = set(stores), set(products)
    top = None
    for m in _TOP_N.finditer(text):
        n = next(g for g in m.groups() if g)
        top = int(n)
        break
    return Entities(
        stores=stores, products=products, start=start, end=end, language=language, normalized=normalized,
        period_label=label, unknown_stores=[s for s in stores if s not in known_stores],
        unknown_products=[p for p in products if p not in known_products], top_n=top,
    )
