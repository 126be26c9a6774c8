"""Parse raw tables into typed frames and collect every problem of a folder at once.

Errors stop the data from being used; warnings are reported beside the data. Each problem
is one sentence naming file, row (1-based as in a spreadsheet: header = row 1), column,
the bad value and what to do.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.problems import Problem, ValidationReport
from engine.data.readers import RawTable, find_table_file, read_raw
from engine.data.schema import HOLIDAYS, TABLES, Column, Table

MAX_LISTED = 10  # per file, column and kind of problem; the rest are summed up in one sentence
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d")
ROW = "__row"
DTYPES = {"int": pl.Int64, "number": pl.Float64, "text": pl.String, "date": pl.Date}


def _listed(problems_rows: pl.DataFrame, raw: RawTable, column: str, make_message) -> list[Problem]:
    """One problem per bad row for the first MAX_LISTED rows, then one sentence for the rest."""
    out = []
    rows = problems_rows.sort(ROW)
    for rec in rows.head(MAX_LISTED).iter_rows(named=True):
        out.append(Problem(raw.label, make_message(rec.get(column)), row=int(rec[ROW]), column=column))
    extra = rows.height - MAX_LISTED
    if extra > 0:
        sample = ", ".join(str(r) for r in rows[ROW].slice(MAX_LISTED, 5).to_list())
        out.append(
            Problem(
                raw.label,
                f"{extra:,} more rows have the same problem (rows {sample}, …); fix them the same way.",
                column=column,
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
    checked = frame.select(pl.col(ROW), pl.col(name), parsed.alias("__v"))

    empty = checked.filter(pl.col(name).is_null())
    if empty.height and not col.optional_values:
        what = {"date": "a date (YYYY-MM-DD)", "int": "a whole number", "number": "a number"}[col.kind]
        problems += _listed(empty, raw, name, lambda v: f"the cell is empty; enter {what}.")
    bad = checked.filter(pl.col(name).is_not_null() & pl.col("__v").is_null())
    if bad.height:
        if col.kind == "date":
            problems += _listed(bad, raw, name, lambda v: f"'{v}' is not a date; write dates as YYYY-MM-DD (for example 2017-03-15).")
        else:
            unit = "a whole number" if col.kind == "int" else "a number"
            problems += _listed(bad, raw, name, lambda v: f"'{v}' is not {unit}; enter {unit} without letters or units.")
    ok = checked.filter(pl.col("__v").is_not_null())
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
    if "products" in typed and "sales" in typed:
        unsold = typed["products"].join(typed["sales"].select("Product_ID").unique(), on="Product_ID", how="anti")
        if unsold.height:
            ids = ", ".join(str(i) for i in unsold["Product_ID"].drop_nulls().sort().to_list()[:15])
            report.add(Problem(label["products"], f"{unsold.height} product(s) have no sales rows ({ids}); they are listed but not forecast.", column="Product_ID", level="warning"))
    if "sales" in typed and "orders" in typed:
        no_visits = typed["sales"].select("Store_ID").unique().join(typed["orders"].select("Store_ID").unique(), on="Store_ID", how="anti")
        if no_visits.height:
            ids = ", ".join(str(i) for i in no_visits["Store_ID"].drop_nulls().sort().to_list()[:15])
            report.add(Problem(label["orders"], f"store(s) {ids} have sales but no customer counts; their customer features are 0.", column="Store_ID", level="warning"))
    return typed, report
