"""The report's charts: the app's Altair charts, drawn from the report's numbers and rendered to PNG by vl-convert.

- ``profile_chart``: the Explore page's weekday and month profiles, one line per product;
- ``forecast_chart``: the Forecast page's "actual vs forecast" (lines over the weeks before and the
  evaluated windows, the windows shaded) plus the 80 % band, one row per product;
- ``inventory_chart``: average inventory value per product and policy (honest / hindsight / bound);
- ``stock_chart``: the Inventory page's "stock day by day" (opening and closing lines, arrivals and
  lost-sales bars, same colours).
vl-convert renders Vega-Lite in-process (no browser, no network); the Korean report registers the
report font's folder with it so Hangul labels are drawn.
"""

from __future__ import annotations

import polars as pl

from engine.report.text import setting_words, t

WIDTH = 520
STOCK_COLORS = ["#1f77b4", "#9ecae1", "#2ca02c", "#d62728"]
POLICY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c"]
_REGISTERED: set[str] = set()


def _frame(rows: list[dict], dates=("date",)) -> pl.DataFrame:
    f = pl.DataFrame(rows, infer_schema_length=None)
    return f.with_columns(pl.col(c).str.to_date() for c in dates if c in f.columns)


WEEKDAYS = {"en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "ko": ["월", "화", "수", "목", "금", "토", "일"]}
MONTHS = {"en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], "ko": [f"{m}월" for m in range(1, 13)]}


def profile_chart(report: dict, lang: str):
    """The Explore page's weekday and month profiles (1.0 = an average day), one line per product."""
    import altair as alt

    def label(p):
        return f"{p['product']} {p['name']}"

    week = pl.DataFrame([{"product": label(p), "day": WEEKDAYS[lang][r["weekday"]], "index": r["index"]}
                         for p in report["patterns"] for r in p["weekday_index"]])
    month = pl.DataFrame([{"product": label(p), "month": MONTHS[lang][r["month"] - 1], "index": r["index"]}
                          for p in report["patterns"] for r in p["month_index"]])
    color = alt.Color("product:N", title=None, legend=alt.Legend(orient="bottom"))
    left = alt.Chart(week).mark_line(point=True).encode(x=alt.X("day:N", sort=WEEKDAYS[lang], title=None, axis=alt.Axis(labelAngle=0)),
                                                        y=alt.Y("index:Q", title=t(lang, "ax_index"), scale=alt.Scale(zero=False)),
                                                        color=color).properties(width=230, height=120, title=t(lang, "weekday_profile"))
    right = alt.Chart(month).mark_line(point=True).encode(x=alt.X("month:N", sort=MONTHS[lang], title=None, axis=alt.Axis(labelAngle=0)),
                                                          y=alt.Y("index:Q", title=None, scale=alt.Scale(zero=False)),
                                                          color=color).properties(width=230, height=120, title=t(lang, "month_profile"))
    return alt.hconcat(left, right, spacing=18)


def forecast_chart(report: dict, lang: str):
    import altair as alt

    rows = []
    for fp in report["forecast"]["products"]:
        for r in fp["history"]:
            rows.append({"product": fp["product"], "date": r["date"], "series": t(lang, "s_actual"), "units": r["actual"]})
        for r in fp["series"]:
            rows.append({"product": fp["product"], "date": r["date"], "series": t(lang, "s_actual"), "units": r["actual"]})
            rows.append({"product": fp["product"], "date": r["date"], "series": t(lang, "s_forecast"), "units": r["forecast"]})
    lines = _frame(rows)
    band = _frame([{"product": fp["product"], "date": r["date"], "lower": r["lower"], "upper": r["upper"]}
                   for fp in report["forecast"]["products"] for r in fp["series"]])
    shade = _frame([{"start": w["start"], "end": w["end"]} for w in report["windows"]], dates=("start", "end")).with_columns(
        pl.col("end") + pl.duration(days=1))  # the shading covers the last day of each window too
    colors = alt.Scale(domain=[t(lang, "s_actual"), t(lang, "s_forecast")], range=["#222222", "#1f77b4"])
    charts = []
    n = len(report["forecast"]["products"])
    for fp in report["forecast"]["products"]:
        p = fp["product"]
        x = alt.X("date:T", title=None)
        layer = alt.layer(
            alt.Chart(shade).mark_rect(opacity=0.08).encode(x="start:T", x2="end:T"),
            alt.Chart(band.filter(pl.col("product") == p)).mark_area(opacity=0.25, color="#1f77b4").encode(x=x, y="lower:Q", y2="upper:Q"),
            alt.Chart(lines.filter(pl.col("product") == p)).mark_line(strokeWidth=1).encode(
                x=x, y=alt.Y("units:Q", title=t(lang, "ax_units_sold")), color=alt.Color("series:N", scale=colors, title=None)),
        ).properties(width=WIDTH, height=max(70, 230 // n), title=f"{p} {next((x['name'] for x in report['patterns'] if x['product'] == p), '')}".strip())
        charts.append(layer)
    return alt.vconcat(*charts, spacing=6)


def inventory_chart(report: dict, lang: str):
    import altair as alt

    names = {"honest": t(lang, "policy_honest", setting=setting_words(lang, report["inventory"]["policies"][0]["setting"])),
             "hindsight": t(lang, "policy_hindsight"), "bound": t(lang, "policy_bound")}
    rows = [{"product": str(r["product"]), "policy": names[p["policy"]], "value": r["avg_inventory_value"]}
            for p in report["inventory"]["policies"] for r in p["products"]]
    order = list(names.values())
    return alt.Chart(pl.DataFrame(rows)).mark_bar().encode(
        y=alt.Y("product:N", title=None), x=alt.X("value:Q", title=t(lang, "ax_value")), yOffset=alt.YOffset("policy:N", sort=order),
        color=alt.Color("policy:N", scale=alt.Scale(domain=order, range=POLICY_COLORS), sort=order, title=None,
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
    ).properties(width=WIDTH - 120, height=26 * len(report["products"]) + 10)


def stock_chart(report: dict, lang: str):
    import altair as alt

    days = _frame(report["inventory"]["stock_chart"]["days"])
    names = {"opening": t(lang, "s_opening"), "closing": t(lang, "s_closing"), "arrivals": t(lang, "s_arrivals"), "lost": t(lang, "s_lost")}
    lines = days.unpivot(index="date", on=["opening", "closing"], variable_name="series", value_name="units").with_columns(pl.col("series").replace(names))
    bars = days.unpivot(index="date", on=["arrivals", "lost"], variable_name="series", value_name="units").with_columns(pl.col("series").replace(names))
    colors = alt.Scale(domain=list(names.values()), range=STOCK_COLORS)
    return (alt.Chart(bars).mark_bar(opacity=0.6).encode(x=alt.X("date:T", title=None, axis=alt.Axis(format="%m-%d", labelAngle=0)), y=alt.Y("units:Q", title=t(lang, "ax_units")),
                                                         xOffset="series:N", color=alt.Color("series:N", scale=colors, title=None))
            + alt.Chart(lines).mark_line(point=True).encode(x="date:T", y="units:Q", color=alt.Color("series:N", scale=colors, title=None))
            ).properties(width=WIDTH - 60, height=150)


def to_png(chart, font: str | None = None, font_dir: str | None = None, scale: float = 2.0, lang: str = "en") -> bytes:
    """PNG bytes of an Altair chart (vl-convert; ``font``/``font_dir``: the font for every label; Korean month and weekday names on time axes for ``lang="ko"``)."""
    import vl_convert as vlc

    if font_dir and font_dir not in _REGISTERED:
        vlc.register_font_directory(font_dir)
        _REGISTERED.add(font_dir)
    spec = chart.to_dict()
    if font:
        spec.setdefault("config", {})["font"] = font
    if lang == "ko":
        return vlc.vegalite_to_png(vl_spec=spec, scale=scale, time_format_locale="ko-KR")
    return vlc.vegalite_to_png(vl_spec=spec, scale=scale)


def all_charts(report: dict, lang: str, font: str | None = None, font_dir: str | None = None) -> dict[str, bytes]:
    """name -> PNG bytes for the PDF: profile, forecast, inventory, stock."""
    charts = {"profile": profile_chart, "forecast": forecast_chart, "inventory": inventory_chart, "stock": stock_chart}
    return {name: to_png(make(report, lang), font, font_dir, lang=lang) for name, make in charts.items()}

