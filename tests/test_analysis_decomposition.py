"""Decomposition: known synthetic series and the demo chain."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.analysis.decomposition import decompose, decompose_values

DAYS = pl.date_range(dt.date(2014, 1, 6), dt.date(2016, 12, 31), "1d", eager=True)  # starts on a Monday


@pytest.mark.parametrize("method", ["stl", "classical"])
def test_pure_weekly_sine_gives_weekly_seasonal_and_near_zero_residual(method):
    t = np.arange(DAYS.len())
    y = 100 + 20 * np.sin(2 * np.pi * t / 7)
    d = decompose_values(DAYS, y, period=7, method=method)
    f = d.frame
    np.testing.assert_allclose(f["seasonal"].to_numpy(), 20 * np.sin(2 * np.pi * t / 7), atol=0.05)
    np.testing.assert_allclose(f["trend"].to_numpy(), 100, atol=0.05)
    assert np.abs(f["residual"].to_numpy()).max() < 0.05
    assert d.seasonal_strength > 0.99
    # Monday (t=0) has sin(0)=0; the peak of sin(2πt/7) is at t=2 → Wednesday
    assert d.seasonal_profile.sort("effect")[-1, "position"] == 2
    assert "strong weekly seasonality" in d.verdict and "Wednesday is the busiest day" in d.verdict


@pytest.mark.parametrize("method", ["stl", "classical"])
@pytest.mark.parametrize("period", [7, 365])
def test_original_equals_trend_plus_seasonal_plus_residual(method, period):
    rng = np.random.default_rng(1)
    t = np.arange(DAYS.len())
    y = 50 + 0.05 * t + 10 * np.sin(2 * np.pi * t / 365) + 5 * np.cos(2 * np.pi * t / 7) + rng.normal(0, 2, t.size)
    f = decompose_values(DAYS, y, period=period, method=method).frame
    assert f.height == DAYS.len() and not f.select(pl.all().exclude("Date").is_nan().any()).row(0).count(True)
    np.testing.assert_allclose((f["trend"] + f["seasonal"] + f["residual"]).to_numpy(), y, atol=1e-8)
    np.testing.assert_allclose(f["original"].to_numpy(), y)


def test_demo_store_44_product_3_sums_back_and_changes_with_product(demo):
    d3 = decompose(demo, 44, 3)
    f = d3.frame
    assert f.height == (demo.end - demo.start).days + 1
    np.testing.assert_allclose((f["trend"] + f["seasonal"] + f["residual"]).to_numpy(), f["original"].to_numpy(), atol=1e-6)
    assert d3.seasonal_strength > 0.3  # the demo has a real weekly pattern
    d12 = decompose(demo, 44, 12)
    assert d12.frame["trend"].mean() > 2 * d3.frame["trend"].mean()  # product 12 sells ~3x product 3
    total = decompose(demo, 44, None, method="classical")
    assert total.frame["original"].sum() == pytest.approx(
        demo.sales.filter(pl.col("Store_ID") == 44)["Qty"].sum(), rel=1e-9)


def test_short_window_and_bad_method_give_clear_errors(demo):
    with pytest.raises(ValueError, match="needs two full years"):
        decompose(demo, 44, 3, start=dt.date(2016, 1, 1), end=dt.date(2016, 3, 31), period="yearly")
    with pytest.raises(ValueError, match="unknown method"):
        decompose(demo, 44, 3, method="x11")
    with pytest.raises(ValueError, match="store 999 has no sales"):
        decompose(demo, 999, 3)
