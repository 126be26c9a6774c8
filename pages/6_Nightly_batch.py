"""Nightly batch: the last run's time, coverage, failures and order sheets; run a small batch now."""

from __future__ import annotations

import os

import streamlit as st

from engine.access.batch import run_batch
from engine.access.guard import allowed
from engine.batch.summary import last_batch
from engine.forecasting import CHEAP_MODELS
from engine.data.storage import data_dir
from ui_common import APP_TITLE, current_user, pick_products, require_dataset, store_label

st.set_page_config(page_title=f"Nightly batch · {APP_TITLE}", layout="wide")
st.title("Nightly batch")
st.caption("Every night the batch refits (or reloads) the forecasting models of every store × product with sales, backtests them, "
           "forecasts the lead window from the close and recommends the order, as Dask tasks. "
           "Reproduce it with `python -m engine batch --json`.")

ds = require_dataset()

user = current_user()
run = False
if allowed(user, "run_batch"):  # the data team and admins
    with st.sidebar:
        st.subheader("Run batch now")
        stores = st.multiselect("Stores", ds.store_ids, default=[s for s in (44,) if s in ds.store_ids], key="run_stores",
                                format_func=lambda i: store_label(ds, i))
        products = pick_products(ds, key="run_products", default=(3,), where=st)
        models = st.multiselect("Models", list(CHEAP_MODELS), default=["weekday_mean4", "gboost"], key="run_models")
        workers = st.number_input("Worker processes", min_value=0, max_value=max(2, os.cpu_count() or 2), value=2, step=1, key="run_workers",
                                  help="A local Dask cluster with this many processes (one thread each); 0 runs in the app's own process.")
        run = st.button("Run batch now", type="primary", key="run_batch", disabled=not (stores and products and models))

if run:
    bar = st.progress(0.0, text="Starting the batch…")

    def progress(done: int, total: int, failed: int, status: dict) -> None:
        bar.progress(done / total if total else 1.0, text=f"{done}/{total} series done, {failed} failed")

    try:
        summary = run_batch(user, data_dir(), stores=stores, products=products, models=",".join(models), workers=int(workers), progress=progress, ds=ds)
    except ValueError as exc:
        st.error(str(exc.args[0] if exc.args else exc))
    else:
        bar.progress(1.0, text=f"Done: {summary['series_ok']}/{summary['series_total']} series ok in {summary['seconds']:.1f} s")

last = last_batch(data_dir())
if last is None:
    st.info("No batch has run yet: press **Run batch now** in the sidebar, or run `python -m engine batch` (every store × product).")
    st.stop()

s = last.summary
st.subheader(f"Last batch: {str(s['finished']).replace('T', ' ')[:19]} UTC")
k = st.columns(6)
k[0].metric("Series ok", last.coverage, help="series with results / series planned (every store × product with sales in the selection)")
k[1].metric("Failed", f"{s['series_failed']}")
k[2].metric("Skipped (unchanged)", f"{s['series_skipped']}", help="series whose data, settings and close date were unchanged: results reused")
k[3].metric("Stores · products", f"{len(s['stores'])} · {len(s['products'])}")
k[4].metric("Close date", s["date"])
k[5].metric("Run time", f"{s['seconds']:.1f} s", help=f"{s['scheduler']}, {s['workers']} worker(s)")
st.caption(f"Models: {', '.join(s['models'])} · safety stock: {s.get('safety_stock')} · outputs in {s.get('out')}")

if s["series_failed"]:
    st.subheader(f"Failures ({s['series_failed']})")
    for sentence in last.failures["error"].to_list():
        st.error(sentence)

st.subheader("Order sheets")
sheet_stores = sorted(last.order_sheets["store"].unique().to_list())
if not sheet_stores:
    st.info("The last batch produced no order lines.")
    st.stop()
store = st.selectbox("Store", [None, *sheet_stores], index=0, key="sheet_store",
                     format_func=lambda i: "All stores" if i is None else store_label(ds, i))
sheet = last.sheet(store)
st.dataframe(sheet.select("store", "date", "product", *[c for c in sheet.columns if c not in ("store", "date", "product")]),
             hide_index=True, width="stretch")
st.caption(f"{sheet.height} order line(s), {int(sheet['recommended'].sum()):,} units recommended. The Orders page reads the same "
           "lines from order_sheets.parquet.")
