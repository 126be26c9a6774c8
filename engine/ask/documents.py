"""Documents for "Ask the data": what retrieval searches, built from the data and the app's outputs.

Numbers of a period come from read-only SQL (every numeric answer shows its query), so no document
restates them; the cards say what a store or product is, with figures computed here with polars.
Kinds (``metadata["source"]``): ``dictionary`` (the tables and columns, the chain's size and period,
the KPI definitions and business rules of ``definitions.md``), ``store`` / ``product`` cards,
``forecast`` (the saved models' evaluation), ``ledger`` (confirmed orders, read through
``OrderLedger(path, read_only=True)``) and ``upload`` (TXT, MD and PDF files in ``<state>/uploads/``).
Metadata on every document: ``source``, ``store`` and ``product`` (int or None), ``period_start`` and
``period_end`` (ISO dates or None); ``split_document`` cuts long texts into chunks that keep it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
from engine.ask.glossary import CATEGORY_KO, PRODUCT_KO
from engine.data.schema import HOLIDAYS, TABLES
from engine.forecasting.store import ModelStore
from engine.ordering.ledger import OrderLedger

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_CHUNK_CHARS = 1500
USER_SUFFIXES = (".txt", ".md", ".markdown", ".pdf")
DEFINITIONS = Path(__file__).with_name("definitions.md")  # KPI definitions and business rules (prose, not code)

# Korean words, so that keyword search finds Korean questions even before the glossary runs: each
# table's Dataset attribute and Korean names, and city names (product names come from the glossary).
TABLE_WORDS = {"sales": ("sales", "판매 매출 판매량"), "products": ("products", "상품 제품"),
               "stores": ("stores", "매장 점포"), "orders": ("visits", "고객 수 방문객"),
               "oil_price": ("oil_price", "유가 원유 가격"), "holidays": ("holidays", "공휴일 휴일")}
KO_CITY = {
    "New York": "뉴욕", "Buffalo": "버펄로", "Los Angeles": "로스앤젤레스", "San Diego": "샌디에이고",
    "San Francisco": "샌프란시스코", "Sacramento": "새크라멘토", "Houston": "휴스턴", "Dallas": "댈러스",
    "Austin": "오스틴", "Chicago": "시카고", "Springfield": "스프링필드", "Miami": "마이애미", "Orlando": "올랜도",
    "Tampa": "탬파", "Seattle": "시애틀", "Denver": "덴버", "Atlanta": "애틀랜타", "Boston": "보스턴",
}


@dataclass
class Document:
    id: str
    title: str
    text: str
    metadata: dict = field(default_factory=dict)  # source, store, product, period_start, period_end

    @property
    def content_hash(self) -> str:
        meta = {k: v for k, v in self.metadata.items() if v is not None}
        payload = json.dumps([self.title, self.text, meta], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _meta(source: str, store=None, product=None, start=None, end=None, **extra) -> dict:
    return {"source": source, "store": None if store is None else int(store),
            "product": None if product is None else int(product), "period_start": None if start is None else str(start),
            "period_end": None if end is None else str(end), **extra}


def fmt_qty(x) -> str:
    """Units as the data has them: whole numbers without decimals, fractions with two."""
    x = float(x or 0.0)
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def fmt_money(x) -> str:
    return f"${float(x or 0.0):,.2f}"


def _dictionary_documents(ds) -> list[Document]:
    """A document per table, and per ``## kind:key | title`` section of ``definitions.md``."""
    docs = []
    for table in [*TABLES.values(), HOLIDAYS]:
        attribute, ko = TABLE_WORDS.get(table.name, ("", ""))
        lines = [f"Table {table.name} ({ko}): {table.meaning}.",
                 f"It has {getattr(ds, attribute).height if attribute else 0:,} rows in this data set "
                 f"({ds.start} to {ds.end}).", *([f"One row per {', '.join(table.key)}."] if table.key else []),
                 "Columns:", *(f"- {c.name} ({c.kind}){': ' + c.meaning if c.meaning else ''}" for c in table.columns)]
        docs.append(Document(f"dictionary:table:{table.name}", f"Data dictionary: table {table.name}",
                             "\n".join(lines), _meta("dictionary", table=table.name)))
    for section in re.split(r"(?m)^## ", DEFINITIONS.read_text(encoding="utf-8"))[1:]:
        head, _, body = section.partition("\n")
        key, _, title = head.partition(" | ")
        docs.append(Document(f"dictionary:{key.strip()}", title.strip(), " ".join(body.split()), _meta("dictionary")))
    return docs


def _store_names(ds, store: int) -> tuple[str, str]:
    """The store's label and its Korean words: ("store 44 (<City>, <State>)", "44번 매장 44호점 <도시>")."""
    s = ds.store(store)
    return (f"store {store} ({s.get('City') or '?'}, {s.get('State') or '?'})",
            f"{store}번 매장 {store}호점 {KO_CITY.get(s.get('City') or '', '')}".strip())


def _product_names(ds, product: int) -> tuple[str, str]:
    """The product's label and its Korean words (the glossary's names of its SubCategory)."""
    sub = ds.products.filter(pl.col("Product_ID") == product)["SubCategory"]
    sub = str(sub[0]) if sub.len() else ""
    return (f"product {product} ({sub})" if sub else f"product {product}",
            f"{product}번 상품 {' '.join(PRODUCT_KO.get(sub.upper(), ()))}".strip())


def _ranked(sales: pl.DataFrame, by: str, measure: str = "Value", rank: str = "rank") -> pl.DataFrame:
    """Qty and Value per store (or product), biggest ``measure`` first, with its ``rank`` (1 = biggest)."""
    return (sales.group_by(by).agg(pl.col("Qty", "Value").sum())
            .sort(measure, by, descending=[True, False]).with_row_index(rank, offset=1))


def _chain_document(ds, sales: pl.DataFrame) -> Document:
    text = (f"The K-Mart chain (전체 체인) in this data set: {len(ds.store_ids)} stores and {len(ds.product_ids)} "
            f"products, sales from {ds.start} to {ds.end}. Total {fmt_qty(sales['Qty'].sum())} units, "
            f"{fmt_money(sales['Value'].sum())}.")
    return Document("chain", "The chain: size and period", text, _meta("dictionary", start=ds.start, end=ds.end))


def _store_cards(ds, sales: pl.DataFrame) -> list[Document]:
    visits = (ds.visits.group_by("Store_ID").agg(Customers=pl.col("CustomerCount").sum(), Days=pl.len())
              .sort("Customers", "Store_ID", descending=[True, False]).with_row_index("by_visits", offset=1))
    spans = sales.group_by("Store_ID").agg(first=pl.col("Date").min(), last=pl.col("Date").max(),
                                           days=pl.col("Date").n_unique())
    cards = (_ranked(sales, "Store_ID").join(spans, on="Store_ID").join(visits, on="Store_ID", how="left")
             .join(ds.stores, on="Store_ID", how="left").sort("Store_ID"))
    docs = []
    for c in cards.iter_rows(named=True):
        s, city = c["Store_ID"], c["City"]
        neighbours = cards.filter((pl.col("City") == city) & (pl.col("Store_ID") != s))["Store_ID"]
        late = c["first"] > ds.start + dt.timedelta(days=7)
        lines = [
            f"Store {s} ({_store_names(ds, s)[1]}) is a type {c['Store_Type']} store in {city}, {c['State']}.",
            f"Size: rank {c['rank']} of {cards.height} stores by sales value ({fmt_money(c['Value'])}, "
            f"{fmt_qty(c['Qty'])} units from {ds.start} to {ds.end}); 1 is the biggest.",
            *([f"Customers: {fmt_qty(c['Customers'])} customer visits in {c['Days']:,} days, on average "
               f"{c['Customers'] / c['Days']:,.0f} per day (rank {c['by_visits']} of {visits.height} by customers)."]
              if c["Days"] else []),
            f"Selling days: {c['days']:,} of {(ds.end - ds.start).days + 1:,}; first sale {c['first']}, "
            f"last sale {c['last']}" + (f" (opened later than the chain start {ds.start})." if late else "."),
            f"Neighbours in {city}: " + (", ".join(f"store {o}" for o in neighbours) or "none") + ".",
        ]
        docs.append(Document(f"store:{s}", f"Store card: {_store_names(ds, s)[0]}", "\n".join(lines),
                             _meta("store", store=s, start=ds.start, end=ds.end)))
    return docs


def _weekday_pattern(ds, daily: pl.DataFrame) -> str:
    """Average units per weekday over every calendar day (a day without sales sold 0), as % of the daily mean."""
    days = pl.DataFrame({"Date": pl.date_range(ds.start, ds.end, "1d", eager=True)})
    full = days.join(daily, on="Date", how="left").with_columns(pl.col("Qty").fill_null(0.0))
    mean = float(full["Qty"].mean() or 0.0)
    by = full.group_by(pl.col("Date").dt.weekday().alias("wd")).agg(pl.col("Qty").mean()).sort("wd")
    return ", ".join(f"{WEEKDAYS[wd - 1]} {q:,.1f} ({100.0 * q / mean if mean else 0.0:.0f}%)"
                     for wd, q in by.iter_rows())


def _product_cards(ds, sales: pl.DataFrame) -> list[Document]:
    by_qty = _ranked(sales, "Product_ID", "Qty", "by_qty").select("Product_ID", "by_qty")
    cards = _ranked(sales, "Product_ID").join(by_qty, on="Product_ID").join(ds.products, on="Product_ID", how="left")
    days = (ds.end - ds.start).days + 1
    docs = []
    for c in cards.sort("Product_ID").iter_rows(named=True):
        p, n = c["Product_ID"], cards.height
        daily = sales.filter(pl.col("Product_ID") == p).group_by("Date").agg(pl.col("Qty").sum())
        months = (daily.group_by(pl.col("Date").dt.month().alias("m")).agg(pl.col("Qty").mean())
                  .sort("Qty", "m", descending=[True, False]))["m"]
        lines = [
            f"Product {p} ({_product_names(ds, p)[1]}), code {c['Product_Code']}: subcategory {c['SubCategory']}, "
            f"category {c['Category']} ({' '.join(CATEGORY_KO.get(c['Category'], ()))}).",
            f"Lead time: {c['LeadTime']} days from order to arrival (리드타임). "
            f"Price: {fmt_money(c['Price'])} per unit (가격).",
            f"Sales level: {fmt_qty(c['Qty'])} units and {fmt_money(c['Value'])} from {ds.start} to {ds.end} in the "
            f"whole chain, {float(c['Qty']) / days:,.1f} units per day; rank {c['by_qty']} of {n} products by units "
            f"and {c['rank']} of {n} by value.",
            f"Weekday pattern, chain-wide average units per weekday (share of the daily mean): "
            f"{_weekday_pattern(ds, daily)}.",
            f"Season: the strongest month of the year is {MONTHS[months[0] - 1]}, the weakest {MONTHS[months[-1] - 1]} "
            "(average units per selling day).",
            f"Safety stock (안전 재고) covers the forecast errors of the {c['LeadTime']} days lead time; the order "
            "sheet sizes it per store from the spread of past forecast errors (see the safety stock methods).",
        ]
        docs.append(Document(f"product:{p}", f"Product card: {_product_names(ds, p)[0]}", "\n".join(lines),
                             _meta("product", product=p, start=ds.start, end=ds.end)))
    return docs


def _wape(meta: dict) -> float:
    """A saved model's cross-validated WAPE (infinite without a score, so it sorts last)."""
    value = (meta.get("cv") or {}).get("score")
    return float(value) if isinstance(value, (int, float)) else float("inf")


def _forecast_documents(ds, state: Path) -> list[Document]:
    """Per store, product and training end: the saved models, best validation WAPE first."""
    groups: dict[tuple, list[dict]] = {}
    for meta in ModelStore(state / "models").saved():
        try:
            groups.setdefault((int(meta["store"]), int(meta["product"]), str(meta["train_end"])), []).append(meta)
        except (ValueError, KeyError, TypeError):
            continue
    docs = []
    for (s, p, train_end), metas in sorted(groups.items()):
        metas.sort(key=lambda m: (_wape(m), m.get("model", "")))
        best, product = metas[0], _product_names(ds, p)[0]
        lines = [f"Forecast model evaluation (예측 모델 평가) for {product} at {_store_names(ds, s)[0]}, models trained "
                 f"on data up to {train_end}, horizons {', '.join(map(str, best.get('horizons', [])))} days ahead.",
                 f"Best model by cross-validated WAPE: {best.get('model')} (WAPE {_wape(best):.1%})."
                 if _wape(best) != float("inf") else "No model has a validation score."]
        for m in metas:
            metrics = [f"{k.upper()} {v:.3f}" for k, v in ((m.get("cv") or {}).get("metrics") or {}).items()
                       if isinstance(v, (int, float))]
            score = f"{_wape(m):.1%}" if _wape(m) != float("inf") else "n/a"
            lines.append(f"- {m.get('model')} params {json.dumps(m.get('params') or {}, sort_keys=True)}: validation "
                         f"WAPE {score}{'; ' if metrics else ''}{', '.join(metrics)}; fitted {m.get('created', '?')} "
                         f"in {float(m.get('fit_seconds') or 0):.1f} s.")
        docs.append(Document(f"forecast:{s}:{p}:{train_end}", f"Forecast evaluation: {product} at store {s} (trained "
                             f"to {train_end})", "\n".join(lines),
                             _meta("forecast", store=s, product=p, start=ds.start, end=train_end)))
    return docs


def _ledger_documents(ds, state: Path, recent_orders: int = 30) -> list[Document]:
    """Per store its last ``recent_orders`` confirmed orders (the latest version of each day), with the reasons of
    the lines the store changed; totals over many days are SQL's (the ``order_lines`` table)."""
    path = state / "ledger.sqlite"
    try:  # the ledger is opened only through OrderLedger, read-only
        history = OrderLedger(path, read_only=True).history() if path.is_file() else None
    except ValueError:
        history = None
    if history is None or history.height == 0:
        return []
    history = history.with_columns(pl.col("order_date").cast(pl.String))
    latest = history.filter(pl.col("version") == pl.col("version").max().over("store_id", "order_date"))
    docs = []
    for (s,), rows in sorted(latest.partition_by("store_id", as_dict=True).items()):
        label = _store_names(ds, s)[0]
        dates = sorted(rows["order_date"].unique().to_list())
        for d in dates[-recent_orders:]:
            day = rows.filter(pl.col("order_date") == d).sort("product_id")
            v, by = int(day["version"][0]), day["confirmed_by"][0]
            body = [f"Confirmed order of {label} for {d} (version {v}, confirmed {day['confirmed_at'][0]}"
                    + (f" by {by}" if by else "") + f"): {day.height} lines, final "
                    f"{fmt_qty(day['final_qty'].sum())} units."]
            body += [f"- {_product_names(ds, p)[0]}: recommended {fmt_qty(r)}, final {fmt_qty(f)}"
                     + (f" ({why})" if why else "")
                     for p, r, f, why in day.select("product_id", "recommended_qty", "final_qty", "reason").rows()]
            docs.append(Document(f"ledger:{s}:{d}", f"Confirmed order: store {s} on {d}", "\n".join(body),
                                 _meta("ledger", store=s, start=d, end=d)))
    return docs


def _read_user_file(path: Path) -> str:
    """The text of a TXT, MD (UTF-8, or Korean Windows cp949) or PDF file, or ValueError with one sentence."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if path.suffix.lower() not in USER_SUFFIXES:
        raise ValueError(f"{path.name} is not a TXT, MD or PDF file; convert it to one of those and add it again.")
    if path.suffix.lower() == ".pdf":
        try:  # a PDF without a user password is decrypted on opening
            text = "\n\n".join((page.extract_text() or "") for page in PdfReader(str(path)).pages)
        except FileNotDecryptedError as exc:
            raise ValueError(f"{path.name} is a password-protected PDF; save it without a password and add it "
                             "again.") from exc
        except (PdfReadError, OSError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path.name} could not be read as a PDF ({type(exc).__name__}); check that the file is a "
                             "complete PDF and add it again.") from exc
        if not text.strip():
            raise ValueError(f"{path.name} has no text layer (it may be a scanned image); add a PDF with selectable "
                             "text or a TXT/MD file.")
        return text
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949", "latin-1"):  # latin-1 decodes any bytes
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if "\x00" in text:
        raise ValueError(f"{path.name} is not a text file (it contains binary data); save it as plain text and add "
                         "it again.")
    if not text.strip():
        raise ValueError(f"{path.name} is empty; add a file with some text.")
    return text


def _upload_documents(state: Path, errors: list[str]) -> list[Document]:
    """Every file in ``<state>/uploads/`` as a document ``upload:<file name>``; a file that cannot be read
    adds its one sentence to ``errors`` and the others are still read."""
    folder, docs = state / "uploads", []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            text = re.sub(r"[ \t]+\n", "\n", _read_user_file(path)).strip()
        except ValueError as exc:
            errors.append(str(exc))
            continue
        docs.append(Document(f"upload:{path.name}", f"Uploaded document: {path.name}", text,
                             _meta("upload", file=path.name)))
    return docs


def build_documents(ds, state: Path | None = None, errors: list[str] | None = None) -> list[Document]:
    """Every document for the index, from the data set and (when given) its state folder; an unreadable
    upload adds a sentence to ``errors`` instead of stopping the others."""
    sales = (ds.sales.join(ds.products.select("Product_ID", "Price"), on="Product_ID", how="left")
             .with_columns((pl.col("Qty") * pl.col("Price").fill_null(0.0)).alias("Value"))
             .select("Date", "Store_ID", "Product_ID", "Qty", "Value"))
    docs = [*_dictionary_documents(ds), _chain_document(ds, sales), *_store_cards(ds, sales),
            *_product_cards(ds, sales)]
    if state is not None:
        docs += _forecast_documents(ds, Path(state)) + _ledger_documents(ds, Path(state))
        docs += _upload_documents(Path(state), errors if errors is not None else [])
    return docs


def split_document(doc: Document, max_chars: int = MAX_CHUNK_CHARS) -> list[Document]:
    """Chunks of at most ``max_chars`` characters (LlamaIndex's ``TokenTextSplitter`` counting characters,
    cut at line breaks, a longer line at spaces), each after the first starting with "<title> (continued)",
    keeping the metadata plus ``doc_id`` and ``chunk``. Chunk ids are ``<doc id>#<n>``."""
    from llama_index.core.node_parser import TokenTextSplitter

    splitter = TokenTextSplitter(chunk_size=max_chars, chunk_overlap=0, separator="\n", backup_separators=[" "],
                                 tokenizer=list)
    return [replace(doc, id=f"{doc.id}#{n}", text=text if n == 0 else f"{doc.title} (continued)\n{text}",
                    metadata={**doc.metadata, "doc_id": doc.id, "chunk": n})
            for n, text in enumerate(t for t in splitter.split_text(doc.text) if t.strip())]
