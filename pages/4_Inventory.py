"""Inventory (executives): what a safety-stock policy costs in stock and lost sales, against the perfect-foresight bound."""

from __future__ import annotations

import datetime as dt

import altair as alt
import polars as pl
import streamlit as st

from engine.forecasting import CHEAP_MODELS
from engine.inventory import compare_policies, evaluate_policy
from engine.report.pilot import pilot_report
from ui_common import APP_TITLE, pick_products, pick_store, product_label, require_dataset

st.set_page_config(page_title=f"Inventory · {APP_TITLE}", layout="wide")
st.title("Inventory")
st.caption("Each evening at 22:00 the policy orders forecast demand for the lead time + safety stock − stock on hand − stock in transit. "
           "Forecasts come from models trained before the period; the perfect-foresight bound orders exactly the real demand.")

POLICIES = {"Service level": "service-level", "Fixed safety stock": "fixed", "Hindsight minimum (uses the future)": "min-zero-loss"}

ds = require_dataset()
store = pick_store(ds)
products = pick_products(ds)
default_start = max(ds.start, ds.end - dt.timedelta(days=27))
period = st.sidebar.date_input("Period", value=(default_start, ds.end), min_value=ds.start, max_value=ds.end, key="period")
policy = st.sidebar.selectbox("Safety stock policy", list(POLICIES), key="policy")
FORMS = {"sheet": "as the order sheet (each evening's quantile)", "best": "seed rule: best of the three",
         "constant": "seed rule: constant", "proportional": "seed rule: share of the forecast", "weekday": "seed rule: per weekday"}
form = st.sidebar.selectbox("Safety stock form", list(FORMS), key="form", format_func=FORMS.get,
                            help="as the order sheet: each evening's safety stock from that evening's forecast errors, exactly as "
                                 "the Orders page orders; seed rule: one safety stock for the whole period (constant units, a "
                                 "share of the lead-window forecast, or per weekday; best compares them on validation days). "
                                 "A fixed safety stock and the hindsight minimum are always constant")
model = st.sidebar.selectbox("Forecasting model", ["auto", *CHEAP_MODELS], key="model", help="auto = the best cheap model by backtest")
pack_size = st.sidebar.number_input("Pack size", min_value=1, value=1, step=1, key="pack_size")

st.sidebar.subheader("What if")
if POLICIES[policy] == "service-level":
    level = st.sidebar.slider("Service level", min_value=0.80, max_value=0.995, value=0.99, step=0.005, format="%.3f", key="level")
    spec = f"service-level:{level}"
elif POLICIES[policy] == "fixed":
    units = st.sidebar.slider("Safety stock (units per product)", min_value=0, max_value=10_000, value=1_000, step=50, key="units")
    spec = str(units)
else:
    spec = "min-zero-loss"
    st.sidebar.caption("The hindsight minimum is searched on the period's real demand: it uses the future and cannot be run live.")

if not isinstance(period, (tuple, list)) or len(period) != 2:
    st.info("Pick both the first and the last day of the period.")
    st.stop()
if not products:
    st.info("Pick at least one product in the sidebar.")
    st.stop()
start, end = period
if st.sidebar.button("Simulate", type="primary", key="simulate"):
    st.session_state["inventory_on"] = True
if not st.session_state.get("inventory_on"):
    st.info("Pick a store, products, period and policy in the sidebar, then press **Simulate**. "
            "After that every change (and the what-if slider) updates the numbers at once.")
    st.stop()


@st.cache_data(show_spinner="Simulating the policy (the first run trains the forecasting models)…", max_entries=64)
def _evaluate(_ds, fingerprint, store, products, start, end, spec, form, pack_size, model):
    return evaluate_policy(_ds, store, list(products), start, end, spec, form=form, pack_size=pack_size, model=model)


@st.cache_data(show_spinner="Comparing policies…", max_entries=16)
def _compare(_ds, fingerprint, store, products, start, end, fixed, form, pack_size, model):
    return compare_policies(_ds, store, list(products), start, end, fixed=fixed, form=form, pack_size=pack_size, model=model)


args = (ds, ds.fingerprint, store, tuple(products), start, end)
try:
    result = _evaluate(*args, spec, form, int(pack_size), model)
except (ValueError, KeyError) as exc:
    st.error(exc.args[0] if exc.args else str(exc))
    st.stop()

total = result.total
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Average inventory value", f"{total['avg_inventory_value']:,.0f}", help="(opening + closing) / 2 × Price × 50%, averaged over the days")
c2.metric("Turnover", f"{total['turnover']:.1f}" if total["turnover"] is not None else "–", help="sold / average stock (at cost)")
c3.metric("Lost sales", f"{total['lost_qty']:,.0f} units", f"{total['lost_value']:,.0f} in sales value", delta_color="off", delta_arrow="off")
c4.metric("Fill rate", f"{total['fill_rate']:.1%}")
c5.metric("Ratio to the bound", f"{total['ratio_to_bound']:.2f}×" if total["ratio_to_bound"] is not None else "–",
          help="average inventory value / that of perfect foresight (orders equal to the real demand)")

NUMBERS = {"safety_stock": st.column_config.NumberColumn("safety stock (avg)", format="%,.0f"),
           "avg_stock_qty": st.column_config.NumberColumn("avg stock", format="%,.0f"),
           "avg_inventory_value": st.column_config.NumberColumn("avg inventory value", format="%,.0f"),
           "turnover": st.column_config.NumberColumn(format="%.1f"), "lost_qty": st.column_config.NumberColumn("lost units", format="%,.0f"),
           "lost_value": st.column_config.NumberColumn("lost value", format="%,.0f"), "fill_rate": st.column_config.NumberColumn("fill rate", format="percent"),
           "stockout_days": st.column_config.NumberColumn("stockout days"), "days_of_cover": st.column_config.NumberColumn("days of cover", format="%.2f"),
           "bound_avg_stock_qty": st.column_config.NumberColumn("bound avg stock", format="%,.0f"),
           "bound_avg_inventory_value": st.column_config.NumberColumn("bound avg inventory value", format="%,.0f"),
           "ratio_to_bound": st.column_config.NumberColumn("ratio to bound", format="%.2f×")}

st.subheader("Per product")
table = result.kpi_table()
st.dataframe(table.select(*[c for c in table.columns if c != "safety_form"], "safety_form"), width="stretch", hide_index=True,
             column_config=NUMBERS)
for p in result.products:
    st.caption(f"{product_label(ds, p.product)}: {p.plan.label} · model {p.model}" + (f" · {p.plan.note}" if p.plan.note else ""))

st.subheader("Stock day by day")
shown = st.selectbox("Product", [p.product for p in result.products], key="chart_product", format_func=lambda i: product_label(ds, i))
days = next(p.days for p in result.products if p.product == shown)
lines = days.unpivot(index="date", on=["opening", "closing"], variable_name="series", value_name="units")
bars = days.unpivot(index="date", on=["arrivals", "lost"], variable_name="series", value_name="units").with_columns(
    pl.col("series").replace({"lost": "lost sales"}))
colors = alt.Scale(domain=["opening", "closing", "arrivals", "lost sales"], range=["#1f77b4", "#9ecae1", "#2ca02c", "#d62728"])
chart = (alt.Chart(bars).mark_bar(opacity=0.6).encode(x=alt.X("date:T", title=None), y=alt.Y("units:Q", title="units"), xOffset="series:N",
                                                       color=alt.Color("series:N", scale=colors, title=None),
                                                       tooltip=["date:T", "series:N", alt.Tooltip("units:Q", format=",.0f")])
         + alt.Chart(lines).mark_line(point=True).encode(x="date:T", y="units:Q", color=alt.Color("series:N", scale=colors, title=None),
                                                         tooltip=["date:T", "series:N", alt.Tooltip("units:Q", format=",.0f")]))
st.altair_chart(chart, width="stretch")

st.subheader("Policy comparison")
fixed = float(spec) if POLICIES[policy] == "fixed" else 1_000.0
st.caption(f"Totals over the chosen products. Fixed = {fixed:,.0f} units per product. The hindsight minimum uses the period's real demand "
           "(the future); the service levels use only forecast errors from before the period.")
st.dataframe(_compare(*args, fixed, form, int(pack_size), model), width="stretch", hide_index=True, column_config=NUMBERS)

st.subheader("Pilot report")
st.caption("The 4-page PDF for the data-team lead (data and patterns, forecasts against baselines, this inventory against the bound, "
           "what to do next) for the chosen store, products and period; it takes a minute the first time.")
st.download_button("Download the pilot report (PDF)", key="report_pdf", mime="application/pdf", on_click="ignore",
                   file_name=f"pilot_report_store{store}_{start}_{end}.pdf",
                   data=lambda: pilot_report(ds, store, list(products), [(start, end)], inventory_model=model,
                                             safety_stock=spec if spec.startswith("service-level") else "service-level:0.99")[1])
