"""`python -m engine ask "question"`: answer a question about the data (SQL for numbers, passages for the rest).

The OpenAI-compatible backend reads KMART_OPENAI_BASE_URL, KMART_OPENAI_MODEL and KMART_OPENAI_API_KEY
from the environment (the key is never printed or written).
"""

from __future__ import annotations

import sys

from engine.ask.answer import ask
from engine.commands._output import format_table, print_json
from engine.data.storage import data_dir


def _ask(args) -> int:
    """Print the checked answer (not streamed: a model reply that fails the number check is never shown)."""
    settings = {k: v for k, v in (("model", args.model), ("base_url", args.base_url)) if v}
    answer = ask(args.question, args.data or data_dir(), backend=args.backend, top_k=args.top_k, **settings)
    if args.json:
        print_json(answer.to_dict())
        return 0
    print(answer.answer + "\n")
    if answer.sql:
        print("SQL:", answer.sql)
        if answer.rows:
            print(format_table(answer.rows[:20]))
    for i, s in enumerate(answer.sources, 1):
        print(f"[{i}] {s['title']} ({s['id']}, score {s['score']:.3f})")
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"({answer.route}, backend {answer.backend}{' ' + answer.model if answer.model else ''}, "
          f"{answer.seconds:.2f} s)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("ask", help="answer a question about the data in English or Korean (numbers from SQL, "
                                   "context from the documents)")
    p.add_argument("question", help='e.g. "What did store 44 sell of product 3 last week?" or "3월 12번 상품 판매량 합계는?"')
    p.add_argument("--data", default=None, help="data folder (default: $KMART_DATA or data/current)")
    p.add_argument("--backend", choices=["local", "openai", "transformers", "none"], default="local",
                   help="local: Qwen2.5 GGUF via llama.cpp (default); openai: an OpenAI-compatible endpoint "
                        "(KMART_OPENAI_BASE_URL/_MODEL/_API_KEY); transformers: KMART_HF_MODEL (a local model folder "
                        "or GGUF; 4-bit NF4 on CUDA, else CPU); none: SQL templates and retrieval only")
    p.add_argument("--model", default=None, help="local model name (qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, "
                   "smollm2-135m) or the endpoint's model, or the transformers model folder / GGUF")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible base URL (default: $KMART_OPENAI_BASE_URL)")
    p.add_argument("--top-k", type=int, default=5, help="passages put into the prompt")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ask)
