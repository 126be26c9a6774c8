"""Retrieval: Korean-aware tokens, BM25, and hit@5 on a fixed question set over the demo chain."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.ask.documents import NO_ID, document
from engine.ask.entities import Entities, extract_entities
from engine.ask.retrieval import TOKEN_PATTERN, retrieve

# documents with a period of their own (the data's documents span the whole data set)
PLANS = [document(f"note:plan-{year}", f"Promotion plan {year} for store 44", f"Store 44 promotion plan for {year}.",
                  "upload", store=44, start=dt.date(year, 1, 1), end=dt.date(year, 12, 31)) for year in (2016, 2017)]


@pytest.fixture(scope="module")
def ask_index(demo, demo_dir, tmp_path_factory):
    """An index of every demo document plus the two plans; built once for this module."""
    from engine.ask.documents import build_documents
    from engine.ask.index import AskIndex

    docs = build_documents(demo, tmp_path_factory.mktemp("ask-state")) + PLANS
    index = AskIndex.open(demo_dir, path=tmp_path_factory.mktemp("ask-index"))
    counts = index.update(docs)
    assert counts["added"] == len(docs) and index.status()["documents"] == len(docs)
    return index


# (question, acceptable document ids). Written from what each document is about, not from output.
QUESTIONS = [
    ("What is the lead time of product 3?", {"product:3"}),
    ("3번 상품의 리드타임은 며칠이야?", {"product:3"}),
    ("How is the average daily inventory value calculated?", {"dictionary:kpi:inventory-value"}),
    ("재고 회전율은 어떻게 계산해?", {"dictionary:kpi:turnover"}),
    ("What does fill rate mean?", {"dictionary:kpi:fill-rate"}),
    ("결품으로 인한 판매 손실이란?", {"dictionary:kpi:lost-sales"}),
    ("Why is the safety stock of product 42 so high?", {"dictionary:kpi:safety-stock", "dictionary:rule:safety-stock-methods"}),
    ("When do stores close and when is the order placed?", {"dictionary:rule:daily-cycle"}),
    ("매장은 몇 시에 문을 닫고 발주는 언제 해?", {"dictionary:rule:daily-cycle"}),
    ("How is the recommended order quantity calculated?", {"dictionary:rule:order-up-to"}),
    ("What columns does the orders table have?", {"dictionary:table:orders"}),
    ("Which city is store 44 in?", {"store:44"}),
    ("44번 매장은 어느 도시에 있어?", {"store:44"}),
    ("Which stores are neighbours of store 20?", {"store:20"}),
    ("Weekday pattern of product 22", {"product:22"}),
    ("Which forecasting models are available?", {"dictionary:rule:forecasting"}),
    ("How many stores does the chain have?", {"chain"}),
    ("What is the price of snacks?", {"product:42"}),
    ("음료 상품의 가격은?", {"product:3"}),
    ("What is WAPE?", {"dictionary:kpi:forecast-error"}),
    ("충족률이 뭐야?", {"dictionary:kpi:fill-rate"}),
    ("안전 재고는 왜 필요하고 어떻게 정해?", {"dictionary:kpi:safety-stock", "dictionary:rule:safety-stock-methods"}),
    ("42번 상품의 요일별 판매 패턴", {"product:42"}),
    ("어떤 수요 예측 모델을 쓸 수 있어?", {"dictionary:rule:forecasting"}),
    ("전체 체인에 매장이 몇 개야?", {"chain"}),
    # a product named in Korean ("12번") must reach the product filter and find the product's own card
    ("12번 상품에 대해 알려 주세요.", {"product:12"}),
    ("Tell me about product 12.", {"product:12"}),
    ("22번 상품은 어떤 상품인가요?", {"product:22"}),
    # "why ... safety stock" of one product: the definition (and the product's card) explain it
    ("Why is product 3's safety stock so high?", {"dictionary:kpi:safety-stock", "dictionary:rule:safety-stock-methods"}),
    ("42번 상품의 안전 재고가 왜 이렇게 높아?", {"dictionary:kpi:safety-stock", "dictionary:rule:safety-stock-methods"}),
    ("Why is the safety stock of product 42 so high?", {"product:42"}),
    # where the data lives: the data dictionary's tables
    ("What are the columns of the sales table?", {"dictionary:table:sales"}),
    ("판매 테이블에는 어떤 컬럼이 있어?", {"dictionary:table:sales"}),
    ("유가 데이터는 어떤 테이블에 있나요?", {"dictionary:table:oil_price"}),
    ("Which columns are in the stores table?", {"dictionary:table:stores"}),
]


def tokenize(text: str) -> list[str]:
    import bm25s

    return bm25s.tokenize(text, token_pattern=TOKEN_PATTERN, return_ids=False, show_progress=False)[0]


def test_korean_tokens_keep_matching_with_particles():
    assert tokenize("해운대점") == ["해운", "운대", "대점"]
    with_particle = tokenize("해운대점은")
    assert set(tokenize("해운대점")) <= set(with_particle)
    assert tokenize("Store_44 sold 1,250 units of GROCERY I in 2017-03") == ["store", "44", "sold", "1", "250", "units", "grocery", "i", "2017", "03"]
    assert tokenize("상") == ["상"] and tokenize("상품 1.5 v.2 abc.def") == ["상품", "1.5", "v.2", "abc", "def"]


def test_bm25_finds_the_korean_store_despite_particles():
    """LlamaIndex's BM25Retriever with the product's tokens; its own regex tokens would miss."""
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    from engine.ask.retrieval import _classes

    docs = ["해운대점 매출 요약: 3월 판매량", "서면점 매출 요약: 3월 판매량", "Store 44 sales summary for March"]
    nodes = [TextNode(id_=f"d{i}", text=d) for i, d in enumerate(docs)]
    korean = _classes()[0](nodes=nodes, similarity_top_k=3)
    found = korean.retrieve("해운대점은 3월에 얼마나 팔았어?")
    assert [n.node.node_id for n in found][:2] == ["d0", "d1"]
    assert found[0].score > found[1].score > 0  # the shared words still count, the store name decides
    plain = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=3).retrieve("해운대점은 3월에 얼마나 팔았어?")
    assert not [n for n in plain if n.node.node_id == "d0" and n.score > 0]  # whole-word tokens miss it


def test_entities_without_a_data_set_read_korean_and_english_names():
    """What retrieve() filters on when it is given no entities: read from the question alone."""
    e = extract_entities("2017년 3월 44번 매장 12번 상품 판매량", None, last=dt.date(2017, 3, 31))
    assert (e.stores, e.products, str(e.start), str(e.end), e.language) == ([44], [12], "2017-03-01", "2017-03-31", "ko")
    e = extract_entities("What did store 7 sell of products 3 in 2016?", None, last=dt.date(2017, 3, 31))
    assert (e.stores, e.products, str(e.start), str(e.end)) == ([7], [3], "2016-01-01", "2016-12-31")
    assert extract_entities("what is fill rate", None).stores == []
    e = extract_entities("44번 매장 지난주 판매량", None, last=dt.date(2017, 3, 31))  # relative to the last day given
    assert (str(e.start), str(e.end)) == ("2017-03-20", "2017-03-26")
    assert extract_entities("44번 매장 지난주 판매량", None).start is None  # no last day: no period


def test_hit_at_5_on_the_question_set(ask_index):
    misses = []
    for question, expected in QUESTIONS:
        ids = [p.id for p in retrieve(ask_index, question, top_k=5)]
        if not expected & set(ids):
            misses.append((question, ids))
    hit = 1 - len(misses) / len(QUESTIONS)
    assert len(QUESTIONS) >= 20
    assert hit >= 0.9, f"hit@5 = {hit:.2f}; misses: {misses}"


def test_hit_at_5_with_the_entities_and_glossary_of_the_answer_pipeline(ask_index, demo):
    """As engine.ask.answer calls it: the glossary-normalized question plus extract_entities."""
    from engine.ask.entities import extract_entities

    misses = []
    for question, expected in QUESTIONS:
        entities = extract_entities(question, demo)
        ids = [p.id for p in retrieve(ask_index, entities.normalized, entities=entities, top_k=5)]
        if not expected & set(ids):
            misses.append((question, entities.normalized, ids))
    assert 1 - len(misses) / len(QUESTIONS) >= 0.9, misses


def test_filters_keep_other_stores_out_and_passages_carry_metadata(ask_index):
    passages = retrieve(ask_index, "What did store 44 sell of product 3 in 2016?", top_k=8)
    assert passages and len(passages) <= 8
    for p in passages:
        assert p.metadata["store"] in (NO_ID, 44)
        assert p.metadata["product"] in (NO_ID, 3)
        assert p.metadata["end"] >= 20160101
        assert p.text and p.title and p.node.node_id.startswith(p.id + "#")
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    # a period keeps out the documents whose own period does not overlap it
    plans = [p.id for p in retrieve(ask_index, "Promotion plan of store 44 in 2017", top_k=8)]
    assert "note:plan-2017" in plans and "note:plan-2016" not in plans
    plans = [p.id for p in retrieve(ask_index, "2016년 44번 매장 promotion plan", top_k=8)]
    assert "note:plan-2016" in plans and "note:plan-2017" not in plans
    # an entities object from the caller wins over the question's own words
    only_15 = retrieve(ask_index, "store card and its neighbours", entities=Entities(stores=[15]), top_k=5)
    assert all(p.metadata["store"] in (NO_ID, 15) for p in only_15)
    assert "store:15" in [p.id for p in only_15]


def test_empty_question_and_unknown_store_fall_back(ask_index):
    assert retrieve(ask_index, "   ") == []
    passages = retrieve(ask_index, "What is the lead time of product 3 at store 999?")
    assert "product:3" in [p.id for p in passages]


def test_a_product_question_puts_the_product_card_before_store_documents(ask_index, demo):
    from engine.ask.entities import extract_entities

    for question in ("12번 상품에 대해 알려 주세요.", "Tell me about product 12."):
        e = extract_entities(question, demo)
        assert e.products == [12] and e.stores == []
        passages = retrieve(ask_index, e.normalized, entities=e, top_k=5)
        assert passages[0].id == "product:12", [p.id for p in passages]
        assert not [p.id for p in passages if p.metadata["store"] != NO_ID and p.metadata["product"] == NO_ID]
