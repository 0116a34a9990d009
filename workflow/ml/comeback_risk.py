"""Comeback risk: the probability that a finished repair returns under warranty within 90 days.

L2-regularised logistic regression (scikit-learn) on one-hot technician, repair type, device
category and parts supplier, plus the labour time relative to standard and whether the repair
failed its first QA inspection. Backtest: trained on the earlier 75 % of repairs whose 90-day
window has closed (by completion time), ROC AUC and Brier score on the later 25 %, against the
base rate.
"""
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CATEGORICAL = ["technician", "repair_type", "device_category", "supplier"]
NUMERIC = ["labour_ratio", "qa_failed"]


def _pipeline():
    columns = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
        ("num", StandardScaler(), NUMERIC),
    ])
    return Pipeline([("columns", columns), ("model", LogisticRegression(C=1.0, max_iter=2000))])


def _prepare(frame):
    data = frame.copy()
    for column in CATEGORICAL:
        data[column] = data[column].fillna("none").astype(str)
    data["labour_ratio"] = pd.to_numeric(data["labour_ratio"], errors="coerce").fillna(1.0).clip(0, 5)
    data["qa_failed"] = data["qa_failed"].astype(float)
    return data[CATEGORICAL + NUMERIC]


def fit_comeback_model(frame, *, holdout_share=0.25):
    """frame: feature columns, `came_back` (0/1) and `completed` (sort key). Returns (model on all rows, metrics)."""
    data = frame.sort_values("completed").reset_index(drop=True)
    y = data.came_back.astype(int).to_numpy()
    if len(data) < 300 or y.sum() < 10:
        raise ValueError(f"{len(data)} repairs with {int(y.sum())} comebacks are too few to learn from")
    cut = int(len(data) * (1 - holdout_share))
    train, test = data.iloc[:cut], data.iloc[cut:]
    y_train, y_test = y[:cut], y[cut:]
    model = _pipeline().fit(_prepare(train), y_train)
    p = model.predict_proba(_prepare(test))[:, 1]
    base = float(y_train.mean())
    metrics = {
        "auc": round(float(roc_auc_score(y_test, p)), 4) if 0 < y_test.sum() < len(y_test) else None,
        "brier": round(float(brier_score_loss(y_test, p)), 5),
        "baseline_brier": round(float(brier_score_loss(y_test, np.full(len(y_test), base))), 5),
        "base_rate": round(float(y.mean()), 4),
        "n_train": int(len(train)), "n_holdout": int(len(test)), "holdout_comebacks": int(y_test.sum()),
    }
    final = _pipeline().fit(_prepare(data), y)
    return final, metrics


def predict_comeback(model, frame):
    if frame.empty:
        return np.array([])
    return model.predict_proba(_prepare(frame))[:, 1]
