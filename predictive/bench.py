"""Benchmark cases of the predictive endpoints for `manage.py bench` (p50/p95, cold and warm cache).

Every case is answered from stored models: run `manage.py train_models` first. After the cases,
`report()` prints the training time per model kind of the latest finished training run.
"""
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlanalytics.core.management.commands.bench import BenchCase

BASE = "/api/predictive-analytics/"


def cases(context):
    stores = sorted(context["stores"])
    one = stores[0] if stores else None
    out = [
        BenchCase("repair-demand-forecast all stores", "POST", BASE + "repair-demand-forecast", {"horizon_days": 28}),
        BenchCase("repair-demand-forecast store 90d", "POST", BASE + "repair-demand-forecast", {"store": one, "horizon_days": 90}),
        BenchCase("repair-demand-forecast category", "POST", BASE + "repair-demand-forecast", {"device_category": "phone"}),
        BenchCase("business-metrics-forecast week", "POST", BASE + "business-metrics-forecast", {"granularity": "week"}),
        BenchCase("business-metrics-forecast month", "POST", BASE + "business-metrics-forecast", {"granularity": "month", "horizon": 6}),
        BenchCase("business-metrics-forecast store week", "POST", BASE + "business-metrics-forecast", {"store": one}),
        BenchCase("customer-behavior-prediction all", "POST", BASE + "customer-behavior-prediction", {"horizon_days": 90}),
        BenchCase("customer-behavior-prediction store", "POST", BASE + "customer-behavior-prediction", {"store": one, "horizon_days": 365}),
        BenchCase("inventory-demand-prediction store", "POST", BASE + "inventory-demand-prediction", {"store": one}),
        BenchCase("inventory-demand-prediction all 500", "POST", BASE + "inventory-demand-prediction", {"limit": 500}),
        BenchCase("cost-optimization 6 months", "POST", BASE + "cost-optimization", {"months": 6}),
        BenchCase("cost-optimization store 12 months", "POST", BASE + "cost-optimization", {"store": one, "months": 12}),
        BenchCase("model-performance", "GET", BASE + "model-performance", {}),
        BenchCase("model-performance kind", "GET", BASE + "model-performance", {"kind": "repair_demand"}),
    ]
    return [case for case in out if one is not None or "store" not in case.data]


def report(context):
    """Training time per model kind (wall clock, with the number of models) of the latest finished run."""
    from .models import TrainingRun
    from .training import KINDS

    run = TrainingRun.objects.filter(status=TrainingRun.Status.DONE).order_by("-started_at").first()
    if run is None:
        return ["training: no finished training run (run manage.py train_models)"]
    counts = {}
    for entry in run.log:
        counts[entry.get("kind")] = counts.get(entry.get("kind"), 0) + 1
    timings = run.timings or {}
    lines = [f"training run {run.pk} ({run.started_at:%Y-%m-%d %H:%M}, {run.triggered_by or '?'}): "
             f"{timings.get('total', run.duration_seconds):.1f} s wall, {timings.get('cpu_seconds', float('nan')):.1f} s CPU, "
             f"loading data {timings.get('loading_data', float('nan')):.1f} s"]
    for kind in KINDS:
        if kind in timings:
            lines.append(f"training {kind:42s} {timings[kind]:7.1f} s  ({counts.get(kind, 0)} models)")
    return lines


# ---------------------------------------------------------------------------------------------
# Interval benchmark (`manage.py bench_intervals`): do the served intervals cover what they say?
# ---------------------------------------------------------------------------------------------

PUBLIC_DATA = Path(__file__).resolve().parent / "tests" / "data" / "seattle_weather.csv"
# Public daily series (see predictive/tests/data/README.md) and how they are set up: no shop holidays; a
# temperature is additive (it crosses zero) and may be negative, the others are non-negative.
PUBLIC_SERIES = {
    "seattle temp_max": {"column": "temp_max", "mode": "additive", "non_negative": False},
    "seattle precipitation": {"column": "precipitation", "mode": "multiplicative", "non_negative": True},
    "seattle wind": {"column": "wind", "mode": "multiplicative", "non_negative": True},
}


@dataclass
class IntervalSeries:
    """One daily series as the repair-intake model is set up for it (same horizon, folds and calibration)."""

    name: str
    ds: pd.DatetimeIndex
    y: np.ndarray
    settings: object
    season: int = 7


def demo_intake_series():
    """Tickets received per day at every store: the series of the all-stores repair_demand model."""
    from . import datasets
    from .training import demand_settings

    data = datasets.ShopData.load()
    if data.end is None:
        return None
    series = datasets.daily_counts(data.tickets, data.start, data.end)
    return IntervalSeries("demo intake, all stores", series.index, series.to_numpy(float),
                          demand_settings(data.start, data.end))


def public_series():
    """The public daily series of PUBLIC_SERIES with the repair-intake model's Prophet set-up (no holidays)."""
    from .ml import forecasting
    from .training import PROPHET_UNCERTAINTY_SAMPLES, demand_settings

    frame = pd.read_csv(PUBLIC_DATA, parse_dates=["date"])
    out = []
    for name, spec in PUBLIC_SERIES.items():
        base = demand_settings(frame.date.iloc[0], frame.date.iloc[-1])
        settings = forecasting.ProphetSettings(
            freq="D", weekly=base.weekly, yearly=base.yearly, holidays=None, seasonality_mode=spec["mode"],
            uncertainty_samples=PROPHET_UNCERTAINTY_SAMPLES, non_negative=spec["non_negative"])
        values = frame[spec["column"]].to_numpy(float)
        out.append(IntervalSeries(name, pd.DatetimeIndex(frame.date), values, settings))
    return out


def interval_benchmark(series, windows=13, calibration_folds=None):
    """Refit the served model (`forecasting.forecast_series`, the repair-intake set-up) at the start of each of
    the last `windows` back-to-back windows of DEMAND_BACKTEST_DAYS days, serve its intervals for that window
    and count how many actuals they hold. Also the MASE of the served method and of seasonal naive on the
    same windows, and the backtest figures (MASE, cross-validated and held-out coverage) of the fit on the
    whole series. Returns a dict of figures."""
    from .ml import backtest as bt
    from .ml import forecasting
    from .training import DEMAND_BACKTEST_DAYS, DEMAND_CALIBRATION_FOLDS, DEMAND_FOLDS

    h, y = DEMAND_BACKTEST_DAYS, series.y
    calibration_folds = calibration_folds or DEMAND_CALIBRATION_FOLDS

    def fit(end):
        return forecasting.forecast_series(series.ds[:end], y[:end], h, series.settings, season=series.season,
                                           backtest_horizon=h, folds=DEMAND_FOLDS, components=False,
                                           calibration_folds=calibration_folds)

    def inside(result, actual, pct):
        return int(((actual >= result.forecast[f"lower_{pct}"]) & (actual <= result.forecast[f"upper_{pct}"])).sum())

    hits, points, served_mase, naive_mase, served_by = {0.8: 0, 0.95: 0}, 0, [], [], {}
    started = time.perf_counter()
    for w in range(windows, 0, -1):
        end = len(y) - h * w
        result, actual = fit(end), y[end:end + h]
        for level in hits:
            hits[level] += inside(result, actual, int(level * 100))
        points += len(actual)
        naive, _ = forecasting.seasonal_naive(y[:end], series.season, h, non_negative=series.settings.non_negative)
        served_mase.append(bt.mase(actual, result.forecast.yhat, y[:end], series.season))
        naive_mase.append(bt.mase(actual, naive, y[:end], series.season))
        served_by[result.method] = served_by.get(result.method, 0) + 1
    seconds_per_fit = (time.perf_counter() - started) / windows
    full = fit(len(y))
    served = full.backtest[full.method]
    return {
        "name": series.name, "points": int(len(y)), "windows": windows, "window_days": h,
        "realised_points": points,
        "served": full.method, "mase_served": served.get("mase"),
        "mase_seasonal_naive": full.backtest["seasonal_naive"].get("mase"),
        **{key: served.get(key) for key in ("coverage_80", "coverage_95", "coverage_80_held_out",
                                            "coverage_95_held_out")},
        "realised_80": hits[0.8] / points, "realised_95": hits[0.95] / points,
        "realised_mase_served": float(np.mean(served_mase)),
        "realised_mase_seasonal_naive": float(np.mean(naive_mase)),
        "served_in_windows": served_by, "seconds_per_fit": seconds_per_fit,
    }
