"""Ask the data: a chat over the tables and the documents built from them, in English or Korean."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import polars as pl
import streamlit as st

from engine.access.guard import allowed
from engine.access.index import rebuild_index
from engine.ask.answer import Answer, ask_stream, index_status
from engine.ask.models import DEFAULT_LOCAL_MODEL, MODELS
from ui_common import APP_TITLE, current_user, require_dataset

st.set_page_config(page_title=f"Ask the data · {APP_TITLE}", layout="wide")
st.title("Ask the data")
st.caption("Numbers come from SQL over the tables (shown under each answer); explanations come from documents built "
           "from the data, cited by title. Ask in English or 한국어, e.g. *What did store 44 sell of product 3 last "
           "week?* or *3월 12번 상품 판매량 합계는?*")

ds = require_dataset()
folder = Path(ds.folder).resolve()

# ---------------------------------------------------------------- sidebar: backend
BACKENDS = {"local": "Local model (llama.cpp, offline)", "openai": "OpenAI-compatible endpoint",
            "transformers": "transformers (KMART_HF_MODEL; 4-bit on a GPU)", "none": "None: SQL templates and retrieval only"}
kind = st.sidebar.radio("Language model", list(BACKENDS), format_func=BACKENDS.get, key="backend",
                        index=list(BACKENDS).index(os.environ.get("KMART_ASK_BACKEND", "local")))
settings: dict = {}
if kind == "local":
    names = list(MODELS)
    settings["model"] = st.sidebar.selectbox("Local model", names, index=names.index(os.environ.get("KMART_LOCAL_MODEL", DEFAULT_LOCAL_MODEL)),
                                             format_func=lambda n: MODELS[n].title, key="local_model")
elif kind == "openai":
    def _secret(name: str) -> str | None:
        try:
            return st.secrets.get(name)
        except Exception:  # no secrets file
            return None

    settings["base_url"] = st.sidebar.text_input("Base URL", value=_secret("KMART_OPENAI_BASE_URL") or os.environ.get("KMART_OPENAI_BASE_URL", ""),
                                                 placeholder="http://127.0.0.1:8080/v1", key="base_url")
    settings["model"] = st.sidebar.text_input("Model", value=_secret("KMART_OPENAI_MODEL") or os.environ.get("KMART_OPENAI_MODEL", ""),
                                              placeholder="required (or KMART_OPENAI_MODEL)", key="openai_model") or None
    typed = st.sidebar.text_input("API key", type="password", key="api_key", placeholder="from secrets or KMART_OPENAI_API_KEY",
                                  help="Kept only in this browser session; never shown, logged or written to disk.")
    settings["api_key"] = typed or _secret("KMART_OPENAI_API_KEY") or None  # None: the environment's key
    settings["timeout"] = st.sidebar.number_input("Timeout (s)", 5, 600, 60, key="timeout")

# ---------------------------------------------------------------- sidebar: index
st.sidebar.subheader("Document index")
status_box = st.sidebar.empty()
if allowed(current_user(), "rebuild_index") and st.sidebar.button("Rebuild index", key="rebuild", help="Builds the documents from the data, forecasts and orders again "
                                                           "and updates only what changed."):
    bar = st.sidebar.progress(0.0, text="Building documents…")

    def progress(done: int, total: int, message: str) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, text=message)

    try:
        rebuild_index(current_user(), folder, ds, progress=progress)
        bar.progress(1.0, text="Index up to date")
    except (ValueError, OSError, RuntimeError) as exc:
        bar.empty()
        st.sidebar.error(exc.args[0] if exc.args else str(exc))
try:
    status = index_status(folder)
    status_box.caption(f"{status.get('documents', 0)} documents"
                       + (f" · updated {status['updated_at']}" if status.get("updated_at") else "")
                       + ("" if status.get("current", True) else " · out of date: rebuild it"))
except (ValueError, OSError, RuntimeError) as exc:
    status_box.warning(exc.args[0] if exc.args else str(exc))


# ---------------------------------------------------------------- chat
def draw_details(answer: dict) -> None:
    for note in answer.get("notes") or []:
        st.warning(note)
    st.caption(f"{answer['route'].upper()} · backend {answer['backend']}{' · ' + answer['model'] if answer.get('model') else ''}"
               f" · {answer['seconds']:.2f} s")
    if not (answer.get("sql") or answer.get("passages")):
        return
    with st.expander("Where this comes from", expanded=False):
        if answer.get("sql"):
            st.markdown("**SQL** (read-only, checked by the guard)")
            st.code(answer["sql"], language="sql", wrap_lines=True)
            if answer.get("rows"):
                st.dataframe(pl.DataFrame(answer["rows"], infer_schema_length=None), hide_index=True, width="stretch")
            else:
                st.caption("The query returned no rows.")
        for i, p in enumerate(answer.get("passages") or [], 1):
            st.markdown(f"**[{i}] {p['title']}** · `{p['id']}` · score {p['score']:.3f}")
            if p.get("flagged"):  # retrieved text is data: a document that tries to instruct is not quoted
                st.warning("This document contains instructions addressed to the model; they were ignored.")
            else:
                st.caption(p["text"][:1200])


history: list[dict] = st.session_state.setdefault("ask_history", [])
for turn in history:
    with st.chat_message("user"):
        st.markdown(turn["question"])
    with st.chat_message("assistant"):
        st.markdown(turn["answer"]["answer"])
        draw_details(turn["answer"])

question = st.chat_input("Ask about sales, stores, products, orders… (English or 한국어)", key="question")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        placeholder = st.empty()
        final: dict = {}

        def tokens():
            for item in ask_stream(question, folder, backend=kind, **settings):
                if isinstance(item, Answer):
                    final["answer"] = item
                else:
                    yield item

        try:
            with placeholder.container(), st.spinner("Thinking…"):
                st.write_stream(tokens())
        except (ValueError, OSError) as exc:
            placeholder.error(exc.args[0] if exc.args else str(exc))
            st.stop()
        answer = asdict(final["answer"])
        placeholder.markdown(answer["answer"])  # the checked final text replaces what was streamed
        draw_details(answer)
    history.append({"question": question, "answer": answer})
