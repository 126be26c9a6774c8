"""The SQL guard refuses hostile queries with one sentence, and nothing on disk changes."""

from __future__ import annotations

from tests.ask_support import write_ledger

import hashlib
from pathlib import Path

import pytest

from engine.ask.sql_guard import UnsafeSQL, check_sql

TABLES = {"sales", "products", "stores", "visits", "oil_price", "order_lines"}


def _hostile(folder: Path) -> list[str]:
    sales = folder / "sales.csv"
    ledger = folder.parent / "state" / "ledger.sqlite"
    return [
        "DELETE FROM sales",
        "DROP TABLE sales",
        "UPDATE sales SET Qty = 0",
        "INSERT INTO sales VALUES ('2017-04-01', 1, 5, 3)",
        "CREATE TABLE x AS SELECT * FROM sales",
        "ALTER TABLE sales RENAME TO s2",
        "SELECT 1; DROP TABLE sales",
        "SELECT * FROM sales; DELETE FROM sales",
        "SELECT 1 /* harmless */; DELETE FROM sales -- bye",
        "/* SELECT */ DROP TABLE sales",
        "-- SELECT 1\nDELETE FROM sales",
        f"ATTACH '{ledger}' AS l",
        f"ATTACH '{folder / 'evil.db'}' AS e; CREATE TABLE e.t AS SELECT 1",
        "DETACH l",
        f"COPY sales TO '{sales}'",
        f"COPY (SELECT 1) TO '{sales}' (FORMAT csv)",
        f"EXPORT DATABASE '{folder}'",
        f"IMPORT DATABASE '{folder}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        f"SELECT * FROM read_parquet('{folder}/*.parquet')",
        "SELECT * FROM read_json_auto('/etc/hosts')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM '/etc/passwd'",
        f"SELECT * FROM '{sales}'",
        'SELECT * FROM "sales.csv"',
        "SELECT * FROM 'https://example.com/data.parquet'",
        "SELECT * FROM 's3://bucket/x.parquet'",
        f"SELECT * FROM sqlite_scan('{ledger}', 'order_lines')",
        "SELECT * FROM sales, LATERAL read_csv('/etc/passwd')",
        "SELECT (SELECT content FROM read_text('/etc/passwd')) AS c",
        "WITH a AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM a",
        "SELECT * FROM sales WHERE Qty > (SELECT count(*) FROM duckdb_tables())",
        "PRAGMA database_list",
        "PRAGMA enable_profiling",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET memory_limit",
        "SET VARIABLE x = 1",
        "CALL pragma_version()",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM pragma_table_info('sales')",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM pg_catalog.pg_tables",
        "SELECT * FROM system.main.duckdb_tables",
        "SELECT current_setting('memory_limit')",
        "SELECT getenv('HOME')",
        "SELECT * FROM query('DELETE FROM sales')",
        "SELECT * FROM query_table('sales')",
        "DESCRIBE sales",
        "SUMMARIZE sales",
        "SHOW TABLES",
        "EXPLAIN ANALYZE SELECT * FROM sales",
        "BEGIN TRANSACTION",
        "CHECKPOINT",
        "VACUUM",
        "USE memory",
        "SELECT * FROM secret_table",
        "SELECT * FROM ledger.order_lines",
        "SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT 1) AS a, pg_settings, duckdb_settings",
        "PIVOT sales ON Store_ID USING sum(Qty)",
        "SELECT " + " + ".join(["Qty"] * 1500) + " FROM sales",
        "",
        "   -- only a comment",
        ";;",
        "SELECT FROM WHERE",
    ]


def _hashes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _make_ledger(path: Path) -> None:
    write_ledger(path, [(44, "2017-03-30", [(3, 3200, 3000, "r")], "kim")])


@pytest.fixture(scope="module")
def hostile_setup(tmp_path_factory, demo_dir, demo):
    import shutil

    from engine.ask.sql_engine import SqlEngine

    folder = tmp_path_factory.mktemp("guard") / "data" / "current"
    shutil.copytree(demo_dir, folder)
    _make_ledger(folder.parent / "state" / "ledger.sqlite")
    engine = SqlEngine(folder, ds=demo, timeout_s=5.0)
    return folder, engine


def test_at_least_twenty_hostile_queries_are_refused_and_files_stay_byte_identical(hostile_setup):
    folder, engine = hostile_setup
    root = folder.parent
    before = _hashes(root)
    hostile = _hostile(folder)
    assert len(hostile) >= 20
    for sql in hostile:
        with pytest.raises(UnsafeSQL) as info:
            engine.run(sql)
        message = str(info.value)
        assert message and message.endswith(".") and "\n" not in message and "Traceback" not in message, (sql, message)
        assert len(message) < 300, message
    # the same queries straight at the locked connection (no guard): DuckDB itself refuses file access
    for sql in hostile:
        try:
            engine._con.execute(sql)
        except Exception:
            pass
        try:  # "BEGIN TRANSACTION" above leaves an aborted transaction behind on the raw connection
            engine._con.execute("ROLLBACK")
        except Exception:
            pass
    # and the engine still answers, the tables untouched
    assert engine.run("SELECT count(*) AS n FROM sales").rows[0]["n"] == engine.ds.sales.height
    assert engine.run("SELECT sum(final_qty) AS q FROM order_lines").rows[0]["q"] == 3000
    after = _hashes(root)
    assert after == before
    assert not (folder / "evil.db").exists()


def test_raw_connection_cannot_read_write_or_unlock(hostile_setup):
    """Defense in depth: even without the guard, the connection cannot reach files or change settings."""
    import duckdb

    folder, engine = hostile_setup
    for sql in (
        "DROP TABLE sales",
        "DELETE FROM sales",
        "CREATE TABLE t AS SELECT 1",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"COPY sales TO '{folder / 'sales.csv'}'",
        f"ATTACH '{folder / 'x.db'}' AS x",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "INSTALL httpfs",
    ):
        with pytest.raises(duckdb.Error):
            engine._con.execute(sql)


@pytest.mark.parametrize(
    "sql, message_part",
    [
        ("DELETE FROM sales", "DELETE"),
        ("SELECT 1; DROP TABLE sales", "2"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM '/etc/passwd'", "/etc/passwd"),
        ("SELECT * FROM nope", "nope"),
        ("ATTACH 'x.db'", "ATTACH"),
        ("SELECT " + "1+" * 3000 + "1", "characters"),
        ("SELECT " + "-(" * 1300 + "1" + ")" * 1300, "depth"),
        ("SELECT " + "[" * 900 + "1" + "]" * 900, "nested too deeply"),
    ],
)
def test_refusals_name_the_reason(sql, message_part):
    with pytest.raises(UnsafeSQL) as info:
        check_sql(sql, TABLES)
    assert message_part in str(info.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT sum(Qty) FROM sales WHERE Store_ID = 44",
        "select * from sales;",
        "WITH w AS (SELECT Store_ID, sum(Qty) q FROM sales GROUP BY 1) SELECT * FROM w ORDER BY q DESC",
        "SELECT s.Store_ID, p.SubCategory FROM sales s JOIN products p USING (Product_ID) -- a comment",
        "SELECT Store_ID FROM stores UNION SELECT Store_ID FROM visits",
        "SELECT (SELECT max(Date) FROM sales) AS last_day",
        "FROM oil_price SELECT avg(WTI_Price)",
        "SELECT date_trunc('month', Date) AS m, sum(Qty) FROM sales GROUP BY ALL ORDER BY 1",
        "SELECT Store_ID, row_number() OVER (ORDER BY Store_ID) FROM stores QUALIFY row_number() OVER (ORDER BY Store_ID) <= 3",
        "SELECT product_id, sum(final_qty) FROM order_lines GROUP BY 1",
    ],
)
def test_ordinary_selects_pass_as_written(sql):
    assert check_sql(sql, TABLES) == sql  # comments and all: the engine caps rows and time


def test_cte_names_are_tables_only_inside_their_query():
    assert "w" in check_sql("WITH w AS (SELECT 1 AS a) SELECT * FROM w", TABLES)
    with pytest.raises(UnsafeSQL):
        check_sql("SELECT * FROM w", TABLES)
    with pytest.raises(UnsafeSQL):  # an allow-listed name does not make a forbidden source safe
        check_sql("WITH sales AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM sales", TABLES)
    for sql in ("WITH duckdb_views AS (SELECT * FROM duckdb_views) SELECT * FROM duckdb_views",
                "SELECT * FROM (WITH pg_settings AS (SELECT 1) SELECT 1) AS a, pg_settings"):
        with pytest.raises(UnsafeSQL, match="is not available"):  # a CTE named like a system view
            check_sql(sql, TABLES)
