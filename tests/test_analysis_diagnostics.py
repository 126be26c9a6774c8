"""Residual diagnostics on series whose answer is known."""

import numpy as np
import pytest

from engine.stats import residual_diagnostics


@pytest.fixture(scope="module")
def white_noise():
    return np.random.default_rng(7).normal(10.0, 2.0, size=800)


def test_white_noise_passes_shapiro_adf_and_ljung_box(white_noise):
    d = residual_diagnostics(white_noise)
    assert d.n == 800
    assert d.shapiro.passed and d.shapiro.p_value > 0.05
    assert d.adf.passed and d.adf.p_value < 0.01
    assert d.ljung_box.passed
    assert d.shapiro.sentence.startswith("Residuals look normal (p = ")
    assert "stationary" in d.adf.sentence and "not stationary" not in d.adf.sentence
    # ACF at lag 0 is 1, others small and mostly inside the band
    assert d.acf[0] == pytest.approx(1.0)
    assert np.abs(d.acf[1:]).max() < 0.15
    assert len(d.significant_acf_lags()) <= 3
    assert d.acf_sentence.startswith(("No ACF bar leaves the 95% band", "ACF leaves the 95% band only at lag(s)"))


def test_random_walk_fails_adf(white_noise):
    walk = np.cumsum(np.random.default_rng(3).normal(size=800))
    d = residual_diagnostics(walk, what="sales")
    assert not d.adf.passed and d.adf.p_value > 0.05
    assert d.adf.sentence.startswith("The series is not stationary (ADF p = ")
    assert not d.ljung_box.passed
    assert d.acf[1] > 0.9 and d.acf_band[1] < d.acf[1]
    assert "fading slowly: the level drifts" in d.acf_sentence
    assert d.significant_pacf_lags()[0] == 1 and "lag(s) 1" in d.pacf_sentence


def test_skewed_values_fail_shapiro_with_the_plain_sentence():
    skewed = np.random.default_rng(5).exponential(1.0, size=500)
    d = residual_diagnostics(skewed)
    assert not d.shapiro.passed and d.shapiro.p_value < 0.001
    assert d.shapiro.sentence == ("Residuals are not normal (p < 0.001): a normal-based safety stock will be wrong; "
                                  "use empirical quantiles.")


def test_weekly_pattern_is_left_for_ljung_box_and_acf_lag_7():
    rng = np.random.default_rng(11)
    t = np.arange(700)
    x = 5 * np.sin(2 * np.pi * t / 7) + rng.normal(size=t.size)
    d = residual_diagnostics(x, lags=21)
    assert not d.ljung_box.passed
    assert 7 in d.significant_acf_lags() and 14 in d.significant_acf_lags()
    assert d.acf[7] > 0.8
    assert d.acf_sentence.endswith("a weekly pattern is left; add weekday or lag-7 columns.")
    table = d.correlogram()
    assert table.height == 22 and table["lag"].to_list() == list(range(22))
    assert (table["pacf_band"][1:] == table["pacf_band"][1]).all()


def test_bands_match_statsmodels(white_noise):
    from statsmodels.tsa.stattools import acf, pacf

    d = residual_diagnostics(white_noise, lags=10)
    a, ci = acf(white_noise, nlags=10, alpha=0.05, result_object=False)
    p, pci = pacf(white_noise, nlags=10, alpha=0.05, result_object=False)
    np.testing.assert_allclose(d.acf, a)
    np.testing.assert_allclose(d.acf_band, ci[:, 1] - a, atol=1e-12)
    np.testing.assert_allclose(d.pacf, p)
    np.testing.assert_allclose(d.pacf_band[1:], (pci[:, 1] - p)[1:], atol=1e-12)


def test_missing_values_are_dropped_and_table_has_three_tests(white_noise):
    x = white_noise.copy()
    x[::10] = np.nan
    d = residual_diagnostics(list(x))
    assert d.n == 720
    table = d.table()
    assert table["test"].to_list() == ["Shapiro-Wilk", "ADF", "Ljung-Box"]
    assert set(table.columns) == {"test", "question", "statistic", "p_value", "passed", "sentence"}
    assert d.to_dict()["tests"][1]["test"] == "ADF"


@pytest.mark.parametrize("values, words", [([1.0] * 50, "all values are equal"), ([1.0, 2.0, 3.0], "only 3 usable values")])
def test_unusable_input_is_one_clear_sentence(values, words):
    with pytest.raises(ValueError, match=words):
        residual_diagnostics(values)
