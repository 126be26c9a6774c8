"""Shared statistics: normality, stationarity, leftover autocorrelation, ACF/PACF with bands.

One home for the tests that the Explore page (data series), the Forecast page (model residuals)
and the inventory layer (``shapiro_test`` decides whether a normal-based safety stock is allowed)
all use. ``residual_diagnostics(values)`` works on any series and returns a plain dataclass; every
test carries its statistic, p-value, whether it passed and one plain sentence. scipy/statsmodels
do the tests; this module only words the verdicts and computes the Bartlett band.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import polars as pl


@contextlib.contextmanager
def one_blas_thread():
    """Run small linear algebra on one BLAS thread.

    Many tiny regressions (ADF's lag search, STL's loess) lose more to thread hand-offs of a
    multi-threaded BLAS than they gain, especially when the cores are shared.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


MIN_VALUES = 20
SHAPIRO_MAX = 5000  # scipy's p-value is exact only up to 5,000 values; larger inputs use an even subsample


@dataclass(frozen=True)
class TestResult:
    name: str  # "Shapiro-Wilk", "ADF", "Ljung-Box"
    question: str  # what the test asks, in plain words
    statistic: float
    p_value: float
    passed: bool  # True = the good outcome for forecasting (normal / stationary / no leftover pattern)
    sentence: str

    def to_dict(self) -> dict:
        return {"test": self.name, "question": self.question, "statistic": self.statistic,
                "p_value": self.p_value, "passed": self.passed, "sentence": self.sentence}


@dataclass(frozen=True)
class Diagnostics:
    n: int  # values used (missing values dropped)
    alpha: float
    shapiro: TestResult
    adf: TestResult
    ljung_box: TestResult
    lags: np.ndarray = field(repr=False)  # 0..max lag
    acf: np.ndarray = field(repr=False)
    acf_band: np.ndarray = field(repr=False)  # half-width of the (1-alpha) band around 0, per lag (Bartlett)
    pacf: np.ndarray = field(repr=False)
    pacf_band: np.ndarray = field(repr=False)  # half-width, z / sqrt(n), per lag
    mean: float = 0.0
    std: float = 0.0

    @property
    def tests(self) -> list[TestResult]:
        return [self.shapiro, self.adf, self.ljung_box]

    def table(self) -> pl.DataFrame:
        """One row per test: test, question, statistic, p_value, passed, sentence."""
        return pl.DataFrame([t.to_dict() for t in self.tests])

    def correlogram(self) -> pl.DataFrame:
        """lag, acf, acf_band, acf_significant, pacf, pacf_band, pacf_significant (lag 0 included)."""
        return pl.DataFrame({
            "lag": self.lags.astype(int), "acf": self.acf, "acf_band": self.acf_band,
            "pacf": self.pacf, "pacf_band": self.pacf_band,
        }).with_columns(
            ((pl.col("acf").abs() > pl.col("acf_band")) & (pl.col("lag") > 0)).alias("acf_significant"),
            ((pl.col("pacf").abs() > pl.col("pacf_band")) & (pl.col("lag") > 0)).alias("pacf_significant"),
        )

    def significant_acf_lags(self) -> list[int]:
        c = self.correlogram().filter(pl.col("acf_significant"))
        return c["lag"].to_list()

    def significant_pacf_lags(self) -> list[int]:
        return self.correlogram().filter(pl.col("pacf_significant"))["lag"].to_list()

    @property
    def acf_sentence(self) -> str:
        """What the ACF bars outside the band say, in one line."""
        lags = self.significant_acf_lags()
        band = f"{1 - self.alpha:.0%} band"
        if not lags:
            return f"No ACF bar leaves the {band}: yesterday's values do not predict today's."
        weekly = [k for k in lags if k % 7 == 0]
        shown = ", ".join(map(str, lags[:8])) + (" …" if len(lags) > 8 else "")
        if 1 in lags and len(lags) >= 0.5 * (len(self.lags) - 1) and bool((self.acf[1:8] > 0).all()):
            return f"ACF outside the {band} at most lags ({shown}) and fading slowly: the level drifts; model the changes."
        if len(weekly) >= 2 or (weekly and len(lags) <= 2):
            return f"ACF outside the {band} at lags {shown}: a weekly pattern is left; add weekday or lag-7 columns."
        n_lags = len(self.lags) - 1
        chance = math.ceil(self.alpha * n_lags + 2 * math.sqrt(self.alpha * (1 - self.alpha) * n_lags))
        if len(lags) <= chance and not {1, 7} & set(lags):
            return (f"ACF leaves the {band} only at lag(s) {shown}: with {n_lags} lags up to {chance} chance crossings "
                    "are expected, so this is most likely noise.")
        return f"ACF outside the {band} at lags {shown}: past values still carry information; add these lags as columns."

    @property
    def pacf_sentence(self) -> str:
        """Which direct lags matter (PACF), in one line."""
        lags = [k for k in self.significant_pacf_lags() if k <= 14]
        if not lags:
            return "No PACF bar up to lag 14 leaves the band: no single past day adds information of its own."
        return (f"PACF outside the band at lag(s) {', '.join(map(str, lags))} (up to 14): these past days add information "
                "of their own; they are the lag columns to try first.")

    def to_dict(self) -> dict:
        return {"n": self.n, "alpha": self.alpha, "mean": self.mean, "std": self.std,
                "tests": [t.to_dict() for t in self.tests], "acf_sentence": self.acf_sentence,
                "pacf_sentence": self.pacf_sentence, "correlogram": self.correlogram().to_dicts()}


def format_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def clean_values(values) -> np.ndarray:
    """Float array without missing values; a clear error when too few values or all equal."""
    if isinstance(values, (pl.Series, pl.DataFrame)):
        values = values.to_numpy()
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < MIN_VALUES:
        raise ValueError(f"only {x.size} usable values: the diagnostics need at least {MIN_VALUES}; pick a longer period.")
    if float(np.ptp(x)) == 0.0:
        raise ValueError("all values are equal, so there is nothing to test; pick another series or a longer period.")
    return x


def shapiro_test(x: np.ndarray, alpha: float = 0.05, what: str = "residuals") -> TestResult:
    from scipy import stats

    sample = x if x.size <= SHAPIRO_MAX else x[np.linspace(0, x.size - 1, SHAPIRO_MAX).astype(int)]
    res = stats.shapiro(sample)
    stat, p = float(res.statistic), float(res.pvalue)
    passed = p >= alpha
    if passed:
        sentence = (f"{what} look normal ({format_p(p)}): a normal-based safety stock "
                    "(z × standard deviation) is acceptable.")
    else:
        sentence = (f"{what} are not normal ({format_p(p)}): a normal-based safety stock will be wrong; "
                    "use empirical quantiles.")
    return TestResult("Shapiro-Wilk", "Are the values normally distributed?", stat, p, passed, sentence[0].upper() + sentence[1:])


def adf_test(x: np.ndarray, alpha: float = 0.05, what: str = "the series") -> TestResult:
    from statsmodels.tsa.stattools import adfuller

    res = adfuller(x, autolag="AIC", result_object=True)
    stat, p = float(res.statistic), float(res.pvalue)
    passed = p < alpha
    if passed:
        sentence = (f"{what} is stationary (ADF {format_p(p)}): its level does not wander, "
                    "so the past average and spread describe the coming days.")
    else:
        sentence = (f"{what} is not stationary (ADF {format_p(p)}): its level wanders (trend or random walk); "
                    "model the changes (differences) or the trend, not the raw level.")
    return TestResult("ADF", "Is the level stable over time (stationary)?", stat, p, passed, sentence[0].upper() + sentence[1:])


def ljung_box_test(x: np.ndarray, lag: int, alpha: float = 0.05, what: str = "residuals") -> TestResult:
    from statsmodels.stats.diagnostic import acorr_ljungbox

    lag = max(1, min(lag, x.size // 2 - 1))
    res = acorr_ljungbox(x, lags=[lag], return_df=True)
    stat, p = float(res["lb_stat"].iloc[0]), float(res["lb_pvalue"].iloc[0])
    passed = p >= alpha
    if passed:
        sentence = (f"no pattern left in the {what} up to lag {lag} (Ljung-Box {format_p(p)}): "
                    "they behave like white noise.")
    else:
        sentence = (f"a pattern is left in the {what} up to lag {lag} (Ljung-Box {format_p(p)}): "
                    "past days still predict them; add lags or weekday/seasonal terms.")
    return TestResult("Ljung-Box", f"Are the values free of autocorrelation up to lag {lag}?", stat, p, passed, sentence[0].upper() + sentence[1:])


def residual_diagnostics(values, lags: int = 28, ljung_box_lag: int = 14, alpha: float = 0.05,
                         what: str = "residuals") -> Diagnostics:
    """Shapiro-Wilk, ADF and Ljung-Box tests plus ACF/PACF (lags 0..``lags``) with (1-alpha) bands.

    ``values``: any 1-D array-like (numpy, list, polars/pandas Series); missing values are dropped.
    ``what`` names the values in the sentences ("residuals", "sales", ...).
    """
    x = clean_values(values)
    with one_blas_thread():
        return _diagnose(x, lags, ljung_box_lag, alpha, what)


def _diagnose(x: np.ndarray, lags: int, ljung_box_lag: int, alpha: float, what: str) -> Diagnostics:
    from scipy import stats
    from statsmodels.tsa.stattools import acf, pacf

    nlags = int(max(1, min(lags, x.size // 2 - 1)))
    z = float(stats.norm.ppf(1 - alpha / 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        acf_values = np.asarray(acf(x, nlags=nlags, fft=True, result_object=False), dtype=float)
        pacf_values = np.asarray(pacf(x, nlags=nlags, method="ywadjusted", result_object=False), dtype=float)
    # Bartlett band: var(r_k) = (1 + 2 * sum_{j<k} r_j^2) / n ; zero width at lag 0
    cum = np.concatenate([[0.0, 0.0], np.cumsum(acf_values[1:] ** 2)[:-1]])
    acf_band = z * np.sqrt((1 + 2 * cum) / x.size)
    acf_band[0] = 0.0
    pacf_band = np.full(nlags + 1, z / math.sqrt(x.size))
    pacf_band[0] = 0.0
    return Diagnostics(
        n=int(x.size), alpha=alpha,
        shapiro=shapiro_test(x, alpha, what), adf=adf_test(x, alpha, "the residual series" if what == "residuals" else "the series"),
        ljung_box=ljung_box_test(x, ljung_box_lag, alpha, what),
        lags=np.arange(nlags + 1), acf=acf_values, acf_band=acf_band, pacf=pacf_values, pacf_band=pacf_band,
        mean=float(x.mean()), std=float(x.std(ddof=1)),
    )
