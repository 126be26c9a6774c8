"""Forecast: train models on data before a test window, compare their backtest accuracy, inspect the chosen one."""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from engine.forecasting import ALL_MODELS, CHEAP_MODELS, run_forecast
from ui_common import APP_TITLE, pick_product, pick_store, require_dataset

st.set_page_config(page_title=f"Forecast · {APP_TITLE}", layout="wide")
st.title("Forecast")
st.caption("Each model learns only from days before the test window, then forecasts every test day from the evening "
           "LeadTime days earlier. The model with the lowest error on the earlier validation months is chosen.")

ds = require_dataset()
store = pick_store(ds)
product = pick_product(ds)
default_start = max(ds.start, ds.end - dt.timedelta(days=27))
window = st.sidebar.date_input("Test window", value=(default_start, ds.end), min_value=ds.start, max_value=ds.end, key="window")
models = st.sidebar.multiselect("Models", list(ALL_MODELS), default=list(CHEAP_MODELS), key="models",
                                help="lstm and cnn are Keras networks: about 10–30 s each on a laptop CPU.")

if not isinstance(window, (tuple, list)) or len(window) != 2:
    st.info("Pick both the first and the last day of the test window.")
    st.stop()
test_start, test_end = window
request = (ds.fingerprint, store, product, test_start, test_end, tuple(models))

if st.sidebar.button("Train", type="primary", key="train"):
    if not models:
        st.error("No model is selected; pick at least one in the sidebar.")
        st.stop()
    bar = st.progress(0.0, text="Starting…")
    status_box = st.empty()
    status: dict[str, str] = {}
    order = ["weekday_mean4", *[m for m in models if m != "weekday_mean4"]]

    def progress(name: str, fraction: float, message: str) -> None:
        status[name] = f"{fraction:.0%} · {message}"
        done = (order.index(name) if name in order else 0) + fraction
        bar.progress(min(done / len(order), 1.0), text=f"{name}: {message}")
        status_box.markdown("\n".join(f"- **{n}**: {status.get(n, 'waiting')}" for n in order))

    try:
        result = run_forecast(ds, store, [product], test_start, test_end, models=models, progress=progress)[0]
    except (ValueError, KeyError) as exc:
        bar.empty()
        st.error(exc.args[0] if exc.args else str(exc))
        st.stop()
    bar.progress(1.0, text="Done")
    st.session_state["forecast"] = (request, result)

saved = st.session_state.get("forecast")
if saved is None or saved[0] != request:
    st.info("Pick a store, product, test window and models in the sidebar, then press **Train**.")
    st.stop()
result = saved[1]

base = result.models["weekday_mean4"]["wape"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Chosen model", result.model)
c2.metric("Test WAPE", f"{result.metrics['wape']:.1%}", f"{result.metrics['wape'] - base:+.1%} vs weekday mean", delta_color="inverse")
c3.metric("Test MASE", f"{result.metrics['mase']:.2f}")
c4.metric("Lead time", f"{result.lead_time} days")

st.subheader("All models on the test window")
st.caption("validation_wape: forward-chaining months before the test window (what the choice used); the other columns: the test window.")
st.dataframe(result.comparison(), width="stretch", hide_index=True)

st.subheader("Actual vs forecast")
shown = st.multiselect("Forecasts to draw", list(result.models), default=[result.model], key="shown")
lines = pl.concat([
    result.history.select("date", pl.lit("actual").alias("series"), pl.col("actual").alias("units")),
    result.predictions.select("date", pl.lit("actual").alias("series"), pl.col("actual").alias("units")),
    result.all_predictions.filter(pl.col("model").is_in(shown)).select("date", pl.col("model").alias("series"), pl.col("forecast").alias("units")),
])
band = alt.Chart(pl.DataFrame({"start": [result.test_start], "end": [result.test_end]})).mark_rect(opacity=0.08).encode(x="start:T", x2="end:T")
chart = alt.Chart(lines).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
    x=alt.X("date:T", title=None), y=alt.Y("units:Q", title="units sold"), color=alt.Color("series:N", title=None),
    tooltip=["date:T", "series:N", alt.Tooltip("units:Q", format=",.0f")],
)
st.altair_chart(band + chart, width="stretch")

st.subheader(f"Residual diagnostics of {result.model}")
try:
    diag = result.diagnostics()
except ValueError as exc:
    st.info(str(exc))
else:
    for test in diag.tests:
        (st.success if test.passed else st.warning)(test.sentence)
    st.dataframe(diag.table().select("test", "statistic", "p_value", "passed"), width="stretch", hide_index=True)
    acf = diag.correlogram().filter(pl.col("lag") > 0)
    st.altair_chart(alt.Chart(acf).mark_bar().encode(x="lag:O", y=alt.Y("acf:Q", title="autocorrelation of errors"),
                                                     color=alt.Color("acf_significant:N", title="outside band")), width="stretch")

csv = result.all_predictions.sort("model", "date").write_csv()
st.download_button("Download predictions (CSV)", csv, file_name=f"forecast_s{store}_p{product}_{test_start}_{test_end}.csv",
                   mime="text/csv", key="download")
