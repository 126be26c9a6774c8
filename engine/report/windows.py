"""The evaluation windows of a report: ``--windows 2016-07..2016-12`` means one window per calendar month.

Accepted forms: ``YYYY-MM`` (one month), ``YYYY-MM..YYYY-MM`` (every month from the first to the
last), ``YYYY-MM-DD..YYYY-MM-DD`` (one window of those days). Each window is forecast with models
trained only on days before it (rolling origin), as the pilot did.
"""

from __future__ import annotations

import datetime as dt
import re

MONTH = re.compile(r"^\d{4}-\d{2}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_MONTHS = 3


def _month_end(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1) - dt.timedelta(days=1)


def _month(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text + "-01")
    except ValueError:
        raise ValueError(f"{text!r} is not a month; write months as YYYY-MM (for example 2016-07).") from None


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write dates as YYYY-MM-DD (for example 2016-07-01).") from None


def month_windows(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """One (first day, last day) per calendar month from the month of ``first`` to that of ``last``."""
    out, d = [], dt.date(first.year, first.month, 1)
    while d <= last:
        out.append((d, _month_end(d)))
        d = _month_end(d) + dt.timedelta(days=1)
    return out


def default_windows(data_end: dt.date, months: int = DEFAULT_MONTHS) -> list[tuple[dt.date, dt.date]]:
    """The last ``months`` full calendar months of the data."""
    last = data_end if _month_end(data_end) == data_end else dt.date(data_end.year, data_end.month, 1) - dt.timedelta(days=1)
    first = dt.date(last.year, last.month, 1)
    for _ in range(months - 1):
        first = dt.date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return month_windows(first, last)


def parse_windows(text: str | None, data_start: dt.date, data_end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The windows named by ``text`` (see the module docstring), checked against the data period."""
    if text is None or not text.strip():
        windows = default_windows(data_end)
    else:
        parts = [p.strip() for p in text.strip().split("..")]
        if len(parts) == 1 and MONTH.match(parts[0]):
            windows = month_windows(_month(parts[0]), _month(parts[0]))
        elif len(parts) == 2 and MONTH.match(parts[0]) and MONTH.match(parts[1]):
            windows = month_windows(_month(parts[0]), _month(parts[1]))
        elif len(parts) == 2 and DAY.match(parts[0]) and DAY.match(parts[1]):
            windows = [(_day(parts[0]), _day(parts[1]))]
        else:
            raise ValueError(f"--windows {text!r} is not understood; write 2016-07..2016-12 (monthly windows), 2016-12 (one month) "
                             "or 2016-12-01..2016-12-14 (one window of days).")
    for start, end in windows:
        if end < start:
            raise ValueError(f"the window {start}..{end} ends before it starts; give the earlier date first.")
        if end > data_end or start < data_start:
            raise ValueError(f"the window {start}..{end} lies outside the data ({data_start} to {data_end}); pick windows inside it.")
    return windows


def windows_text(windows: list[tuple[dt.date, dt.date]]) -> str:
    """The ``--windows`` argument that gives these windows back."""
    if all(s.day == 1 and e == _month_end(s) for s, e in windows) and windows == month_windows(windows[0][0], windows[-1][1]):
        a, b = windows[0][0].strftime("%Y-%m"), windows[-1][0].strftime("%Y-%m")
        return a if a == b else f"{a}..{b}"
    if len(windows) == 1:
        return f"{windows[0][0]}..{windows[0][1]}"
    raise ValueError("these windows cannot be written as one --windows argument; use consecutive months or one window.")
