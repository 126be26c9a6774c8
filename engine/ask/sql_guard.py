"""The SQL guard: one read-only SELECT over allow-listed tables, or a one-sentence refusal.

DuckDB's own parser does the reading: ``duckdb.extract_statements`` counts the statements and names their
type, ``json_serialize_sql`` gives the syntax tree. The rules are ours, because DuckDB has no allow-list of
tables or functions: every node of the tree is visited once; table references must be allow-listed tables
(or the query's own CTE names), never table functions, file paths, URLs, other schemas or catalogs, or
DESCRIBE/SHOW/SUMMARIZE; function names must not be ones that read files, settings, secrets or the
environment. The query is returned as written: ``SqlEngine`` caps the rows and the time.
"""

from __future__ import annotations

import json
import re
import threading

# Table references a plain SELECT may use; TABLE_FUNCTION, SHOW_REF (DESCRIBE/SUMMARIZE), PIVOT ... are refused.
_ALLOWED_REFS = {"BASE_TABLE", "JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST"}
_QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "CTE_NODE", "RECURSIVE_CTE_NODE"}

# Functions that read files, settings, the environment or the catalog, or have effects, and every name that
# starts with one of _DENY_PREFIXES (read_*, parquet_*, pg_*, json_serialize* ...).
_DENY_FUNCTIONS = {
    "getenv", "current_setting", "current_database", "current_schema", "current_schemas",
    "current_catalog", "current_user", "session_user", "user", "version", "pragma", "query", "query_table",
    "glob", "sniff_csv", "file_exists", "nextval", "currval", "setseed", "set_config", "checkpoint",
    "force_checkpoint", "enable_profiling", "txid_current", "has_table_privilege", "has_schema_privilege",
    "has_column_privilege", "has_function_privilege", "has_database_privilege", "col_description",
    "obj_description", "shobj_description", "format_pg_type", "in_search_path", "getvariable", "error",
    "sleep_ms", "sleep",
}
_DENY_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "sqlite_", "postgres_", "mysql_", "iceberg_",
                  "delta_", "pg_", "json_execute", "json_serialize", "json_deserialize", "http", "s3_",
                  "azure_", "gcs_", "ducklake_", "icu_", "test_", "which_secret", "load_", "install_")
_PATH_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|[./~\\]|[a-z]:[\\/])|[/\\]"
                        r"|\.(?:csv|tsv|txt|parquet|json|ndjson|db|duckdb|sqlite|gz|zst|xlsx?)$", re.I)

_local = threading.local()


class UnsafeSQL(ValueError):
    """The query was refused; ``str(exc)`` is one sentence saying why and what to do."""


def _first_line(exc: BaseException) -> str:
    """DuckDB's message, first line, without its advice to change a setting."""
    return re.sub(r'\s*Use "SET .*$', "", (str(exc).strip().splitlines() or [""])[0])[:160].rstrip(". ")


def _nodes(sql: str) -> list[dict]:
    """Every object of DuckDB's syntax tree of ``sql``, parents before children (a private parse-only
    connection per thread; no recursion, so deep trees cannot overflow Python's stack)."""
    import duckdb

    if getattr(_local, "con", None) is None:
        _local.con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        tree = json.loads(_local.con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except RecursionError:
        raise UnsafeSQL("The query is nested too deeply; write a simpler SELECT.") from None
    if tree.get("error"):
        raise UnsafeSQL(f"The query could not be read as a single SELECT ({_first_line(tree.get('error_message'))}); "
                        f"write one SELECT statement.")
    nodes, stack = [], [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            nodes.append(item)
            item = list(item.values())
        if isinstance(item, list):
            stack.extend(item)
    return nodes


def _check_table(node: dict, allowed: set[str], ctes: set[str]) -> None:
    kind, tables = node.get("type"), ", ".join(sorted(allowed))
    if kind == "TABLE_FUNCTION":
        fn = (node.get("function") or {}).get("function_name", "a table function")
        raise UnsafeSQL(f"The table function {fn}() is not allowed; select from the tables {tables} only.")
    if kind == "SHOW_REF":
        raise UnsafeSQL("DESCRIBE, SHOW and SUMMARIZE are not allowed; select from the tables directly.")
    if kind not in _ALLOWED_REFS:
        raise UnsafeSQL(f"A {kind} table reference is not allowed; use plain tables, joins and subqueries.")
    if kind != "BASE_TABLE":
        return
    if node.get("at_clause"):
        raise UnsafeSQL("Time-travel (AT ...) clauses are not allowed; select from the current tables.")
    name = str(node.get("table_name") or "")
    schema, catalog = str(node.get("schema_name") or "").lower(), str(node.get("catalog_name") or "").lower()
    if _PATH_LIKE.search(name):
        raise UnsafeSQL(f"Reading a file or URL ('{name[:60]}') is not allowed; select from the tables {tables} only.")
    if catalog not in ("", "memory") or schema not in ("", "main"):
        qualified = ".".join(p for p in (catalog, schema, name) if p)
        raise UnsafeSQL(f"The table {qualified} is outside the allowed tables; use only {tables}.")
    if name.lower() not in allowed and not (name.lower() in ctes and not schema):
        raise UnsafeSQL(f"The table {name} is not available; use only {tables}.")


def _check_function(node: dict) -> None:
    name, schema = str(node.get("function_name") or "").lower(), str(node.get("schema") or "").lower()
    if schema not in ("", "main") or node.get("catalog"):
        raise UnsafeSQL(f"The function {schema or node['catalog']}.{name}() is not allowed; "
                        f"use ordinary SQL functions.")
    if name in _DENY_FUNCTIONS or name.startswith(_DENY_PREFIXES):
        raise UnsafeSQL(f"The function {name}() is not allowed because it reads files, settings or the system; "
                        f"use ordinary SQL functions.")


def check_sql(sql: str, allowed_tables: set[str], max_length: int = 4000) -> str:
    """``sql`` itself when it is one SELECT over ``allowed_tables`` that calls no denied function; else
    raise ``UnsafeSQL``."""
    import duckdb

    if len(sql) > max_length:
        raise UnsafeSQL(f"The query is {len(sql):,} characters long, more than the {max_length:,} allowed; "
                        f"write a shorter SELECT.")
    if "\x00" in sql:
        raise UnsafeSQL("The query contains a NUL character; write plain SQL text.")
    try:
        kinds = [statement.type.name for statement in duckdb.extract_statements(sql)]
    except duckdb.Error as exc:
        raise UnsafeSQL(f"The query is not valid SQL ({_first_line(exc)}); write one SELECT statement.") from None
    if kinds != ["SELECT"]:
        raise UnsafeSQL(f"Only one SELECT statement is allowed (the data is read-only) but the query has {len(kinds)} "
                        f"({', '.join(kinds[:4]) or 'only comments or semicolons'}); send a single SELECT.")
    nodes = _nodes(sql)
    # CTE names are usable table names for the whole statement (collected before any table is checked).
    ctes = {str(e["key"]).lower() for n in nodes for e in (n.get("cte_map") or {}).get("map") or [] if e.get("key")}
    allowed = {t.lower() for t in allowed_tables}
    for node in nodes:
        kind = str(node.get("type"))
        if kind.endswith("_NODE") and kind not in _QUERY_NODES:
            raise UnsafeSQL(f"Only plain SELECT queries are allowed (found a {kind} query part); "
                            f"rewrite it as one SELECT.")
        if "function_name" in node:
            _check_function(node)
        elif "sample" in node and "alias" in node and "class" not in node:
            _check_table(node, allowed, ctes)
    return sql
