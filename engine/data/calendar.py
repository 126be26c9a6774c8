"""Business calendar: holidays, closed days and paydays. All known in advance."""

from __future__ import annotations

import datetime as dt

import polars as pl

CLOSED_MONTH_DAYS = {(12, 25)}  # stores close on Christmas Day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    d = dt.date(year, month, 1)
    d += dt.timedelta(days=(weekday - d.weekday()) % 7)
    return d + dt.timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    d = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() - weekday) % 7)


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def us_holidays(year: int) -> dict[dt.date, str]:
    """Main US retail holidays of ``year`` by rule."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return {
        dt.date(year, 1, 1): "New Year's Day",
        _nth_weekday(year, 1, 0, 3): "Martin Luther King Jr. Day",
        _nth_weekday(year, 2, 0, 3): "Presidents' Day",
        _easter(year): "Easter Sunday",
        _nth_weekday(year, 5, 6, 2): "Mother's Day",
        _last_weekday(year, 5, 0): "Memorial Day",
        dt.date(year, 7, 4): "Independence Day",
        _nth_weekday(year, 9, 0, 1): "Labor Day",
        dt.date(year, 10, 31): "Halloween",
        thanksgiving: "Thanksgiving",
        thanksgiving + dt.timedelta(days=1): "Black Friday",
        dt.date(year, 12, 24): "Christmas Eve",
        dt.date(year, 12, 25): "Christmas Day",
        dt.date(year, 12, 31): "New Year's Eve",
    }


def holiday_table(start: dt.date, end: dt.date, given: pl.DataFrame | None = None) -> pl.DataFrame:
    """(Date, Holiday) between start and end: the ``given`` holidays file when there is one
    (it replaces the built-in calendar, e.g. Ecuador's for the Favorita data), else US holidays."""
    rows = {}
    if given is not None and given.height:
        for d, name in given.select("Date", "Holiday").drop_nulls("Date").iter_rows():
            rows[d] = name or "Holiday"
    else:
        for year in range(start.year, end.year + 1):
            rows.update({d: n for d, n in us_holidays(year).items() if start <= d <= end})
    return pl.DataFrame({"Date": list(rows), "Holiday": list(rows.values())}, schema={"Date": pl.Date, "Holiday": pl.String}).sort("Date")


def is_closed_expr(date: pl.Expr) -> pl.Expr:
    """True on calendar days every store is closed."""
    return pl.any_horizontal([(date.dt.month() == m) & (date.dt.day() == d) for m, d in CLOSED_MONTH_DAYS])


def is_payday_expr(date: pl.Expr) -> pl.Expr:
    """Paydays: the 15th and the last day of each month."""
    return (date.dt.day() == 15) | (date.dt.month_end() == date)
