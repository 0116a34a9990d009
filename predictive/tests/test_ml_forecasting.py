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


def test_seasonal_naive_repeats_the_last_observed_season_at_every_step_fpp3_5_2():
    # FPP3 §5.2: ŷ[T+h] = y[T+h−m(k+1)] with k the whole seasons in h−1: steps 8..21 read the last season again.
    yhat, _ = fc.seasonal_naive(np.arange(21.0), 7, 21)
    np.testing.assert_array_equal(yhat, np.tile(np.arange(14.0, 21.0), 3))


def test_seasonal_naive_interval_at_the_kth_season_ahead_uses_the_errors_of_lag_k_seasons():
    # On a straight line y[t] = t every lag-7k difference is exactly 7k: the interval of the k-th season
    # ahead is the point forecast moved up by 7k, and nothing else.
    yhat, intervals = fc.seasonal_naive(np.arange(28.0), 7, 21, levels=(0.8,))
    np.testing.assert_array_equal(yhat, np.tile(np.arange(21.0, 28.0), 3))
    lower, upper = intervals[0.8]
    shift = 7.0 * np.repeat([1, 2, 3], 7)
    np.testing.assert_array_equal(lower, yhat + shift)
    np.testing.assert_array_equal(upper, yhat + shift)


def _folds_with_growing_errors(rng, n_folds, sd_by_step, half_width=1.0):
    """Backtest folds of a forecast whose raw interval is ±half_width at every step while its errors are
    N(0, sd_by_step[h]): too wide near the origin, too narrow further out (planted truth)."""
    steps = len(sd_by_step)
    folds = []
    for i in range(n_folds):
        yhat = np.full(steps, 50.0)
        actual = yhat + rng.normal(0, sd_by_step)
        bands = {lv: (yhat - half_width, yhat + half_width) for lv in fc.LEVELS}
        folds.append(bt.FoldResult(i * steps, actual, yhat, bands, 1.0))
    return folds


def _coverage_by_week(folds, scales_by_level):
    """Realised coverage of the scaled intervals per week of the horizon, pooled over fresh folds."""
    out = {}
    for level, scales in scales_by_level.items():
        inside = []
        for fold in folds:
            factors = fc.extend_scales(scales, len(fold.actual))
            lower, upper = fc.scale_interval(fold.yhat, *fold.intervals[level], factors, non_negative=False)
            inside.append((fold.actual >= lower) & (fold.actual <= upper))
        inside = np.array(inside)
        out[level] = [float(inside[:, w * 7:(w + 1) * 7].mean()) for w in range(inside.shape[1] // 7)]
    return out


def test_split_conformal_per_horizon_week_covers_the_nominal_share_where_one_pooled_factor_does_not():
    rng = np.random.default_rng(11)
    sd = np.repeat([1.0, 2.0, 3.0, 4.0], 7)  # the error grows week by week over a 28-day horizon
    assert fc.horizon_blocks(28, 6, 7) == [(0, 7), (7, 14), (14, 21), (21, 28)]
    runs = {"per_week": [], "pooled": [], "raw": []}
    # Split-conformal coverage holds on average over calibration sets: 200 times, calibrate on six rolling
    # windows (as the intake model does) and count on 20 windows that follow from the same process.
    for _ in range(200):
        calibration = _folds_with_growing_errors(rng, 6, sd)
        fresh = _folds_with_growing_errors(rng, 20, sd)
        per_week = {lv: fc.step_scales(calibration, lv, 7) for lv in fc.LEVELS}
        pooled = {lv: np.full(28, fc.interval_scale(calibration, lv)) for lv in fc.LEVELS}
        runs["per_week"].append(_coverage_by_week(fresh, per_week))
        runs["pooled"].append(_coverage_by_week(fresh, pooled))
        runs["raw"].append(_coverage_by_week(fresh, {lv: np.ones(28) for lv in fc.LEVELS}))
    for level in fc.LEVELS:
        per_week, pooled, raw = (np.mean([r[level] for r in runs[name]], axis=0)
                                 for name in ("per_week", "pooled", "raw"))
        # 42 scores a week: the finite-sample quantile errs on the safe side by at most 1/43.
        assert np.all((per_week >= level - 0.02) & (per_week <= level + 0.035)), (level, per_week)
        # One factor for the whole horizon over-covers the first week and under-covers the last ...
        assert pooled[0] > min(level + 0.08, 0.995) and pooled[-1] < level - 0.08, (level, pooled)
        # ... and the raw ±1 interval is far off everywhere but the first week.
        assert raw[-1] < 0.3


def test_conformal_calibration_with_too_few_scores_per_step_pools_steps_into_larger_blocks():
    assert fc.horizon_blocks(28, 3, 7) == [(0, 14), (14, 28)]  # 3 folds × 14 steps = 42 scores a block
    assert fc.horizon_blocks(8, 3, 52) == [(0, 8)]  # weekly business metrics: one block
    assert fc.horizon_blocks(9, 10, 4) == [(0, 4), (4, 9)]  # a stub of one step joins the block before
    np.testing.assert_array_equal(fc.extend_scales(np.array([1.0, 2.0]), 4), [1.0, 2.0, 2.0, 2.0])


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


def test_served_intervals_cover_the_nominal_share_of_the_days_that_follow_on_a_series_with_known_noise():
    # Planted truth: a fixed weekly pattern plus Gaussian noise of sd 6, so the served 80 %/95 % intervals
    # must hold about 80 %/95 % of the next 84 days, which no fit or calibration saw.
    rng = np.random.default_rng(5)
    days, ahead = 2 * 365, 84
    ds = pd.date_range("2023-01-02", periods=days + ahead, freq="D")
    y = 60 + 20 * (PLANTED_WEEKLY[ds.weekday] - 1) + rng.normal(0, 6, days + ahead)
    settings = fc.ProphetSettings(freq="D", weekly=3, yearly=False, holidays=None, uncertainty_samples=100,
                                  seasonality_mode="additive")
    result = fc.forecast_series(ds[:days], y[:days], ahead, settings, season=7, backtest_horizon=28, folds=3,
                                components=False, calibration_folds=6)
    future = y[days:]
    assert result.method == "prophet"
    assert result.backtest["calibration_folds"] == 6 and result.backtest["held_out_window"]["points"] == 28
    assert len(result.backtest["fold_cutoffs"]) == 3  # MASE is still scored on the last three windows
    for level, (low, high) in ((80, (0.72, 0.88)), (95, (0.89, 0.99))):
        inside = (future >= result.forecast[f"lower_{level}"]) & (future <= result.forecast[f"upper_{level}"])
        assert low <= inside.mean() <= high, (level, inside.mean())
        for key in (f"coverage_{level}", f"coverage_{level}_held_out", f"coverage_{level}_uncalibrated"):
            assert 0 <= result.backtest["prophet"][key] <= 1, key


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
