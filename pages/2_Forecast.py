"""Forecast: the next LeadTime days with their bands and explanation; the backtest lab one tab away."""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from engine.forecasting import ALL_MODELS, CHEAP_MODELS, run_forecast
from engine.forecasting.lead_window import forecast_lead_window, next_days_table
from ui_common import APP_TITLE, pick_product, pick_store, require_dataset

st.set_page_config(page_title=f"Forecast · {APP_TITLE}", layout="wide")
st.title("Forecast")

ds = require_dataset()
store = pick_store(ds)
product = pick_product(ds)
tab_next, tab_lab = st.tabs(["Next days", "Backtest lab"])

with tab_next:
    st.caption(f"Demand of the next LeadTime days after the last close ({ds.end}), forecast at 22:00 by a model trained on "
               "every day up to it. The bands come from that model's own out-of-sample errors on earlier days.")
    next_model = st.selectbox("Model", ["auto", *ALL_MODELS], key="next_model",
                              help="auto = the best cheap model on selection windows spread over the past year")
    request_next = (ds.fingerprint, store, product, ds.end, next_model)
    saved_next = st.session_state.get("next_forecast")
    if saved_next is None or saved_next[0] != request_next:
        try:
            with st.spinner("Loading the stored model (fitting it once when there is none)…"):
                q = forecast_lead_window(ds, store, product, ds.end, model=next_model)
        except (ValueError, KeyError) as exc:
            q = None
            st.error(exc.args[0] if exc.args else str(exc))
        st.session_state["next_forecast"] = (request_next, q)
    else:
        q = saved_next[1]
    if q is not None:
        table = next_days_table(q)
        n1, n2, n3, n4 = st.columns(4)
        n1.metric("Model", q.model)
        n2.metric(f"Next {q.lead_time} days", f"{q.point_total:,.0f}")
        n3.metric("P90 of the total", f"{q.total_quantile(0.9):,.0f}")
        n4.metric("P99 of the total", f"{q.total_quantile(0.99):,.0f}")
        st.dataframe(table, width="stretch", hide_index=True, key="next_table")
        recent = pl.DataFrame({"date": [ds.end - dt.timedelta(days=i) for i in range(27, -1, -1)]}).join(
            ds.sales.filter((pl.col("Store_ID") == store) & (pl.col("Product_ID") == product)).group_by("Date").agg(pl.col("Qty").sum())
            .rename({"Date": "date"}), on="date", how="left").with_columns(pl.col("Qty").fill_null(0.0).alias("units"))
        history = alt.Chart(recent).mark_line(point=True).encode(x=alt.X("date:T", title=None), y=alt.Y("units:Q", title="units sold"),
                                                                 tooltip=["date:T", alt.Tooltip("units:Q", format=",.0f")])
        future = table.filter(pl.col("day") != "total").with_columns(pl.col("day").str.to_date().alias("date"))
        band = alt.Chart(future).mark_area(opacity=0.25).encode(x="date:T", y="P10:Q", y2="P90:Q")
        band99 = alt.Chart(future).mark_area(opacity=0.12).encode(x="date:T", y="P1:Q", y2="P99:Q")
        point = alt.Chart(future).mark_line(point=True, strokeDash=[4, 3], color="#d62728").encode(
            x="date:T", y="forecast:Q", tooltip=["day:N", alt.Tooltip("forecast:Q", format=",.0f"), alt.Tooltip("P90:Q", format=",.0f")])
        st.altair_chart(band99 + band + history + point, width="stretch")
        st.caption("Dark band: 10 %–90 % of demand; light band: 1 %–99 %. A P90 of the total means: 9 closes in 10 the two-day "
                   "demand stays below it (checked on earlier months in `python -m engine bench forecast`).")
        st.subheader("Why these numbers")
        st.dataframe(pl.DataFrame([{"day": e["day"], "baseline": e["baseline"], **e["contributions"], "forecast": e["forecast"]}
                                   for e in q.explanation]), width="stretch", hide_index=True, key="explain_table")
        st.caption("baseline: the recent same-weekday level (with the model's average correction); each other column adds "
                   "what that factor changes; the row sums to the forecast.")

with tab_lab:
    st.caption("Each model learns only from days before the test window, then forecasts every test day from the evening "
               "LeadTime days earlier. The model with the lowest error on earlier selection windows is chosen.")
    default_start = max(ds.start, ds.end - dt.timedelta(days=27))
    window = st.date_input("Test window", value=(default_start, ds.end), min_value=ds.start, max_value=ds.end, key="window")
    models = st.multiselect("Models", list(ALL_MODELS), default=list(CHEAP_MODELS), key="models",
                            help="lstm and cnn are Keras networks: about 10–30 s each on a laptop CPU.")
    train_clicked = st.button("Train", type="primary", key="train")


    if not isinstance(window, (tuple, list)) or len(window) != 2:
        st.info("Pick both the first and the last day of the test window.")
        st.stop()
    test_start, test_end = window
    request = (ds.fingerprint, store, product, test_start, test_end, tuple(models))

    if train_clicked:
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
        st.info("Pick a test window and models above, then press **Train**.")
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
