"""Hybrid retrieval for "Ask the data": BM25 + dense (e5) fused by reciprocal rank.

- BM25 runs over every chunk's full text with Korean-aware tokens (``engine.ask.tokenize``:
  Hangul character bigrams, whole Latin words and numbers). It is built from the chunks stored in
  Chroma (a Chroma-backed LlamaIndex docstore is empty) and rebuilt when the index changes.
- Dense: the question's e5 vector against the chunk vectors in Chroma.
- Reciprocal-rank fusion: score = sum over the two rankings of 1 / (60 + rank), plus a small bonus
  for chunks about exactly the store / product the question names.
- Metadata filters: when the question names stores, products or a period (``entities`` with
  ``.stores``, ``.products``, ``.start``, ``.end``), chunks about other stores / products or about a
  period that does not overlap are left out; chunks about no particular store, product or period
  (definitions, cards) always stay in.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from engine.ask.index import NO_ID, plain_metadata
from engine.ask.tokenize import tokenize
from engine.ask.embeddings import embed_query

RRF_K = 60
CANDIDATES = 50
EXACT_BONUS = 0.004  # per named store / product the chunk is about (one RRF rank-1 vote is 1/61 = 0.016)
# a definition (KPI, rule, table) whose subject the question names in full: "why is the SAFETY STOCK
# of product 42 so high?" should bring the safety-stock definition up next to the product's card
CONCEPT_BONUS = 0.025
# the card of exactly the store / product the question names, when it names no period ("tell me about
# product 12"): a question without a period is about the whole history, which is what the card covers
CARD_BONUS = 0.008


@dataclass
class Passage:
    id: str  # the document id (the chunk is metadata["chunk_id"])
    title: str
    text: str
    score: float
    metadata: dict = field(default_factory=dict)


@dataclass
class SimpleEntities:
    """What the question names, when ``engine.ask.entities`` is not there to say it."""

    stores: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None
    language: str = "en"
    normalized: str = ""


_STORE = re.compile(r"\bstores?\s*#?\s*(\d{1,4})\b|(\d{1,4})\s*(?:번\s*)?(?:매장|호점|점포)", re.I)
_PRODUCT = re.compile(r"\bproducts?\s*#?\s*(\d{1,4})\b|(\d{1,4})\s*번?\s*(?:상품|제품)", re.I)
_YEAR_MONTH = re.compile(r"\b(20\d\d)[-/.](\d{1,2})\b|(20\d\d)\s*년\s*(\d{1,2})\s*월")
_YEAR = re.compile(r"\b(20\d\d)\b|(20\d\d)\s*년")


def simple_entities(question: str) -> SimpleEntities:
    """Stores, products and a year or month named in the question (a small fallback extractor)."""
    stores = sorted({int(a or b) for a, b in _STORE.findall(question)})
    products = sorted({int(a or b) for a, b in _PRODUCT.findall(question)})
    start = end = None
    ym = _YEAR_MONTH.search(question)
    if ym:
        y, m = int(ym.group(1) or ym.group(3)), int(ym.group(2) or ym.group(4))
        if 1 <= m <= 12:
            start = dt.date(y, m, 1)
            end = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
    else:
        y = _YEAR.search(question)
        if y:
            year = int(y.group(1) or y.group(2))
            start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    hangul = bool(re.search(r"[\uac00-\ud7a3]", question))
    return SimpleEntities(stores, products, start, end, "ko" if hangul else "en", question)


def question_entities(question: str, ds=None):
    """``engine.ask.entities.extract_entities`` when that module and a data set are there, else
    ``simple_entities``."""
    if ds is not None:
        try:
            from engine.ask.entities import extract_entities
        except ImportError:
            pass
        else:
            return extract_entities(question, ds)
    return simple_entities(question)


class BM25:
    """Okapi BM25 over token lists (k1 = 1.2, b = 0.75) with an inverted index."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75):
        self.n = len(docs)
        self.k1, self.b = k1, b
        self.lengths = np.array([len(d) for d in docs], dtype=float)
        self.avg = float(self.lengths.mean()) if self.n else 0.0
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        tmp: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, d in enumerate(docs):
            for tok, tf in Counter(d).items():
                tmp[tok].append((i, tf))
        for tok, rows in tmp.items():
            idx = np.array([r[0] for r in rows], dtype=np.int64)
            tf = np.array([r[1] for r in rows], dtype=float)
            self.postings[tok] = (idx, tf)

    def idf(self, token: str) -> float:
        df = len(self.postings[token][0]) if token in self.postings else 0
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: list[str]) -> np.ndarray:
        out = np.zeros(self.n)
        if not self.n:
            return out
        norm = self.k1 * (1 - self.b + self.b * self.lengths / (self.avg or 1.0))
        for tok, qtf in Counter(query).items():
            if tok not in self.postings:
                continue
            idx, tf = self.postings[tok]
            out[idx] += qtf * self.idf(tok) * tf * (self.k1 + 1) / (tf + norm[idx])
        return out


class _Searcher:
    """BM25 over the chunks of one index state."""

    def __init__(self, chunks: list[tuple[str, str, dict]]):
        self.ids = [c[0] for c in chunks]
        self.texts = [c[1] or "" for c in chunks]
        self.metas = [c[2] or {} for c in chunks]
        self.position = {cid: i for i, cid in enumerate(self.ids)}
        self.bm25 = BM25([tokenize(f"{m.get('title', '')}\n{t}") for t, m in zip(self.texts, self.metas)])
        self.store = np.array([int(m.get("store", NO_ID)) for m in self.metas], dtype=np.int64)
        self.product = np.array([int(m.get("product", NO_ID)) for m in self.metas], dtype=np.int64)
        self.start = np.array([int(m.get("start", 0)) for m in self.metas], dtype=np.int64)
        self.end = np.array([int(m.get("end", 99991231)) for m in self.metas], dtype=np.int64)

        self.concepts = [concept_phrases(m, t) for t, m in zip(self.texts, self.metas)]


_TABLE_WORDS = ("table", "columns", "column", "테이블", "컬럼", "칼럼")


def concept_phrases(meta: dict, text: str = "") -> list[frozenset[str]]:
    """Token sets naming what a definition document is about, from its title: "KPI: safety stock
    (안전 재고)" -> {safety, stock}, {안전, 재고}; a data-dictionary table "sales" -> {sales, table},
    {sales, columns}, and its Korean names (from the text's first line) with 테이블. Other documents
    have none."""
    if (meta.get("source") or "") != "dictionary":
        return []
    title = str(meta.get("title") or "")
    table = meta.get("table")
    phrases: list[str] = []
    if table:
        names = [str(table).replace("_", " ")]
        m = re.search(r"\(([^)]*)\)", f"{title}\n{text.splitlines()[0] if text else ''}")  # "Table sales (판매 매출 판매량): ..."
        names += (m.group(1).split() if m else [])
        phrases = [f"{n} {w}" for n in names for w in _TABLE_WORDS]
    else:
        head, _, subject = title.partition(":")
        if head and not re.match(r"\s*(?:kpi|business rule|data dictionary)\b", head, re.I):
            phrases.append(head)  # "The chain: size, period and yearly totals" -> {chain}
        english = re.sub(r"\([^)]*\)", " ", subject)
        phrases += [english] + [part for group in re.findall(r"\(([^)]*)\)", subject) for part in group.split(",")]
    out = []
    for phrase in phrases:
        toks = frozenset(tokenize(phrase)) - {"the", "kpi", "rule"}
        if toks:
            out.append(toks)
    return out


_searchers: dict[int, tuple[object, _Searcher]] = {}


def _searcher(index) -> _Searcher:
    chunks = index.chunks()
    cached = _searchers.get(id(index))
    if cached is None or cached[0] is not chunks:
        cached = (chunks, _Searcher(chunks))
        _searchers[id(index)] = cached
    return cached[1]


def _ymd(d) -> int:
    return int(d.strftime("%Y%m%d"))


def _filters(entities) -> tuple[list[int], list[int], int | None, int | None]:
    if entities is None:
        return [], [], None, None
    stores = [int(s) for s in (getattr(entities, "stores", None) or [])]
    products = [int(p) for p in (getattr(entities, "products", None) or [])]
    start, end = getattr(entities, "start", None), getattr(entities, "end", None)
    return stores, products, (_ymd(start) if start else None), (_ymd(end) if end else None)


def _mask(s: _Searcher, stores, products, start, end) -> np.ndarray:
    keep = np.ones(len(s.ids), dtype=bool)
    if stores:
        keep &= np.isin(s.store, [*stores, NO_ID])
    if products:
        keep &= np.isin(s.product, [*products, NO_ID])
    if start is not None:
        keep &= s.end >= start
    if end is not None:
        keep &= s.start <= end
    return keep


def _where(stores, products, start, end) -> dict | None:
    parts = []
    if stores:
        parts.append({"store": {"$in": [*stores, NO_ID]}})
    if products:
        parts.append({"product": {"$in": [*products, NO_ID]}})
    if start is not None:
        parts.append({"end": {"$gte": start}})
    if end is not None:
        parts.append({"start": {"$lte": end}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def retrieve(index, question: str, entities=None, top_k: int = 5, dense: bool = True) -> list[Passage]:
    """The ``top_k`` best chunks for ``question`` (BM25 + dense, reciprocal-rank fusion).

    ``entities`` (``.stores``, ``.products``, ``.start``, ``.end``; optional ``.normalized``, the
    question after the KO->EN glossary) restricts the search; None uses ``simple_entities``.
    """
    question = (question or "").strip()
    if not question:
        return []
    if entities is None:
        entities = simple_entities(question)
    s = _searcher(index)
    if not s.ids:
        return []
    stores, products, start, end = _filters(entities)
    keep = _mask(s, stores, products, start, end)
    if not keep.any():  # the question names something the index has nothing about: search everything
        stores, products, start, end = [], [], None, None
        keep = np.ones(len(s.ids), dtype=bool)
    normalized = getattr(entities, "normalized", "") or ""
    query_text = question if not normalized or normalized == question else f"{question}\n{normalized}"

    fused: dict[int, float] = defaultdict(float)
    bm = s.bm25.scores(tokenize(query_text))
    bm[~keep] = 0.0
    order = [i for i in np.argsort(-bm, kind="stable")[:CANDIDATES] if bm[i] > 0]
    for rank, i in enumerate(order):
        fused[int(i)] += 1.0 / (RRF_K + rank + 1)
    if dense:
        vector = embed_query(query_text)
        hits = index.query(vector, CANDIDATES, where=_where(stores, products, start, end))
        for rank, (cid, _sim) in enumerate(hits):
            i = s.position.get(cid)
            if i is not None and keep[i]:
                fused[i] += 1.0 / (RRF_K + rank + 1)
    query_tokens = set(tokenize(query_text))
    for i in np.flatnonzero(keep):  # definitions whose subject the question names join even when ranked low
        if any(phrase <= query_tokens for phrase in s.concepts[i]):
            fused[int(i)] += CONCEPT_BONUS
    named = bool(stores or products)
    for i in list(fused):
        store, product = int(s.store[i]), int(s.product[i])
        bonus = int(bool(stores) and store in stores) + int(bool(products) and product in products)
        if named:
            # a chunk about a store (product) the question does not name is off what was asked:
            # "tell me about product 12" wants the product's card, not "product 12 at store 13" or store 12
            bonus -= int(not stores and store != NO_ID) + int(not products and product != NO_ID)
        fused[i] += EXACT_BONUS * bonus
        source = s.metas[i].get("source")
        if start is None and ((source == "product" and product in products) or (source == "store" and store in stores)):
            fused[i] += CARD_BONUS
    best = sorted(fused.items(), key=lambda kv: (-kv[1], s.ids[kv[0]]))[:top_k]
    out = []
    for i, score in best:
        meta = plain_metadata(s.metas[i])
        meta["chunk_id"] = s.ids[i]
        out.append(Passage(id=meta.get("doc_id", s.ids[i]), title=meta.get("title", ""), text=s.texts[i], score=round(score, 5), metadata=meta))
    return out
