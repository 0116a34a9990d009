"""Triage models: how long a repair takes and when the ticket will be ready.

1. Labour minutes — gradient-boosted regression trees (scikit-learn HistGradientBoostingRegressor,
   the LightGBM-style histogram algorithm of Ke et al. 2017) with absolute-error loss, so it
   predicts the median labour time of a repair from its repair type, device category and brand,
   technician (when known), priority, quote relative to list price and whether it is a comeback.
   Backtest: trained on the earlier 80 % of completed repairs (by completion time), MAE on the
   later 20 %, against the catalogue's standard minutes as the naive baseline.
2. Remaining working time to ready — empirical conditional median: for every past ticket and every
   status it entered, the working minutes from entering that status to becoming ready; the
   prediction is the median for (status, repair type), falling back to the status median. Backtest
   the same way (MAE in working hours on the later 20 %).
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import ThreadpoolController

CATEGORICAL = ["repair_type", "device_category", "brand", "technician", "priority"]
NUMERIC = ["quote_ratio", "is_comeback"]
MIN_GROUP = 20
_threads = None  # one ThreadpoolController per process: finding the OpenMP library is the slow part


def _single_thread():
    global _threads
    if _threads is None:
        _threads = ThreadpoolController()
    return _threads.limit(limits=1, user_api="openmp")


class LabourModel:
    """Histogram gradient boosting with its own category codes (a bare estimator: per-request
    prediction stays a few milliseconds, without the overhead of a column-transformer pipeline)."""

    def __init__(self, random_state=0):
        self.categories = {}
        self.estimator = HistGradientBoostingRegressor(
            loss="absolute_error", max_iter=80, learning_rate=0.15, max_leaf_nodes=31, min_samples_leaf=40,
            categorical_features=list(range(len(CATEGORICAL))), random_state=random_state,
        )

    def _matrix(self, data):
        columns = []
        for column in CATEGORICAL:
            codes = {value: float(i) for i, value in enumerate(self.categories[column])}
            columns.append(data[column].map(codes).to_numpy(dtype=float))  # unknown -> NaN (missing)
        for column in NUMERIC:
            columns.append(data[column].to_numpy(dtype=float))
        return np.column_stack(columns)

    def fit(self, data, target):
        # Codes by frequency; HistGradientBoosting handles at most 255 categories per feature.
        self.categories = {c: list(data[c].value_counts().index[:250]) for c in CATEGORICAL}
        self.estimator.fit(self._matrix(data), target)
        return self

    def predict(self, data):
        return self.estimator.predict(self._matrix(data))


def _pipeline(random_state=0):
    return LabourModel(random_state)


def _prepare(frame):
    data = frame.copy()
    for column in CATEGORICAL:
        data[column] = data[column].fillna("none").astype(str)
    data["quote_ratio"] = pd.to_numeric(data.get("quote_ratio"), errors="coerce").fillna(1.0)
    data["is_comeback"] = data["is_comeback"].astype(float)
    return data[CATEGORICAL + NUMERIC]


def fit_labour_model(frame, *, holdout_share=0.2, random_state=0):
    """frame: CATEGORICAL + NUMERIC columns, `labour_minutes` (target), `standard_minutes`, `completed`
    (sort key). Returns (fitted pipeline on all rows, metrics from the time-ordered holdout)."""
    data = frame.dropna(subset=["labour_minutes"]).sort_values("completed").reset_index(drop=True)
    if len(data) < 200:
        raise ValueError(f"only {len(data)} completed repairs with labour times; at least 200 are needed")
    cut = int(len(data) * (1 - holdout_share))
    train, test = data.iloc[:cut], data.iloc[cut:]
    model = _pipeline(random_state).fit(_prepare(train), train.labour_minutes.to_numpy(dtype=float))
    predicted = model.predict(_prepare(test))
    actual = test.labour_minutes.to_numpy(dtype=float)
    baseline = test.standard_minutes.to_numpy(dtype=float)
    type_median = train.groupby("repair_type").labour_minutes.median()
    type_baseline = test.repair_type.map(type_median).fillna(train.labour_minutes.median()).to_numpy(dtype=float)
    metrics = {
        "mae_minutes": round(float(np.mean(np.abs(predicted - actual))), 2),
        "baseline_standard_minutes_mae": round(float(np.mean(np.abs(baseline - actual))), 2),
        "baseline_repair_type_median_mae": round(float(np.mean(np.abs(type_baseline - actual))), 2),
        "median_absolute_percentage_error": round(float(np.median(np.abs(predicted - actual) / np.maximum(actual, 1))), 4),
        "within_15_minutes": round(float(np.mean(np.abs(predicted - actual) <= 15)), 4),
        "n_train": int(len(train)), "n_holdout": int(len(test)),
        "holdout_from": str(test.completed.iloc[0]) if len(test) else None,
    }
    final = _pipeline(random_state).fit(_prepare(data), data.labour_minutes.to_numpy(dtype=float))
    return final, metrics


def predict_labour(model, frame):
    """Predicted labour minutes (at least 5) for rows with the model's feature columns."""
    if frame.empty:
        return np.array([])
    # One thread: for the few hundred rows of a request, OpenMP start-up costs far more than it saves.
    with _single_thread():
        return np.maximum(model.predict(_prepare(frame)), 5.0)


def fit_remaining_time(stages, *, holdout_share=0.2):
    """stages: `status`, `repair_type`, `remaining_working_minutes`, `entered` (sort key) for every status a
    completed ticket entered before ready. Returns (table, metrics): table = {status: {"_all": m, type: m}}."""
    data = stages.dropna(subset=["remaining_working_minutes"]).sort_values("entered").reset_index(drop=True)
    if data.empty:
        raise ValueError("no completed tickets to learn remaining times from")
    cut = int(len(data) * (1 - holdout_share))
    train, test = data.iloc[:cut], data.iloc[cut:]

    def table_of(rows):
        table = {}
        for status, group in rows.groupby("status"):
            entry = {"_all": float(group.remaining_working_minutes.median())}
            for repair_type, sub in group.groupby("repair_type"):
                if len(sub) >= MIN_GROUP:
                    entry[str(repair_type)] = float(sub.remaining_working_minutes.median())
            table[str(status)] = entry
        return table

    trial = table_of(train)
    predicted = np.array([lookup_remaining(trial, s, r) for s, r in zip(test.status, test.repair_type)], dtype=float)
    actual = test.remaining_working_minutes.to_numpy(dtype=float)
    ok = ~np.isnan(predicted)
    status_only = np.array([trial.get(str(s), {}).get("_all", np.nan) for s in test.status], dtype=float)
    metrics = {
        "mae_working_hours": round(float(np.mean(np.abs(predicted[ok] - actual[ok])) / 60), 3) if ok.any() else None,
        "baseline_status_median_mae_working_hours": round(float(np.nanmean(np.abs(status_only - actual)) / 60), 3),
        "n_train": int(len(train)), "n_holdout": int(len(test)),
    }
    return table_of(data), metrics


def lookup_remaining(table, status, repair_type):
    entry = table.get(str(status))
    if not entry:
        return np.nan
    return entry.get(str(repair_type), entry["_all"])


@dataclass(frozen=True)
class PriorityScoreParameters:
    """The hand-set parts of the triage score (settings WORKFLOW_PRIORITY_*; not learned from data).

    weights: relative weight of each component {"priority", "sla_pressure", "age", "comeback"};
    levels: the 0–1 level of each priority; pressure_hours: slack at which SLA pressure is e^−1;
    age_full_hours: age at which the age component is full; unknown_pressure: SLA pressure when the
    ready time cannot be predicted."""

    weights: dict
    levels: dict
    pressure_hours: float
    age_full_hours: float
    unknown_pressure: float

    def as_dict(self):
        return {"weights": dict(self.weights), "priority_levels": dict(self.levels), "sla_pressure_hours": self.pressure_hours,
                "age_full_hours": self.age_full_hours, "unknown_sla_pressure": self.unknown_pressure}


def priority_score(priority, slack_hours, hours_since_received, is_comeback, parameters):
    """A 0–100 triage score (transparent weighted sum, not learned): the weighted mean of the ticket's
    priority level, SLA pressure (1 when predicted to finish after its promise, else exp(−slack/pressure_hours)),
    age (full at age_full_hours) and whether it is a warranty comeback, times 100."""
    levels = parameters.levels
    level = levels.get(priority, levels.get("normal", 0.0))
    if slack_hours is None or (isinstance(slack_hours, float) and np.isnan(slack_hours)):
        pressure = parameters.unknown_pressure
    else:
        pressure = 1.0 if slack_hours <= 0 else float(np.exp(-slack_hours / parameters.pressure_hours))
    age = min(1.0, max(0.0, hours_since_received) / parameters.age_full_hours)
    components = {"priority": level, "sla_pressure": pressure, "age": age, "comeback": 1.0 if is_comeback else 0.0}
    total = sum(parameters.weights.get(k, 0.0) for k in components)
    if total <= 0:
        return 0.0
    score = 100 * sum(parameters.weights.get(k, 0.0) * v for k, v in components.items()) / total
    return round(float(score), 1)
