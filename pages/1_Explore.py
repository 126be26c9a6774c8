"""Explore: the patterns that decide the forecast's columns (decomposition, calendar, outside factors, residuals)."""

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from engine.analysis.decomposition import decompose
from engine.analysis.diagnostics import SERIES_KINDS, series_diagnostics
from engine.analysis.factors import FACTORS, factor_analysis, factor_frame
from engine.analysis.patterns import patterns
from engine.analysis.series import daily_series, describe_series
from ui_common import APP_TITLE, pick_product, pick_store, require_dataset

st.set_page_config(page_title=f"Explore · {APP_TITLE}", page_icon="🔎", layout="wide")
st.title("Explore")
st.caption("Which patterns should the forecast use? Every chart answers one question, with a plain verdict under it.")
ds = require_dataset()
key = ds.fingerprint


@st.cache_data(max_entries=64, show_spinner=False)
def cached(name: str, fingerprint: str, *args, **kwargs):
    """Engine results per data fingerprint and arguments (the Dataset itself is not hashed)."""
    if name == "frame":
        return factor_frame(ds, *args)
    if name == "factors":
        return factor_analysis(ds, *args, frame=cached("frame", fingerprint, *args[:2]), **kwargs)
    if name == "diagnostics" and kwargs["of"] == "residual":  # reuse the decomposition drawn above
        kwargs["decomposition"] = cached("decompose", fingerprint, *args, period=kwargs["period"], method=kwargs["method"])
    return {"series": daily_series, "decompose": decompose, "patterns": patterns, "diagnostics": series_diagnostics}[name](ds, *args, **kwargs)


def verdict(text: str) -> None:
    st.markdown(f"**Verdict:** {text}")


def download(frame: pl.DataFrame, name: str, label: str = "Download this data (CSV)") -> None:
    st.download_button(label, frame.write_csv(), file_name=f"{name}.csv", mime="text/csv", key=f"dl_{name}")


def run(name: str, *args, **kwargs):
    try:
        return cached(name, key, *args, **kwargs)
    except ValueError as exc:
        st.warning(exc.args[0][0].upper() + exc.args[0][1:])
        return None


store = pick_store(ds)
whole_store = st.sidebar.checkbox("All products (store total)", key="total")
product = None if whole_store else pick_product(ds)
choice = st.sidebar.selectbox("Window", ["Whole period", "Last quarter (91 days)", "Last month (31 days)", "Brushed on the sales chart", "Custom"], key="window")
start, end = ds.start, ds.end
brushed = ((st.session_state.get("sales_brush") or {}).get("selection") or {}).get("period") or {}
if choice.startswith("Brushed") and len(brushed.get("Date") or []) == 2:
    start, end = (max(ds.start, min(ds.end, dt.datetime.fromtimestamp(v / 1000, dt.UTC).date())) for v in brushed["Date"])
elif choice.startswith("Last"):
    start = end - dt.timedelta(days=(91 if "quarter" in choice else 31) - 1)
elif choice == "Custom":
    picked = st.sidebar.date_input("From – to", (ds.start, ds.end), min_value=ds.start, max_value=ds.end, key="custom")
    if len(picked) == 2:
        start, end = picked
what = f"store {store}, " + ("all products" if product is None else f"product {product}")
st.sidebar.caption(f"Analysis window: {start} to {end}. The line chart always shows the whole period.")

# ---- 1. the whole series, brush to zoom
st.header(f"Sales of {what}")
series = run("series", store, product)
if series is None:
    st.stop()
brush = alt.selection_interval(name="period", encodings=["x"])
line = alt.Chart(series).mark_line(strokeWidth=1).encode(x=alt.X("Date:T", title=None), y=alt.Y("Qty:Q", title="Units sold"))
st.altair_chart(
    alt.vconcat(line.encode(x=alt.X("Date:T", title=None).scale(domain=brush)).properties(height=260, width="container"),
                line.properties(height=60, width="container").add_params(brush)),
    width="stretch", on_select="rerun", key="sales_brush",
)
st.caption("Drag across the small chart to zoom the big one (double-click resets); choose the window "
           "'Brushed on the sales chart' to analyse exactly that period.")
verdict(describe_series(series, start, end, what))
download(series, f"sales_{store}_{product or 'all'}")

# ---- 2. decomposition
st.header("Trend, seasonality and what is left")
c1, c2 = st.columns(2)
method = c1.radio("Method", ["stl", "classical"], horizontal=True, key="method", format_func={"stl": "STL (robust)", "classical": "Classical (moving averages)"}.get)
period = c2.radio("Seasonal period", ["weekly", "yearly"], horizontal=True, key="period")
dec = run("decompose", store, product, start, end, period=period, method=method)
if dec is not None:
    panels = [alt.Chart(dec.frame).mark_line(strokeWidth=1).encode(x=alt.X("Date:T", title=None), y=alt.Y(f"{c}:Q", title=c))
              .properties(height=110, width="container") for c in ("original", "trend", "seasonal", "residual")]
    st.altair_chart(alt.vconcat(*panels), width="stretch")
    m = st.columns(3)
    m[0].metric("Seasonal strength", f"{dec.seasonal_strength:.2f}")
    m[1].metric("Trend strength", f"{dec.trend_strength:.2f}")
    m[2].metric("Residual share of variance", f"{dec.residual_share:.0%}")
    verdict(dec.verdict)
    download(dec.frame, f"decomposition_{store}_{product or 'all'}")

# ---- 3. calendar patterns
st.header("Weekday, month, payday and holidays")
pat = run("patterns", store, product, start, end)
if pat is not None:
    left, right = st.columns(2)
    for col, frame, x, title, text in ((left, pat.weekday, "day", "Which weekday sells most?", pat.weekday_verdict),
                                       (right, pat.monthly, "name", "Which month sells most?", pat.monthly_verdict)):
        col.subheader(title)
        col.altair_chart(alt.Chart(frame).mark_bar().encode(
            x=alt.X(f"{x}:N", sort=None, title=None), y=alt.Y("index:Q", title="× an average day"),
            tooltip=[x, alt.Tooltip("mean_qty:Q", format=",.0f"), alt.Tooltip("index:Q", format=".2f"), "days"],
        ) + alt.Chart().mark_rule(strokeDash=[4, 4]).encode(y=alt.datum(1)), width="stretch")
        with col:
            verdict(text)
    st.subheader("Do paydays and holidays move sales?")
    st.dataframe(pat.effects, hide_index=True, width="stretch",
                 column_config={"lift_pct": st.column_config.NumberColumn("lift %", format="%+.1f"), "p_value": st.column_config.NumberColumn(format="%.4f")})
    for row in pat.effects.iter_rows(named=True):
        st.markdown(f"- {row['verdict']}")
    st.dataframe(pat.holidays, hide_index=True, width="stretch", column_config={"lift_pct": st.column_config.NumberColumn("lift % (weekday-adjusted)", format="%+.1f")})
    verdict(pat.holiday_verdict)
    download(pl.concat([pat.weekday.select(pl.lit("weekday").alias("profile"), pl.col("day").alias("key"), "days", "mean_qty", "index"),
                        pat.monthly.select(pl.lit("month").alias("profile"), pl.col("name").alias("key"), "days", "mean_qty", "index")]),
             f"patterns_{store}_{product or 'all'}")
    download(pat.effects_table(), f"effects_{store}_{product or 'all'}", "Download payday / holiday effects (CSV)")

# ---- 4. outside factors
st.header("Outside factors: oil and customers")
c1, c2, c3 = st.columns(3)
target = c1.radio("Study", ["sales", "customers"], horizontal=True, key="target", format_func={"sales": "Sales", "customers": "The store's customers"}.get)
transform = c2.radio("Compare", ["level", "change_7d"], horizontal=True, key="transform", format_func={"level": "Levels", "change_7d": "Week-on-week changes"}.get)
rolling = c3.select_slider("Rolling window (days)", [30, 60, 90, 180, 365], value=90, key="rolling")
fa = run("factors", store, product, start, end, rolling_window=rolling, transform=transform, target=target)
if fa is not None:
    summary = fa.summary()
    st.dataframe(summary.drop("verdict"), hide_index=True, width="stretch")
    choices = summary["factor"].to_list()
    factor = st.selectbox("Factor", choices, index=len(choices) - 2, key="factor", format_func=lambda f: FACTORS[f])
    res = fa.result(factor)
    a, b, c = st.columns(3)
    a.caption(f"Each day: {fa.target} vs the factor {res.best_lag} day(s) earlier")
    a.altair_chart(alt.Chart(res.scatter.drop_nans()).mark_circle(size=12, opacity=0.5).encode(
        x=alt.X("value:Q", title=factor, scale=alt.Scale(zero=False)), y=alt.Y("Qty:Q", title=fa.target, scale=alt.Scale(zero=False))), width="stretch")
    b.caption("Correlation at each lag (days)")
    b.altair_chart(alt.Chart(res.lag_profile).mark_bar().encode(x=alt.X("lag:O"), y=alt.Y("r:Q", scale=alt.Scale(domain=[-1, 1])),
                                                                tooltip=["lag", alt.Tooltip("r:Q", format="+.3f"), "n"]), width="stretch")
    c.caption(f"{fa.rolling_window}-day rolling correlation at lag {res.best_lag}: is the link stable?")
    c.altair_chart(alt.Chart(res.rolling.drop_nans()).mark_line().encode(x=alt.X("Date:T", title=None), y=alt.Y("r:Q", scale=alt.Scale(domain=[-1, 1]))), width="stretch")
    verdict(res.verdict)
    if product is not None:
        st.caption(f"A forecast made {ds.lead_time(product)} days ahead (the lead time) can only use lags of at least {ds.lead_time(product)}.")
    st.dataframe(fa.band_means, hide_index=True)
    verdict(fa.band_verdict)
    download(fa.lag_profiles().join(summary.select("factor", "best_lag", "stable"), on="factor"), f"factors_{store}_{product or 'all'}")
    download(res.rolling, f"rolling_{factor}_{store}_{product or 'all'}", "Download this factor's rolling correlation (CSV)")

# ---- 5. residual diagnostics
st.header("Residual diagnostics")
of = st.radio("Test", list(SERIES_KINDS), horizontal=True, key="of", format_func=lambda k: SERIES_KINDS[k].capitalize())
diag = run("diagnostics", store, product, start, end, of=of, method=method, period=period)
if diag is not None:
    st.dataframe(diag.table(), hide_index=True, width="stretch", column_config={"p_value": st.column_config.NumberColumn(format="%.4g")})
    cg = diag.correlogram().filter(pl.col("lag") > 0)
    cols = st.columns(2)
    for col, name, text in zip(cols, ["acf", "pacf"], [diag.acf_sentence, diag.pacf_sentence]):
        col.caption(f"{name.upper()} with its {1 - diag.alpha:.0%} band: bars outside the band are real patterns")
        bars = alt.Chart(cg).mark_bar().encode(x=alt.X("lag:O"), y=alt.Y(f"{name}:Q", title=name.upper()),
                                               color=alt.condition(f"abs(datum.{name}) > datum.{name}_band", alt.value("#d62728"), alt.value("#4c78a8")))
        band = alt.Chart(cg).mark_area(opacity=0.15).encode(x="lag:O", y=f"{name}_band:Q", y2=alt.Y2("lo:Q")).transform_calculate(lo=f"-datum.{name}_band")
        col.altair_chart(band + bars, width="stretch")
        with col:
            verdict(text)
    for t in diag.tests:
        verdict(t.sentence)
    download(diag.correlogram(), f"diagnostics_{store}_{product or 'all'}_{of}", "Download ACF/PACF (CSV)")
    download(diag.table(), f"tests_{store}_{product or 'all'}_{of}", "Download the test table (CSV)")
