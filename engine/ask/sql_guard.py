"""The SQL guard: one read-only SELECT over allow-listed tables, or a one-sentence refusal.

SQL written by a language model (or a user) is parsed by DuckDB's own parser
(``duckdb.extract_statements`` for the statement list and type, ``json_serialize_sql`` for the
syntax tree) and walked node by node. Allowed: exactly one SELECT (``WITH ... SELECT``, UNION,
subqueries, joins, window functions) whose tables are all in ``allowed_tables`` (or its own CTE
names). Refused: any other statement (INSERT/UPDATE/DELETE/DROP/CREATE/ALTER/ATTACH/COPY/PRAGMA/
SET/INSTALL/LOAD/CALL/EXPORT/...), more than one statement, table functions (``read_csv``,
``glob``, ``duckdb_settings()`` ...), quoted file paths or URLs used as tables, other schemas and
catalogs (``information_schema``, ``pg_catalog``), DESCRIBE/SHOW/SUMMARIZE, functions that read
files, settings or the environment, and queries longer than ``max_length``. The accepted query is
returned re-written from the syntax tree (comments dropped) with a LIMIT no larger than ``limit``.
"""

from __future__ import annotations

import json
import re
import threading

DEFAULT_LIMIT = 200

# Table-reference node types a plain SELECT may use. Everything else (TABLE_FUNCTION, SHOW_REF for
# DESCRIBE/SUMMARIZE, PIVOT, column data ...) is refused.
_ALLOWED_REFS = {"BASE_TABLE", "JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST"}
_ALLOWED_QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "CTE_NODE", "RECURSIVE_CTE_NODE"}

# Scalar functions that read files, settings, the environment or the catalog, or have effects (beside
# every function whose name starts with one of _DENY_PREFIXES: read_*, parquet_*, pg_*, json_serialize* ...).
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
_PATH_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|[./~\\]|[a-z]:[\\/])|[/\\]|\.(?:csv|tsv|txt|parquet|json|ndjson|db|duckdb|sqlite|gz|zst|xlsx?)$", re.I)

_local = threading.local()


class UnsafeSQL(ValueError):
    """The query was refused; ``str(exc)`` is one sentence saying why and what to do."""


def _parser_connection():
    """A private in-memory DuckDB connection (one per thread) used only for parsing."""
    con = getattr(_local, "con", None)
    if con is None:
        import duckdb

        con = duckdb.connect(":memory:", config={"enable_external_access": False, "autoload_known_extensions": False,
                                                 "autoinstall_known_extensions": False})
        con.execute("SET lock_configuration = true")
        _local.con = con
    return con


def _statement_label(stype) -> str:
    """'an INSERT statement', 'a COPY statement' ... for DuckDB's statement type."""
    name = getattr(stype, "name", str(stype)).upper().replace("_STATEMENT", "").replace("_", " ")
    return f"{'an' if name[:1] in 'AEIOU' else 'a'} {name} statement"


def _quote_list(names) -> str:
    return ", ".join(sorted(names))


class _Walker:
    def __init__(self, allowed: set[str]):
        self.allowed = {t.lower() for t in allowed}
        self.ctes: set[str] = set()

    def walk(self, node) -> None:
        if isinstance(node, list):
            for item in node:
                self.walk(item)
            return
        if not isinstance(node, dict):
            return
        # CTE names become usable table names for the whole statement (collected before use).
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map") or []:
                if isinstance(entry, dict) and entry.get("key"):
                    self.ctes.add(str(entry["key"]).lower())
        kind = node.get("type")
        if "from_table" in node or "setop_type" in node or "select_list" in node:
            if kind not in _ALLOWED_QUERY_NODES:
                raise UnsafeSQL(f"Only plain SELECT queries are allowed (found a {kind} query part); rewrite it as one SELECT.")
        if "sample" in node and "alias" in node and "class" not in node and kind not in _ALLOWED_QUERY_NODES:
            self._table_ref(node)
        if node.get("class") == "FUNCTION" or kind == "FUNCTION":
            self._function(node)
        for value in node.values():
            if isinstance(value, (dict, list)):
                self.walk(value)

    def _table_ref(self, node: dict) -> None:
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            fn = (node.get("function") or {}).get("function_name", "a table function")
            raise UnsafeSQL(f"The table function {fn}() is not allowed; select from the tables {_quote_list(self.allowed)} only.")
        if kind == "SHOW_REF":
            raise UnsafeSQL("DESCRIBE, SHOW and SUMMARIZE are not allowed; select from the tables directly.")
        if kind not in _ALLOWED_REFS:
            raise UnsafeSQL(f"A {kind} table reference is not allowed; use plain tables, joins and subqueries.")
        if kind != "BASE_TABLE":
            return
        if node.get("at_clause"):
            raise UnsafeSQL("Time-travel (AT ...) clauses are not allowed; select from the current tables.")
        name = str(node.get("table_name") or "")
        schema = str(node.get("schema_name") or "").lower()
        catalog = str(node.get("catalog_name") or "").lower()
        if _PATH_LIKE.search(name):
            raise UnsafeSQL(f"Reading a file or URL ('{name[:60]}') is not allowed; select from the tables {_quote_list(self.allowed)} only.")
        if catalog not in ("", "memory") or schema not in ("", "main"):
            qualified = ".".join(p for p in (catalog, schema, name) if p)
            raise UnsafeSQL(f"The table {qualified} is outside the allowed tables; use only {_quote_list(self.allowed)}.")
        low = name.lower()
        if low in self.ctes and not schema:
            return
        if low not in self.allowed:
            raise UnsafeSQL(f"The table {name} is not available; use only {_quote_list(self.allowed)}.")

    def _function(self, node: dict) -> None:
        name = str(node.get("function_name") or "").lower()
        schema = str(node.get("schema") or "").lower()
        catalog = str(node.get("catalog") or "").lower()
        if node.get("is_operator"):
            return
        if (schema and schema not in ("main",)) or catalog:
            raise UnsafeSQL(f"The function {schema or catalog}.{name}() is not allowed; use ordinary SQL functions.")
        if name in _DENY_FUNCTIONS or name.startswith(_DENY_PREFIXES):
            raise UnsafeSQL(f"The function {name}() is not allowed because it reads files, settings or the system; use ordinary SQL functions.")


def _clamp_limit(con, node: dict, limit: int) -> None:
    """Keep a constant LIMIT of at most ``limit`` rows; any other LIMIT becomes (and a missing one is) ``limit``."""
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"SELECT 1 LIMIT {int(limit)}"]).fetchone()[0])
    fresh = tree["statements"][0]["node"]["modifiers"][0]
    mods = node.setdefault("modifiers", [])
    mod = next((m for m in mods if m.get("type") == "LIMIT_MODIFIER"), None)
    if mod is None:
        if node.get("type") not in ("SELECT_NODE", "SET_OPERATION_NODE"):  # pragma: no cover - refused before
            raise UnsafeSQL("The query has an unexpected shape; write it as one SELECT.")
        mods.append(fresh)
        return
    expr = mod.get("limit") if isinstance(mod.get("limit"), dict) else {}
    literal = expr.get("literal") or {}
    if not (mod.get("limit_type") == "ROW_COUNT" and expr.get("class") == "CONSTANT"
            and literal.get("kind") in ("INTEGER", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT")
            and 0 <= int(literal.get("text", "-1")) <= limit):
        mod["limit"], mod["limit_type"] = fresh["limit"], "ROW_COUNT"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _serialize(con, sql: str) -> dict:
    import duckdb

    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except (duckdb.Error, ValueError, RecursionError) as exc:
        tree = {"error": True, "error_message": _first_line(exc)}
    if tree.get("error"):
        raise UnsafeSQL(f"The query could not be read as a single SELECT ({tree.get('error_message', 'parse error')}); "
                        f"write one SELECT statement.")
    return tree


def check_sql(sql: str, allowed_tables: set[str], max_length: int = 4000, limit: int = DEFAULT_LIMIT) -> str:
    """The normalized single SELECT (comments dropped, LIMIT <= ``limit``) or raise ``UnsafeSQL``."""
    import duckdb

    if not isinstance(sql, str) or not sql.strip():
        raise UnsafeSQL("The query is empty; write one SELECT statement.")
    if len(sql) > max_length:
        raise UnsafeSQL(f"The query is {len(sql):,} characters long, more than the {max_length:,} allowed; write a shorter SELECT.")
    if "\x00" in sql:
        raise UnsafeSQL("The query contains a NUL character; write plain SQL text.")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        first = re.sub(r'\s*Use "SET .*$', "", str(exc).strip().splitlines()[0])[:160].rstrip(". ")
        raise UnsafeSQL(f"The query is not valid SQL ({first}); write one SELECT statement.") from None
    if len(statements) == 0:
        raise UnsafeSQL("The query has no statement (only comments or semicolons); write one SELECT statement.")
    if len(statements) > 1:
        kinds = ", ".join(_statement_label(s.type) for s in statements[:4])
        raise UnsafeSQL(f"Only one statement is allowed but the query has {len(statements)} ({kinds}); send a single SELECT.")
    stype = statements[0].type
    if getattr(stype, "name", str(stype)).upper() != "SELECT":
        raise UnsafeSQL(f"Only SELECT queries are allowed, this is {_statement_label(stype)}; the data is read-only here.")

    con = _parser_connection()
    tree = _serialize(con, sql)
    stmts = tree.get("statements") or []
    if len(stmts) != 1:
        raise UnsafeSQL("Only one statement is allowed; send a single SELECT.")
    node = stmts[0].get("node") or {}
    try:
        _Walker(set(allowed_tables)).walk(stmts[0])
        _clamp_limit(con, node, limit)
        normalized = con.execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchone()[0]
        # The rewritten text must itself be one SELECT that passes the same walk (no round-trip surprises).
        again = duckdb.extract_statements(normalized)
        if len(again) != 1 or getattr(again[0].type, "name", "") != "SELECT":
            raise UnsafeSQL("The query could not be normalized to one SELECT; simplify it.")
        _Walker(set(allowed_tables)).walk(_serialize(con, normalized)["statements"][0])
    except RecursionError:
        raise UnsafeSQL("The query is nested too deeply; write a simpler SELECT.") from None
    except duckdb.Error as exc:
        raise UnsafeSQL(f"The query could not be normalized ({_first_line(exc)}); write a simpler SELECT.") from None
    return normalized

