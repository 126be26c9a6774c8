"""A read-only DuckDB view of one data folder for questions about numbers.

Tables: sales, products, stores, visits (customer visits: orders.csv), oil_price (quoted days only) and,
when they exist, order_lines (the ledger) and forecasts (the latest batch), copied into a private database
file opened READ-ONLY with external access, extensions and spilling off, memory and threads capped and the
configuration locked. Every query passes ``check_sql``; a timer interrupts it after ``timeout_s``; DuckDB's
relation ``limit`` caps the rows inside the plan (streamed, top-N under ORDER BY).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.ask.sql_guard import check_sql
from engine.data.dataset import load_dataset
from engine.data.storage import state_dir, state_stamp
from engine.ordering.ledger import OrderLedger, default_ledger_path

_CONFIG = {"enable_external_access": False, "autoload_known_extensions": False, "autoinstall_known_extensions": False,
           "allow_community_extensions": False, "python_enable_replacements": False, "threads": 2,
           "memory_limit": "1GB", "temp_directory": "", "lock_configuration": True}


class SqlError(ValueError):
    """The query was allowed but went past the time or memory limit, or DuckDB could not run it (one sentence)."""


@dataclass
class SqlResult:
    sql: str
    columns: list[str]
    rows: list[dict]
    truncated: bool


def _tables(ds, folder: Path) -> dict[str, pl.DataFrame]:
    """The frames behind the SQL tables; ``order_lines`` keeps the latest version of each store and order date
    (a sum is never double-counted), ``forecasts`` only the batch's output, not its per-series results."""
    oil = ds.oil_price.filter(~pl.col("WTI_Filled") & pl.col("WTI_Price").is_not_null()).select("Date", "WTI_Price")
    frames = {"sales": ds.sales, "products": ds.products, "stores": ds.stores, "visits": ds.visits, "oil_price": oil}
    with contextlib.suppress(ValueError):  # the ledger says in one sentence what is wrong with the file
        if (ledger := default_ledger_path(folder)).is_file():
            lines = OrderLedger(ledger, read_only=True).history()
            lines = lines.filter(pl.col("version") == pl.col("version").max().over("store_id", "order_date"))
            frames["order_lines"] = lines.select(
                "confirmation_id", "store_id", "order_date", "version", "product_id", "recommended_qty", "final_qty",
                "reason", "confirmed_at").with_columns(pl.col("store_id", "product_id", "version").cast(pl.Int32))
    forecasts = state_dir(folder) / "batch" / "forecasts.parquet"
    with contextlib.suppress(pl.exceptions.PolarsError, OSError):
        if forecasts.is_file():
            frames["forecasts"] = pl.read_parquet(forecasts)
    return frames


_CACHE: dict[Path, SqlEngine] = {}
_CACHE_LOCK = threading.Lock()


class SqlEngine:
    """DuckDB over copies of the data folder's tables; ``run`` accepts only guarded SELECTs."""

    @classmethod
    def open(cls, data_folder, ds=None, row_limit: int = 200, timeout_s: float = 5.0) -> SqlEngine:
        """A cached engine for ``data_folder``, rebuilt when a data file, the ledger or the forecasts change."""
        folder = Path(data_folder).resolve()
        wanted = (state_stamp(folder), int(row_limit), float(timeout_s))
        with _CACHE_LOCK:  # a replaced engine is not closed: a caller may still hold it; freed when unused
            engine = _CACHE.get(folder)
            if engine is None or (engine.stamp, engine.row_limit, engine.timeout_s) != wanted:
                engine = _CACHE[folder] = cls(folder, row_limit=row_limit, timeout_s=timeout_s, ds=ds)
            return engine

    def __init__(self, data_folder, row_limit: int = 200, timeout_s: float = 5.0, ds=None):
        import duckdb

        self.data_folder = Path(data_folder).resolve()
        self.row_limit, self.timeout_s = int(row_limit), float(timeout_s)
        self.stamp = state_stamp(self.data_folder)  # the data and state this engine was made from
        self.ds = ds if ds is not None else load_dataset(self.data_folder)
        self._lock = threading.Lock()
        self.tables: dict[str, dict[str, str]] = {}  # table -> column -> DuckDB type
        with tempfile.TemporaryDirectory(prefix="kmart-ask-sql-", ignore_cleanup_errors=True) as tmp:
            with duckdb.connect(f"{tmp}/tables.duckdb") as build:
                for name, frame in _tables(self.ds, self.data_folder).items():
                    table = build.from_arrow(frame.to_arrow())
                    table.create(name)
                    self.tables[name] = dict(zip(table.columns, map(str, table.types)))
            self._con = duckdb.connect(f"{tmp}/tables.duckdb", read_only=True, config=_CONFIG)
        self.allowed_tables = frozenset(self.tables)

    def run(self, sql: str) -> SqlResult:
        """Check ``sql`` with the guard, run it with the time limit, return at most ``row_limit`` rows."""
        import duckdb

        check_sql(sql, self.allowed_tables)
        with self._lock:
            timer = threading.Timer(self.timeout_s, self._con.interrupt)
            timer.start()
            try:
                relation = self._con.sql(sql).limit(self.row_limit + 1)
                columns, raw = relation.columns, relation.fetchall()
            except (duckdb.InterruptException, duckdb.OutOfMemoryException) as exc:
                limit = f"{self.timeout_s:g} s time" if isinstance(exc, duckdb.InterruptException) else "1 GB memory"
                raise SqlError(f"The query went past the {limit} limit and was stopped; "
                                 f"ask about a shorter period or fewer stores.") from None
            except duckdb.Error as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise SqlError(f"The query could not run ({first}); check the table and column names.") from None
            finally:
                timer.cancel()
        rows = [dict(zip(columns, map(_plain, r))) for r in raw[: self.row_limit]]
        return SqlResult(sql=sql, columns=columns, rows=rows, truncated=len(raw) > self.row_limit)


def _plain(value):
    """JSON-friendly Python values: dates as ISO text, Decimals as float, NaN as None (never a number in a
    total or an answer), anything else that is not str/int/float/bool as text."""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0) and value.tzinfo is None:
        value = value.date()  # date_trunc(...) of a DATE gives midnight timestamps
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (float, decimal.Decimal)):
        return None if value != value else float(value)
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
