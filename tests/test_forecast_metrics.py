"""Metrics against hand-computed values; baselines and Holt-Winters against their definitions."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from engine.forecasting import metrics as M


def test_metrics_match_hand_computed_values():
    y, f = [0.0, 10.0, 20.0], [5.0, 10.0, 10.0]
    assert M.mae(y, f) == pytest.approx(5.0)
    assert M.rmse(y, f) == pytest.approx(math.sqrt(125 / 3))
    assert M.wape(y, f) == pytest.approx(15 / 30)
    assert M.smape(y, f) == pytest.approx((2.0 + 0.0 + 20 / 30) / 3)
    assert M.r2(y, f) == pytest.approx(1 - 125 / 200)
    scale = M.seasonal_naive_scale([0.0] * 7 + [7.0] * 7)
    assert scale == pytest.approx(7.0)
    assert M.mase(y, f, scale) == pytest.approx(5 / 7)
    assert M.all_metrics(y, f, scale) == pytest.approx({"rmse": math.sqrt(125 / 3), "mae": 5.0, "wape": 0.5, "smape": (2 + 20 / 30) / 3, "mase": 5 / 7, "r2": 0.375})


def test_zero_days_do_not_blow_up_percentage_errors():
    y, f = [0.0, 0.0, 10.0], [0.0, 3.0, 5.0]
    assert M.mape(y, f) == pytest.approx(0.5)  # only the non-zero day counts
    assert M.smape(y, f) == pytest.approx((0.0 + 2.0 + 10 / 15) / 3)  # 0/0 counts as 0
    assert math.isnan(M.mape([0.0, 0.0], [1.0, 2.0]))
    assert math.isnan(M.wape([0.0, 0.0], [1.0, 2.0]))
    assert M.smape([0.0, 0.0], [0.0, 0.0]) == 0.0


def test_metrics_refuse_mismatched_lengths():
    with pytest.raises(ValueError, match="one forecast per actual"):
        M.mae([1.0, 2.0], [1.0])


def test_baselines_follow_their_definitions(demo):
    from engine.forecasting.models.baselines import LastValue, SeasonalNaive, WeekdayMean
    from engine.forecasting.series import Series

    s = Series(demo, 44, 3)
    origin = dt.date(2017, 2, 15)
    t = s.index(origin)
    q = s.qty
    assert LastValue().fit(s, (1, 2)).predict(s, [origin]).tolist() == [[q[t], q[t]]]
    assert SeasonalNaive().fit(s, (2, 9)).predict(s, [origin]).tolist() == [[q[t + 2 - 7], q[t + 9 - 14]]]
    expected = np.mean([q[t + 2 - 7 * j] for j in (1, 2, 3, 4)])
    assert WeekdayMean().fit(s, (2,)).predict(s, [origin])[0, 0] == pytest.approx(expected)


def test_holt_winters_walk_forward_equals_statsmodels_forecast(demo):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    from engine.forecasting.models.baselines import HoltWinters
    from engine.forecasting.series import Series

    s = Series(demo, 44, 12).before(dt.date(2016, 12, 1))
    model = HoltWinters().fit(s, (1, 2))
    y = s.qty[model._train_offset:]
    ref = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7,
                               initialization_method="estimated").fit()
    assert model.predict(s, [s.end])[0] == pytest.approx(ref.forecast(2), rel=1e-6)


def test_ensemble_is_the_mean_of_its_members_on_the_same_days():
    import polars as pl

    from engine.forecasting.backtest import CrossValidation, best_ensemble

    def cv(name, forecasts, score):
        days = [dt.date(2017, 1, d) for d in (1, 2)]
        preds = pl.DataFrame({"fold": [0, 0], "origin": days, "horizon": [2, 2], "target_date": days,
                              "actual": [10.0, 20.0], "forecast": forecasts}).with_columns(pl.col("fold", "horizon").cast(pl.Int32))
        return CrossValidation(name, {}, score, {}, preds)

    cvs = {"a": cv("a", [8.0, 24.0], 0.2), "b": cv("b", [12.0, 18.0], 0.1333), "c": cv("c", [0.0, 0.0], 1.0)}
    ens = best_ensemble(cvs, scale=1.0)
    assert ens.params["members"] == ["b", "a"]  # top 2 beats top 3 (c is far off)
    assert ens.predictions["forecast"].to_list() == [10.0, 21.0]
    assert ens.score == pytest.approx(1 / 30)
