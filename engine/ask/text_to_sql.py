"""Text-to-SQL: the chat messages that ask a language model for one SELECT, and reading its reply.

The prompt carries the schema (tables, typed columns, meanings), the product list with Korean names,
the glossary, the data's date range, the period the question names (already resolved against the
data's last day), few-shot examples in English and Korean, and the rule "one SELECT only". The
reply's SQL is taken from a ```sql fence (or a bare SELECT/WITH) and always goes through the guard
before it runs; nothing else from the reply is executed.
"""

from __future__ import annotations

import re

from engine.ask.entities import Entities
from engine.ask.sql_guard import UnsafeSQL

SYSTEM_RULES = (
    "You write ONE DuckDB SQL SELECT statement that answers the question from the tables below. "
    "Rules: exactly one SELECT (WITH ... SELECT is fine); never INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH, COPY, "
    "PRAGMA, SET or file functions; use only the listed tables and columns; compare dates with DATE 'YYYY-MM-DD'; "
    "a missing sales row means 0 units were sold; give result columns short English names; "
    "answer with the SQL in a ```sql block and nothing else."
)

FEW_SHOT = [
    ("How many units of product 3 did store 44 sell from 2017-03-20 to 2017-03-26?",
     "SELECT sum(Qty) AS total_qty FROM sales WHERE Store_ID = 44 AND Product_ID = 3 "
     "AND Date BETWEEN DATE '2017-03-20' AND DATE '2017-03-26'"),
    ("2016년 매출 상위 3개 매장은? (판매량 기준)",
     "SELECT Store_ID, sum(Qty) AS total_qty FROM sales WHERE Date BETWEEN DATE '2016-01-01' AND DATE '2016-12-31' "
     "GROUP BY Store_ID ORDER BY total_qty DESC LIMIT 3"),
    ("Which day in March 2017 had the most customers at store 7?",
     "SELECT Date, CustomerCount FROM orders WHERE Store_ID = 7 AND Date BETWEEN DATE '2017-03-01' AND DATE '2017-03-31' "
     "ORDER BY CustomerCount DESC LIMIT 1"),
    ("음료(BEVERAGES) 상품의 월별 판매량 (2017년)",
     "SELECT date_trunc('month', s.Date) AS month, sum(s.Qty) AS total_qty FROM sales s JOIN products p ON p.Product_ID = s.Product_ID "
     "WHERE p.SubCategory = 'BEVERAGES' AND s.Date >= DATE '2017-01-01' GROUP BY 1 ORDER BY 1"),
]

_FENCE = re.compile(r"```[ \t]*(?:sql|duckdb|postgresql|sqlite)?[ \t]*\n?(.*?)```", re.I | re.S)
_BARE = re.compile(r"(?is)\b((?:with\s+\w+\s+as\s*\(|select\s|from\s+\w+\s+select\s).*)")

_NUMERIC = (
    "how many", "how much", "number of", "total", "sum", "average", "avg", "mean", "median", "count", "top", "most", "least",
    "highest", "lowest", "max", "min", "rank", "best", "worst", "per day", "daily", "weekly", "monthly", "by day", "by week",
    "by month", "what was", "what were", "which store", "which product", "which day", "when did", "compare", "difference",
    "percent", "share", "growth", "units", "qty", "quantity", "sold", "sell", "sales", "price", "lead time", "customers",
    "얼마", "몇", "합계", "총", "평균", "최대", "최고", "최소", "최저", "상위", "하위", "순위", "가장", "제일", "비교", "차이",
    "비율", "증가", "감소", "판매량", "발주량", "주문량", "고객수", "유가", "가격", "리드타임", "일별", "주별", "월별", "언제",
)
_DESCRIPTIVE = ("why", "explain", "what does", "what is a", "meaning", "define", "definition", "how does", "how do i", "how to",
                "왜", "이유", "설명", "의미", "뜻", "어떻게", "방법")


def build_sql_prompt(question: str, engine, entities: Entities) -> list[dict]:
    """Chat messages (system + few-shot + the question) asking for one SELECT."""
    system = SYSTEM_RULES + "\n\n" + engine.schema_text()
    hints = []
    if entities.stores:
        hints.append(f"stores: {', '.join(map(str, entities.stores))} (Store_ID)")
    if entities.products:
        hints.append(f"products: {', '.join(map(str, entities.products))} (Product_ID)")
    if entities.start and entities.end:
        hints.append(f"period: {entities.start.isoformat()} to {entities.end.isoformat()} ({entities.period_label})")
    if entities.top_n:
        hints.append(f"top {entities.top_n}")
    messages = [{"role": "system", "content": system}]
    for q, sql in FEW_SHOT:
        messages.append({"role": "user", "content": q})
        messages.append({"role": "assistant", "content": f"```sql\n{sql}\n```"})
    content = question.strip()
    if entities.normalized and entities.normalized != question.strip():
        content += f"\n(in English terms: {entities.normalized})"
    if hints:
        content += "\nResolved from the question: " + "; ".join(hints) + "."
    messages.append({"role": "user", "content": content})
    return messages


def extract_sql(llm_text: str) -> str:
    """The SQL in a model's reply: the first ```sql block, else the text from the first SELECT/WITH."""
    text = (llm_text or "").strip()
    if not text:
        raise UnsafeSQL("The model returned no SQL; ask the question again or rephrase it.")
    for block in _FENCE.findall(text):
        if block.strip():
            return block.strip()  # a fenced block goes to the guard whole
    m = _BARE.search(text)
    if m:
        return _trim(m.group(1))
    raise UnsafeSQL("The model's reply contains no SELECT statement; ask the question again or rephrase it.")


_SQL_START = re.compile(r"^\s*(?:select|from|where|group|order|limit|having|with|join|left|right|inner|outer|full|cross|union|"
                        r"except|intersect|and|or|on|qualify|window|offset|\(|\)|--)", re.I)


_SQL_VERBS = {"select", "with", "from", "insert", "update", "delete", "drop", "create", "alter", "attach", "detach", "copy",
              "pragma", "set", "reset", "install", "load", "call", "export", "import", "begin", "commit", "rollback", "use",
              "checkpoint", "vacuum", "describe", "show", "summarize", "explain", "pivot", "unpivot", "prepare", "execute"}


def _trim(sql: str) -> str:
    """The statement without trailing prose: paragraphs after the first that do not read as SQL are dropped."""
    sql = sql.strip().strip("`").strip()
    paragraphs = re.split(r"\n\s*\n", sql)
    kept = [paragraphs[0]]
    for para in paragraphs[1:]:
        if not _SQL_START.match(para):
            break
        kept.append(para)
    out = "\n\n".join(kept).strip()
    # "SELECT ...; This query sums ..." -> cut the prose after a final semicolon
    m = re.match(r"(?s)(.*?;)\s*([A-Za-z가-힣]+)[^;]*$", out)
    if m and m.group(2).lower() not in _SQL_VERBS:
        out = m.group(1)
    return out.strip()


def is_numeric_question(question: str, entities: Entities) -> bool:
    """True when the question asks for a number, ranking or dated value (SQL answers it)."""
    text = f"{(question or '').lower()} {(entities.normalized or '').lower()}"
    numeric = any(word in text for word in _NUMERIC)
    descriptive = any(re.search(rf"(?<![a-z]){re.escape(w)}", text) if re.match("[a-z]", w) else w in text for w in _DESCRIPTIVE)
    if descriptive and not re.search(r"how many|how much|얼마|몇", text):
        return False
    return numeric or bool(entities.start and (entities.stores or entities.products))
