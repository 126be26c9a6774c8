"""The lead-window producer: a model trained up to the close, calibration errors from origins before it, honest quantiles."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from engine.forecasting.lead_window import calibration_errors, forecast_lead_window, season_index
from engine.forecasting.quantiles import LEVELS, MIN_SEASON_ERRORS, PEAK_SEASON, LeadWindowQuantiles, conformal_quantile
from engine.forecasting.series import Series


@pytest.fixture(scope="module")
def window(demo, tmp_path_factory):
    close = demo.end - dt.timedelta(days=20)
    models = tmp_path_factory.mktemp("lw_models")
    return close, models, forecast_lead_window(demo, 44, 3, close, model="gboost", models_dir=models)


def test_point_is_the_model_trained_up_to_the_close(demo, window):
    close, models, q = window
    series = Series(demo, 44, 3)
    assert q.origin == close and q.lead_time == demo.lead_time(3) and len(q.point) == q.lead_time
    # the stored model is reused (same numbers), and its training end is the day after the close
    again = forecast_lead_window(demo, 44, 3, close, model="gboost", models_dir=models)
    np.testing.assert_allclose(again.point, q.point)
    metas = [p for p in models.iterdir() if p.name.startswith("s44_p3_gboost_")]
    assert [m.name.split("_")[3] for m in metas] == [str(close + dt.timedelta(days=1))]
    # errors are actual - forecast of out-of-sample forecasts: the total error rows match the series
    assert q.errors.shape[1] == q.lead_time and q.errors.shape[0] >= 60
    assert np.isfinite(q.errors).all()
    assert series.qty.size > 0


def test_quantiles_are_monotone_in_the_level_and_conformal(window):
    _, _, q = window
    levels = [0.05, 0.2, *LEVELS, 0.995]
    totals = [q.total_quantile(lv) for lv in levels]
    assert all(a <= b for a, b in zip(totals, totals[1:]))
    days = np.array([q.day_quantiles(lv) for lv in levels])
    assert (np.diff(days, axis=0) >= 0).all()
    # independently: P90 of the total = point total + the ceil((n+1)*0.9)-th smallest total error
    e = np.sort(q.total_errors())
    k = min(int(np.ceil((e.size + 1) * 0.9)) - 1, e.size - 1)
    assert q.total_quantile(0.9) == pytest.approx(max(0.0, q.point_total + e[k]))
    assert conformal_quantile(np.arange(1.0, 11.0), 0.5) == 6.0


def test_calibration_errors_keep_only_complete_origins():
    d = dt.date(2016, 5, 2)
    preds = pl.DataFrame({
        "fold": [0, 0, 0, 1, 1],
        "origin": [d, d, d + dt.timedelta(days=1), d + dt.timedelta(days=1), d],
        "horizon": [1, 2, 1, 2, 1],
        "actual": [10.0, 20.0, 5.0, 7.0, 11.0],
        "forecast": [8.0, 25.0, 5.0, 9.0, 10.0],
    })
    errors, weekdays, origins = calibration_errors(preds, (1, 2))
    # origin d: fold 1 repeats horizon 1 (error 1.0 wins over 2.0); origin d+1 has both horizons
    assert origins == [d, d + dt.timedelta(days=1)]
    np.testing.assert_allclose(errors, [[1.0, -5.0], [0.0, -2.0]])
    assert weekdays.tolist() == [d.weekday(), (d + dt.timedelta(days=1)).weekday()]


def test_a_close_after_the_data_is_one_sentence(demo, tmp_path):
    with pytest.raises(ValueError, match="after the last day of data"):
        forecast_lead_window(demo, 44, 3, demo.end + dt.timedelta(days=1), models_dir=tmp_path)


def test_errors_are_rescaled_to_the_level_at_the_close(demo):
    from engine.forecasting.lead_window import rescale_errors

    series = Series(demo, 44, 3)
    close = demo.end - dt.timedelta(days=3)
    origins = [close - dt.timedelta(days=200), close - dt.timedelta(days=30)]
    errors = np.array([[10.0, -4.0], [2.0, 6.0]])
    sales = (pl.DataFrame({"Date": pl.date_range(demo.start, demo.end, "1d", eager=True)})
             .join(demo.sales.filter((pl.col("Store_ID") == 44) & (pl.col("Product_ID") == 3)).select("Date", "Qty"), on="Date", how="left")
             .with_columns(pl.col("Qty").fill_null(0.0)))

    def level(day):
        return sales.filter(pl.col("Date").is_between(day - dt.timedelta(days=27), day))["Qty"].mean()

    out = rescale_errors(errors, origins, series, close)
    for row, o in zip(range(2), origins):
        np.testing.assert_allclose(out[row], errors[row] * level(close) / level(o))


def test_season_index_is_last_years_window_over_last_years_level():
    rng = np.random.default_rng(3)
    qty = rng.uniform(50, 150, 900)
    qty[500:503] *= 6  # last year's peak: days 500..502
    L = 2
    t = 499 + 364  # the close whose lead window (t+1, t+2) lies 364 days after days 500, 501
    ly = t - 364
    expected = (qty[ly + 1] + qty[ly + 2]) / (L * qty[ly - 27: ly + 1].mean())
    assert season_index(qty, t, L) == pytest.approx(expected) and expected > 4
    assert season_index(qty, 300, L) == 1.0  # less than a year and a month of history: normal
    assert season_index(qty, 100 + 364, L) == pytest.approx((qty[101] + qty[102]) / (L * qty[73:101].mean()))


def _quantiles(season: float, seasons, errors) -> LeadWindowQuantiles:
    n = len(errors)
    return LeadWindowQuantiles(44, 11, dt.date(2016, 7, 4), 1, "m", np.array([100.0]), np.array(errors, dtype=float)[:, None],
                               np.full(n, 6), error_seasons=np.array(seasons, dtype=float), season=season)


def test_a_normal_week_is_sized_on_normal_week_errors_and_a_peak_on_all():
    normal = list(np.linspace(-20, 20, 40))
    peak = [900.0, 1000.0, 1100.0, 1200.0]
    seasons = [1.0] * 40 + [3.5] * 4
    q = _quantiles(1.1, seasons, normal + peak)
    assert q.normal_weeks_only() and not q.peak
    assert sorted(q.total_errors()) == pytest.approx(sorted(normal))
    e = np.sort(normal)
    assert q.total_quantile(0.99) == pytest.approx(100.0 + e[min(int(np.ceil(41 * 0.99)) - 1, 39)])
    p = _quantiles(PEAK_SEASON, seasons, normal + peak)  # a peak close keeps every error, peaks included
    assert p.peak and not p.normal_weeks_only() and p.total_quantile(0.99) == pytest.approx(1300.0)
    few = _quantiles(1.0, [1.0] * (MIN_SEASON_ERRORS - 1) + [3.0] * 10, list(range(MIN_SEASON_ERRORS - 1)) + [500.0] * 10)
    assert not few.normal_weeks_only() and len(few.total_errors()) == MIN_SEASON_ERRORS + 9  # too few normal ones: all
    assert _quantiles(1.0, seasons, normal + peak).to_dict()["normal_weeks_only"] is True


def test_the_producer_gives_every_origin_its_season_index(demo, window):
    close, _, q = window
    series = Series(demo, 44, 3)
    assert q.season == pytest.approx(season_index(series.qty, series.index(close), q.lead_time))
    assert q.error_seasons is not None and len(q.error_seasons) == q.errors.shape[0]
