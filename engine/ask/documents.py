"""Documents for "Ask the data": what retrieval searches, built from the data and the uploaded files.

Numbers of a period come from read-only SQL (every numeric answer shows its query), so no document
restates them: confirmed orders live in the ``order_lines`` table and the saved models' scores on the
Forecast page. The cards say what a store or product is, with figures computed here with polars.
Kinds (``metadata["source"]``): ``dictionary`` (the tables and columns, the chain's size and period, the
KPI definitions and business rules of ``definitions.md``), ``store`` / ``product`` cards and ``upload``
(TXT, MD and PDF files in ``<state>/uploads/``). Each is a LlamaIndex ``Document`` (id ``store:44`` ...)
whose flat metadata Chroma can keep and filter on: ``title``, ``source``, ``store`` and ``product`` (-1
when about none), ``start`` and ``end`` (yyyymmdd ints, 0 / 99991231 when open); ``split_document``
cuts it into ``TextNode`` chunks that keep it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from engine.ask.glossary import CATEGORY_KO, PRODUCT_KO
from engine.data.schema import HOLIDAYS, TABLES

if TYPE_CHECKING:
    from llama_index.core.schema import Document, TextNode

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_CHUNK_CHARS = 1500
USER_SUFFIXES = (".txt", ".md", ".markdown", ".pdf")
DEFINITIONS = Path(__file__).with_name("definitions.md")  # KPI definitions and business rules (prose, not code)
NO_ID, NO_START, NO_END = -1, 0, 99991231  # metadata for "not about one store / product", an open period

# Korean words, so that keyword search finds Korean questions even before the glossary runs: each
# table's Dataset attribute and Korean names (product names come from the glossary).
TABLE_WORDS = {"sales": ("sales", "판매 매출 판매량"), "products": ("products", "상품 제품"),
               "stores": ("stores", "매장 점포"), "orders": ("visits", "고객 수 방문객"),
               "oil_price": ("oil_price", "유가 원유 가격"), "holidays": ("holidays", "공휴일 휴일")}


def document(doc_id: str, title: str, text: str, source: str, store=None, product=None, start=None, end=None,
             **extra) -> Document:
    """A LlamaIndex ``Document`` with the metadata above; only its title goes with its text into keyword
    search and chunk sizes."""
    from llama_index.core.schema import Document

    meta = {"title": title, "source": source, "store": NO_ID if store is None else int(store),
            "product": NO_ID if product is None else int(product),
            "start": int(f"{start:%Y%m%d}") if start else NO_START, "end": int(f"{end:%Y%m%d}") if end else NO_END,
            **extra}
    hidden = [k for k in [*meta, "doc_hash"] if k != "title"]
    return Document(id_=doc_id, text=text, metadata=meta, excluded_embed_metadata_keys=hidden,
                    excluded_llm_metadata_keys=hidden)


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
        docs.append(document(f"dictionary:table:{table.name}", f"Data dictionary: table {table.name}",
                             "\n".join(lines), "dictionary", table=table.name))
    for section in re.split(r"(?m)^## ", DEFINITIONS.read_text(encoding="utf-8"))[1:]:
        head, _, body = section.partition("\n")
        key, _, title = head.partition(" | ")
        docs.append(document(f"dictionary:{key.strip()}", title.strip(), " ".join(body.split()), "dictionary"))
    return docs


def _ranked(sales: pl.DataFrame, by: str, measure: str = "Value", rank: str = "rank") -> pl.DataFrame:
    """Qty and Value per store (or product), biggest ``measure`` first, with its ``rank`` (1 = biggest)."""
    return (sales.group_by(by).agg(pl.col("Qty", "Value").sum())
            .sort(measure, by, descending=[True, False]).with_row_index(rank, offset=1))


def _chain_document(ds, sales: pl.DataFrame) -> Document:
    text = (f"The K-Mart chain (전체 체인) in this data set: {len(ds.store_ids)} stores and {len(ds.product_ids)} "
            f"products, sales from {ds.start} to {ds.end}. Total {fmt_qty(sales['Qty'].sum())} units, "
            f"{fmt_money(sales['Value'].sum())}.")
    return document("chain", "The chain: size and period", text, "dictionary", start=ds.start, end=ds.end)


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
            f"Store {s} ({s}번 매장 {s}호점) is a type {c['Store_Type']} store in {city}, {c['State']}.",
            f"Size: rank {c['rank']} of {cards.height} stores by sales value ({fmt_money(c['Value'])}, "
            f"{fmt_qty(c['Qty'])} units from {ds.start} to {ds.end}); 1 is the biggest.",
            *([f"Customers: {fmt_qty(c['Customers'])} customer visits in {c['Days']:,} days, on average "
               f"{c['Customers'] / c['Days']:,.0f} per day (rank {c['by_visits']} of {visits.height} by customers)."]
              if c["Days"] else []),
            f"Selling days: {c['days']:,} of {(ds.end - ds.start).days + 1:,}; first sale {c['first']}, "
            f"last sale {c['last']}" + (f" (opened later than the chain start {ds.start})." if late else "."),
            f"Neighbours in {city}: " + (", ".join(f"store {o}" for o in neighbours) or "none") + ".",
        ]
        title = f"Store card: store {s} ({city or '?'}, {c['State'] or '?'})"
        docs.append(document(f"store:{s}", title, "\n".join(lines), "store", store=s, start=ds.start, end=ds.end))
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
        p, n, sub = c["Product_ID"], cards.height, c["SubCategory"] or ""
        ko = " ".join([f"{p}번 상품", *PRODUCT_KO.get(sub.upper(), ())])  # the glossary's names of its SubCategory
        daily = sales.filter(pl.col("Product_ID") == p).group_by("Date").agg(pl.col("Qty").sum())
        months = (daily.group_by(pl.col("Date").dt.month().alias("m")).agg(pl.col("Qty").mean())
                  .sort("Qty", "m", descending=[True, False]))["m"]
        lines = [
            f"Product {p} ({ko}), code {c['Product_Code']}: subcategory {c['SubCategory']}, "
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
        title = f"Product card: product {p}" + (f" ({sub})" if sub else "")
        docs.append(document(f"product:{p}", title, "\n".join(lines), "product", product=p, start=ds.start,
                             end=ds.end))
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
        docs.append(document(f"upload:{path.name}", f"Uploaded document: {path.name}", text, "upload",
                             file=path.name))
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
        docs += _upload_documents(Path(state), errors if errors is not None else [])
    return docs


def split_document(doc: Document, max_chars: int = MAX_CHUNK_CHARS) -> list[TextNode]:
    """Chunks of at most ``max_chars`` characters (LlamaIndex's ``TokenTextSplitter`` counting characters,
    cut at line breaks, a longer line at spaces), ids ``<doc id>#<n>``, each after the first starting with
    "<title> (continued)"; each keeps the document's metadata plus ``doc_hash`` (its document's hash, which
    the index compares on an update) and the document as its SOURCE (``ref_doc_id``)."""
    from llama_index.core.node_parser import TokenTextSplitter

    splitter = TokenTextSplitter(chunk_size=max_chars, chunk_overlap=0, separator="\n", backup_separators=[" "],
                                 tokenizer=list, id_func=lambda n, d: f"{d.id_}#{n}")
    nodes, digest = splitter.get_nodes_from_documents([doc]), doc.hash
    for n, node in enumerate(nodes):
        node.metadata["doc_hash"] = digest
        if n:
            node.set_content(f"{doc.metadata['title']} (continued)\n{node.text}")
    return nodes
