"""Text-to-SQL: the chat messages that ask a language model for one SELECT, and reading its reply.

The prompt is short (prompt evaluation is most of the latency on CPU): rules, the schema of the tables
the question is about, one or two examples, then the question with what was resolved from it; the part
before the question depends only on the tables, so llama.cpp's prompt cache reuses it.
"""

from __future__ import annotations

import contextlib
import re

from engine.ask.entities import Entities, product_name
from engine.ask.sql_guard import UnsafeSQL

SYSTEM_RULES = (
    "You write ONE DuckDB SQL SELECT statement that answers the question. Use only the tables and columns below "
    "(WITH ... SELECT is fine; never write, attach, copy or read files). Dates: DATE 'YYYY-MM-DD'. A missing sales "
    "row means 0 units. An average also returns count(*) AS days; a ranking also returns the value it ranks by. "
    "Reply with the SQL in a ```sql block only."
)
PROMPT_TOKEN_BUDGET = 620  # tokens (Qwen2.5 tokenizer, estimated) for the whole prompt; most take 300-450
SQL_MAX_TOKENS = 128  # a SELECT for these tables fits in ~30-90 tokens
SQL_STOP = ["\n```"]  # the reply starts with the opening fence; generation ends at the closing one

# one line per table: what a row is, and the rule a model gets wrong without it
TABLE_NOTES = {
    "sales": "units sold (Qty) per store, product and day",
    "products": "SubCategory is the product name; LeadTime days from order to arrival; Price per unit",
    "stores": "store master",
    "visits": "CustomerCount = customer visits of one store on one day (sum it over days or stores); "
              "not purchase orders",
    "oil_price": "WTI oil price, USD per barrel, only on the days it was quoted (an average says over how many: "
                 "count(*) AS days); the price on a day without a row is the last quote before it",
    "order_lines": "confirmed purchase order lines (final_qty units ordered), the latest confirmation of each "
                   "store_id and order_date",
    "forecasts": "demand forecasts of the latest nightly batch (forecast and actual units per store, product, "
                 "target_date)",
}
# which tables a question is about (sales when it names none of the others)
TABLE_WORDS = {
    "visits": r"customer|visit|traffic|footfall|고객|방문|손님",
    "oil_price": r"\boil\b|wti|crude|유가|기름|원유",
    "order_lines": r"\border|ledger|발주|주문",
    "forecasts": r"forecast|predict|예측",
    "products": r"(?<!oil )price|lead ?time|categor|subcategor|product name|가격|단가|리드|카테고리|분류",
    "stores": r"\bcity|cities|\bstate|store type|region|how many (?:different )?stores|number of stores"
              r"|stores (?:are )?in\b(?!\s*\d)|도시|지역|유형|매장(?:은|이)? 몇|매장 수",
    "sales": r"\bsold|\bsell|sales|판매|매출|팔",
}
# small text columns whose exact values go into the prompt (so a model writes State = 'TX', not 'Texas')
CATEGORY_COLUMNS = {"stores": ("State", "City", "Store_Type"), "products": ("Category", "SubCategory")}
CATEGORY_MAX_VALUES = 30

# short examples: (tables they use, question, SQL); the prompt takes the first two whose tables it has
FEW_SHOT = [
    ({"order_lines"}, "Units of product 5 ordered for store 7 in May 2017?",
     "SELECT sum(final_qty) AS total_qty, count(*) AS lines FROM order_lines "
     "WHERE store_id = 7 AND product_id = 5 AND order_date BETWEEN DATE '2017-05-01' AND DATE '2017-05-31'"),
    ({"oil_price"}, "Average oil price in May 2015?",
     "SELECT round(avg(WTI_Price), 2) AS avg_price, count(*) AS days FROM oil_price "
     "WHERE Date BETWEEN DATE '2015-05-01' AND DATE '2015-05-31'"),
    ({"oil_price"}, "Oil price on 2015-05-10?",
     "SELECT Date, WTI_Price FROM oil_price WHERE Date <= DATE '2015-05-10' ORDER BY Date DESC LIMIT 1"),
    ({"visits"}, "Average daily customers of store 7 in May 2015?",
     "SELECT round(avg(CustomerCount), 2) AS avg_customers, count(*) AS days FROM visits "
     "WHERE Store_ID = 7 AND Date BETWEEN DATE '2015-05-01' AND DATE '2015-05-31'"),
    ({"visits"}, "Top 3 stores by customer visits in May 2015?",
     "SELECT Store_ID, sum(CustomerCount) AS visits FROM visits "
     "WHERE Date BETWEEN DATE '2015-05-01' AND DATE '2015-05-31' GROUP BY Store_ID ORDER BY visits DESC LIMIT 3"),
    ({"sales"}, "Compare units of product 3 at store 7 in 2015 and 2016.",
     "SELECT year(Date) AS year, sum(Qty) AS total_qty FROM sales WHERE Store_ID = 7 AND Product_ID = 3 "
     "AND Date BETWEEN DATE '2015-01-01' AND DATE '2016-12-31' GROUP BY year ORDER BY year"),
    ({"sales"}, "2016년 판매량 상위 3개 매장은?",
     "SELECT Store_ID, sum(Qty) AS total_qty FROM sales WHERE Date BETWEEN DATE '2016-01-01' AND DATE '2016-12-31' "
     "GROUP BY Store_ID ORDER BY total_qty DESC LIMIT 3"),
]

# the closing fence may be missing: generation stops at it (SQL_STOP)
_FENCE = re.compile(r"```[ \t]*(?:sql|duckdb|postgresql|sqlite)?[ \t]*\n?(.*?)(?:```|\Z)", re.I | re.S)
_BARE = re.compile(r"(?is)\b((?:with\s+\w+\s+as\s*\(|select\s|from\s+\w+\s+select\s).*)")


def messages_tokens(messages: list[dict]) -> int:
    """A conservative token count of chat messages without a tokenizer (Qwen2.5: ~3.5 ASCII characters a
    token, a Hangul syllable ~1; + the ChatML markers of each message)."""
    total = 3
    for text in (m["content"] for m in messages):
        ascii_chars = sum(ord(ch) < 128 for ch in text)
        total += int(ascii_chars / 3.2 + (len(text) - ascii_chars) * 1.1) + 6
    return total


def build_sql_prompt(question: str, engine, entities: Entities) -> list[dict]:
    """Chat messages asking for one SELECT: the rules, the schema of the question's tables (``table(column
    TYPE, ...) -- meaning``, the data's dates, the exact values of small text columns), one or two examples,
    then the question. Everything before the question is the same for every question about the same tables."""
    text, ds = f"{question} {entities.normalized or ''}".lower(), engine.ds  # the tables its words name, else sales
    picked = {t for t, words in TABLE_WORDS.items() if re.search(words, text)} & set(engine.tables) or {"sales"}
    tables = [t for t in engine.tables if t in picked]
    schema = [f"Tables (data from {ds.start} to {ds.end}):"]
    for name in tables:
        columns = ", ".join(f"{c} {t}" for c, t in engine.tables[name].items())
        schema.append(f"- {name}({columns}) -- {TABLE_NOTES[name]}")
        for column in CATEGORY_COLUMNS.get(name, ()):
            values = sorted(str(v) for v in getattr(ds, name)[column].drop_nulls().unique().to_list())
            if 0 < len(values) <= CATEGORY_MAX_VALUES:
                schema.append(f"  {name}.{column}: {', '.join(repr(v) for v in values)}")
    messages = [{"role": "system", "content": SYSTEM_RULES + "\n\n" + "\n".join(schema)}]
    for _, q, sql in [shot for shot in FEW_SHOT if shot[0] <= set(tables)][:2]:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": f"```sql\n{sql}\n```"}]
    stores = ", ".join(map(str, entities.stores))  # an unknown product id: the id alone
    products = ", ".join(f"{p} = {name}" if (name := product_name(ds, p)) else str(p) for p in entities.products)
    hints = [f"stores: {stores} (Store_ID)" if stores else "", f"products: {products} (Product_ID)" if products else "",
             (f"day: {entities.start}" if entities.start == entities.end else
              f"period: {entities.start} to {entities.end}") if entities.start and entities.end else "",
             f"top {entities.top_n}" if entities.top_n else ""]
    content = question.strip()
    if entities.normalized and entities.normalized != content:
        content += f"\n(in English terms: {entities.normalized})"
    if any(hints):
        content += "\nResolved from the question: " + "; ".join(h for h in hints if h) + "."
    return [*messages, {"role": "user", "content": content}]


def extract_sql(llm_text: str) -> str:
    """The SQL in a model's reply: the first ```sql block, else the text from the first SELECT/WITH."""
    text = (llm_text or "").strip()
    for block in _FENCE.findall(text):
        if block.strip():
            return block.strip()  # a fenced block goes to the guard whole
    if m := _BARE.search(text):
        return _trim(m.group(1))
    raise UnsafeSQL("The model's reply contains no SELECT statement; ask the question again or rephrase it.")


def _trim(sql: str) -> str:
    """The statement without trailing prose: its longest prefix ending at a blank line or after a ";" that
    DuckDB's own parser reads (prose does not parse; a second statement does, so it stays and the guard
    refuses it). A reply that never parses goes to the guard whole, which says why."""
    import duckdb

    text = sql.strip().strip("`").strip()
    ends = {len(text), *(m.start() for m in re.finditer(r"\n\s*\n", text)), *(m.end() for m in re.finditer(";", text))}
    for end in sorted(ends, reverse=True):
        with contextlib.suppress(duckdb.Error):
            duckdb.extract_statements(text[:end])
            return text[:end].strip()
    return text
