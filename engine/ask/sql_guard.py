"""The SQL guard: one read-only SELECT over allow-listed tables, or a one-sentence refusal.

DuckDB's parser does the reading (``extract_statements``, ``json_serialize_sql``). The rules are written
here because DuckDB has no allow-list of tables or functions: a table must be allow-listed (or a CTE of the
query), never a table function, file, URL, other schema or DESCRIBE/SHOW; no function may read files,
settings, secrets or the environment. The query is returned as written: ``SqlEngine`` caps rows and time.
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
    "getenv", "current_setting", "current_database", "current_schema", "current_schemas", "current_catalog",
    "current_user", "session_user", "user", "version", "pragma", "query", "query_table", "glob", "sniff_csv",
    "file_exists", "nextval", "currval", "setseed", "set_config", "checkpoint", "force_checkpoint", "enable_profiling",
    "txid_current", "has_table_privilege", "has_schema_privilege", "has_column_privilege", "has_function_privilege",
    "has_database_privilege", "col_description", "obj_description", "shobj_description", "format_pg_type",
    "in_search_path", "getvariable", "error", "sleep_ms", "sleep",
}
_DENY_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "sqlite_", "postgres_", "mysql_", "iceberg_", "delta_",
                  "pg_", "json_execute", "json_serialize", "json_deserialize", "http", "s3_", "azure_", "gcs_",
                  "ducklake_", "icu_", "test_", "which_secret", "load_", "install_")

_local = threading.local()


class UnsafeSQL(ValueError):
    """The query was refused; ``str(exc)`` is one sentence saying why and what to do."""


def _nodes(sql: str) -> list[dict]:
    """Every object in DuckDB's syntax tree of ``sql`` (``json.loads`` hands each one to ``object_hook``)."""
    import duckdb

    if getattr(_local, "con", None) is None:
        _local.con = duckdb.connect(":memory:", config={"enable_external_access": False})
    nodes: list[dict] = []
    try:
        tree = json.loads(_local.con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0],
                          object_hook=lambda node: nodes.append(node) or node)
    except RecursionError:
        raise UnsafeSQL("The query is nested too deeply; write a simpler SELECT.") from None
    if tree.get("error"):
        raise UnsafeSQL("The query could not be read as one plain SELECT; write a simpler SELECT statement.")
    return nodes


def _check_table(node: dict, allowed: set[str], ctes: set[str]) -> None:
    kind, tables = node.get("type"), ", ".join(sorted(allowed))
    if kind not in _ALLOWED_REFS:
        fn = (node.get("function") or {}).get("function_name")
        what = {"TABLE_FUNCTION": f"the table function {fn}()", "SHOW_REF": "DESCRIBE, SHOW or SUMMARIZE"}
        raise UnsafeSQL(f"The query uses {what.get(kind, f'a {kind} table reference')}, which is not allowed; "
                        f"select from the tables {tables} only.")
    if kind == "BASE_TABLE":  # a file path or URL in FROM is a BASE_TABLE too: it is no allow-listed name
        name, schema, catalog = (str(node.get(key) or "") for key in ("table_name", "schema_name", "catalog_name"))
        plain, low = catalog.lower() in ("", "memory") and schema.lower() in ("", "main"), name.lower()
        # A CTE may not take the name of a system view (duckdb_tables, pg_settings ...) to make it pass.
        cte = not catalog and not schema and low in ctes and not low.startswith(_DENY_PREFIXES)
        if not (plain and low in allowed or cte):
            qualified = ".".join(p for p in (catalog, schema, name) if p)
            raise UnsafeSQL(f"The table {qualified} is not available (files, URLs and other schemas cannot be read); "
                            f"use only {tables}.")


def _check_function(node: dict) -> None:
    name, schema, catalog = (str(node.get(key) or "").lower() for key in ("function_name", "schema", "catalog"))
    if catalog or schema not in ("", "main") or name in _DENY_FUNCTIONS or name.startswith(_DENY_PREFIXES):
        qualified = ".".join(p for p in (catalog, schema, name) if p)
        raise UnsafeSQL(f"The function {qualified}() is not allowed because it reads files, settings or the system; "
                        f"use ordinary SQL functions.")


def check_sql(sql: str, allowed_tables: set[str], max_length: int = 4000) -> str:
    """``sql`` as written when it is one SELECT over ``allowed_tables`` and allowed functions; else ``UnsafeSQL``."""
    import duckdb

    if len(sql) > max_length:
        raise UnsafeSQL(f"The query is {len(sql):,} characters long, more than the {max_length:,} allowed; "
                        f"write a shorter SELECT.")
    if "\x00" in sql:
        raise UnsafeSQL("The query contains a NUL character; write plain SQL text.")
    try:
        kinds = [statement.type.name for statement in duckdb.extract_statements(sql)]
    except duckdb.Error as exc:  # the parser's first line, without its advice to change a setting
        reason = re.sub(r'\s*Use "SET .*$', "", (str(exc).strip().splitlines() or [""])[0])[:160].rstrip(". ")
        raise UnsafeSQL(f"The query is not valid SQL ({reason}); write one SELECT statement.") from None
    if kinds != ["SELECT"]:
        raise UnsafeSQL(f"Only one SELECT statement is allowed (the data is read-only) but the query has {len(kinds)} "
                        f"statement{'' if len(kinds) == 1 else 's'} ({', '.join(kinds[:4]) or 'only comments'}); "
                        f"send a single SELECT.")
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
