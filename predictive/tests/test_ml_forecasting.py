"""Accuracy measures, the seasonal-naive baseline and Prophet on series with a known answer (no database)."""
import numpy as np
import pandas as pd
import pytest

from predictive.ml import backtest as bt
from predictive.ml import forecasting as fc

PLANTED_WEEKLY = np.array([1.2, 1.0, 0.9, 1.0, 1.1, 1.5, 0.3])  # Monday..Sunday


def test_mase_divides_the_error_by_the_in_sample_seasonal_naive_error():
    train = np.array([1, 2, 3, 1, 2, 5], float)  # lag-3 differences: 0, 0, 2 -> scale 2/3
    assert bt.seasonal_naive_scale(train, 3) == pytest.approx(2 / 3)
    assert bt.mase([4, 4], [3, 6], train, 3) == pytest.approx(1.5 / (2 / 3))
    assert bt.mae([4, 4], [3, 6]) == 1.5
    assert bt.mape([0, 4, 2], [1, 3, 3]) == pytest.approx((0.25 + 0.5) / 2 * 100)  # zero actuals are skipped


def test_coverage_counts_the_share_of_actuals_inside_the_interval():
    assert bt.coverage([1, 5, 9, 3], [0, 0, 0, 4], [2, 5, 8, 6]) == 0.5


def test_rolling_origins_are_consecutive_windows_ending_at_the_last_point():
    assert bt.rolling_origins(100, 10, 3, min_train=20) == [70, 80, 90]
    assert bt.rolling_origins(40, 10, 3, min_train=20) == [20, 30]


def test_seasonal_naive_repeats_the_last_season_with_intervals_from_its_own_errors():
    season = np.array([5.0, 7.0, 9.0])
    y = np.tile(season, 10)
    yhat, intervals = fc.seasonal_naive(y, 3, 7)
    np.testing.assert_array_equal(yhat, [5, 7, 9, 5, 7, 9, 5])
    lower, upper = intervals[0.8]
    np.testing.assert_array_equal(lower, yhat)  # a perfectly periodic past has no errors
    np.testing.assert_array_equal(upper, yhat)
    # With alternating ±1 noise the one-season-ahead errors are ±2: the 95 % interval is ±2 wide.
    noisy = y + np.where(np.arange(30) % 2 == 0, 1.0, -1.0)
    yhat, intervals = fc.seasonal_naive(noisy, 3, 3, levels=(0.95,))
    lower, upper = intervals[0.95]
    np.testing.assert_allclose(upper - yhat, 2.0)
    np.testing.assert_allclose(yhat - lower, 2.0)


def test_interval_scale_widens_intervals_that_are_too_narrow_for_the_backtest_errors():
    rng = np.random.default_rng(0)
    folds = []
    for cutoff in range(5):
        actual = rng.normal(0, 2.0, 200)
        yhat = np.zeros(200)
        folds.append(bt.FoldResult(cutoff, actual, yhat, {0.8: (yhat - 1.0, yhat + 1.0)}, 1.0))
    # Errors ~ N(0, 2): 80 % of them lie within ±2·1.2816; the interval's half-width is 1.
    assert fc.interval_scale(folds, 0.8) == pytest.approx(2 * 1.2816, rel=0.08)


def _synthetic_intake(days=3 * 365, seed=1):
    """Daily counts: level 40 growing 5 %/year × planted weekday pattern × yearly wave, Poisson noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-01-03", periods=days, freq="D")  # starts on a Monday
    level = 40 * (1.05 ** (np.arange(days) / 365.25))
    yearly = 1 + 0.15 * np.cos(2 * np.pi * (ds.dayofyear - 196) / 365.25)
    rate = level * PLANTED_WEEKLY[ds.weekday] / PLANTED_WEEKLY.mean() * yearly
    return ds, rng.poisson(rate).astype(float)


def test_prophet_recovers_a_known_weekly_pattern_and_beats_seasonal_naive():
    ds, y = _synthetic_intake()
    settings = fc.ProphetSettings(freq="D", weekly=3, yearly=6, holidays=None, uncertainty_samples=100)
    result = fc.forecast_series(ds, y, 28, settings, season=7, backtest_horizon=28, folds=3)
    planted = PLANTED_WEEKLY / PLANTED_WEEKLY.mean()
    recovered = np.array(list(result.components["weekly"].values()))
    np.testing.assert_allclose(recovered, planted, atol=0.05)
    assert result.method == "prophet"
    assert result.backtest["prophet"]["mase"] < result.backtest["seasonal_naive"]["mase"]
    assert len(result.forecast) == 28
    assert (result.forecast.lower_80 <= result.forecast.yhat).all() and (result.forecast.yhat <= result.forecast.upper_80).all()
    assert (result.forecast.upper_80 <= result.forecast.upper_95).all()
    # Cross-validated coverage of the calibrated intervals is near the nominal level.
    assert 0.65 <= result.backtest["prophet"]["coverage_80"] <= 0.95


def test_when_prophet_loses_to_seasonal_naive_the_baseline_is_served_and_the_note_says_so():
    # A seasonal random walk: y[t] = y[t-7] + shock. Seasonal naive is the optimal forecast; Prophet's
    # smooth trend and fixed seasonality cannot follow the wandering pattern.
    rng = np.random.default_rng(4)
    days = 2 * 365
    y = np.empty(days)
    y[:7] = 100 + rng.normal(0, 5, 7)
    for t in range(7, days):
        y[t] = y[t - 7] + rng.normal(0, 6)
    y = y - y.min() + 10
    ds = pd.date_range("2023-01-02", periods=days, freq="D")
    settings = fc.ProphetSettings(freq="D", weekly=3, yearly=False, holidays=None, uncertainty_samples=50)
    result = fc.forecast_series(ds, y, 14, settings, season=7, backtest_horizon=7, folds=3, components=False)
    assert result.method == "seasonal_naive"
    assert result.backtest["prophet_beats_baseline"] is False
    assert result.backtest["prophet"]["mase"] >= result.backtest["seasonal_naive"]["mase"]
    assert "lost to the seasonal-naive baseline" in result.note
    np.testing.assert_allclose(result.forecast.yhat.to_numpy()[:7], y[-7:])


def test_uk_holidays_include_the_english_bank_holidays():
    from functools import partial

    from mlanalytics.core.shop import HolidayRegion, holidays_between

    england = partial(holidays_between, region=HolidayRegion("GB", "ENG"))
    frame = fc.holidays_frame("2025-01-01", "2025-12-31", england)
    names = dict(zip(frame.ds.dt.date.astype(str), frame.holiday))
    assert names["2025-12-25"] == "Christmas Day"
    assert names["2025-08-25"] == "Late Summer Bank Holiday"
    assert names["2025-04-21"] == "Easter Monday"
    weeks = pd.DatetimeIndex(["2025-12-22", "2025-12-29", "2025-06-02"])
    np.testing.assert_array_equal(fc.bank_holidays_per_period(weeks, "W-MON", england), [2, 1, 0])
