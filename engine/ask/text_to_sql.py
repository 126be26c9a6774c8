"""Text-to-SQL: the chat messages that ask a language model for one SELECT, and reading its reply.

The prompt carries the schema (tables, typed columns, meanings, the data's date range), a compact
product list (id and name), the glossary, few-shot examples in English and Korean and the rule "one
SELECT only" — all of it the same for every question, first, so llama.cpp reuses its evaluated state
(prompt cache) — and then the question with what was resolved from it (stores, products with their
names, the period resolved against the data's last day). The whole prompt is kept under
``PROMPT_TOKEN_BUDGET`` tokens: prompt evaluation on 2 CPU cores is the largest part of the latency.
The reply's SQL is taken from a ```sql fence (or a bare SELECT/WITH) and always goes through the guard
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

QUESTION_RESERVE = 120  # tokens kept for the question and its hints when the examples are chosen
PROMPT_TOKEN_BUDGET = 1100  # tokens (Qwen2.5 tokenizer) for the whole text-to-SQL prompt
SQL_MAX_TOKENS = 150  # a SELECT for these tables fits in ~30-90 tokens

FEW_SHOT = [
    ("How many units of product 3 did store 44 sell from 2017-03-20 to 2017-03-26?",
     "SELECT sum(Qty) AS total_qty FROM sales WHERE Store_ID = 44 AND Product_ID = 3 "
     "AND Date BETWEEN DATE '2017-03-20' AND DATE '2017-03-26'"),
    ("2016년 매출 상위 3개 매장은? (판매량 기준)",
     "SELECT Store_ID, sum(Qty) AS total_qty FROM sales WHERE Date BETWEEN DATE '2016-01-01' AND DATE '2016-12-31' "
     "GROUP BY Store_ID ORDER BY total_qty DESC LIMIT 3"),
    ("Which day in March 2017 had the most customers at store 7?",
     "SELECT Date, CustomerCount FROM visits WHERE Store_ID = 7 AND Date BETWEEN DATE '2017-03-01' AND DATE '2017-03-31' "
     "ORDER BY CustomerCount DESC LIMIT 1"),
    ("음료(BEVERAGES) 상품의 월별 판매량 (2017년)",
     "SELECT date_trunc('month', s.Date) AS month, sum(s.Qty) AS total_qty FROM sales s JOIN products p ON p.Product_ID = s.Product_ID "
     "WHERE p.SubCategory = 'BEVERAGES' AND s.Date >= DATE '2017-01-01' GROUP BY 1 ORDER BY 1"),
]
# the examples that go into the prompt (one English, one Korean; each example costs ~60-90 tokens of
# prompt evaluation, and more of them did not change which SQL the 1.5B model writes for these tables)
PROMPT_SHOTS = (0, 1)

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


def estimate_tokens(text: str) -> int:
    """A conservative token count without a tokenizer (Qwen2.5: ~3.5 ASCII characters per token, Hangul ~1 each)."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return int(ascii_chars / 3.2 + (len(text) - ascii_chars) * 1.1) + 1


def messages_tokens(messages: list[dict]) -> int:
    return sum(estimate_tokens(m["content"]) + 5 for m in messages) + 3  # + ChatML markers per message


def compact_schema(engine) -> str:
    """The engine's schema text without per-product lead times, prices and Korean names (the question's
    products are resolved to ids before the prompt is built, and lead time and price are columns)."""
    full = engine.schema_text()
    ds = getattr(engine, "ds", None)
    if ds is None or "Products (" not in full:
        return full
    lines, skipping = [], False
    for line in full.splitlines():
        if line.startswith("Products ("):
            names = ", ".join(f"{row['Product_ID']} {row['SubCategory']}"
                              for row in ds.products.select("Product_ID", "SubCategory").iter_rows(named=True))
            lines.append(f"Products (Product_ID SubCategory): {names}.")
            skipping = True
            continue
        if skipping and line.startswith("  "):
            continue
        skipping = False
        if line.startswith(("  products.SubCategory:", "  stores.City:")):
            continue  # the same names as the Products line above; city names are written as spoken
        lines.append(line)
    return "\n".join(lines)


def build_sql_prompt(question: str, engine, entities: Entities, budget: int = PROMPT_TOKEN_BUDGET) -> list[dict]:
    """Chat messages (system + few-shot + the question) asking for one SELECT, within ``budget`` tokens.

    Everything before the question is the same for every question (prompt-cache friendly); when the
    prompt is over the budget, few-shot examples are dropped first, then the question's hints.
    """
    system = SYSTEM_RULES + "\n\n" + compact_schema(engine)
    hints = []
    if entities.stores:
        hints.append(f"stores: {', '.join(map(str, entities.stores))} (Store_ID)")
    if entities.products:
        names = []
        ds = getattr(engine, "ds", None)
        for p in entities.products:
            try:
                names.append(f"{p} = {ds.product(p)['SubCategory']}")
            except Exception:  # no dataset or an unknown id: the id alone
                names.append(str(p))
        hints.append(f"products: {', '.join(names)} (Product_ID)")
    if entities.start and entities.end:
        hints.append(f"period: {entities.start.isoformat()} to {entities.end.isoformat()} ({entities.period_label})")
    if entities.top_n:
        hints.append(f"top {entities.top_n}")
    content = question.strip()
    if entities.normalized and entities.normalized != question.strip():
        content += f"\n(in English terms: {entities.normalized})"
    # The examples are chosen once for every question (against the budget less a reserve for the question),
    # so the prefix stays identical and llama.cpp's prompt cache reuses it; then only the hints are trimmed.
    shots = [FEW_SHOT[i] for i in PROMPT_SHOTS]
    prefix = _prefix(system, shots)
    while shots and messages_tokens(prefix) > budget - QUESTION_RESERVE:
        shots = shots[:-1]
        prefix = _prefix(system, shots)
    while True:
        text = content + ("\nResolved from the question: " + "; ".join(hints) + "." if hints else "")
        messages = [*prefix, {"role": "user", "content": text}]
        if messages_tokens(messages) <= budget or not hints:
            return messages
        hints = hints[:-1]


def _prefix(system: str, shots) -> list[dict]:
    messages = [{"role": "system", "content": system}]
    for q, sql in shots:
        messages.append({"role": "user", "content": q})
        messages.append({"role": "assistant", "content": f"```sql\n{sql}\n```"})
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
