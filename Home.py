"""Home: the chain at a glance for executives, data status and upload."""

import altair as alt
import streamlit as st

from engine.batch.summary import last_batch_line, read_summary
from engine.analysis.overview import overview, sales_trend, top_products, top_stores
from engine.access.guard import allowed
from engine.access.uploads import replace_data, uploads
from engine.data.storage import data_dir, list_backups, state_location
from ui_common import APP_TITLE, compact, current_user, load_current, show_errors

st.set_page_config(page_title=APP_TITLE, page_icon="🛒", layout="wide")
st.title(APP_TITLE)
st.caption("Sales, forecasts, nightly orders and inventory for the K-Mart chain. Pages: Explore · Forecast · Orders · Inventory · Ask the data.")

ds, report = load_current()
if ds is None:
    show_errors(report)
else:
    c1, c2 = st.columns([3, 1])
    period = c1.slider("Period", min_value=ds.start, max_value=ds.end, value=(ds.start, ds.end), format="YYYY-MM-DD", key="period")
    every = c2.selectbox("Totals per", ["1d", "1w", "1mo"], index=1, format_func={"1d": "day", "1w": "week", "1mo": "month"}.get, key="every")
    start, end = period
    ov = overview(ds, start, end)
    k = st.columns(5)
    k[0].metric("Period", f"{ov.days:,} days", help=f"{ov.start} to {ov.end}")
    k[1].metric("Stores · products", f"{ov.stores} · {ov.products}")
    k[2].metric("Units sold", compact(ov.units), help=f"{ov.units:,.0f} units")
    k[3].metric("Sales value", compact(ov.sales_value, "$"), help=f"${ov.sales_value:,.2f}")
    k[4].metric(
        "Units per day", compact(ov.units_per_day), help=f"{ov.units_per_day:,.2f} units per day",
        delta=None if ov.change_vs_previous_pct is None else f"{ov.change_vs_previous_pct:+.1f}% vs previous period",
    )
    trend = sales_trend(ds, start, end, every)
    st.subheader("Total sales")
    st.altair_chart(
        alt.Chart(trend).mark_line(point=every != "1d").encode(
            x=alt.X("Date:T", title=None), y=alt.Y("Qty_per_day:Q", title="Units sold per day"),
            tooltip=["Date:T", "Days:Q", alt.Tooltip("Qty:Q", format=",.0f"), alt.Tooltip("Qty_per_day:Q", format=",.0f"), alt.Tooltip("Value:Q", format="$,.0f")],
        ).properties(height=300),
        width="stretch",
    )
    left, right = st.columns(2)
    left.subheader("Top stores")
    left.dataframe(top_stores(ds, start, end), hide_index=True, width="stretch")
    right.subheader("Top products")
    right.dataframe(top_products(ds, start, end), hide_index=True, width="stretch")

# Last nightly batch (one line when a batch summary exists; reads summary.json only, no Dask import)
if batch_line := last_batch_line(read_summary(data=data_dir())):
    st.info(f"{batch_line}. Details on the Nightly batch page.", icon="🌙")

st.subheader("Data status")
if ds is not None:
    st.success(f"Data in {data_dir()} is valid: {report.summary.get('sales_rows', 0):,} sales rows, fingerprint {ds.fingerprint}.")
    state = state_location(data_dir())
    st.caption(f"Orders, models and the Ask index are kept in {state.path} ({state.reason}).")
    if ds.warnings:
        with st.expander(f"{len(ds.warnings)} warning(s) about the data"):
            for w in ds.warnings:
                st.markdown(f"- {w}")

user = current_user()
if not allowed(user, "upload"):
    st.caption(f"Uploading new data is for the data team; {user.email} is signed in as {user.role}.")
else:
    with st.expander("Upload new data (all five tables)"):
        st.write("Upload sales, products, stores, orders and oil_price as CSV or Parquet. They are checked first; "
                 "the current data is replaced only if every check passes, and it is kept as a backup.")
        files = st.file_uploader("Tables", type=["csv", "parquet", "txt", "tsv"], accept_multiple_files=True, key="upload")
        if st.button("Check and use these files", disabled=not files, key="replace"):
            result = replace_data(user, {f.name: f.getvalue() for f in files})
            if result.ok:
                st.cache_resource.clear()
                st.success(f"New data is in use; the previous data was kept in {result.summary.get('backup', 'backups/')}.")
                st.rerun()
            else:
                show_errors(result)
                st.warning("Nothing was changed: the current data is still in use.")
        backups = list_backups()
        if backups:
            signed = uploads()
            st.caption(f"{len(backups)} backup(s) kept, newest: {backups[0].name}"
                       + (f"; last upload by {signed[0]['uploaded_by']} at {signed[0]['uploaded_at'].replace('T', ' ')[:16]} UTC" if signed else ""))

if ds is not None:
    st.caption(f"Every number above is reproducible with `python -m engine overview --start {start} --end {end} --json`.")
