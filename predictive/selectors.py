"""Reads of the predictive app: the model registry and the answers of the six endpoints.

Every answer comes from a stored model (TrainedModel.output / artifact); a scope no training run
covers is fitted once on demand and registered (services.fit_on_demand). Nothing is fitted here
otherwise, so answers take milliseconds.

`parts_demand_forecast()` is the contract the inventory app builds its reorder policy on: per store
and part, the demand class, expected units per day and the forecast error per day measured by the
backtest. Parts or stores without a stored model fall back to a 26-week moving average of the
ledger's consumption (and say so in `method`).
"""
import threading
from collections import OrderedDict
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from rest_framework.exceptions import NotFound

from mlanalytics.core.errors import ModelNotReady
from mlanalytics.core.models import Store

from . import datasets as ds
from . import training
from .ml import costs as cost_methods
from .ml import customers as customer_methods
from .ml import parts as parts_methods
from .ml.parts import classify_demand  # noqa: F401  (part of this module's contract)
from .models import TrainedModel, TrainingRun

DEMAND_COLUMNS = [
    "store_id", "part_id", "demand_class", "method", "daily_mean", "daily_sd", "adi", "cv2",
    "backtest", "model_version", "trained_at",
]
QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.99)
LIGHT_FIELDS = ("id", "kind", "scope", "version", "method", "status", "is_current", "data_start", "data_end", "n_observations",
                "parameters", "metrics", "monitoring", "duration_seconds", "trained_at", "error", "training_run_id")


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


def current_model(kind, scope, with_artifact=False):
    rows = TrainedModel.objects.filter(kind=kind, scope=scope, is_current=True)
    if not with_artifact:
        rows = rows.defer("artifact")
    return rows.first()


def model_or_fit(kind, scope, with_artifact=False):
    """The current model of a kind and scope, fitting it on demand when nothing was ever trained for the
    scope (there is nothing to serve yet).

    A forecast or customer model whose data ends more than PREDICTIVE_MAX_STALE_DAYS before the data of
    its stores does (a scope fitted on demand weeks ago, a nightly run that did not happen) is served as
    it is, with `model.stale` set ({data_end, days_behind, refit}; model_block shows it), while its refit
    runs in the background (services.queue_refit): the request never waits for a Prophet fit.
    """
    from . import services

    model = current_model(kind, scope, with_artifact)
    if model is None:
        if not TrainedModel.objects.filter(is_current=True).exists():
            raise ModelNotReady("No model has been trained yet: run `manage.py train_models` (or wait for the first run).")
        if kind in training.SHARED_KINDS or services.fit_on_demand(kind, scope) is None:
            raise ModelNotReady(f"No {kind} model for {scope} could be trained: too little data.")
        model = current_model(kind, scope, with_artifact)
    elif kind in training.STORE_SCOPED_KINDS:
        end = scope_data_end(scope)
        if is_stale(model, end):
            # A failed refit keeps serving this version, flagged, and is retried after REFIT_RETRY_SECONDS.
            model.stale = {"data_end": end.isoformat(), "days_behind": (end - model.data_end).days,
                           "refit": services.queue_refit(model)}
    return model


def scope_data_end(scope):
    """The last complete day of data of a scope's stores (cached for a minute: every request asks)."""
    codes = ds.parse_scope(scope)["stores"]
    key = f"predictive:data-end:{','.join(sorted(codes)) if codes else 'all'}"
    found = cache.get(key)
    if found is None:
        store_ids = list(Store.objects.filter(code__in=codes).values_list("id", flat=True)) if codes else None
        found = ds.last_complete_day(store_ids) or ""
        cache.set(key, found, 60)
    return found or None


def is_stale(model, scope_end=None):
    """True when the model's data ends more than PREDICTIVE_MAX_STALE_DAYS before its scope's data does
    (`scope_end`, read with scope_data_end when not given)."""
    end = scope_end or scope_data_end(model.scope)
    return bool(end and model.data_end and (end - model.data_end).days > settings.PREDICTIVE_MAX_STALE_DAYS)


def stores_scope(stores, **dims):
    """Scope key for a request's stores (all active stores → no store part) and extra dimensions."""
    return ds.scope_key([s.code for s in stores], ds.active_store_codes(), **dims)


def summary_metrics(model):
    """The backtest figures a `model` block carries, by kind."""
    m = model.metrics or {}
    if model.kind in (training.REPAIR_DEMAND, training.BUSINESS_METRICS):
        keys = ("served", "mase", "mase_prophet", "mase_seasonal_naive", "mae", "mape", "coverage_80", "coverage_95",
                "coverage_80_held_out", "coverage_95_held_out", "held_out_window", "horizon", "folds",
                "calibration_folds", "prophet_beats_baseline")
        return {k: m.get(k) for k in keys}
    if model.kind == training.CUSTOMER_BEHAVIOR:
        keys = ("holdout_weeks", "holdout_predicted_visits", "holdout_actual_visits", "holdout_total_error_pct",
                "holdout_mae_per_customer", "holdout_correlation", "log_likelihood", "customers")
        return {k: m.get(k) for k in keys}
    if model.kind == training.PARTS_DEMAND:
        keys = ("series", "forecastable_series", "median_rmsse", "median_rmsse_moving_average", "median_rmsse_naive",
                "median_mase", "share_beating_moving_average", "horizon", "folds")
        return {k: m.get(k) for k in keys}
    if model.kind == training.REPAIR_COST:
        keys = ("holdout_tickets", "holdout_from", "mae", "rmse", "mape", "r2", "baseline", "baseline_mae", "baseline_r2",
                "beats_baseline")
        return {k: m.get(k) for k in keys}
    return m


def model_block(model):
    """The `model` block of a response: name, version, trained_at, backtest metrics (and what was served)."""
    return {
        "name": training.KIND_LABELS.get(model.kind, model.kind), "kind": model.kind, "scope": model.scope,
        "version": model.version, "method": model.method, "trained_at": model.trained_at.isoformat(),
        "data_window": data_window(model), "backtest": summary_metrics(model),
        "drift": (model.monitoring or {}).get("status", "not_checked"),
        # Set by model_or_fit when the model's data ends well before its stores' data (a refit is queued).
        "stale": getattr(model, "stale", None),
    }


def data_window(model):
    return {"start": _iso(model.data_start), "end": _iso(model.data_end)}


def _iso(value):
    return value.isoformat() if value else None


def _interval_keys(interval):
    return f"lower_{interval}", f"upper_{interval}"


# ---------------------------------------------------------------------------------------------
# POST repair-demand-forecast
# ---------------------------------------------------------------------------------------------


def repair_demand_forecast(stores, horizon_days=28, device_category=None, repair_type=None, history_days=56, interval=80):
    """Daily intake forecast with its interval, the recent history and the backtest of the served method."""
    scope = stores_scope(stores, category=device_category, repair_type=repair_type)
    model = model_or_fit(training.REPAIR_DEMAND, scope)
    output = model.output
    lower_key, upper_key = _interval_keys(interval)
    forecast = output["forecast"]
    n = min(horizon_days, len(forecast["ds"]))
    points = [{"date": forecast["ds"][i], "expected": forecast["yhat"][i], "lower": forecast[lower_key][i], "upper": forecast[upper_key][i]}
              for i in range(n)]
    history = output["history"]
    keep = history["ds"][-history_days:] if history_days else []
    values = history["y"][-history_days:] if history_days else []
    return {
        "data_window": {**data_window(model), "forecast_start": points[0]["date"] if points else None,
                        "forecast_end": points[-1]["date"] if points else None},
        "model": model_block(model),
        "stores": [s.code for s in stores], "device_category": device_category, "repair_type": repair_type,
        "horizon_days": horizon_days, "interval": interval,
        "method": model.method, "method_note": output.get("note", ""),
        "forecast": points,
        "expected_total": round(sum(p["expected"] for p in points), 1),
        "history": [{"date": d, "actual": v} for d, v in zip(keep, values)],
        "weekly_pattern": output.get("components", {}).get("weekly"),
        "holiday_effects": output.get("components", {}).get("holidays"),
        "backtest": _full_backtest(model),
    }


def _full_backtest(model):
    m = model.metrics
    return {"served": m.get("served"), "horizon": m.get("horizon"), "fold_cutoffs": m.get("fold_cutoffs"),
            "held_out_window": m.get("held_out_window"), "calibration_folds": m.get("calibration_folds"),
            "prophet": m.get("prophet"), "seasonal_naive": m.get("seasonal_naive"),
            "prophet_beats_baseline": m.get("prophet_beats_baseline")}


# ---------------------------------------------------------------------------------------------
# POST business-metrics-forecast
# ---------------------------------------------------------------------------------------------


def business_metrics_forecast(stores, granularity="week", horizon=12, metrics=ds.BUSINESS_METRICS, history=26, interval=80):
    """Revenue, gross margin, ticket count and average ticket value by week or month: forecast with
    intervals, history, and each series' backtest."""
    lower_key, upper_key = _interval_keys(interval)
    series, models = {}, []
    for metric in metrics:
        model = model_or_fit(training.BUSINESS_METRICS, stores_scope(stores, granularity=granularity, metric=metric))
        models.append(model)
        out = model.output
        forecast = out["forecast"]
        n = min(horizon, len(forecast["ds"]))
        hist = out["history"]
        series[metric] = {
            "model": model_block(model), "method": model.method, "method_note": out.get("note", ""),
            "forecast": [{"period_start": forecast["ds"][i], "expected": forecast["yhat"][i], "lower": forecast[lower_key][i],
                          "upper": forecast[upper_key][i]} for i in range(n)],
            "history": [{"period_start": d, "actual": v} for d, v in zip(hist["ds"][-history:], hist["y"][-history:])] if history else [],
        }
    latest = max(models, key=lambda m: m.trained_at)
    return {
        "data_window": {"start": _iso(min(m.data_start for m in models if m.data_start)), "end": _iso(latest.data_end)},
        "model": {
            "name": training.KIND_LABELS[training.BUSINESS_METRICS], "kind": training.BUSINESS_METRICS,
            "version": max(m.version for m in models), "versions": {m.parameters["filters"]["metric"]: m.version for m in models},
            "trained_at": latest.trained_at.isoformat(),
            "backtest": {m.parameters["filters"]["metric"]: summary_metrics(m) for m in models},
            "stale": {m.parameters["filters"]["metric"]: m.stale for m in models if getattr(m, "stale", None)} or None,
        },
        "stores": [s.code for s in stores], "granularity": granularity, "horizon": horizon, "interval": interval,
        "metrics": series,
    }


# ---------------------------------------------------------------------------------------------
# POST customer-behavior-prediction
# ---------------------------------------------------------------------------------------------

_artifact_cache = OrderedDict()
_artifact_lock = threading.Lock()


def customer_arrays(model):
    """The per-customer arrays of a customer model, decoded once per process (a small LRU)."""
    with _artifact_lock:
        if model.pk in _artifact_cache:
            _artifact_cache.move_to_end(model.pk)
            return _artifact_cache[model.pk]
    artifact = TrainedModel.objects.filter(pk=model.pk).values_list("artifact", flat=True).first()
    arrays = training.load_customer_arrays(artifact)
    with _artifact_lock:
        _artifact_cache[model.pk] = arrays
        while len(_artifact_cache) > 16:
            _artifact_cache.popitem(last=False)
    return arrays


def customer_predictions(model, horizon_days, annual_discount_rate=0.1):
    """Per customer: P(alive), expected visits and spend in the horizon, lifetime value, RFM scores/segment."""
    arrays = customer_arrays(model)
    out = model.output
    bgnbd, spend = out["bgnbd"], out["gamma_gamma"]
    weeks = horizon_days / 7.0
    x, t_x, T = arrays["frequency"], arrays["recency"], arrays["T"]
    p_alive = customer_methods.bgnbd_probability_alive(bgnbd, x, t_x, T)
    visits = customer_methods.bgnbd_expected_visits(bgnbd, weeks, x, t_x, T)
    spend_params = (spend["p"], spend["q"], spend["v"])
    expected_spend = customer_methods.gamma_gamma_expected_spend(spend_params, arrays["priced_repeats"], arrays["monetary"])
    value = customer_methods.customer_lifetime_value(bgnbd, spend_params, x, t_x, T, arrays["monetary"], weeks,
                                                     annual_discount_rate, spend_frequency=arrays["priced_repeats"])
    end = np.datetime64(pd.Timestamp(out["data_end"]).to_datetime64(), "s")
    recency_days = (end - arrays["last_visit"]).astype("timedelta64[s]").astype(float) / 86400
    r, f, m = customer_methods.rfm_scores(recency_days, arrays["visits"], arrays["total_spend"])
    return pd.DataFrame({
        "customer_id": arrays["customer_id"], "store_id": arrays["store_id"], "visits": arrays["visits"],
        "repeat_visits": x, "recency_weeks": t_x, "age_weeks": T, "days_since_last_visit": recency_days,
        "total_spend": arrays["total_spend"], "mean_repeat_spend": arrays["monetary"],
        "p_alive": p_alive, "expected_visits": visits, "expected_spend_per_visit": expected_spend,
        "expected_spend": visits * expected_spend, "lifetime_value": value,
        "r": r, "f": f, "m": m, "segment": customer_methods.rfm_segments(r, f, m),
    })


def customer_behavior_prediction(stores, horizon_days=90, at_risk_threshold=0.5, at_risk_limit=20, customer=None,
                                 segment=None, annual_discount_rate=0.1):
    """BG/NBD + Gamma-Gamma answers for the customers of the stores: activity, expected visits and
    spend, lifetime value, RFM segments, at-risk customers, and the holdout calibration."""
    model = model_or_fit(training.CUSTOMER_BEHAVIOR, stores_scope(stores))
    everyone = customer_predictions(model, horizon_days, annual_discount_rate)
    store_codes = dict(Store.objects.values_list("id", "code"))
    table = everyone[everyone.segment == segment] if segment else everyone
    out = model.output
    summary = {
        "customers": int(len(table)),
        "expected_active_customers": float(table.p_alive.sum()),
        "mean_p_alive": float(table.p_alive.mean()) if len(table) else None,
        "expected_visits": float(table.expected_visits.sum()),
        "expected_spend": float(table.expected_spend.sum()),
        "lifetime_value": float(table.lifetime_value.sum()),
        "mean_lifetime_value": float(table.lifetime_value.mean()) if len(table) else None,
    }
    segments = (table.groupby("segment").agg(customers=("customer_id", "size"), mean_p_alive=("p_alive", "mean"),
                                             expected_visits=("expected_visits", "sum"), lifetime_value=("lifetime_value", "sum"),
                                             total_spend=("total_spend", "sum"))
                .reset_index().sort_values("lifetime_value", ascending=False))
    segments["share"] = segments.customers / max(len(table), 1)
    # At risk: customers who came back at least once (so the model has seen them engage) but are now
    # probably gone; ranked by what they used to spend.
    risky = table[(table.repeat_visits >= 1) & (table.p_alive < at_risk_threshold)].sort_values("total_spend", ascending=False)
    top = risky.head(at_risk_limit)
    names = _customer_names(top.customer_id.tolist())
    at_risk = {
        "threshold": at_risk_threshold, "customers": int(len(risky)), "share": float(len(risky) / max(len(table), 1)),
        "historical_spend": float(risky.total_spend.sum()), "mean_p_alive": float(risky.p_alive.mean()) if len(risky) else None,
        "top": [_customer_row(row, names, store_codes) for row in top.itertuples()],
    }
    answer = {
        "data_window": {**data_window(model), "horizon_start": _iso(model.data_end + timedelta(days=1)) if model.data_end else None},
        "model": {**model_block(model), "parameters": {"bgnbd": out["bgnbd"], "gamma_gamma": out["gamma_gamma"], "time_unit": "weeks"}},
        "stores": [s.code for s in stores], "horizon_days": horizon_days, "annual_discount_rate": annual_discount_rate,
        "segment": segment,
        "summary": summary,
        "segments": segments.to_dict(orient="records"),
        "at_risk": at_risk,
        "calibration": out.get("calibration"),
    }
    if customer is not None:
        row = everyone[everyone.customer_id == customer.pk]
        if row.empty:
            raise NotFound(f"Customer {customer.external_ref} has no visits in this model's data.")
        answer["customer"] = _customer_row(next(row.itertuples()), _customer_names([customer.pk]), store_codes)
    return training._clean(answer)


def _customer_names(ids):
    from workflow.models import Customer

    return {pk: (ref, name) for pk, ref, name in Customer.objects.filter(pk__in=ids).values_list("id", "external_ref", "name")}


def _customer_row(row, names, store_codes):
    ref, name = names.get(row.customer_id, (None, None))
    return {
        "customer_id": int(row.customer_id), "external_ref": ref, "name": name, "store": store_codes.get(int(row.store_id)),
        "visits": int(row.visits), "days_since_last_visit": round(float(row.days_since_last_visit), 1),
        "total_spend": round(float(row.total_spend), 2), "p_alive": round(float(row.p_alive), 4),
        "expected_visits": round(float(row.expected_visits), 4), "expected_spend": round(float(row.expected_spend), 2),
        "lifetime_value": round(float(row.lifetime_value), 2), "rfm": f"{row.r}{row.f}{row.m}", "segment": row.segment,
    }


# ---------------------------------------------------------------------------------------------
# POST inventory-demand-prediction, and the parts-demand contract of the inventory app
# ---------------------------------------------------------------------------------------------

_parts_cache = {}
_parts_lock = threading.Lock()


def parts_model_table(model):
    """The stored per-series table of a parts model as a DataFrame (decoded once per process)."""
    with _parts_lock:
        found = _parts_cache.get(model.pk)
    if found is not None:
        return found
    columns = model.output["columns"]
    table = pd.DataFrame(columns)
    for name in ("adi", "cv2", "mase", "rmsse", "naive_rmsse", "ma_rmsse"):
        table[name] = pd.to_numeric(table[name], errors="coerce").astype(float)
    table.loc[table.adi.isna(), "adi"] = np.inf  # stored as null: no demand in the window
    with _parts_lock:
        _parts_cache.clear()
        _parts_cache[model.pk] = table
    return table


def parts_demand_forecast(store_ids=None, part_ids=None):
    """Per store and part: demand class, expected units per day and forecast error per day.

    From the current parts-demand model (class by Syntetos–Boylan on the last 52 weeks, method chosen
    per series by backtest; daily_sd = the weekly backtest RMSE / √7). Pairs it does not cover fall
    back to a 26-week moving average and standard deviation of daily consumption from the ledger.
    Extra columns: weekly_rate, rmsse, rmsse_moving_average.
    """
    model = current_model(training.PARTS_DEMAND, "all")
    stored = pd.DataFrame(columns=DEMAND_COLUMNS)
    if model is not None:
        table = parts_model_table(model)
        rows = table
        if store_ids is not None:
            rows = rows[rows.store_id.isin(list(store_ids))]
        if part_ids is not None:
            rows = rows[rows.part_id.isin(list(part_ids))]
        stored = pd.DataFrame({
            "store_id": rows.store_id.astype(int), "part_id": rows.part_id.astype(int), "demand_class": rows.demand_class,
            "method": rows.method, "daily_mean": rows.daily_mean.astype(float), "daily_sd": rows.daily_sd.astype(float),
            "adi": rows.adi, "cv2": rows.cv2,
            "backtest": [{"rmsse": _num(a), "mase": _num(b), "rmsse_moving_average": _num(c), "rmsse_naive": _num(d),
                          "horizon_weeks": training.PARTS_BACKTEST_WEEKS, "folds": training.PARTS_FOLDS}
                         for a, b, c, d in zip(rows.rmsse, rows.mase, rows.ma_rmsse, rows.naive_rmsse)],
            "model_version": model.version, "trained_at": model.trained_at,
            "weekly_rate": rows.rate.astype(float), "rmsse": rows.rmsse, "rmsse_moving_average": rows.ma_rmsse,
        })
    covered = set(zip(stored.store_id, stored.part_id))
    if model is not None:
        # Only pairs the model does not cover need the fallback; find them with one query instead of
        # computing the moving average for every series (slow at scale).
        part_ids = _uncovered_parts(store_ids, part_ids, covered)
        if not part_ids:
            return stored.reset_index(drop=True)
    fallback = _moving_average_demand(store_ids, part_ids)
    if len(fallback) and covered:
        fallback = fallback[[(s, p) not in covered for s, p in zip(fallback.store_id, fallback.part_id)]]
    frames = [f for f in (stored, fallback) if len(f)]
    if not frames:
        return pd.DataFrame(columns=DEMAND_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _uncovered_parts(store_ids, part_ids, covered, days=182):
    """Parts consumed in the fallback's window in a store/part pair the model does not cover."""
    from inventory.models import StockMovement

    start = timezone.localdate() - timedelta(days=days - 1)
    rows = StockMovement.objects.filter(kind=StockMovement.Kind.CONSUMPTION, at__date__gte=start)
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    if part_ids is not None:
        rows = rows.filter(part_id__in=part_ids)
    pairs = set(rows.values_list("store_id", "part_id").distinct())
    return sorted({p for s, p in pairs if (s, p) not in covered})


def _num(value):
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else float(value)


def daily_consumption(store_ids=None, part_ids=None, days=182, end=None):
    """Units consumed per store, part and day over the last `days` days (the fallback's input)."""
    from inventory.models import StockMovement

    end = end or timezone.localdate()
    start = end - timedelta(days=days - 1)
    rows = StockMovement.objects.filter(kind=StockMovement.Kind.CONSUMPTION, at__date__gte=start, at__date__lte=end)
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    if part_ids is not None:
        rows = rows.filter(part_id__in=part_ids)
    data = pd.DataFrame(
        rows.annotate(day=TruncDate("at")).values("store_id", "part_id", "day").annotate(units=-Sum("quantity"))
    )
    return data, start, end


def _moving_average_demand(store_ids=None, part_ids=None):
    """Fallback: 26-week moving average and standard deviation of daily consumption from the ledger."""
    data, start, end = daily_consumption(store_ids, part_ids)
    n_days = (end - start).days + 1
    if data.empty:
        return pd.DataFrame(columns=DEMAND_COLUMNS)
    rows = []
    for (store_id, part_id), group in data.groupby(["store_id", "part_id"]):
        series = np.zeros(n_days)
        offsets = (pd.to_datetime(group.day) - pd.Timestamp(start)).dt.days.to_numpy()
        series[offsets] = group.units.to_numpy()
        weekly = series[: n_days - n_days % 7].reshape(-1, 7).sum(axis=1)
        adi, cv2 = parts_methods.demand_profile(weekly)
        rows.append({
            "store_id": store_id, "part_id": part_id, "demand_class": classify_demand(adi, cv2),
            "method": "moving_average_26w", "daily_mean": float(series.mean()), "daily_sd": float(series.std(ddof=1)),
            "adi": adi, "cv2": cv2, "backtest": {}, "model_version": None, "trained_at": None,
        })
    return pd.DataFrame(rows, columns=DEMAND_COLUMNS)


def inventory_demand_prediction(stores, horizon_days=28, part=None, part_category=None, demand_class=None,
                                lead_time_days=None, service_level=None, limit=100, offset=0):
    """Per store and part: class, method, expected demand over the horizon with quantiles, and demand
    over the lead time (the supplier's quoted lead time unless given) at the service level."""
    model = model_or_fit(training.PARTS_DEMAND, "all")
    table = parts_model_table(model)
    store_ids = [s.pk for s in stores]
    rows = table[table.store_id.isin(store_ids)]
    catalogue = ds.part_catalogue()
    if part is not None:
        rows = rows[rows.part_id == part.pk]
    if part_category:
        rows = rows[rows.part_id.map(catalogue.category) == part_category]
    by_class = rows.demand_class.value_counts().to_dict()
    if demand_class:
        rows = rows[rows.demand_class == demand_class]
    rows = rows.sort_values(["rate", "store_id", "part_id"], ascending=[False, True, True])
    total = len(rows)
    page = rows.iloc[offset: offset + limit]
    codes = {s.pk: s.code for s in stores}
    days = float(horizon_days)
    horizon_mean = page.daily_mean.to_numpy(float) * days
    horizon_var = page.daily_sd.to_numpy(float) ** 2 * days
    horizon_q = parts_methods.demand_quantiles(horizon_mean, horizon_var, QUANTILES)
    info = catalogue.reindex(page.part_id)
    lead, lead_source = _with_source(lead_time_days, info.lead_time_days, settings.PREDICTIVE_DEFAULT_LEAD_TIME_DAYS, "supplier")
    levels, level_source = _with_source(service_level, info.service_level, settings.PREDICTIVE_DEFAULT_SERVICE_LEVEL, "part")
    lead_mean = page.daily_mean.to_numpy(float) * lead
    lead_var = page.daily_sd.to_numpy(float) ** 2 * lead
    lead_q = parts_methods.demand_quantiles(lead_mean, lead_var, QUANTILES)
    at_level = parts_methods.demand_quantiles(lead_mean, lead_var, levels[:, None])[:, 0] if len(page) else []
    parts = []
    for i, row in enumerate(page.itertuples(index=False)):
        meta = info.iloc[i]
        parts.append({
            "store": codes.get(row.store_id), "part_id": int(row.part_id), "sku": meta.sku, "name": meta["name"], "category": meta.category,
            "demand_class": row.demand_class, "adi": _num(row.adi), "cv2": _num(row.cv2), "method": row.method,
            "weekly_rate": round(float(row.rate), 4), "daily_mean": round(float(row.daily_mean), 5), "daily_sd": round(float(row.daily_sd), 5),
            "horizon_demand": {"mean": round(float(horizon_mean[i]), 3),
                               "quantiles": {f"p{int(q * 100)}": float(v) for q, v in zip(QUANTILES, horizon_q[i])}},
            "lead_time_days": float(lead[i]), "lead_time_source": lead_source[i],
            "lead_time_supplier": meta.get("lead_time_supplier") if lead_source[i] == "supplier" else None,
            "service_level_source": level_source[i],
            "lead_time_demand": {"mean": round(float(lead_mean[i]), 3), "sd": round(float(np.sqrt(lead_var[i])), 3),
                                 "quantiles": {f"p{int(q * 100)}": float(v) for q, v in zip(QUANTILES, lead_q[i])},
                                 "service_level": float(levels[i]), "at_service_level": float(at_level[i])},
            "backtest": {"rmsse": _num(row.rmsse), "mase": _num(row.mase), "rmsse_moving_average": _num(row.ma_rmsse),
                         "rmsse_naive": _num(row.naive_rmsse), "candidates_rmse": row.candidates},
        })
    return training._clean({
        "data_window": {**data_window(model), "weeks": model.output.get("weeks")},
        "model": model_block(model),
        "stores": [s.code for s in stores], "horizon_days": horizon_days,
        "summary": {"series": total, "by_class": by_class, "expected_units_in_horizon": float((rows.daily_mean * days).sum())},
        "count": total, "limit": limit, "offset": offset,
        # What was assumed where a part has no supplier price line or no service level of its own.
        "defaults": {"lead_time_days": settings.PREDICTIVE_DEFAULT_LEAD_TIME_DAYS, "service_level": settings.PREDICTIVE_DEFAULT_SERVICE_LEVEL,
                     "rows_with_default_lead_time": lead_source.count("default"),
                     "rows_with_default_service_level": level_source.count("default")},
        "parts": parts,
    })


def _with_source(requested, known, default, known_source):
    """Per row: the requested value ("request"), else the known one (`known_source`), else the setting's
    default ("default"). Returns (values, sources)."""
    known = pd.to_numeric(known, errors="coerce").to_numpy(float)
    if requested is not None:
        return np.full(len(known), float(requested)), ["request"] * len(known)
    missing = np.isnan(known)
    return np.where(missing, float(default), known), ["default" if m else known_source for m in missing]


# ---------------------------------------------------------------------------------------------
# POST cost-optimization
# ---------------------------------------------------------------------------------------------


def cost_optimization(stores, months=6, min_monthly_saving=0.0, kinds=None, limit=50):
    """Savings opportunities in repair cost for the stores: labour time (technicians above the norm,
    high-variance repair types) and parts bought above the cheapest qualified supplier, each with
    current and achievable monthly cost and a bootstrap interval; plus the expected-cost model's view."""
    model = model_or_fit(training.REPAIR_COST, "all")
    analysis = model.output["windows"][str(months)]
    codes = {s.code for s in stores}
    opportunities = [o for o in analysis["opportunities"] if o.get("store") in codes and o["monthly_saving"] >= min_monthly_saving
                     and (not kinds or o["kind"] in kinds)]
    part_ids = {p["part_id"] for o in opportunities for p in o.get("evidence", {}).get("top_parts", [])}
    skus = dict(_part_skus(part_ids))
    for item in opportunities:
        for p in item.get("evidence", {}).get("top_parts", []):
            p["sku"] = skus.get(p["part_id"])
    by_kind = {}
    for item in opportunities:
        entry = by_kind.setdefault(item["kind"], {"opportunities": 0, "monthly_saving": 0.0})
        entry["opportunities"] += 1
        entry["monthly_saving"] += item["monthly_saving"]
    in_scope = lambda rows: [r for r in rows if r.get("store") in codes]  # noqa: E731
    expected = in_scope(analysis["expected_cost_by_repair_type"])
    return {
        "data_window": {"start": analysis["since"], "end": analysis["end"], "months": months},
        "model": model_block(model),
        "stores": sorted(codes), "months": months,
        "summary": {
            "opportunities": len(opportunities), "monthly_saving": round(sum(o["monthly_saving"] for o in opportunities), 2),
            "by_kind": by_kind,
            "tickets": int(sum(r["tickets"] for r in expected)),
            "actual_monthly_repair_cost": round(sum(r["tickets"] * r["actual_mean_cost"] for r in expected) / months, 2),
            "expected_monthly_repair_cost": round(sum(r["tickets"] * r["expected_mean_cost"] for r in expected) / months, 2),
        },
        "opportunities": opportunities[:limit],
        "expected_cost_by_repair_type": expected,
        "technician_cost_vs_norm": in_scope(analysis["technician_cost_vs_norm"]),
        "labour_variability": _labour_variability(model, analysis, stores),
        "labour_outliers": in_scope(analysis["labour_outliers"]),
        "supplier_qualification": _supplier_qualification(model, stores, opportunities),
    }


def _covers_model_stores(model, stores):
    """True when the requested stores are every store the model saw (its stored tables then answer as they are)."""
    return {s.code for s in stores} >= set(model.output.get("stores") or ds.active_store_codes())


RECORD_FIGURES = ("deliveries", "on_time_rate", "defect_rate", "mean_days_late")


def _supplier_qualification(model, stores, opportunities):
    """The qualification rule and each supplier's verdict, with delivery figures of the requested stores only.

    A supplier is qualified on its deliveries to every store (the verdict the model was trained with, in
    `qualified`). The figures beside it (and those in the opportunities' `cheapest_suppliers` evidence)
    are the stored every-store ones only when every store is requested; otherwise they are recomputed
    from the requested stores' own purchase orders over the same window, so a user who sees one store
    never sees another store's orders. `record_stores` says whose orders the figures count.
    """
    stored = model.output.get("supplier_qualification")
    if not stored:
        return stored
    if _covers_model_stores(model, stores):
        return {**stored, "record_stores": sorted(model.output.get("stores") or ds.active_store_codes()), "qualified_on": "every store"}
    records = ds.supplier_delivery_records(model.data_end, window_days=stored.get("record_days"), store_ids=[s.pk for s in stores])

    def figures(code):
        if code not in records.index:
            return {"deliveries": 0, "on_time_rate": None, "defect_rate": None, "mean_days_late": None}
        row = records.loc[code]
        return {"deliveries": int(row.deliveries), **{k: _rounded(row[k]) for k in RECORD_FIGURES[1:]}}

    for item in opportunities:
        for entry in item.get("evidence", {}).get("cheapest_suppliers", []):
            entry.update({k: v for k, v in figures(entry["supplier"]).items() if k in entry})
    suppliers = [{**row, **figures(row["supplier"])} for row in stored.get("suppliers", [])]
    return {**stored, "suppliers": suppliers, "record_stores": sorted(s.code for s in stores), "qualified_on": "every store"}


def _rounded(value, places=4):
    return None if value is None or pd.isna(value) else round(float(value), places)


def _labour_variability(model, analysis, stores):
    """Labour-time spread by repair type over the requested stores' jobs of the window: the stored table
    when they are every store the model saw, otherwise recomputed from those stores' tickets (medians and
    spreads do not add up across stores)."""
    if _covers_model_stores(model, stores):
        return analysis["labour_variability"]
    jobs = ds.labour_times([s.pk for s in stores], analysis["since"], analysis["end"])
    return training._clean(cost_methods.labour_variability(jobs).to_dict(orient="records"))


def _part_skus(part_ids):
    from inventory.models import Part

    return Part.objects.filter(pk__in=part_ids).values_list("id", "sku") if part_ids else []


# ---------------------------------------------------------------------------------------------
# GET model-performance
# ---------------------------------------------------------------------------------------------

KEY_METRIC = {
    training.REPAIR_DEMAND: "mase", training.BUSINESS_METRICS: "mase", training.CUSTOMER_BEHAVIOR: "holdout_total_error_pct",
    training.PARTS_DEMAND: "median_rmsse", training.REPAIR_COST: "mae",
}


def visible_scope(model_kind, scope, user_codes, all_codes):
    """May a user who sees `user_codes` see a model of this scope? Models that serve every store (parts,
    cost, other apps' kinds): yes; otherwise the scope's stores must all be theirs (a scope over all
    stores needs all stores)."""
    if model_kind not in training.STORE_SCOPED_KINDS:
        return True
    stores = ds.parse_scope(scope)["stores"] or all_codes
    return set(stores) <= set(user_codes)


def model_performance(stores, user_sees_all, kind=None, store_filter=None, include_history=True, current_only=True):
    """The registry: every current model with its data window, backtest, training time, live accuracy
    and drift status, and the key backtest metric of each earlier version (metrics over time)."""
    all_codes = ds.active_store_codes()
    user_codes = [s.code for s in stores] if not user_sees_all else all_codes
    rows = TrainedModel.objects.only(*LIGHT_FIELDS).order_by("kind", "scope", "-version")
    if kind:
        rows = rows.filter(kind=kind)
    if current_only:
        rows = rows.filter(is_current=True)
    models = [m for m in rows if visible_scope(m.kind, m.scope, user_codes, all_codes)]
    if store_filter is not None:
        models = [m for m in models if m.kind not in training.STORE_SCOPED_KINDS
                  or store_filter.code in (ds.parse_scope(m.scope)["stores"] or [])]
    history = {}
    if include_history and models:
        keys = {(m.kind, m.scope) for m in models}
        for m in TrainedModel.objects.filter(kind__in={k for k, _ in keys}).only("kind", "scope", "version", "trained_at", "metrics",
                                                                                 "duration_seconds", "status", "method").order_by("version"):
            if (m.kind, m.scope) in keys:
                entry = {"version": m.version, "trained_at": m.trained_at.isoformat(), "status": m.status, "method": m.method,
                         "duration_seconds": m.duration_seconds}
                if m.kind in KEY_METRIC:
                    entry[KEY_METRIC[m.kind]] = (m.metrics or {}).get(KEY_METRIC[m.kind])
                history.setdefault((m.kind, m.scope), []).append(entry)
    listed = []
    for m in models:
        entry = {
            "id": m.pk, "kind": m.kind, "name": training.KIND_LABELS.get(m.kind, m.kind), "scope": m.scope, "version": m.version,
            "method": m.method, "status": m.status, "is_current": m.is_current, "trained_at": m.trained_at.isoformat(),
            "data_window": data_window(m), "n_observations": m.n_observations, "duration_seconds": m.duration_seconds,
            "backtest": summary_metrics(m), "key_metric": KEY_METRIC.get(m.kind),
            "drift": _drift(m, history.get((m.kind, m.scope), [])),
        }
        if m.error:
            entry["error"] = m.error.splitlines()[0][:300]
        if include_history:
            entry["history"] = history.get((m.kind, m.scope), [])
        listed.append(entry)
    last_run = TrainingRun.objects.order_by("-started_at").first()
    starts = [m.data_start for m in models if m.data_start]
    ends = [m.data_end for m in models if m.data_end]
    forecasting_models = [m for m in models if m.kind in (training.REPAIR_DEMAND, training.BUSINESS_METRICS)]
    return training._clean({
        "data_window": {"start": _iso(min(starts)) if starts else None, "end": _iso(max(ends)) if ends else None},
        "summary": {
            "models": len(listed),
            "by_kind": {k: sum(1 for m in models if m.kind == k) for k in sorted({m.kind for m in models})},
            "drifting": sum(1 for e in listed if e["drift"]["status"] == "drift"),
            "degraded": sum(1 for e in listed if e["drift"].get("backtest_trend") == "worse"),
            "prophet_served_share": (sum(1 for m in forecasting_models if m.method == "prophet") / len(forecasting_models))
            if forecasting_models else None,
        },
        "training": _run_summary(last_run),
        "models": listed,
    })


def _drift(model, versions):
    """Live drift (from the periodic check) and the backtest trend against the previous version."""
    monitoring = dict(model.monitoring or {})
    status = monitoring.get("status", "not_checked")
    key = KEY_METRIC.get(model.kind)
    trend = None
    earlier = [v for v in versions if v["version"] < model.version and v.get(key) is not None and v["status"] == "ready"]
    now = (model.metrics or {}).get(key)
    if earlier and now is not None and key in ("mase", "median_rmsse", "mae"):
        previous = earlier[-1][key]
        trend = "worse" if previous and now > 1.25 * previous else "stable"
        monitoring["previous_version_" + key] = previous
    return {**monitoring, "status": status, "backtest_trend": trend}


def _run_summary(run):
    if run is None:
        return None
    return {"id": run.pk, "status": run.status, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None, "done_steps": run.done_steps,
            "total_steps": run.total_steps, "current_step": run.current_step, "duration_seconds": run.duration_seconds,
            "timings": run.timings, "triggered_by": run.triggered_by}
