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

from .backtest import rolling_origin_backtest

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
    yhat = y[n - season * k + (steps - 1) % season]
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
                    regressor_functions=None, seed=0, components=True):
    """Forecast one series `horizon` steps ahead with Prophet or the seasonal-naive baseline, whichever
    has the lower rolling-origin MASE over `folds` windows of `backtest_horizon` points.

    Intervals of both methods are calibrated on their backtest errors (split-conformal scaling, see
    `interval_scale`); the coverage reported is cross-validated: each fold is scored with the scale
    learnt from the other folds, so it is an honest estimate for the served intervals. The raw
    coverage of the uncalibrated intervals is reported beside it.

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
    prophet_error = ""
    try:
        prophet_summary, prophet_folds = rolling_origin_backtest(y, prophet_fold, backtest_horizon, folds, season, min_train)
    except Exception as exc:  # e.g. a series too sparse for Stan's optimiser: the baseline still answers
        prophet_summary, prophet_folds, prophet_error = {"folds": 0, "error": str(exc)[:300]}, [], str(exc)[:300]
    naive_summary, naive_folds = rolling_origin_backtest(y, naive_fold, backtest_horizon, folds, season, min_train)
    prophet_scales = _calibrate(prophet_summary, prophet_folds)
    naive_scales = _calibrate(naive_summary, naive_folds)
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
        lower, upper = scale_interval(yhat, *intervals[level], scales.get(level, 1.0), settings.non_negative)
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
        "fold_cutoffs": [str(ds[f.cutoff].date()) for f in prophet_folds],
    }
    parameters = {**settings.describe(), "interval_scale": {str(_pct(k)): round(v, 4) for k, v in scales.items()}}
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


def interval_scale(folds, level):
    """Split-conformal scale factor (Vovk et al. 2005; Lei et al. 2018) for the interval at `level`.

    Each backtest error is expressed in units of the interval's half-width on its side of the point
    forecast; the factor is the finite-sample-corrected `level` quantile of those scores, so scaling
    the half-widths by it covers `level` of the backtest errors. Returns 1.0 without folds.
    """
    scores = []
    for fold in folds:
        if level not in fold.intervals:
            continue
        lower, upper = fold.intervals[level]
        below = fold.actual < fold.yhat
        half = np.where(below, fold.yhat - lower, upper - fold.yhat)
        scores.append(np.abs(fold.actual - fold.yhat) / np.maximum(half, 1e-9))
    if not scores:
        return 1.0
    scores = np.concatenate(scores)
    n = len(scores)
    q = min(1.0, np.ceil((n + 1) * level) / n)
    return float(np.clip(np.quantile(scores, q), 0.25, 10.0))


def _calibrate(summary, folds):
    """Scale factors per level from all folds, and cross-validated coverage of the scaled intervals
    (each fold scaled by the factor of the other folds) written into `summary`."""
    scales = {}
    for level in LEVELS:
        key = f"coverage_{_pct(level)}"
        if key not in summary:
            continue
        summary[f"{key}_uncalibrated"] = summary.pop(key)
        scales[level] = interval_scale(folds, level)
        hits, total = 0, 0
        for i, fold in enumerate(folds):
            others = folds[:i] + folds[i + 1:]
            scale = interval_scale(others, level) if others else 1.0
            lower, upper = scale_interval(fold.yhat, *fold.intervals[level], scale, non_negative=False)
            hits += int(((fold.actual >= lower) & (fold.actual <= upper)).sum())
            total += len(fold.actual)
        summary[key] = hits / total if total else float("nan")
        summary[f"interval_scale_{_pct(level)}"] = scales[level]
    return scales


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
