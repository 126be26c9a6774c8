"""Documents for "Ask the data": the numbers in them are the data's numbers (checked with polars)."""

from __future__ import annotations

import re

import polars as pl
import pytest
from pypdf import PdfWriter

from engine.ask.documents import NO_END, NO_ID, build_documents, split_document


@pytest.fixture(scope="module")
def docs(demo):
    return {d.id_: d for d in build_documents(demo)}


def q(x: float) -> str:
    return f"{x:,.0f}"


def test_document_set_is_complete_and_sane(demo, docs):
    kinds = {}
    for d in docs.values():
        kinds[d.metadata["source"]] = kinds.get(d.metadata["source"], 0) + 1
        assert set(d.metadata) >= {"title", "source", "store", "product", "start", "end"}
        assert d.text.strip() and d.metadata["title"].strip()
    assert {f"store:{s}" for s in demo.store_ids} <= set(docs)
    assert {f"product:{p}" for p in demo.product_ids} <= set(docs)
    assert {"dictionary:kpi:inventory-value", "dictionary:kpi:turnover", "dictionary:kpi:lost-sales", "dictionary:kpi:fill-rate",
            "dictionary:rule:daily-cycle", "dictionary:rule:order-up-to", "dictionary:rule:safety-stock-methods",
            "dictionary:table:sales"} <= set(docs)
    assert "(opening stock + closing stock) / 2 x 50%" in docs["dictionary:kpi:inventory-value"].text
    assert "21:00" in docs["dictionary:rule:daily-cycle"].text and "22:00" in docs["dictionary:rule:daily-cycle"].text
    assert kinds["store"] == len(demo.store_ids) and kinds["product"] == len(demo.product_ids)
    assert set(kinds) == {"dictionary", "store", "product"}  # numbers per period come from SQL, not documents
    chain = docs["chain"].text
    assert f"{len(demo.store_ids)} stores and {len(demo.product_ids)} products" in chain
    assert f"sales from {demo.start} to {demo.end}" in chain and chain.count("\n") == 0
    assert (docs["chain"].metadata["start"], docs["chain"].metadata["end"]) == (
        int(f"{demo.start:%Y%m%d}"), int(f"{demo.end:%Y%m%d}"))  # yyyymmdd ints, for Chroma's filters
    table = docs["dictionary:table:sales"].metadata
    assert (table["store"], table["product"], table["end"], table["table"]) == (NO_ID, NO_ID, NO_END, "sales")


def test_store_card_numbers(demo, docs):
    valued = demo.sales.join(demo.products.select("Product_ID", "Price"), on="Product_ID").with_columns((pl.col("Qty") * pl.col("Price")).alias("Value"))
    per_store = valued.group_by("Store_ID").agg(pl.col("Qty").sum(), pl.col("Value").sum()).sort("Value", descending=True)
    top = per_store.row(0, named=True)
    assert top["Store_ID"] == 44  # the demo's top store
    card = docs["store:44"]
    assert f"rank 1 of {len(demo.store_ids)} stores" in card.text
    assert f"${top['Value']:,.2f}" in card.text and q(top["Qty"]) in card.text
    customers = demo.visits.filter(pl.col("Store_ID") == 44)["CustomerCount"].sum()
    assert q(customers) in card.text
    city = demo.store(44)["City"]
    neighbours = demo.stores.filter((pl.col("City") == city) & (pl.col("Store_ID") != 44))["Store_ID"].to_list()
    assert f"Neighbours in {city}: " + ", ".join(f"store {n}" for n in sorted(neighbours)) + "." in card.text
    assert card.metadata["store"] == 44 and card.metadata["product"] == NO_ID
    assert card.metadata["title"] == f"Store card: store 44 ({city}, {demo.store(44)['State']})"
    assert "(44번 매장 44호점)" in card.text


def test_product_card_numbers(demo, docs):
    card = docs["product:3"]
    units = demo.sales.filter(pl.col("Product_ID") == 3)["Qty"].sum()
    assert f"Lead time: {demo.lead_time(3)} days" in card.text and demo.lead_time(3) == 2
    assert f"${demo.price(3):,.2f} per unit" in card.text
    assert f"{q(units)} units" in card.text
    assert card.metadata["product"] == 3 and card.metadata["store"] == NO_ID
    sub = demo.products.filter(pl.col("Product_ID") == 3)["SubCategory"][0]
    assert card.metadata["title"] == f"Product card: product 3 ({sub})" and "3번 상품" in card.text


def test_product_card_weekday_pattern_and_safety_stock_sentence(demo, docs):
    """The weekday pattern counts a day without a sales row as 0; the safety stock line quotes no quantity
    (the order sheet sizes it from past forecast errors), only the lead time it covers."""
    card = docs["product:42"].text
    calendar = pl.DataFrame({"Date": pl.date_range(demo.start, demo.end, "1d", eager=True)})
    daily = demo.sales.filter(pl.col("Product_ID") == 42).group_by("Date").agg(pl.col("Qty").sum())
    full = calendar.join(daily, on="Date", how="left").fill_null(0)
    monday = full.filter(pl.col("Date").dt.weekday() == 1)["Qty"].mean()
    assert f"Mon {monday:,.1f} ({100 * monday / full['Qty'].mean():.0f}%)" in card
    line = next(x for x in card.split("\n") if x.startswith("Safety stock"))
    assert re.findall(r"\d+", line) == [str(demo.lead_time(42))]


def make_pdf(text: str) -> bytes:
    """A one-page PDF with a text layer, with a correct cross-reference table."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_user_documents_txt_md_pdf_and_clear_errors(demo, tmp_path):
    up = tmp_path / "state" / "uploads"
    up.mkdir(parents=True)
    (up / "notes.txt").write_text("해운대점은 4월에 리모델링합니다.\nStore 44 runs a promotion.", encoding="utf-8")
    (up / "plan.md").write_text("# Plan\n\n- order more snacks  \n", encoding="utf-8")
    (up / "promo.pdf").write_bytes(make_pdf("Promotion plan for store 44 in April"))
    (up / "memo.txt").write_bytes("44번 매장 냉동고 교체".encode("cp949"))  # Korean Windows encoding
    (up / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (up / "sheet.docx").write_bytes(b"PK\x03\x04")
    (up / ".hidden.txt").write_text("not a document", encoding="utf-8")
    (up / "blob.txt").write_bytes(b"\x00\x01\x02 binary")
    (up / "empty.md").write_text(" \n\t\n", encoding="utf-8")
    for name, password in (("locked.pdf", "secret"), ("scan.pdf", None)):  # a page without a text layer
        writer = PdfWriter()
        writer.add_blank_page(612, 792)
        if password:
            writer.encrypt(password, algorithm="RC4-128")
        writer.write(up / name)
    errors: list[str] = []
    docs = {d.id_: d for d in build_documents(demo, tmp_path / "state", errors=errors) if d.metadata["source"] == "upload"}
    assert sorted(docs) == ["upload:memo.txt", "upload:notes.txt", "upload:plan.md", "upload:promo.pdf"]
    assert "해운대점은 4월에" in docs["upload:notes.txt"].text
    assert docs["upload:plan.md"].text.endswith("- order more snacks")  # trailing blanks go
    assert "Promotion plan for store 44 in April" in docs["upload:promo.pdf"].text
    assert docs["upload:memo.txt"].text == "44번 매장 냉동고 교체"
    assert docs["upload:plan.md"].metadata["file"] == "plan.md"
    assert errors[1].startswith("broken.pdf could not be read as a PDF (") and "\n" not in errors[1]
    assert errors[:1] + errors[2:] == [
        "blob.txt is not a text file (it contains binary data); save it as plain text and add it again.",
        "empty.md is empty; add a file with some text.",
        "locked.pdf is a password-protected PDF; save it without a password and add it again.",
        "scan.pdf has no text layer (it may be a scanned image); add a PDF with selectable text or a TXT/MD file.",
        "sheet.docx is not a TXT, MD or PDF file; convert it to one of those and add it again."]


def test_split_document_keeps_metadata_and_every_line(demo, tmp_path):
    up = tmp_path / "state" / "uploads"
    up.mkdir(parents=True)
    lines = [f"- line {i}: " + "x" * 80 for i in range(60)]
    (up / "ledger-notes.txt").write_text("\n".join(lines), encoding="utf-8")
    (up / "words.txt").write_text("word " * 1000, encoding="utf-8")
    docs = {d.id_: d for d in build_documents(demo, tmp_path / "state")}
    doc = docs["upload:ledger-notes.txt"]
    chunks = split_document(doc, max_chars=1000)
    assert len(chunks) > 1
    assert [c.node_id for c in chunks] == [f"upload:ledger-notes.txt#{i}" for i in range(len(chunks))]
    for i, c in enumerate(chunks):
        assert c.ref_doc_id == doc.id_ and c.metadata == {**doc.metadata, "doc_hash": doc.hash}
        assert len(c.text) <= 1000 + len(doc.metadata["title"]) + 20
        if i:
            assert c.text.startswith("Uploaded document: ledger-notes.txt (continued)\n")
    joined = "\n".join(c.text for c in chunks)
    assert all(line in joined for line in lines)
    assert all(len(c.text) <= 1050 for c in split_document(docs["upload:words.txt"], 1000))
    assert len(split_document(docs["upload:words.txt"], 1000)) > 1
