"""Forecast accuracy measures and rolling-origin evaluation.

MASE follows Hyndman & Koehler (2006), "Another look at measures of forecast accuracy": the mean
absolute error of the forecast divided by the in-sample mean absolute error of the one-season-ahead
seasonal-naive forecast on the training data, so MASE < 1 beats that naive method in sample and two
methods compare directly on the same folds. Rolling-origin evaluation (Tashman 2000) refits each
method on the data before each cut-off and scores the next `horizon` points.
"""
from dataclasses import dataclass

import numpy as np


def mae(actual, predicted):
    """Mean absolute error."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.mean(np.abs(actual - predicted))) if len(actual) else float("nan")


def rmse(actual, predicted):
    """Root mean squared error."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    return float(np.sqrt(np.mean((actual - predicted) ** 2))) if len(actual) else float("nan")


def mape(actual, predicted):
    """Mean absolute percentage error in %, over the points whose actual is not zero (closed days are skipped)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    keep = actual != 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs((actual[keep] - predicted[keep]) / actual[keep])) * 100)


def seasonal_naive_scale(train, season):
    """In-sample MAE of the seasonal-naive forecast y[t] = y[t - season] (the MASE denominator).

    Falls back to the lag-1 naive scale when the training data is shorter than two seasons.
    """
    train = np.asarray(train, float)
    lag = season if len(train) > season + 1 else 1
    if len(train) <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    return scale if scale > 0 else float("nan")


def mase(actual, predicted, train, season):
    """Mean absolute scaled error (Hyndman & Koehler 2006) against the in-sample seasonal-naive MAE."""
    return mae(actual, predicted) / seasonal_naive_scale(train, season)


def coverage(actual, lower, upper):
    """Share of actual values inside [lower, upper] (the empirical coverage of a prediction interval)."""
    actual = np.asarray(actual, float)
    if not len(actual):
        return float("nan")
    return float(np.mean((actual >= np.asarray(lower, float)) & (actual <= np.asarray(upper, float))))


def rolling_origins(n, horizon, folds, min_train):
    """Cut-offs (number of training points) for `folds` consecutive, non-overlapping test windows at the end."""
    cutoffs = [n - horizon * k for k in range(folds, 0, -1)]
    return [c for c in cutoffs if c >= min_train]


@dataclass
class FoldResult:
    cutoff: int
    actual: np.ndarray
    yhat: np.ndarray
    intervals: dict  # level -> (lower, upper)
    scale: float


def summarise_folds(folds, levels=(0.8, 0.95)):
    """Pool fold results into MAE, RMSE, MAPE, MASE (mean over folds), bias and interval coverage."""
    if not folds:
        return {"folds": 0}
    actual = np.concatenate([f.actual for f in folds])
    yhat = np.concatenate([f.yhat for f in folds])
    result = {
        "folds": len(folds),
        "points": int(len(actual)),
        "mae": mae(actual, yhat),
        "rmse": rmse(actual, yhat),
        "mape": mape(actual, yhat),
        "mase": _mean_finite([mae(f.actual, f.yhat) / f.scale for f in folds]),
        "bias": float(np.mean(yhat - actual)),
    }
    for level in levels:
        if all(level in f.intervals for f in folds):
            lower = np.concatenate([f.intervals[level][0] for f in folds])
            upper = np.concatenate([f.intervals[level][1] for f in folds])
            result[f"coverage_{int(round(level * 100))}"] = coverage(actual, lower, upper)
    return result


def _mean_finite(values):
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def rolling_origin_backtest(y, fit_predict, horizon, folds, season, min_train=None, levels=(0.8, 0.95)):
    """Evaluate `fit_predict(train_index_end, horizon) -> (yhat, {level: (lower, upper)})` on rolling origins.

    `y` is the full series (numpy array); the function is given the number of training points and must
    use only y[:cutoff]. Returns (summary dict, list of FoldResult).
    """
    y = np.asarray(y, float)
    min_train = min_train or max(2 * season + 1, horizon)
    results = []
    for cutoff in rolling_origins(len(y), horizon, folds, min_train):
        yhat, intervals = fit_predict(cutoff, horizon)
        results.append(FoldResult(cutoff, y[cutoff:cutoff + horizon], np.asarray(yhat, float), intervals,
                                  seasonal_naive_scale(y[:cutoff], season)))
    return summarise_folds(results, levels), results
