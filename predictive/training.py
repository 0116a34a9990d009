"""What each model kind trains on and what it stores: plans of tasks that fit the methods of
`predictive.ml` on frames from `predictive.datasets` and return `ModelResult`s.

Nothing here writes to the database: `predictive.services` runs the tasks (in a thread pool where
that helps), records each result in the registry and reports progress. Tasks only read the frames
they were planned with, so they are safe to run in worker threads.
"""
import io
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Callable

import numpy as np
import pandas as pd

from mlanalytics.core import shop

from . import datasets as ds
from .ml import costs as cost_methods
from .ml import customers as customer_methods
from .ml import forecasting
from .ml import parts as parts_methods

REPAIR_DEMAND, BUSINESS_METRICS, CUSTOMER_BEHAVIOR, PARTS_DEMAND, REPAIR_COST = (
    "repair_demand", "business_metrics", "customer_behavior", "parts_demand", "repair_cost",
)
# Parts demand last: a new parts model makes the inventory app refresh its reorder policies.
KINDS = (REPAIR_DEMAND, BUSINESS_METRICS, CUSTOMER_BEHAVIOR, REPAIR_COST, PARTS_DEMAND)
KIND_LABELS = {
    REPAIR_DEMAND: "Repair intake forecast (Prophet vs seasonal naive)",
    BUSINESS_METRICS: "Business metrics forecast (Prophet vs seasonal naive)",
    CUSTOMER_BEHAVIOR: "Customer behaviour (BG/NBD + Gamma-Gamma)",
    PARTS_DEMAND: "Parts demand (Syntetos–Boylan classes; Croston-SBA/TSB/ADIDA/ETS)",
    REPAIR_COST: "Repair cost (gradient boosting) and savings",
}
# Kinds whose one model serves every store (the answer is filtered per store at request time).
SHARED_KINDS = (PARTS_DEMAND, REPAIR_COST)
# Kinds trained per store scope: a model over stores a user may not see is not shown to them. Kinds
# other apps keep in the registry (e.g. workflow's repair_time) serve every store, like SHARED_KINDS.
STORE_SCOPED_KINDS = (REPAIR_DEMAND, BUSINESS_METRICS, CUSTOMER_BEHAVIOR)

# Repair intake: daily, stored 90 days ahead, scored on 3 rolling 28-day windows; its intervals are
# calibrated on the same windows per fortnight of the horizon. More calibration windows (e.g. 6, per week)
# cost one Prophet fit each per series; `manage.py bench_intervals` measured no gain in realised coverage.
DEMAND_HORIZON_DAYS = 90
DEMAND_BACKTEST_DAYS = 28
DEMAND_FOLDS = 3
DEMAND_CALIBRATION_FOLDS = 3
DEMAND_HISTORY_DAYS = 365
# Business metrics: weekly (8-week backtest windows) and monthly (3-month windows).
BUSINESS_SETTINGS = {
    "week": {"freq": ds.WEEK_FREQ, "season": 52, "horizon": 26, "backtest": 8, "folds": 3, "yearly": 8, "history": 104},
    "month": {"freq": ds.MONTH_FREQ, "season": 12, "horizon": 12, "backtest": 3, "folds": 3, "yearly": 4, "history": 36},
}
# Trained ahead for all stores and for each store, weekly and monthly; other combinations (a group of
# stores) are fitted on the first request and kept in the registry.
BUSINESS_AHEAD = {"week": "every_store", "month": "every_store"}
CUSTOMER_HOLDOUT_WEEKS = 26
PARTS_CLASSIFY_WEEKS = 52
PARTS_BACKTEST_WEEKS = 4
PARTS_FOLDS = 3
COST_WINDOWS_MONTHS = (3, 6, 12)
PROPHET_UNCERTAINTY_SAMPLES = 200
BUSINESS_UNCERTAINTY_SAMPLES = 100


@dataclass
class ModelResult:
    kind: str
    scope: str
    method: str
    parameters: dict
    metrics: dict
    output: dict
    data_start: object = None
    data_end: object = None
    n_observations: int = 0
    artifact: bytes | None = None
    duration_seconds: float = 0.0
    error: str = ""


@dataclass
class TrainingTask:
    kind: str
    scope: str
    fit: Callable[[], ModelResult]
    parallel: bool = False  # Prophet fits wait on a cmdstan subprocess: threads overlap them well

    def run(self):
        started = time.perf_counter()
        try:
            result = self.fit()
        except Exception as exc:  # one failed series must not stop the run; the registry records why
            result = ModelResult(self.kind, self.scope, "failed", {}, {}, {}, error=f"{exc}\n{traceback.format_exc(limit=5)}")
        result.duration_seconds = round(time.perf_counter() - started, 3)
        return result


def _dates(index):
    return [pd.Timestamp(d).date().isoformat() for d in index]


def _clean(value):
    """JSON-safe numbers: NaN/inf become None, numpy scalars plain floats (recursively)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------------------------
# Repair intake and business metrics (Prophet vs seasonal naive)
# ---------------------------------------------------------------------------------------------


def holiday_calendar(region):
    """f(first, last) -> {date: name}: the public holidays of `region` (a store's own or the shop's)."""
    return partial(shop.holidays_between, region=region)


def demand_settings(start, end, region):
    frame = forecasting.holidays_frame(start, end + timedelta(days=400), holiday_calendar(region))
    return forecasting.ProphetSettings(
        freq="D", weekly=3, yearly=15, holidays=frame if len(frame) else None, holiday_calendar=region.label,
        seasonality_mode="multiplicative", uncertainty_samples=PROPHET_UNCERTAINTY_SAMPLES,
    )


def select_tickets(tickets, store_ids=None, category=None, repair_type=None):
    rows = tickets
    if store_ids is not None:
        rows = rows[rows.store_id.isin(store_ids)]
    if category:
        rows = rows[rows.category == category]
    if repair_type:
        rows = rows[rows.repair_type == repair_type]
    return rows


def _backtest_metrics(forecast):
    """The registry's flat view of a SeriesForecast backtest: the served method's numbers first."""
    bt = forecast.backtest
    served = bt[bt["served"]]
    return {
        "served": bt["served"], "horizon": bt["horizon"], "folds": served.get("folds", 0),
        "mase": served.get("mase"), "mae": served.get("mae"), "rmse": served.get("rmse"), "mape": served.get("mape"),
        "coverage_80": served.get("coverage_80"), "coverage_95": served.get("coverage_95"),
        "coverage_80_held_out": served.get("coverage_80_held_out"),
        "coverage_95_held_out": served.get("coverage_95_held_out"),
        "held_out_window": bt.get("held_out_window"), "calibration_folds": bt.get("calibration_folds"),
        "mase_prophet": bt["prophet"].get("mase"), "mase_seasonal_naive": bt["seasonal_naive"].get("mase"),
        "prophet_beats_baseline": bt["prophet_beats_baseline"],
        "prophet": bt["prophet"], "seasonal_naive": bt["seasonal_naive"], "fold_cutoffs": bt["fold_cutoffs"],
    }


def _forecast_output(forecast, history_index, history_values, filters, history_points):
    frame = forecast.forecast
    return {
        "forecast": {"ds": _dates(frame.ds), **{c: [round(float(v), 3) for v in frame[c]] for c in frame.columns if c != "ds"}},
        "history": {"ds": _dates(history_index[-history_points:]), "y": [round(float(v), 3) for v in history_values[-history_points:]]},
        "components": forecast.components,
        "note": forecast.note,
        "filters": filters,
    }


def repair_demand_task(data, scope, store_ids=None, category=None, repair_type=None):
    """One intake series: tickets received per day for the scope's stores / category / repair type."""

    def fit():
        rows = select_tickets(data.tickets, store_ids, category, repair_type)
        series = ds.daily_counts(rows, data.start, data.end)
        settings = demand_settings(data.start, data.end, data.holiday_region(store_ids))
        result = forecasting.forecast_series(series.index, series.to_numpy(), DEMAND_HORIZON_DAYS, settings, season=7,
                                             backtest_horizon=DEMAND_BACKTEST_DAYS, folds=DEMAND_FOLDS,
                                             calibration_folds=DEMAND_CALIBRATION_FOLDS)
        codes = [data.stores[s] for s in (store_ids or data.stores)]
        filters = {"stores": codes, "category": category, "repair_type": repair_type}
        parameters = {**result.parameters, "mase_scale": _scale(series.to_numpy(), 7), "season": 7, "filters": filters}
        return ModelResult(
            REPAIR_DEMAND, scope, result.method, _clean(parameters), _clean(_backtest_metrics(result)),
            _clean(_forecast_output(result, series.index, series.to_numpy(), filters, DEMAND_HISTORY_DAYS)),
            data_start=data.start.date(), data_end=data.end.date(), n_observations=int(len(series)),
        )

    return TrainingTask(REPAIR_DEMAND, scope, fit, parallel=True)


def _scale(y, season):
    from .ml.backtest import seasonal_naive_scale

    return seasonal_naive_scale(y, season)


def business_metric_task(data, scope, metric, granularity, store_ids=None, frames=None):
    """One business-metric series (revenue, gross margin, ticket count, average ticket value) per week or month."""
    config = BUSINESS_SETTINGS[granularity]

    def fit():
        if frames is not None and (granularity, tuple(store_ids or ())) in frames:
            table = frames[(granularity, tuple(store_ids or ()))]
        else:
            table = ds.business_metric_series(select_tickets(data.tickets, store_ids), config["freq"], data.start, data.end)
        series = table[metric]
        region = data.holiday_region(store_ids)
        calendar = holiday_calendar(region)
        holidays = forecasting.bank_holidays_per_period(series.index, config["freq"], calendar)
        settings = forecasting.ProphetSettings(
            freq=config["freq"], weekly=False, yearly=config["yearly"], holidays=None, holiday_calendar=region.label,
            seasonality_mode="multiplicative",
            uncertainty_samples=BUSINESS_UNCERTAINTY_SAMPLES, regressors=("bank_holidays",), non_negative=metric != "gross_margin",
        )
        result = forecasting.forecast_series(
            series.index, series.to_numpy(), config["horizon"], settings, season=config["season"],
            backtest_horizon=config["backtest"], folds=config["folds"], regressors={"bank_holidays": holidays},
            regressor_functions={"bank_holidays": lambda dates: forecasting.bank_holidays_per_period(dates, config["freq"], calendar)},
            components=False,
        )
        codes = [data.stores[s] for s in (store_ids or data.stores)]
        filters = {"stores": codes, "metric": metric, "granularity": granularity}
        parameters = {**result.parameters, "mase_scale": _scale(series.to_numpy(), config["season"]), "season": config["season"],
                      "filters": filters}
        return ModelResult(
            BUSINESS_METRICS, scope, result.method, _clean(parameters), _clean(_backtest_metrics(result)),
            _clean(_forecast_output(result, series.index, series.to_numpy(), filters, config["history"])),
            data_start=series.index[0].date() if len(series) else None, data_end=data.end.date(), n_observations=int(len(series)),
        )

    return TrainingTask(BUSINESS_METRICS, scope, fit, parallel=True)


# ---------------------------------------------------------------------------------------------
# Customers (BG/NBD + Gamma-Gamma)
# ---------------------------------------------------------------------------------------------


def customer_task(data, scope, store_ids=None, prepared=None):
    """BG/NBD and Gamma-Gamma for the customers of the scope's stores, with a 26-week holdout check."""

    def fit():
        visits, full, calibration = prepared if prepared is not None else prepare_customers(data)
        if store_ids is not None:
            full = full.subset(np.isin(full.store_id, store_ids))
            calibration = calibration.subset(np.isin(calibration.store_id, store_ids))
        return fit_customer_models(data, scope, visits, full, calibration, store_ids)

    return TrainingTask(CUSTOMER_BEHAVIOR, scope, fit)


def prepare_customers(data):
    visits = ds.customer_visits(data.tickets)
    end = data.end + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    cutoff = end - pd.Timedelta(weeks=holdout_weeks(data))
    return visits, ds.summarise_customers(visits, end), ds.summarise_customers(visits, cutoff)


def holdout_weeks(data):
    span_weeks = (data.end - data.start).days / 7
    return CUSTOMER_HOLDOUT_WEEKS if span_weeks >= 3 * CUSTOMER_HOLDOUT_WEEKS else max(4, int(span_weeks // 4))


def fit_customer_models(data, scope, visits, full, calibration, store_ids):
    weeks = holdout_weeks(data)
    params, info = customer_methods.fit_bgnbd(full.frequency, full.recency, full.T)
    spend_params, spend_info = customer_methods.fit_gamma_gamma(full.priced_repeats, full.monetary)
    cal_params, _ = customer_methods.fit_bgnbd(calibration.frequency, calibration.recency, calibration.T,
                                               standard_errors=False, polish=False)
    actual = ds.repeat_visits_between(visits, calibration.customer_id, calibration.end, full.end)
    check = customer_methods.holdout_calibration(cal_params, calibration.frequency, calibration.recency, calibration.T, weeks, actual)
    check["calibration_parameters"] = cal_params.as_dict()
    check["calibration_end"] = calibration.end.date().isoformat()
    buffer = io.BytesIO()
    arrays = full.arrays()
    arrays["first_visit"] = arrays["first_visit"].astype("datetime64[s]").astype(np.int64)
    arrays["last_visit"] = arrays["last_visit"].astype("datetime64[s]").astype(np.int64)
    np.savez_compressed(buffer, **arrays)
    metrics = {
        "holdout_weeks": weeks,
        "holdout_predicted_visits": check["predicted_visits"], "holdout_actual_visits": check["actual_visits"],
        "holdout_total_error_pct": check["total_error_pct"], "holdout_mae_per_customer": check["mae_per_customer"],
        "holdout_correlation": check["correlation"], "log_likelihood": info["log_likelihood"], "customers": info["customers"],
        "bgnbd_standard_errors": info["standard_errors"], "converged": info["converged"] and spend_info["converged"],
    }
    output = {
        "bgnbd": params.as_dict(), "gamma_gamma": spend_params.as_dict(), "time_unit": "weeks",
        "mean_visit_rate_per_week": params.r / params.alpha, "mean_dropout_probability": params.a / (params.a + params.b),
        "population_mean_spend": spend_params.population_mean_spend, "gamma_gamma_info": spend_info,
        "calibration": check, "data_end": full.end.isoformat(),
        "stores": [data.stores[s] for s in (store_ids or data.stores)],
    }
    parameters = {"bgnbd": params.as_dict(), "gamma_gamma": spend_params.as_dict(), "time_unit": "weeks",
                  "excludes": "warranty comebacks", "holdout_weeks": weeks}
    return ModelResult(
        CUSTOMER_BEHAVIOR, scope, "bgnbd+gamma_gamma", _clean(parameters), _clean(metrics), _clean(output),
        data_start=data.start.date(), data_end=data.end.date(), n_observations=len(full), artifact=buffer.getvalue(),
    )


def load_customer_arrays(artifact):
    """The per-customer arrays stored with a customer model (see fit_customer_models)."""
    with np.load(io.BytesIO(bytes(artifact))) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["first_visit"] = arrays["first_visit"].astype("datetime64[s]")
    arrays["last_visit"] = arrays["last_visit"].astype("datetime64[s]")
    return arrays


# ---------------------------------------------------------------------------------------------
# Parts demand
# ---------------------------------------------------------------------------------------------


def parts_task(data, scope="all"):
    """Every store × part weekly demand series from the ledger: class, method by backtest, rate and error."""

    def fit():
        stores = list(data.stores)
        catalogue = ds.part_catalogue()
        part_ids = catalogue.index[catalogue.is_active].tolist()
        since = pd.Timestamp(data.start).tz_localize(ds.local_tz())
        consumption = ds.load_consumption(store_ids=stores, since=since) if "consumption" not in data.extras else data.extras["consumption"]
        weeks = ds.complete_periods(data.start, data.end, ds.WEEK_FREQ)
        series = ds.weekly_part_demand(consumption[consumption.day <= data.end] if len(consumption) else consumption, stores, part_ids, weeks)
        table = parts_methods.forecast_parts_demand(series[["unique_id", "ds", "y"]], freq=ds.WEEK_FREQ,
                                                    classify_periods=PARTS_CLASSIFY_WEEKS, horizon=PARTS_BACKTEST_WEEKS, folds=PARTS_FOLDS)
        keys = table.unique_id.str.split(":", expand=True).astype(np.int64)
        table["store_id"], table["part_id"] = keys[0], keys[1]
        table["daily_mean"] = table.rate / 7.0
        # Weekly forecast errors, spread over 7 days as independent daily errors: σ_day = σ_week / √7.
        table["daily_sd"] = table.error_sd / np.sqrt(7.0)
        columns = ["store_id", "part_id", "demand_class", "method", "rate", "error_sd", "daily_mean", "daily_sd", "adi", "cv2",
                   "nonzero_periods", "recent_mean", "mase", "rmsse", "naive_rmsse", "ma_rmsse", "candidates"]
        output = {"columns": {c: _clean(table[c].tolist()) for c in columns}, "weeks": int(len(weeks)),
                  "classify_weeks": PARTS_CLASSIFY_WEEKS, "period": "week", "first_week": str(weeks[0].date()) if len(weeks) else None}
        return ModelResult(
            PARTS_DEMAND, scope, "per_series_by_backtest", _clean(parts_parameters()), _clean(parts_metrics(table)), output,
            data_start=weeks[0].date() if len(weeks) else None, data_end=data.end.date(), n_observations=int(len(table)),
        )

    return TrainingTask(PARTS_DEMAND, scope, fit)


def parts_parameters():
    return {
        "period": "week", "classification_window_weeks": PARTS_CLASSIFY_WEEKS, "adi_cutoff": parts_methods.ADI_CUTOFF,
        "cv2_cutoff": parts_methods.CV2_CUTOFF, "backtest_horizon_weeks": PARTS_BACKTEST_WEEKS, "folds": PARTS_FOLDS,
        "selection": "lowest backtest RMSE per series",
        "candidates": {"smooth/erratic": ["ets", "ses"], "intermittent/lumpy": ["croston_sba", "tsb", "adida"]},
        "baselines": ["naive", parts_methods.MOVING_AVERAGE], "daily_sd": "weekly backtest RMSE / sqrt(7)",
    }


def parts_metrics(table):
    forecastable = table[table.method != "zero"]
    by_class = {}
    for name, group in table.groupby("demand_class"):
        entry = {"series": int(len(group)), "methods": group.method.value_counts().to_dict()}
        if name != "none":
            entry.update({
                "median_rmsse": float(group.rmsse.median()), "median_rmsse_naive": float(group.naive_rmsse.median()),
                "median_rmsse_moving_average": float(group.ma_rmsse.median()), "median_mase": float(group.mase.median()),
                "share_beating_moving_average": float((group.rmsse < group.ma_rmsse).mean()),
                "share_beating_naive": float((group.rmsse < group.naive_rmsse).mean()),
            })
        by_class[name] = entry
    return {
        "series": int(len(table)), "forecastable_series": int(len(forecastable)),
        "median_rmsse": float(forecastable.rmsse.median()) if len(forecastable) else None,
        "median_rmsse_moving_average": float(forecastable.ma_rmsse.median()) if len(forecastable) else None,
        "median_rmsse_naive": float(forecastable.naive_rmsse.median()) if len(forecastable) else None,
        "median_mase": float(forecastable.mase.median()) if len(forecastable) else None,
        "share_beating_moving_average": float((forecastable.rmsse < forecastable.ma_rmsse).mean()) if len(forecastable) else None,
        "by_class": by_class, "horizon": PARTS_BACKTEST_WEEKS, "folds": PARTS_FOLDS,
    }


# ---------------------------------------------------------------------------------------------
# Repair cost
# ---------------------------------------------------------------------------------------------


QUALIFIED_SUPPLIER_RULE = (
    "an active supplier whose purchase orders of the last record_days arrived on time at least min_on_time_rate of the "
    "time, with at most max_defect_rate of units defective, over at least min_deliveries deliveries; its price line must "
    "be valid on the order date, and the line's quantity is rounded up to that line's pack size and minimum order"
)


def cost_task(data, scope="all"):
    """The expected-cost model and, for the last 3, 6 and 12 months, the savings opportunities."""

    def fit():
        frame = ds.cost_frame(data.tickets, ds.bill_parts_cost())
        model, metrics, _ = cost_methods.fit_cost_model(frame)
        # Expected costs are only read for the analysis windows (at most the last 12 months).
        recent = frame.received_at >= data.end + pd.Timedelta(days=1) - pd.DateOffset(months=max(COST_WINDOWS_MONTHS))
        frame = frame[recent].copy()
        frame["expected_cost"] = model.predict(frame)
        lines = ds.load_purchase_lines()
        rule = ds.qualification_rule()
        records = ds.supplier_delivery_records(data.end.date())
        qualified = ds.qualified_codes(records, rule)
        offers = ds.qualified_offers(records.index[qualified])
        technician_store = frame.drop_duplicates("technician").set_index("technician").store.to_dict()
        analyses = {}
        for months in COST_WINDOWS_MONTHS:
            since = data.end + pd.Timedelta(days=1) - pd.DateOffset(months=months)
            window = frame[frame.received_at >= since]
            window_lines = lines[(lines.ordered_at >= since) & (lines.ordered_at < data.end + pd.Timedelta(days=1))]
            analyses[str(months)] = cost_analysis(window, window_lines, offers, records, technician_store, months, since, data.end)
        qualification = {**rule, "suppliers": [
            {"supplier": code, "deliveries": int(row.deliveries), "on_time_rate": row.on_time_rate, "defect_rate": row.defect_rate,
             "mean_days_late": row.mean_days_late, "active": bool(row.is_active), "qualified": bool(qualified[code])}
            for code, row in records.iterrows()]}
        output = {"windows": analyses, "features": model.features, "technician_store": technician_store,
                  "stores": data.store_codes, "supplier_qualification": qualification}
        parameters = {"estimator": "HistGradientBoostingRegressor", "features": model.features,
                      "target": "parts cost + labour minutes × technician hourly cost",
                      "excludes": "warranty comebacks; the technician (the model is the norm for the job)",
                      "holdout_share": cost_methods.HOLDOUT_SHARE, "windows_months": list(COST_WINDOWS_MONTHS),
                      "qualified_supplier": {**rule, "rule": QUALIFIED_SUPPLIER_RULE}}
        return ModelResult(REPAIR_COST, scope, "gradient_boosting", _clean(parameters), _clean(metrics), _clean(output),
                           data_start=data.start.date(), data_end=data.end.date(), n_observations=int(len(frame)))

    return TrainingTask(REPAIR_COST, scope, fit)


def cost_analysis(window, lines, offers, records, technician_store, months, since, end):
    """Opportunities (tagged with their store) and the expected-vs-actual cost table for one window."""
    labour = cost_methods.labour_opportunities(window, months)
    for item in labour:
        if item["kind"] == "labour_time_technician":
            item["store"] = technician_store.get(item["technician"])
    purchasing = cost_methods.purchasing_opportunities(lines, offers, months)
    over = cost_methods.overpriced_purchases(lines, offers)
    by_cheapest = over.groupby(["store", "supplier", "cheapest_supplier"]).excess.sum()
    by_part = over.groupby(["store", "supplier", "part"]).agg(excess=("excess", "sum"), units=("quantity", "sum"))
    for item in purchasing:
        key = (item["store"], item["supplier"])
        cheaper = by_cheapest.loc[key].sort_values(ascending=False)
        item["evidence"]["cheapest_suppliers"] = [
            {"supplier": s, "share_of_saving": round(float(v / cheaper.sum()), 3), "on_time_rate": _record(records, s, "on_time_rate"),
             "defect_rate": _record(records, s, "defect_rate"), "deliveries": _record(records, s, "deliveries")}
            for s, v in cheaper.head(3).items()
        ]
        top = by_part.loc[key].sort_values("excess", ascending=False).head(5)
        item["evidence"]["top_parts"] = [{"part_id": int(p), "overpaid": round(float(r.excess), 2), "units": int(r.units)}
                                         for p, r in top.iterrows()]
    opportunities = sorted(labour + purchasing, key=lambda o: -o["monthly_saving"])
    by_type = (window.groupby(["store", "repair_type"])
               .agg(tickets=("total_cost", "size"), actual_mean_cost=("total_cost", "mean"), expected_mean_cost=("expected_cost", "mean"),
                    labour_minutes_median=("labour_minutes", "median"))
               .reset_index())
    by_technician = (window.assign(excess=window.total_cost - window.expected_cost)
                     .groupby(["store", "technician"]).agg(tickets=("excess", "size"), mean_excess_cost=("excess", "mean"),
                                                           total_excess_cost=("excess", "sum")).reset_index())
    by_technician["monthly_excess_cost"] = by_technician.total_excess_cost / months
    variability = cost_methods.labour_variability(window)
    outliers = cost_methods.labour_outlier_tickets(window)
    outlier_counts = outliers.groupby(["store", "technician"]).size().rename("outlier_tickets").reset_index()
    return {
        "months": months, "since": since.date().isoformat(), "end": end.date().isoformat(),
        "opportunities": opportunities,
        "expected_cost_by_repair_type": by_type.to_dict(orient="records"),
        "technician_cost_vs_norm": by_technician.drop(columns="total_excess_cost").to_dict(orient="records"),
        "labour_variability": variability.to_dict(orient="records"),
        "labour_outliers": outlier_counts.to_dict(orient="records"),
        "labour_outlier_examples": outliers.head(50)[["id", "store", "technician", "repair_type", "labour_minutes", "robust_z"]].to_dict(orient="records"),
        "purchase_lines": int(len(lines)),
        "tickets": int(len(window)),
    }


def _record(records, supplier, column):
    value = records[column].get(supplier) if supplier in records.index else None
    return None if value is None or pd.isna(value) else round(float(value), 4)


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


def plan(data, kinds=KINDS, extra_scopes=None):
    """Every task of a full training run, kind by kind, for every scope that is trained ahead, and for the
    `extra_scopes` ({kind: [scope, ...]}, e.g. scopes fitted on demand) that are still valid."""
    tasks = _ahead(data, kinds)
    for kind, scopes in (extra_scopes or {}).items():
        if kind not in tasks:
            continue
        planned = {task.scope for task in tasks[kind]}
        for scope in sorted(set(scopes) - planned):
            try:
                tasks[kind].append(task_for_scope(data, kind, scope))
            except (KeyError, ValueError):  # a store that closed, a scope this version no longer knows
                continue
    return tasks


def _ahead(data, kinds):
    stores = list(data.stores)
    tasks = {kind: [] for kind in kinds}
    if REPAIR_DEMAND in kinds:
        tasks[REPAIR_DEMAND].append(repair_demand_task(data, "all"))
        for store_id, code in data.stores.items():
            tasks[REPAIR_DEMAND].append(repair_demand_task(data, ds.scope_key([code], data.store_codes), store_ids=[store_id]))
        for category in sorted(data.tickets.category.dropna().unique()):
            tasks[REPAIR_DEMAND].append(repair_demand_task(data, ds.scope_key(category=category), category=category))
    if BUSINESS_METRICS in kinds:
        frames = {}
        for granularity, config in BUSINESS_SETTINGS.items():
            frames[(granularity, ())] = ds.business_metric_series(data.tickets, config["freq"], data.start, data.end)
            for store_id in (stores if BUSINESS_AHEAD[granularity] == "every_store" else []):
                frames[(granularity, (store_id,))] = ds.business_metric_series(
                    select_tickets(data.tickets, [store_id]), config["freq"], data.start, data.end)
        for store_ids in [None] + [[s] for s in stores]:
            codes = [data.stores[s] for s in store_ids] if store_ids else None
            for granularity in BUSINESS_SETTINGS:
                if store_ids and BUSINESS_AHEAD[granularity] != "every_store":
                    continue
                for metric in ds.BUSINESS_METRICS:
                    scope = ds.scope_key(codes, data.store_codes, granularity=granularity, metric=metric)
                    tasks[BUSINESS_METRICS].append(business_metric_task(data, scope, metric, granularity, store_ids, frames))
    if CUSTOMER_BEHAVIOR in kinds:
        prepared = prepare_customers(data)
        tasks[CUSTOMER_BEHAVIOR].append(customer_task(data, "all", prepared=prepared))
        for store_id, code in data.stores.items():
            tasks[CUSTOMER_BEHAVIOR].append(customer_task(data, ds.scope_key([code], data.store_codes), [store_id], prepared))
    if PARTS_DEMAND in kinds:
        tasks[PARTS_DEMAND].append(parts_task(data))
    if REPAIR_COST in kinds:
        tasks[REPAIR_COST].append(cost_task(data))
    return tasks


SCOPE_DIMENSIONS = {REPAIR_DEMAND: {"category", "repair_type"}, BUSINESS_METRICS: {"metric", "granularity"}, CUSTOMER_BEHAVIOR: set()}


def task_for_scope(data, kind, scope):
    """A single task for a scope that is not trained ahead (fitted on demand for a request)."""
    spec = ds.parse_scope(scope)
    unknown = set(spec) - {"stores"} - SCOPE_DIMENSIONS.get(kind, set())
    if unknown:
        raise ValueError(f"{kind} scopes have no {', '.join(sorted(unknown))}")
    code_to_id = {code: pk for pk, code in data.stores.items()}
    store_ids = [code_to_id[c] for c in spec["stores"]] if spec["stores"] else None
    if kind == REPAIR_DEMAND:
        return repair_demand_task(data, scope, store_ids, spec.get("category"), spec.get("repair_type"))
    if kind == BUSINESS_METRICS:
        return business_metric_task(data, scope, spec["metric"], spec["granularity"], store_ids)
    if kind == CUSTOMER_BEHAVIOR:
        return customer_task(data, scope, store_ids)
    raise ValueError(f"{kind} models are trained for every store at once; run train_models")
