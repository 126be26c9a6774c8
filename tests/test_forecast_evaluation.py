"""The rolling monthly evaluation behind `bench forecast`: windows, metrics, regret and coverage checked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.forecasting.evaluation import evaluate, monthly_windows, pinball


def test_monthly_windows_are_the_last_whole_months(demo):
    windows = monthly_windows(demo, 3)
    end = demo.end
    assert len(windows) == 3 and all(a.day == 1 for a, _ in windows)
    assert all((b + dt.timedelta(days=1)).day == 1 for _, b in windows)
    assert windows[-1][1] <= end and (end - windows[-1][1]).days < 31
    assert all(x[1] + dt.timedelta(days=1) == y[0] for x, y in zip(windows, windows[1:]))


def test_pinball_loss_by_hand():
    assert pinball(np.array([10.0, 0.0]), np.array([8.0, 2.0]), 0.9) == pytest.approx((0.9 * 2 + 0.1 * 2) / 2)


def test_evaluation_numbers_match_an_independent_computation(demo, tmp_path):
    window = monthly_windows(demo, 1)
    ev = evaluate(demo, 44, [3], window, models="seasonal_naive", models_dir=tmp_path, peers=False)
    first, last = window[0]
    L = demo.lead_time(3)
    sales = (pl.DataFrame({"Date": pl.date_range(first - dt.timedelta(days=7), last, "1d", eager=True)})
             .join(demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)).select("Date", "Qty"), on="Date", how="left")
             .with_columns(pl.col("Qty").fill_null(0.0)).sort("Date"))
    # seasonal naive at horizon L <= 7: the forecast of day T is the sales of T - 7
    frame = sales.with_columns(pl.col("Qty").shift(7).alias("f")).filter(pl.col("Date") >= first)
    wape = float((frame["Qty"] - frame["f"]).abs().sum() / frame["Qty"].sum())
    bias = float((frame["f"] - frame["Qty"]).sum() / frame["Qty"].sum())
    row = next(r for r in ev.rows if r["model"] == "seasonal_naive")
    assert row["wape"] == pytest.approx(wape) and row["bias"] == pytest.approx(bias)
    chosen = next(r for r in ev.rows if r["model"] == "chosen")
    picked = ev.choices[0]
    assert chosen["wape"] == next(r["wape"] for r in ev.rows if r["model"] == picked["chosen"])
    singles = [r["wape"] for r in ev.rows if r["model"] in ("seasonal_naive", "weekday_mean4")]
    assert picked["regret"] == pytest.approx(chosen["wape"] / min(singles) - 1)
    # coverage rows: one per level, over the closes whose whole lead window lies in the month
    cov = {c["level"]: c for c in ev.coverage}
    assert cov[0.9]["n"] == (last - first).days + 2 - L
    assert cov[0.5]["covered"] <= cov[0.9]["covered"] <= cov[0.99]["covered"] <= cov[0.99]["n"]
