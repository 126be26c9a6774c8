"""Reading table files (CSV/TSV or Parquet) as they come from real systems.

Tolerates: a UTF-8 byte-order mark, CRLF line ends, comma / tab / semicolon separators,
spaces or tabs around header names and values, header names in another case or with
spaces instead of underscores, blank lines. Every column is returned as text (CSV) or as
stored (Parquet); ``engine.data.validation`` parses and checks the values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.data.problems import Problem
from engine.data.schema import FILE_SUFFIXES, Table


@dataclass
class RawTable:
    table: Table
    path: Path
    frame: pl.DataFrame
    first_data_row: int  # spreadsheet row number of the first data row (2 after a header)
    renamed: dict[str, str]  # header as found -> canonical name

    @property
    def label(self) -> str:
        return self.path.name


def find_table_file(folder: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``folder`` (sales.csv, sales.parquet, SALES.CSV, ...)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    candidates = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FILE_SUFFIXES and p.stem.lower() == name),
        key=lambda p: FILE_SUFFIXES.index(p.suffix.lower()),
    )
    return candidates[0] if candidates else None


def normalise_header(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.replace("\ufeff", "")).lower()


def sniff_separator(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.readline().decode("utf-8", errors="replace")
    counts = {sep: head.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def _one_column_message(header: str) -> str:
    """What to say when a header row came out as a single column: name the separator it seems to use."""
    header = header.replace("\ufeff", "").strip()
    marks = [ch for ch in header if not (ch.isalnum() or ch in " _-")]
    shown = header if len(header) <= 60 else header[:57] + "..."
    if marks:
        sep = max(set(marks), key=marks.count)
        return (f"the header row '{shown}' reads as one column because the columns are separated by '{sep}'; "
                "separate them with commas (or tabs or semicolons) and upload the file again.")
    return (f"the header row '{shown}' reads as one column; write the column names on the first row separated by "
            "commas (or tabs or semicolons) and upload the file again.")


def read_raw(path: Path, table: Table) -> tuple[RawTable | None, list[Problem]]:
    """Read one file. Returns the raw table (None if unreadable) and problems found."""
    label = path.name
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
            first_row = 1
        else:
            frame = pl.read_csv(
                path,
                separator=sniff_separator(path),
                infer_schema=False,
                encoding="utf8-lossy",
                truncate_ragged_lines=True,
            )
            first_row = 2
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:  # all mean "cannot read"
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if path.suffix.lower() == ".parquet" else "comma-separated text with a header row"
        return None, [Problem(label, f"the file cannot be read ({reason}); save it as {kind} and upload it again.")]

    if len(frame.columns) == 1 and len(table.columns) > 1:
        return None, [Problem(label, _one_column_message(str(frame.columns[0])), row=1 if first_row == 2 else None)]

    found_headers = ", ".join(str(c).replace("\ufeff", "").strip() for c in frame.columns) or "none"
    frame = frame.with_row_index("__row", offset=first_row)
    wanted = {normalise_header(c): c for c in table.column_names}
    renamed: dict[str, str] = {}
    mapping: dict[str, str] = {}
    for col in frame.columns:
        canonical = wanted.get(normalise_header(col))
        if canonical and canonical not in mapping.values():
            mapping[col] = canonical
            if col != canonical:
                renamed[col] = canonical
    frame = frame.rename(mapping).select(["__row"] + [c for c in table.column_names if c in mapping.values()])

    string_cols = [c for c, t in frame.schema.items() if t == pl.String]
    if string_cols:
        frame = frame.with_columns(pl.col(string_cols).str.strip_chars())
        # drop blank lines: every cell empty
        data_cols = [c for c in frame.columns if c != "__row"]
        frame = frame.filter(~pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).cast(pl.String) == "") for c in data_cols]))
        frame = frame.with_columns([pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in string_cols])

    problems = []
    missing = [c for c in table.column_names if c not in frame.columns]
    for col in missing:
        problems.append(
            Problem(
                label,
                f"the column is missing; add a column named {col} to the header (columns found: {found_headers}).",
                row=1 if first_row == 2 else None,
                column=col,
            )
        )
    return RawTable(table, path, frame, first_row, renamed), problems
