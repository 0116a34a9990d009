"""Comeback risk: the probability that a finished repair returns under warranty within 90 days.

Features of a repair: one-hot technician, repair type, device category and parts supplier; the
labour time relative to standard; whether it failed its first QA inspection; whether it is itself
a warranty comeback; and the track record before it (`add_trailing_features`): the technician's
comeback rate and QA failure rate and the repair type's comeback rate over the preceding year,
counting only what was known at the time — a comeback outcome once its 90-day window had closed,
a QA result once inspected — so the features never look into the future.

Two classifiers are fitted on the earlier 75 % of repairs whose 90-day window has closed (by
completion time): L2-regularised logistic regression and histogram gradient boosting
(scikit-learn). The one with the higher ROC AUC on the later 25 % is served, refitted on all rows.
Reported: AUC of both, Brier score against the base rate's, and the lift of the top decile of
scores over the base rate.
"""
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

CATEGORICAL = ["technician", "repair_type", "device_category", "supplier"]
BASE_NUMERIC = ["labour_ratio", "qa_failed", "is_comeback"]
TRAILING = ["tech_comeback_rate", "tech_prior_repairs", "tech_qa_fail_rate", "tech_prior_inspections", "type_comeback_rate"]
NUMERIC = BASE_NUMERIC + TRAILING
TRAILING_DAYS = 365  # the track record looks back one year
FOLLOW_UP_DAYS = 90  # a repair's comeback outcome is known once this many days have passed
METHODS = ("logistic_regression", "gradient_boosting")


# -- the track record before each repair (no leakage) ---------------------------------------------


def trailing_counts(query_keys, query_times, event_keys, event_times, event_outcomes, *, lookback, lag):
    """For each query (key k, time t): how many events of key k happened in [t − lookback, t − lag], and
    how many of them had outcome 1. Times are numbers on one scale (e.g. days); O((n + m) log m)."""
    query_keys, event_keys = np.asarray(query_keys, dtype=object), np.asarray(event_keys, dtype=object)
    query_times, event_times = np.asarray(query_times, dtype=float), np.asarray(event_times, dtype=float)
    event_outcomes = np.asarray(event_outcomes, dtype=float)
    n, x = np.zeros(len(query_times)), np.zeros(len(query_times))
    events = pd.DataFrame({"key": event_keys, "t": event_times, "y": event_outcomes}).sort_values("t", kind="stable")
    by_key = {k: (g.t.to_numpy(), np.concatenate([[0.0], np.cumsum(g.y.to_numpy())])) for k, g in events.groupby("key", sort=False)}
    for key, index in pd.Series(np.arange(len(query_keys))).groupby(query_keys, sort=False).groups.items():
        if key not in by_key:
            continue
        times, cumulative = by_key[key]
        t = query_times[index]
        lo = np.searchsorted(times, t - lookback, side="left")
        hi = np.searchsorted(times, t - lag, side="right")
        hi = np.maximum(hi, lo)
        n[index] = hi - lo
        x[index] = cumulative[hi] - cumulative[lo]
    return n, x


def _days(series):
    return pd.to_datetime(series, utc=True).astype("int64").to_numpy() / 86_400e9


def add_trailing_features(frame, history, inspections, *, lookback_days=TRAILING_DAYS, follow_up_days=FOLLOW_UP_DAYS):
    """Add the track-record features to `frame` (technician, repair_type, received, completed).

    history: earlier and concurrent repairs (technician, repair_type, completed, came_back); a repair's
    outcome counts for a query at time t once completed + follow_up_days ≤ t. inspections: QA results
    (technician, inspected_at, failed); they count once inspected, before the query's repair was booked
    in (so its own inspections are not in its record). Rates are NaN where there is no record.
    """
    out = frame.copy()
    done_at = _days(out.completed)
    booked_at = _days(out.received)
    history_at = _days(history.completed) if len(history) else np.array([])
    for prefix, key in (("tech", "technician"), ("type", "repair_type")):
        n, x = trailing_counts(out[key].fillna("none").to_numpy(), done_at, history[key].fillna("none").to_numpy(), history_at,
                               history.came_back.astype(float).to_numpy(), lookback=lookback_days + follow_up_days, lag=follow_up_days)
        out[f"{prefix}_comeback_rate"] = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        if prefix == "tech":
            out["tech_prior_repairs"] = np.log1p(n)
    inspected_at = _days(inspections.inspected_at) if len(inspections) else np.array([])
    n, x = trailing_counts(out.technician.fillna("none").to_numpy(), booked_at, inspections.technician.fillna("none").to_numpy(),
                           inspected_at, inspections.failed.astype(float).to_numpy(), lookback=lookback_days, lag=1e-9)
    out["tech_qa_fail_rate"] = np.where(n > 0, x / np.maximum(n, 1), np.nan)
    out["tech_prior_inspections"] = np.log1p(n)
    return out


def features_from_counts(frame, tech_record, type_record, tech_inspections, own_inspections=None):
    """The same track-record features for repairs scored now, from counts already aggregated as of now:
    each record maps a technician / repair type code to (n, x) — repairs and comebacks whose window had
    closed, or inspections and failures (equal to add_trailing_features with every query at now).

    own_inspections: per row of `frame`, (n, x) of that repair's own inspections among `tech_inspections`.
    They are taken out of its technician's QA record, as in training, where a repair's record is counted
    before it was booked in and so never holds its own inspections (its own first result is `qa_failed`)."""
    out = frame.copy()

    def rate_and_n(column, record, minus=None):
        pairs = out[column].fillna("none").map(lambda k: record.get(k, (0, 0)))
        n = np.array([p[0] for p in pairs], dtype=float)
        x = np.array([p[1] for p in pairs], dtype=float)
        if minus is not None:
            n = np.maximum(n - minus[0], 0)
            x = np.clip(x - minus[1], 0, n)
        return np.where(n > 0, x / np.maximum(n, 1), np.nan), n

    out["tech_comeback_rate"], n = rate_and_n("technician", tech_record)
    out["tech_prior_repairs"] = np.log1p(n)
    out["type_comeback_rate"], _ = rate_and_n("repair_type", type_record)
    own = None
    if own_inspections is not None:
        own = np.asarray(own_inspections, dtype=float).reshape(len(out), 2).T
    out["tech_qa_fail_rate"], n = rate_and_n("technician", tech_inspections, own)
    out["tech_prior_inspections"] = np.log1p(n)
    return out


# -- the models ------------------------------------------------------------------------------------


def _columns(scale):
    numeric = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        numeric.append(("scale", StandardScaler()))
    return ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20, sparse_output=False), CATEGORICAL),
        ("num", Pipeline(numeric), NUMERIC),
    ])


def make_model(method, random_state=0):
    if method == "logistic_regression":
        return make_pipeline(_columns(scale=True), LogisticRegression(C=1.0, max_iter=2000))
    return make_pipeline(_columns(scale=False), HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=150, max_leaf_nodes=8, min_samples_leaf=80, l2_regularization=1.0, random_state=random_state))


def _prepare(frame):
    data = frame.copy()
    for column in CATEGORICAL:
        data[column] = data[column].fillna("none").astype(str)
    data["labour_ratio"] = pd.to_numeric(data["labour_ratio"], errors="coerce").clip(0, 5)
    for column in ("qa_failed", "is_comeback"):
        data[column] = data[column].astype(float)
    for column in TRAILING:
        data[column] = pd.to_numeric(data[column], errors="coerce").astype(float)
    return data[CATEGORICAL + NUMERIC]


def top_decile_lift(y, p):
    """Comeback rate among the 10 % highest scores ÷ the overall rate (1 = no better than chance)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if not len(y) or not y.mean():
        return None
    top = np.argsort(-p, kind="stable")[: max(1, len(p) // 10)]
    return float(y[top].mean() / y.mean())


def fit_comeback_model(frame, *, holdout_share=0.25, methods=METHODS):
    """frame: feature columns, `came_back` (0/1) and `completed` (sort key). Returns (model on all rows, metrics).

    Each method is fitted on the earlier rows and scored on the later ones; the one with the higher
    holdout AUC is refitted on every row and served (`metrics["method"]`)."""
    data = frame.sort_values("completed").reset_index(drop=True)
    y = data.came_back.astype(int).to_numpy()
    if len(data) < 300 or y.sum() < 10:
        raise ValueError(f"{len(data)} repairs with {int(y.sum())} comebacks are too few to learn from")
    # One thread: on a few thousand rows, BLAS/OpenMP threads competing for shared cores cost ten times
    # what they save.
    with threadpool_limits(limits=1):
        return _fit(data, y, holdout_share, methods)


def _fit(data, y, holdout_share, methods):
    cut = int(len(data) * (1 - holdout_share))
    train, test = _prepare(data.iloc[:cut]), _prepare(data.iloc[cut:])
    y_train, y_test = y[:cut], y[cut:]
    judged = 0 < y_test.sum() < len(y_test)
    candidates = {}
    for method in methods:
        p = make_model(method).fit(train, y_train).predict_proba(test)[:, 1]
        candidates[method] = {"p": p, "auc": float(roc_auc_score(y_test, p)) if judged else None,
                              "brier": float(brier_score_loss(y_test, p))}
    # Higher holdout AUC wins; without a judgeable holdout, the lower Brier score.
    best = max(candidates, key=lambda m: (candidates[m]["auc"] if candidates[m]["auc"] is not None else -1, -candidates[m]["brier"]))
    p = candidates[best]["p"]
    base = float(y_train.mean())
    baseline_brier = float(brier_score_loss(y_test, np.full(len(y_test), base)))
    metrics = {
        "method": best,
        "auc": round(candidates[best]["auc"], 4) if candidates[best]["auc"] is not None else None,
        "auc_by_method": {m: round(c["auc"], 4) if c["auc"] is not None else None for m, c in candidates.items()},
        "brier": round(candidates[best]["brier"], 5),
        "baseline_brier": round(baseline_brier, 5),
        "brier_skill": round(1 - candidates[best]["brier"] / baseline_brier, 4) if baseline_brier else None,
        "top_decile_comeback_rate": round(float(y_test[np.argsort(-p, kind="stable")[: max(1, len(p) // 10)]].mean()), 4),
        "top_decile_lift": round(top_decile_lift(y_test, p), 3) if top_decile_lift(y_test, p) is not None else None,
        "base_rate": round(float(y.mean()), 4),
        "holdout_base_rate": round(float(y_test.mean()), 4),
        "n_train": int(len(train)), "n_holdout": int(len(test)), "holdout_comebacks": int(y_test.sum()),
    }
    final = make_model(best).fit(_prepare(data), y)
    return final, metrics


def predict_comeback(model, frame):
    if frame.empty:
        return np.array([])
    with threadpool_limits(limits=1):
        return model.predict_proba(_prepare(frame))[:, 1]
