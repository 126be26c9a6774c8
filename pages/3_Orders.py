"""Orders: at close, check the stock, adjust the recommended orders and confirm them into the ledger (typed counts go
into the stock book at the same time)."""

from __future__ import annotations

import datetime as dt
import uuid

import polars as pl
import streamlit as st

from engine.access.guard import allowed, refusal
from engine.access.orders import confirm_at_close
from engine.batch.summary import batch_order_sheet
from engine.forecasting import CHEAP_MODELS
from engine.ordering.ledger import OrderLedger, default_ledger_path
from engine.ordering.confirmation import (CHANGE_LIMIT, confirmation_lines, confirmation_problems,
                                       confirmation_token, product_names)
from engine.ordering.exceptions import sheet_exceptions
from engine.ordering.fva import after_the_fact, fva_summary
from engine.ordering.sheet import order_sheet
from engine.ordering.sheet_view import (EDITABLE, EDITOR_COLUMNS, buyer_edits, editor_frame, exceptions_text, ledger_view,
                                        sheet_frame, stock_book_sentence)
from engine.ordering.stockbook import StockBook
from ui_common import APP_TITLE, current_user, pick_store, require_dataset, store_label

MODEL_CHOICES = ["auto", *CHEAP_MODELS]

st.set_page_config(page_title=f"Orders · {APP_TITLE}", page_icon="🧾", layout="wide")
st.title("Orders")
st.caption("At close: type the real closing count where it differs (the recommendation follows it; Confirm saves it in the "
           f"stock book), change an order if you must (a change of more than {CHANGE_LIMIT:.0%} needs a short reason), then "
           "**Confirm**. Each order arrives before opening, lead time days later; the stock book receives it then.")

ds = require_dataset()
store = pick_store(ds, key="store")
if "date" not in st.session_state:  # e.g. /Orders?date=2017-03-30 (a bookmark of one close)
    try:
        asked = dt.date.fromisoformat(st.query_params.get("date", ""))
    except ValueError:
        asked = None
    if asked is not None and ds.start <= asked <= ds.end:
        st.session_state["date"] = asked
date = st.sidebar.date_input("Business date (the close)", value=ds.end, min_value=ds.start, max_value=ds.end, key="date")
if st.query_params.get("model") in MODEL_CHOICES and "model" not in st.session_state:
    st.session_state["model"] = st.query_params["model"]  # e.g. /Orders?model=weekday_mean4 (a bookmark)
model = st.sidebar.selectbox("Forecast model", MODEL_CHOICES, key="model",
                             help="auto: the candidate with the lowest validation error per product, trained up to this close "
                                  "(the nightly batch usually has done it; else the first sheet of a close trains them).")
names = product_names(ds)
ledger = OrderLedger(default_ledger_path(ds.folder))
book = StockBook(ledger)


@st.cache_data(max_entries=32, show_spinner="Computing the order sheet… (the first time for a close the forecasting models are trained up to it)")
def sheet_for(fingerprint: str, store: int, date, model: str, stamp: tuple):
    return order_sheet(ds, store, date, model=model)


@st.cache_data(max_entries=256, show_spinner=False)  # a recount reuses the forecasts computed for the sheet: well under a second
def recounted_sheet(fingerprint: str, store: int, date, model: str, counted: tuple, stamp: tuple):
    return order_sheet(ds, store, date, closing_stock=dict(counted), model=model)


editor_key = f"sheet-{store}-{date}"
try:
    stamp = book.stamp(store)
    base = sheet_for(ds.fingerprint, store, date, model, stamp)
except (ValueError, KeyError) as exc:
    st.error(exc.args[0] if exc.args else str(exc))
    st.stop()
products = [line.product for line in base.lines]

# The buyer's edits so far (kept per store and date): the real count wins, so the sheet is recomputed with it.
counted, final, reasons = buyer_edits(st.session_state.get(editor_key, {}).get("edited_rows", {}), products)
try:
    sheet = recounted_sheet(ds.fingerprint, store, date, model, tuple(sorted(counted.items())), stamp) if counted else base
except (ValueError, KeyError) as exc:
    st.error(exc.args[0] if exc.args else str(exc))
    st.stop()
st.subheader(f"Order sheet · store {store_label(ds, store)} · close of {date:%A} {date}")
st.markdown(exceptions_text(sheet_exceptions(sheet, final, book, names)))
st.data_editor(
    editor_frame(base, sheet, final, reasons, names).to_pandas(),
    key=editor_key, num_rows="fixed", hide_index=True, width="stretch", height=min(38 + 35 * len(products), 900),
    disabled=[c for c in EDITOR_COLUMNS if c not in EDITABLE],
    column_config={
        "label": st.column_config.TextColumn("Product", pinned=True, width=150),
        "closing_stock": st.column_config.NumberColumn("Closing stock", min_value=0, format="localized",
                                                       help="Pre-filled from the stock book (or estimated where nothing was counted yet); "
                                                            "type the real count if it differs: Confirm saves it in the book.", width=112),
        "in_transit": st.column_config.NumberColumn("In transit", format="localized", help="Ordered earlier, arriving after this close", width=75),
        "source": st.column_config.TextColumn("Stock from", help="closing stock / in transit: counted (today's count), book (last count "
                                              "+ receipts − sales), ledger (confirmed orders) or estimated (a simulation: nothing "
                                              "entered yet); censored = the shelf closed empty, demand unknown", width=120),
        "forecast": st.column_config.ListColumn("Forecast per day", help="Forecast demand for each day of the lead window (d+1, d+2, …), rounded", width=160),
        "lead_demand": st.column_config.NumberColumn("Lead demand", format="localized", help="Sum of the forecasts over the lead window", width=92),
        "safety_stock": st.column_config.NumberColumn("Safety", format="localized", help="Rounded; the sheet CSV has the exact value. " + (base.lines[0].safety_form if base.lines else ""), width=62),
        "recommended": st.column_config.NumberColumn("Recommended", format="localized", width=105),
        "why": st.column_config.TextColumn("Why", width="large"),
        "final": st.column_config.NumberColumn("Final order", min_value=0, format="localized", width=92),
        "change": st.column_config.NumberColumn("Change", format="%.0f%%", help="Final vs recommended", width=62),
        "reason": st.column_config.TextColumn("Reason", help=f"Needed when the final order differs by more than {CHANGE_LIMIT:.0%}", width=125),
    },
)
book_sentence = stock_book_sentence(base, names)
if book_sentence:
    st.caption(book_sentence)
if counted:
    st.caption(f"Counted closing stock used for {len(counted)} product(s): " + ", ".join(f"{p} · {names.get(p, '')} = {q:,.0f}" for p, q in counted.items()))
if base.lines:
    st.caption(f"Safety stock: {base.lines[0].why_level}. Model: {base.lines[0].model}. Policy: {sheet.policy}.")

nightly = batch_order_sheet(store, date, data=ds.folder)
if nightly is not None:
    with st.expander(f"The nightly batch computed {nightly[1].height} line(s) for this close · {nightly[0]}"):
        st.caption("From the last nightly batch (the Nightly batch page); the sheet above is computed now and is what Confirm records.")
        st.dataframe(nightly[1].select([c for c in ("product", "closing_stock", "in_transit", "safety_stock", "recommended", "reason", "model")
                                        if c in nightly[1].columns]), hide_index=True, width="stretch", key="nightly_sheet")

problems = confirmation_problems(sheet, final, reasons, names)
session = st.session_state.setdefault("orders_session", uuid.uuid4().hex)
token = None if problems else confirmation_token(session, sheet, confirmation_lines(sheet, final, reasons, names))
left, right = st.columns([1, 3])
user = current_user()
may_confirm = allowed(user, "confirm", store)
if not may_confirm:
    left.caption(refusal(user, "confirm", store))
elif left.button("Confirm order", type="primary", key="confirm", width="stretch"):
    if problems:
        for sentence in problems:
            st.error(sentence)
    else:
        try:
            done = confirm_at_close(user, ds, sheet, final, reasons, counted, book, st.session_state.setdefault(f"counted-{editor_key}", {}),
                                    client_token=token, names=names)
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.session_state[f"confirmed-{editor_key}"] = (token, done.message)
elif problems and may_confirm:
    right.warning(problems[0] if len(problems) == 1 else f"{len(problems)} lines need attention before Confirm. " + problems[0])
confirmed = st.session_state.get(f"confirmed-{editor_key}")
if confirmed and confirmed[0] == token:
    st.success(confirmed[1])
elif confirmed:
    st.info(f"{confirmed[1]}; the sheet changed since: press Confirm again to record the change as a new version.")

right.download_button("Download the sheet (CSV)", sheet_frame(sheet, final, reasons, names).write_csv(), file_name=f"order_sheet_s{store}_{date}.csv",
                      mime="text/csv", key="download_sheet")

st.subheader(f"Confirmed versions for store {store}, {date}")
try:
    view = ledger_view(ledger, store, date, names)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
labels = {"version": "Version", "confirmed_at": "Confirmed (UTC)", "confirmed_by": "By", "products": "Products",
          "recommended_total": st.column_config.NumberColumn("Recommended units", format="localized"),
          "final_total": st.column_config.NumberColumn("Final units", format="localized"), "changed": "Lines changed",
          "store_id": "Store", "order_date": st.column_config.DateColumn("Business date", format="YYYY-MM-DD"), "product_id": "Product",
          "recommended_qty": st.column_config.NumberColumn("Recommended", format="localized"),
          "final_qty": st.column_config.NumberColumn("Final", format="localized"), "reason": "Reason", "product": "Product"}
if view["latest"] is None:
    st.info(f"Nothing confirmed yet for store {store} on {date}.")
else:
    st.markdown(view["latest"])
    st.dataframe(view["versions"], hide_index=True, width="stretch", column_config=labels)
    pick = st.selectbox("Lines of version", view["versions"]["version"].to_list(), key="history_version")
    st.dataframe(view["lines"][pick], hide_index=True, width="stretch", column_config=labels)
    st.download_button("Download this store and date's history (CSV)", ledger.history_csv(store, date),
                       file_name=f"ledger_s{store}_{date}.csv", mime="text/csv", key="download_history")

st.subheader("Latest confirmations (all stores)")
if view["recent"].is_empty():
    st.caption("The ledger is empty.")
else:
    st.dataframe(view["recent"], hide_index=True, width="stretch", column_config=labels)
st.caption(f"Ledger: {ledger.path} (append-only; every confirmation is kept as a version).")

st.subheader("After the fact")
try:
    outcome = after_the_fact(ds, ledger, store)
except ValueError as exc:
    st.error(str(exc))
    st.stop()
if outcome.is_empty():
    st.caption("No confirmed order of this store has a known outcome yet: its lead window must lie in the sales data.")
else:
    st.caption("Per confirmed order: what was recommended, what the buyer chose and what demand turned out to be (lead window, "
               "censored days left out). Bias = (forecast − actual) / actual; FVA = 1 − WAPE / WAPE of the reference.")
    st.dataframe(fva_summary(outcome), hide_index=True, width="stretch", key="fva")
    st.dataframe(outcome.select(pl.col("order_date").cast(pl.Date), "product", "recommended", "final", pl.col("reason").fill_null(""),
                                "forecast", "baseline", "buyer", "actual"),
                 hide_index=True, width="stretch", key="fva_lines", column_config=labels)
