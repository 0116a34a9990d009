"""Time-series forecasts of repair intake and business metrics: Prophet against a seasonal-naive baseline.

Prophet (Taylor & Letham 2018, "Forecasting at scale", The American Statistician 72(1)) fits a
piecewise-linear trend with Fourier weekly/yearly seasonality and holiday effects; here seasonality
is multiplicative because intake scales with the size of the shop. The baseline is the seasonal
naive method (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., §5.2) with
intervals from its own empirical in-sample errors. Both are scored on the same rolling origins
(`backtest.rolling_origin_backtest`) and the series is served by whichever has the lower MASE:
when Prophet loses, `SeriesForecast.method` says so and the baseline is served.
"""
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .backtest import rolling_origin_backtest, summarise_folds

LEVELS = (0.8, 0.95)


def _quiet_prophet():
    """cmdstanpy and prophet log every fit at INFO (prophet sets its level on import); training runs hundreds."""
    import prophet  # noqa: F401  (its import sets the level we override)

    for name in ("cmdstanpy", "prophet.models"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Prophet warns on every fold fit of a two-year series that yearly seasonality is under-identified
    # below 730 days; the backtest measures what that costs, so the warning is not repeated per fit.
    logging.getLogger("prophet").setLevel(logging.ERROR)


def holidays_frame(start, end, calendar):
    """Public holidays between two dates as Prophet's holidays frame (holiday, ds). `calendar(first, last)`
    gives {date: name} (the shop's or a store's: mlanalytics.core.shop.holidays_between, from the `holidays` package)."""
    days = calendar(pd.Timestamp(start).date(), pd.Timestamp(end).date())
    rows = [(name, pd.Timestamp(day)) for day, name in sorted(days.items())]
    return pd.DataFrame(rows, columns=["holiday", "ds"]).astype({"ds": "datetime64[ns]"})


def bank_holidays_per_period(period_starts, freq, calendar):
    """How many public holidays of `calendar` (as in holidays_frame) fall in each period (week or month)
    starting at `period_starts`."""
    starts = pd.DatetimeIndex(period_starts)
    if not len(starts):
        return np.zeros(0)
    ends = starts + (pd.offsets.MonthBegin(1) if freq.startswith("M") else pd.Timedelta(days=7))
    frame = holidays_frame(starts.min(), ends.max(), calendar)
    days = frame.ds.to_numpy()
    return np.array([((days >= s) & (days < e)).sum() for s, e in zip(starts.to_numpy(), ends.to_numpy())], dtype=float)


@dataclass
class ProphetSettings:
    """How Prophet is set up for one kind of series."""

    freq: str = "D"
    weekly: int | bool = 3
    yearly: int | bool = 10
    holidays: pd.DataFrame | None = None
    holiday_calendar: str = ""  # whose holidays `holidays` (or a holiday regressor) holds, e.g. "public holidays of DK"
    seasonality_mode: str = "multiplicative"
    changepoint_prior_scale: float = 0.05
    seasonality_prior_scale: float = 10.0
    holidays_prior_scale: float = 10.0
    uncertainty_samples: int = 200
    regressors: tuple = ()
    non_negative: bool = True

    def describe(self):
        return {
            "freq": self.freq, "weekly_fourier_order": self.weekly, "yearly_fourier_order": self.yearly,
            "holidays": None if self.holidays is None else self.holiday_calendar or "holidays",
            "holiday_calendar": self.holiday_calendar or None,
            "seasonality_mode": self.seasonality_mode, "changepoint_prior_scale": self.changepoint_prior_scale,
            "seasonality_prior_scale": self.seasonality_prior_scale, "uncertainty_samples": self.uncertainty_samples,
            "regressors": list(self.regressors),
        }


def fit_prophet(history, settings, seed=0):
    """Fit Prophet to a frame with columns ds, y (and the settings' regressors). Returns the fitted model."""
    from prophet import Prophet

    _quiet_prophet()
    model = Prophet(
        growth="linear", yearly_seasonality=settings.yearly, weekly_seasonality=settings.weekly, daily_seasonality=False,
        holidays=settings.holidays, seasonality_mode=settings.seasonality_mode,
        changepoint_prior_scale=settings.changepoint_prior_scale, seasonality_prior_scale=settings.seasonality_prior_scale,
        holidays_prior_scale=settings.holidays_prior_scale, uncertainty_samples=settings.uncertainty_samples,
    )
    for name in settings.regressors:
        model.add_regressor(name, mode="additive")
    # Prophet picks Newton below 100 points; L-BFGS reaches the same optimum about four times faster on
    # the weekly/monthly series and Prophet still falls back to Newton if L-BFGS fails. The seed is
    # forwarded to cmdstan's optimiser so fits are reproducible.
    model.fit(history, seed=seed, algorithm="LBFGS")
    return model


def prophet_predict(model, future, settings, levels=LEVELS, seed=0):
    """Point forecast and prediction intervals at `levels`, from Prophet's posterior predictive samples."""
    samples_wanted = settings.uncertainty_samples
    model.uncertainty_samples = 0
    point = model.predict(future)
    yhat = point["yhat"].to_numpy()
    frame = pd.DataFrame({"ds": point["ds"].to_numpy(), "yhat": yhat})
    if samples_wanted:
        model.uncertainty_samples = samples_wanted
        state = np.random.get_state()
        # Prophet samples with numpy's global generator: seeding makes a run reproducible when fits run one
        # at a time (train_models --workers 1); with parallel fits the draws interleave.
        np.random.seed(seed)
        try:
            draws = model.predictive_samples(future)["yhat"]
        finally:
            np.random.set_state(state)
        for level in levels:
            tail = (1 - level) / 2
            frame[f"lower_{_pct(level)}"] = np.quantile(draws, tail, axis=1)
            frame[f"upper_{_pct(level)}"] = np.quantile(draws, 1 - tail, axis=1)
    if settings.non_negative:
        for column in frame.columns[1:]:
            frame[column] = frame[column].clip(lower=0)
    return frame, point


def _pct(level):
    return int(round(level * 100))


def seasonal_naive(y, season, horizon, levels=LEVELS, non_negative=True):
    """Seasonal-naive forecast ŷ[T+h] = y[T+h−m·k], k = ⌊(h−1)/m⌋+1, with empirical-error intervals.

    The interval at step h adds the in-sample quantiles of the k-season-ahead errors
    y[t] − y[t−m·k] (Hyndman & Athanasopoulos, FPP3 §5.5, bootstrapped residuals).
    Returns (yhat, {level: (lower, upper)}).
    """
    y = np.asarray(y, float)
    n = len(y)
    steps = np.arange(1, horizon + 1)
    k = (steps - 1) // season + 1
    # T + h − m·k = T − m + ((h − 1) mod m) + 1: every step reads the last observed season, so the
    # error at step h is the lag-m·k difference the intervals below are built from.
    yhat = y[n - season + (steps - 1) % season]
    intervals = {}
    errors_by_k = {}
    for kk in np.unique(k):
        lag = season * int(kk)
        errors_by_k[kk] = y[lag:] - y[:-lag] if n > lag + 1 else y - y.mean()
    for level in levels:
        tail = (1 - level) / 2
        lower = np.array([yhat[i] + np.quantile(errors_by_k[k[i]], tail) for i in range(horizon)])
        upper = np.array([yhat[i] + np.quantile(errors_by_k[k[i]], 1 - tail) for i in range(horizon)])
        if non_negative:
            lower, upper = np.clip(lower, 0, None), np.clip(upper, 0, None)
        intervals[level] = (lower, upper)
    if non_negative:
        yhat = np.clip(yhat, 0, None)
    return yhat, intervals


@dataclass
class SeriesForecast:
    """The served forecast of one series and the evidence for the choice of method."""

    method: str  # "prophet" or "seasonal_naive"
    forecast: pd.DataFrame  # ds, yhat, lower_80, upper_80, lower_95, upper_95
    backtest: dict  # {"prophet": {...}, "seasonal_naive": {...}, "served": method, "prophet_beats_baseline": bool, ...}
    components: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    note: str = ""


def _future_frame(ds, horizon, freq, regressor_values=None):
    last = pd.Timestamp(ds.iloc[-1]) if isinstance(ds, pd.Series) else pd.Timestamp(ds[-1])
    dates = pd.date_range(last, periods=horizon + 1, freq=freq)[1:]
    future = pd.DataFrame({"ds": dates})
    if regressor_values:
        for name, fn in regressor_values.items():
            future[name] = fn(dates)
    return future


def forecast_series(ds, y, horizon, settings, season, backtest_horizon, folds=3, regressors=None,
                    regressor_functions=None, seed=0, components=True, calibration_folds=None):
    """Forecast one series `horizon` steps ahead with Prophet or the seasonal-naive baseline, whichever
    has the lower rolling-origin MASE over the last `folds` windows of `backtest_horizon` points.

    Intervals of both methods are calibrated per horizon step on rolling-origin errors (split-conformal,
    see `step_scales`) from `calibration_folds` windows (default `folds`; more windows reach further
    back, so the calibration sees more of the year). Three coverages are reported per method: the raw
    one of the uncalibrated intervals (`coverage_80_uncalibrated`), the cross-validated backtest one
    (`coverage_80`: each window scored with the scales learnt on the other windows) and the held-out
    one (`coverage_80_held_out`: the latest window scored with scales learnt only on the windows before
    it, i.e. what serving would have achieved there).

    `ds`/`y`: equally spaced dates and values (no gaps). `regressors`: {name: values aligned with ds};
    `regressor_functions`: {name: f(future_dates) -> values} for the future. Returns a SeriesForecast.
    """
    ds = pd.DatetimeIndex(pd.to_datetime(ds))
    y = np.asarray(y, float)
    history = pd.DataFrame({"ds": ds, "y": y})
    for name, values in (regressors or {}).items():
        history[name] = np.asarray(values, float)

    def prophet_fold(cutoff, h):
        model = fit_prophet(history.iloc[:cutoff], settings, seed)
        future = history.iloc[cutoff:cutoff + h].drop(columns="y")
        frame, _ = prophet_predict(model, future, settings, seed=seed)
        return frame.yhat.to_numpy(), {lv: (frame[f"lower_{_pct(lv)}"].to_numpy(), frame[f"upper_{_pct(lv)}"].to_numpy()) for lv in LEVELS}

    def naive_fold(cutoff, h):
        return seasonal_naive(y[:cutoff], season, h, non_negative=settings.non_negative)

    min_train = max(season + backtest_horizon + 1, 2 * backtest_horizon)
    windows = max(folds, calibration_folds or folds)
    prophet_error = ""
    try:
        prophet_summary, prophet_folds = _scored_backtest(y, prophet_fold, backtest_horizon, folds, windows, season,
                                                          min_train)
    except Exception as exc:  # e.g. a series too sparse for Stan's optimiser: the baseline still answers
        prophet_summary, prophet_folds, prophet_error = {"folds": 0, "error": str(exc)[:300]}, [], str(exc)[:300]
    naive_summary, naive_folds = _scored_backtest(y, naive_fold, backtest_horizon, folds, windows, season, min_train)
    prophet_scales = _calibrate(prophet_summary, prophet_folds, folds, season)
    naive_scales = _calibrate(naive_summary, naive_folds, folds, season)
    # MASE decides; where it is undefined (a constant history has no naive error to scale by) MAE does.
    measure = "mase" if all(np.isfinite(x.get("mase", np.nan)) for x in (prophet_summary, naive_summary)) else "mae"
    prophet_wins = bool(prophet_summary.get("folds")) and (
        not naive_summary.get("folds") or prophet_summary[measure] < naive_summary[measure]
    )
    method = "prophet" if prophet_wins else "seasonal_naive"

    # The final Prophet fit is made even when the baseline is served if components are wanted: they
    # are the fitted weekly/yearly pattern and holiday effects the dashboards and tests read.
    future = _future_frame(history.ds, horizon, settings.freq, regressor_functions)
    components_out, prophet_frame = {}, None
    if method == "prophet" or (components and not prophet_error):
        try:
            model = fit_prophet(history, settings, seed)
            prophet_frame, _ = prophet_predict(model, future, settings, seed=seed)
            components_out = prophet_components(model, settings, ds) if components else {}
        except Exception as exc:
            if method == "prophet":
                raise
            prophet_error = str(exc)[:300]
    if method == "prophet":
        yhat = prophet_frame.yhat.to_numpy()
        intervals = {lv: (prophet_frame[f"lower_{_pct(lv)}"].to_numpy(), prophet_frame[f"upper_{_pct(lv)}"].to_numpy()) for lv in LEVELS}
        scales, note = prophet_scales, ""
    else:
        yhat, intervals = seasonal_naive(y, season, horizon, non_negative=settings.non_negative)
        scales = naive_scales
        if prophet_error:
            note = f"Prophet could not be fitted to this series ({prophet_error}); serving the seasonal-naive baseline."
        elif prophet_summary.get("folds"):
            note = (f"Prophet lost to the seasonal-naive baseline on this series ({measure.upper()} {prophet_summary[measure]:.3f} vs "
                    f"{naive_summary[measure]:.3f} over {prophet_summary['folds']} rolling-origin folds); serving the baseline.")
        else:
            note = "Too little history for a Prophet backtest; serving the seasonal-naive baseline."
    served = pd.DataFrame({"ds": future.ds.to_numpy(), "yhat": yhat})
    for level in LEVELS:
        factors = extend_scales(scales.get(level), horizon)
        lower, upper = scale_interval(yhat, *intervals[level], factors, settings.non_negative)
        served[f"lower_{_pct(level)}"] = lower
        served[f"upper_{_pct(level)}"] = upper
    backtest = {
        "served": method,
        "horizon": backtest_horizon,
        "season": season,
        "prophet": prophet_summary,
        "seasonal_naive": naive_summary,
        "prophet_beats_baseline": prophet_wins,
        "selected_by": measure,
        "fold_cutoffs": [str(ds[f.cutoff].date()) for f in (prophet_folds or naive_folds)[-folds:]],
        "calibration_folds": len(prophet_folds if method == "prophet" else naive_folds),
        "held_out_window": _window(ds, (prophet_folds if method == "prophet" else naive_folds)[-1:]),
    }
    parameters = {**settings.describe(), "interval_scale": {str(_pct(k)): _rounded(v) for k, v in scales.items()},
                  "interval_calibration": "split-conformal per horizon block on rolling-origin errors"}
    return SeriesForecast(method=method, forecast=served, backtest=backtest, components=components_out,
                          parameters=parameters, note=note)


def scale_interval(yhat, lower, upper, scale, non_negative=True):
    """Stretch an interval about the point forecast by `scale` on each side (keeps asymmetry)."""
    yhat, lower, upper = (np.asarray(a, float) for a in (yhat, lower, upper))
    new_lower = yhat - scale * np.maximum(yhat - lower, 0)
    new_upper = yhat + scale * np.maximum(upper - yhat, 0)
    if non_negative:
        new_lower, new_upper = np.clip(new_lower, 0, None), np.clip(new_upper, 0, None)
    return new_lower, new_upper


def _scores(fold, level):
    """Conformity scores of one fold: each error in units of the interval's half-width on its side."""
    lower, upper = fold.intervals[level]
    below = fold.actual < fold.yhat
    half = np.where(below, fold.yhat - lower, upper - fold.yhat)
    return np.abs(fold.actual - fold.yhat) / np.maximum(half, 1e-9)


def _conformal_quantile(scores, level):
    """The finite-sample-corrected `level` quantile ⌈(n+1)·level⌉/n of the scores, kept within [0.25, 10]."""
    n = len(scores)
    q = min(1.0, np.ceil((n + 1) * level) / n)
    return float(np.clip(np.quantile(scores, q), 0.25, 10.0))


def interval_scale(folds, level):
    """Split-conformal scale factor (Vovk et al. 2005; Lei et al. 2018) for the interval at `level`,
    pooled over every step of every fold.

    Each backtest error is expressed in units of the interval's half-width on its side of the point
    forecast; the factor is the finite-sample-corrected `level` quantile of those scores, so scaling
    the half-widths by it covers `level` of the backtest errors. Returns 1.0 without folds.
    """
    scores = [_scores(fold, level) for fold in folds if level in fold.intervals]
    if not scores:
        return 1.0
    return _conformal_quantile(np.concatenate(scores), level)


# A horizon block holds at least this many scores, so that its 95 % quantile is not just the largest error.
CALIBRATION_MIN_SCORES = 40


def horizon_blocks(steps, n_folds, season):
    """Consecutive blocks of horizon steps calibrated together: a season long (a week of days), made longer
    until each block has at least CALIBRATION_MIN_SCORES scores over `n_folds` folds. Returns [(start, end)]
    as step indices (end exclusive); a last block shorter than half a block joins the one before."""
    size = max(1, min(steps, season), int(np.ceil(CALIBRATION_MIN_SCORES / max(n_folds, 1))))
    blocks = [(a, min(a + size, steps)) for a in range(0, steps, size)]
    if len(blocks) > 1 and blocks[-1][1] - blocks[-1][0] < size / 2:
        blocks[-2:] = [(blocks[-2][0], steps)]
    return blocks


def step_scales(folds, level, season):
    """Split-conformal scale factor per horizon step: `interval_scale` computed separately on each block of
    steps (`horizon_blocks`), so intervals widen where errors grow with the horizon (e.g. the seasonal
    naive's k-th season ahead). Returns an array with one factor per backtest step, or None without folds."""
    folds = [f for f in folds if level in f.intervals and len(f.actual)]
    if not folds:
        return None
    steps = max(len(f.actual) for f in folds)
    scales = np.ones(steps)
    for a, b in horizon_blocks(steps, len(folds), season):
        scores = np.concatenate([_scores(f, level)[a:b] for f in folds])
        scales[a:b] = _conformal_quantile(scores, level) if len(scores) else 1.0
    return scales


def extend_scales(scales, horizon):
    """Per-step factors for a served horizon: steps beyond the calibrated ones keep the last block's factor."""
    if scales is None:
        return np.ones(horizon)
    scales = np.asarray(scales, float)
    return np.concatenate([scales[:horizon], np.full(max(0, horizon - len(scales)), scales[-1])])


def _covered(fold, level, scales):
    lower, upper = scale_interval(fold.yhat, *fold.intervals[level], extend_scales(scales, len(fold.actual)),
                                  non_negative=False)
    return int(((fold.actual >= lower) & (fold.actual <= upper)).sum()), len(fold.actual)


def _calibrate(summary, folds, scored, season):
    """Per-step scale factors per level from every fold, written into `summary` with three coverages:
    the raw coverage of the scored folds (`coverage_80_uncalibrated`); the cross-validated coverage
    (`coverage_80`: each scored fold with the factors of all other folds); the held-out coverage
    (`coverage_80_held_out`: the latest fold with the factors of the folds before it only)."""
    scales = {}
    for level in LEVELS:
        key = f"coverage_{_pct(level)}"
        if key not in summary:
            continue
        summary[f"{key}_uncalibrated"] = summary.pop(key)
        scales[level] = step_scales(folds, level, season)
        hits, total = 0, 0
        for i in range(max(0, len(folds) - scored), len(folds)):
            h, t = _covered(folds[i], level, step_scales(folds[:i] + folds[i + 1:], level, season))
            hits, total = hits + h, total + t
        summary[key] = hits / total if total else float("nan")
        if len(folds) > 1:
            h, t = _covered(folds[-1], level, step_scales(folds[:-1], level, season))
            summary[f"{key}_held_out"] = h / t if t else float("nan")
        summary[f"interval_scale_{_pct(level)}"] = interval_scale(folds, level)
    return scales


def _scored_backtest(y, fit_predict, horizon, scored, windows, season, min_train):
    """Rolling-origin backtest over `windows` windows; the summary (MASE, coverage …) is of the last `scored`."""
    summary, results = rolling_origin_backtest(y, fit_predict, horizon, windows, season, min_train)
    if len(results) > scored:
        summary = summarise_folds(results[-scored:], LEVELS)
    return summary, results


def _window(ds, folds):
    if not folds:
        return None
    fold = folds[-1]
    return {"start": str(ds[fold.cutoff].date()), "end": str(ds[fold.cutoff + len(fold.actual) - 1].date()),
            "points": int(len(fold.actual))}


def _rounded(scales):
    return None if scales is None else [round(float(v), 4) for v in scales]


def prophet_components(model, settings, ds):
    """The fitted pattern as multipliers: weekly (Mon..Sun, mean 1), yearly (per day of a reference year,
    relative to the trend) and holiday effects (relative change on the day). In additive mode the values are
    on the data scale instead."""
    out = {"mode": settings.seasonality_mode}
    multiplicative = settings.seasonality_mode == "multiplicative"
    model.uncertainty_samples = 0

    def evaluate(dates):
        frame = pd.DataFrame({"ds": pd.DatetimeIndex(dates)})
        for name in settings.regressors:
            frame[name] = 0.0
        return model.predict(frame)

    if settings.freq == "D" and settings.weekly:
        week = evaluate(pd.date_range("2024-01-08", periods=7, freq="D"))["weekly"].to_numpy()  # Mon 8 Jan 2024, no holidays
        factors = 1 + week if multiplicative else week
        if multiplicative:
            factors = factors / factors.mean()
        out["weekly"] = dict(zip(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], [round(float(v), 4) for v in factors]))
    if settings.yearly:
        year = evaluate(pd.date_range("2023-01-01", "2023-12-31", freq="D"))["yearly"].to_numpy()  # a non-leap year
        factors = 1 + year if multiplicative else year
        out["yearly_by_day"] = [round(float(v), 4) for v in factors]
    if settings.holidays is not None and model.train_holiday_names is not None and len(ds):
        fitted = evaluate(ds)
        effects = {}
        for name in model.train_holiday_names:
            if name in fitted:
                values = fitted[name].to_numpy()
                effects[name] = round(float(values[np.argmax(np.abs(values))]), 4)
        out["holidays"] = effects
    model.uncertainty_samples = settings.uncertainty_samples
    return out
