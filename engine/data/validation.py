"""Parse raw tables into typed frames and collect every problem of a folder at once.

Errors stop the data from being used; warnings are reported beside the data. Each problem
is one sentence naming file, row (1-based as in a spreadsheet: header = row 1), column,
the bad value and what to do.

Bad numbers cannot poison totals or models: NaN and infinity (``NaN``, ``inf``, ``1e400``) and
numbers beyond any real quantity (``1e308``) are errors; a value far outside its own series'
range (``OUTLIER_RULES``) is a warning naming the row, because one typo can wreck a month's
forecast and order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.data.problems import Problem, ValidationReport
from engine.data.readers import RawTable, find_table_file, read_raw
from engine.data.schema import HOLIDAYS, TABLES, Column, Table

MAX_LISTED = 10  # per file, column and kind of problem; the rest are summed up in one sentence
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d")
ROW = "__row"
DTYPES = {"int": pl.Int64, "number": pl.Float64, "text": pl.String, "date": pl.Date}
LARGEST_NUMBER = 1e9  # no real quantity, customer count or price in these tables comes near it
LARGEST_ID = 1e15  # identifiers pass through a float while parsed: above 2**53 their last digits would be lost


@dataclass(frozen=True)
class OutlierRule:
    """Warn when a value is more than ``factor`` times the 99th percentile of its own series.

    The series is the table's rows grouped by ``by`` (the whole column when empty). The
    percentile is the "lower" one, so in a series of up to 100 values it is the second largest
    and a single typo cannot hide behind itself; ``floor`` keeps a series of zeros from flagging
    every sale.
    """

    table: str
    column: str
    by: tuple[str, ...]
    factor: float
    floor: float
    what: str  # names the series in the sentence; {Store_ID} etc. are filled from the row


OUTLIER_RULES = (
    OutlierRule("sales", "Qty", ("Store_ID", "Product_ID"), 50, 1.0, "store {Store_ID}, product {Product_ID}"),
    OutlierRule("orders", "CustomerCount", ("Store_ID",), 10, 1.0, "store {Store_ID}'s customer counts"),
    OutlierRule("oil_price", "WTI_Price", (), 10, 1.0, "the oil price series"),
    OutlierRule("products", "Price", (), 50, 0.01, "all product prices"),
)


def _listed(problems_rows: pl.DataFrame, raw: RawTable, column: str, make_message, level: str = "error", pass_row: bool = False) -> list[Problem]:
    """One problem per bad row for the first MAX_LISTED rows, then one sentence for the rest."""
    out = []
    rows = problems_rows.sort(ROW)
    for rec in rows.head(MAX_LISTED).iter_rows(named=True):
        message = make_message(rec) if pass_row else make_message(rec.get(column))
        out.append(Problem(raw.label, message, row=int(rec[ROW]), column=column, level=level))
    extra = rows.height - MAX_LISTED
    if extra > 0:
        sample = ", ".join(str(r) for r in rows[ROW].slice(MAX_LISTED, 5).to_list())
        out.append(
            Problem(
                raw.label,
                f"{extra:,} more rows have the same problem (rows {sample}, …); "
                + ("fix them the same way." if level == "error" else "check them the same way."),
                column=column,
                level=level,
            )
        )
    return out


def _parse_date(expr: pl.Expr) -> pl.Expr:
    s = expr.cast(pl.String).str.strip_chars()
    tries = [s.str.to_date(fmt, strict=False) for fmt in DATE_FORMATS]
    tries.append(s.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))  # "2017-01-01 00:00:00"
    return pl.coalesce(tries)


def _parse_number(expr: pl.Expr) -> pl.Expr:
    s = expr.cast(pl.String).str.strip_chars().str.strip_prefix("$")
    s = pl.when(s.str.contains(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")).then(s.str.replace_all(",", "")).otherwise(s)
    return s.cast(pl.Float64, strict=False)


def _parse_column(raw: RawTable, col: Column) -> tuple[pl.Expr, list[Problem]]:
    """Typed expression for the column plus the problems of its cells."""
    frame = raw.frame
    dtype = frame.schema[col.name]
    name = col.name
    problems: list[Problem] = []
    if col.kind == "text":
        return pl.col(name).cast(pl.String), problems

    if col.kind == "date":
        parsed = pl.col(name).cast(pl.Date) if dtype in (pl.Date, pl.Datetime) else _parse_date(pl.col(name))
    else:
        parsed = pl.col(name).cast(pl.Float64) if dtype.is_numeric() else _parse_number(pl.col(name))
    checked = frame.select(pl.col(ROW), pl.col(name), parsed.alias("__p"))

    empty = checked.filter(pl.col(name).is_null())
    if empty.height and not col.optional_values:
        what = {"date": "a date (YYYY-MM-DD)", "int": "a whole number", "number": "a number"}[col.kind]
        problems += _listed(empty, raw, name, lambda v: f"the cell is empty; enter {what}.")
    bad = checked.filter(pl.col(name).is_not_null() & pl.col("__p").is_null())
    if bad.height:
        if col.kind == "date":
            problems += _listed(bad, raw, name, lambda v: f"'{v}' is not a date; write dates as YYYY-MM-DD (for example 2017-03-15).")
        else:
            unit = "a whole number" if col.kind == "int" else "a number"
            problems += _listed(bad, raw, name, lambda v: f"'{v}' is not {unit}; enter {unit} without letters or units.")
    if col.kind == "date":
        return parsed.alias(name), problems

    # numbers: NaN/infinity and impossible sizes are errors, and become empty cells in the frame
    not_finite = checked.filter(pl.col("__p").is_not_null() & ~pl.col("__p").is_finite())
    if not_finite.height:
        blank = " (or leave the cell empty where there was none)" if col.optional_values else ""
        problems += _listed(not_finite, raw, name, lambda v: f"'{v}' is not a number that can be added up (NaN or infinity); enter the real value{blank}.")
    largest = LARGEST_ID if col.kind == "int" else LARGEST_NUMBER
    huge = checked.filter(pl.col("__p").is_finite() & (pl.col("__p").abs() > largest))
    if huge.height:
        if col.kind == "int":
            problems += _listed(huge, raw, name, lambda v: f"'{v}' is too long for an identifier; use at most 15 digits.")
        else:
            problems += _listed(huge, raw, name, lambda v: f"'{v}' is larger than any real value here (over {LARGEST_NUMBER:,.0f}); check the cell for a typo.")
    usable = pl.col("__p").is_finite() & (pl.col("__p").abs() <= largest)
    ok = checked.filter(usable).rename({"__p": "__v"})
    if col.kind == "int" or col.positive_int:
        frac = ok.filter(pl.col("__v") != pl.col("__v").round(0))
        if frac.height:
            hint = "a lead time in whole days of 1 or more" if col.positive_int else "a whole number"
            problems += _listed(frac, raw, name, lambda v: f"'{v}' is not a whole number; enter {hint}.")
    if col.positive_int:
        low = ok.filter(pl.col("__v") < 1)
        problems += _listed(low, raw, name, lambda v: f"'{v}' is not a positive whole number; enter the lead time in whole days (1 or more).")
    elif col.non_negative:
        neg = ok.filter(pl.col("__v") < 0)
        problems += _listed(neg, raw, name, lambda v: f"'{v}' is negative; enter 0 or more (returns and corrections are not supported here).")
    parsed = pl.when(parsed.is_finite() & (parsed.abs() <= largest)).then(parsed)
    if col.kind == "int":
        parsed = parsed.round(0).cast(pl.Int64, strict=False)
    return parsed.alias(name), problems


def parse_table(raw: RawTable) -> tuple[pl.DataFrame, list[Problem]]:
    """Typed frame (bad cells become null) with the spreadsheet row kept in ``__row``."""
    problems: list[Problem] = []
    exprs = [pl.col(ROW)]
    for col in raw.table.columns:
        if col.name not in raw.frame.columns:
            continue
        expr, found = _parse_column(raw, col)
        exprs.append(expr)
        problems += found
    return raw.frame.select(exprs), problems


def _duplicates(frame: pl.DataFrame, raw: RawTable) -> list[Problem]:
    key = [k for k in raw.table.key if k in frame.columns]
    if not key:
        return []
    keyed = frame.drop_nulls(key)
    firsts = keyed.group_by(key).agg(pl.col(ROW).min().alias("__first"), pl.len().alias("__n")).filter(pl.col("__n") > 1)
    if firsts.height == 0:
        return []
    dups = keyed.join(firsts, on=key).filter(pl.col(ROW) != pl.col("__first")).sort(ROW)
    key_words = ", ".join(key[:-1]) + (" and " if len(key) > 1 else "") + key[-1]
    out = []
    for rec in dups.head(MAX_LISTED).iter_rows(named=True):
        values = ", ".join(f"{k} {rec[k]}" for k in key)
        out.append(
            Problem(
                raw.label,
                f"duplicate of row {rec['__first']} ({values}); keep one row per {key_words}"
                + (" and add the quantities together if both are real." if raw.table.name == "sales" else "."),
                row=int(rec[ROW]),
                column="/".join(key),
            )
        )
    if dups.height > MAX_LISTED:
        out.append(Problem(raw.label, f"{dups.height - MAX_LISTED:,} more duplicate rows; keep one row per {key_words}.", column="/".join(key)))
    return out


def _outliers(frame: pl.DataFrame, raw: RawTable, rule: OutlierRule) -> list[Problem]:
    """Warnings for values more than ``rule.factor`` times their series' 99th percentile."""
    needed = [rule.column, *rule.by]
    if any(c not in frame.columns for c in needed):
        return []
    values = frame.select(ROW, *needed).drop_nulls(needed)
    p99 = pl.col(rule.column).quantile(0.99, "lower")
    values = values.with_columns((p99.over(rule.by) if rule.by else p99).alias("__p99"))
    limit = pl.max_horizontal(pl.col("__p99"), pl.lit(rule.floor)) * rule.factor
    far = values.filter(pl.col(rule.column) > limit)

    def message(rec: dict) -> str:
        what = rule.what.format(**rec)
        return (f"{rec[rule.column]:,.10g} is more than {rule.factor:g} times the usual high of {what} "
                f"({rec['__p99']:,.10g}, its 99th percentile); check the cell for a typo (the value is used as it is).")

    return _listed(far, raw, rule.column, message, level="warning", pass_row=True)


def _unknown_ids(child: pl.DataFrame, raw: RawTable, parent: pl.DataFrame | None, parent_label: str, id_col: str, level: str, consequence: str) -> list[Problem]:
    if parent is None or id_col not in child.columns or id_col not in parent.columns:
        return []
    unknown = (
        child.drop_nulls(id_col)
        .join(parent.select(id_col).drop_nulls().unique(), on=id_col, how="anti")
        .group_by(id_col)
        .agg(pl.col(ROW).min().alias("__first"), pl.len().alias("__n"))
        .sort("__first")
    )
    what = "product" if id_col == "Product_ID" else "store"
    return [
        Problem(
            raw.label,
            f"{what} {rec[id_col]} is not in {parent_label} ({rec['__n']:,} row{'s' * (rec['__n'] != 1)}, first here); {consequence}",
            row=int(rec["__first"]),
            column=id_col,
            level=level,
        )
        for rec in unknown.iter_rows(named=True)
    ]


def _have(typed: dict[str, pl.DataFrame], table: str, column: str) -> bool:
    """The table was read and has the column (a missing column is already one error)."""
    return table in typed and column in typed[table].columns


def read_folder(folder: str | Path) -> tuple[dict[str, pl.DataFrame], ValidationReport]:
    """Read and check the five tables of ``folder``. Returns typed tables (with ``__row``) and the report."""
    folder = Path(folder)
    report = ValidationReport(str(folder))
    raws: dict[str, RawTable] = {}
    if not folder.is_dir():
        report.add(Problem(str(folder), "the folder does not exist; choose the folder that holds sales, products, stores, orders and oil_price files."))
        return {}, report
    for name, table in TABLES.items():
        path = find_table_file(folder, name)
        if path is None:
            report.add(
                Problem(
                    f"{name}.csv",
                    f"the file is missing from {folder}; add {name}.csv or {name}.parquet with columns {', '.join(table.column_names)}.",
                )
            )
            continue
        raw, problems = read_raw(path, table)
        for p in problems:
            report.add(p)
        if raw is not None:
            raws[name] = raw
            for found, canonical in raw.renamed.items():
                report.add(Problem(raw.label, f"header '{found.strip()}' was read as {canonical}.", row=1, column=canonical, level="warning"))
    holiday_path = find_table_file(folder, "holidays")
    if holiday_path is not None:
        raw, problems = read_raw(holiday_path, HOLIDAYS)
        for p in problems:
            report.add(p)
        if raw is not None:
            raws["holidays"] = raw

    typed: dict[str, pl.DataFrame] = {}
    for name, raw in raws.items():
        frame, problems = parse_table(raw)
        for p in problems:
            report.add(p)
        for p in _duplicates(frame, raw):
            report.add(p)
        for rule in OUTLIER_RULES:
            if rule.table == name:
                for p in _outliers(frame, raw, rule):
                    report.add(p)
        typed[name] = frame

    label = {n: r.label for n, r in raws.items()}
    if "sales" in typed:
        for p in _unknown_ids(typed["sales"], raws["sales"], typed.get("products"), label.get("products", "products.csv"), "Product_ID", "error",
                              "add the product (with its LeadTime and Price) to the products file, or remove its sales rows."):
            report.add(p)
        for p in _unknown_ids(typed["sales"], raws["sales"], typed.get("stores"), label.get("stores", "stores.csv"), "Store_ID", "warning",
                              "its City and State are unknown, so neighbour customer counts are 0 for it."):
            report.add(p)
    if "orders" in typed:
        for p in _unknown_ids(typed["orders"], raws["orders"], typed.get("stores"), label.get("stores", "stores.csv"), "Store_ID", "warning",
                              "its customer counts are used for the store itself but not as a neighbour."):
            report.add(p)
    if _have(typed, "products", "Product_ID") and _have(typed, "sales", "Product_ID"):
        unsold = typed["products"].join(typed["sales"].select("Product_ID").unique(), on="Product_ID", how="anti")
        if unsold.height:
            ids = ", ".join(str(i) for i in unsold["Product_ID"].drop_nulls().sort().to_list()[:15])
            report.add(Problem(label["products"], f"{unsold.height} product(s) have no sales rows ({ids}); they are listed but not forecast.", column="Product_ID", level="warning"))
    if _have(typed, "sales", "Store_ID") and _have(typed, "orders", "Store_ID"):
        no_visits = typed["sales"].select("Store_ID").unique().join(typed["orders"].select("Store_ID").unique(), on="Store_ID", how="anti")
        if no_visits.height:
            ids = ", ".join(str(i) for i in no_visits["Store_ID"].drop_nulls().sort().to_list()[:15])
            report.add(Problem(label["orders"], f"store(s) {ids} have sales but no customer counts; their customer features are 0.", column="Store_ID", level="warning"))
    return typed, report
