"""Writes of the predictive app: training runs, the model registry, on-demand fits and the smart alerts
this app owns (intake above the forecast's upper bound, model accuracy drift)."""
import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from mlanalytics.core import alerts, live
from mlanalytics.core import cache as result_cache
from mlanalytics.core.models import Alert, Store

from . import datasets as ds
from . import training
from .models import TrainedModel, TrainingRun

log = logging.getLogger(__name__)

LOCK_KEY = "predictive:training-lock"
LOCK_SECONDS = 30 * 60


class TrainingInProgress(Exception):
    pass


def training_workers():
    """Threads for Prophet fits (each waits on its own cmdstan process). Setting PREDICTIVE_TRAINING_WORKERS."""
    return max(1, int(getattr(settings, "PREDICTIVE_TRAINING_WORKERS", 2)))


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------


def register_model(result, run=None):
    """Record a ModelResult as the next version of its kind and scope; a ready one becomes current.

    A failed fit is recorded (with its error) without replacing the current version.
    """
    ok = not result.error
    for attempt in range(3):
        try:
            with transaction.atomic():
                last = TrainedModel.objects.filter(kind=result.kind, scope=result.scope).aggregate(v=Max("version"))["v"] or 0
                if ok:
                    TrainedModel.objects.filter(kind=result.kind, scope=result.scope, is_current=True).update(is_current=False)
                return TrainedModel.objects.create(
                    kind=result.kind, scope=result.scope, version=last + 1, method=result.method[:60],
                    status=TrainedModel.Status.READY if ok else TrainedModel.Status.FAILED, is_current=ok,
                    data_start=result.data_start, data_end=result.data_end, n_observations=result.n_observations,
                    parameters=result.parameters, metrics=result.metrics, output=result.output, artifact=result.artifact,
                    duration_seconds=result.duration_seconds, error=result.error[:5000], training_run=run,
                )
        except IntegrityError:  # another process registered the same version at the same moment
            if attempt == 2:
                raise
    return None


KEEP_OUTPUTS = 3


def prune_registry(keep=KEEP_OUTPUTS, kinds=training.KINDS):
    """Keep every version's row and metrics (the history model-performance shows) but drop the stored
    forecasts and artifacts of all but the latest `keep` versions of each kind and scope: a nightly run
    would otherwise add megabytes a day. Returns how many versions were emptied."""
    emptied = 0
    rows = (TrainedModel.objects.filter(kind__in=kinds, is_current=False).exclude(output={}, artifact=None)
            .order_by("kind", "scope", "-version").values_list("id", "kind", "scope", "version"))
    latest = {}
    for kind, scope, version in TrainedModel.objects.filter(kind__in=kinds).values_list("kind", "scope", "version"):
        latest.setdefault((kind, scope), []).append(version)
    cutoff = {key: sorted(versions)[-keep] if len(versions) >= keep else 0 for key, versions in latest.items()}
    stale = [pk for pk, kind, scope, version in rows if version < cutoff[(kind, scope)]]
    for start in range(0, len(stale), 500):
        emptied += TrainedModel.objects.filter(pk__in=stale[start:start + 500]).update(output={}, artifact=None)
    return emptied


def needs_training(kinds=training.KINDS, fingerprint=None):
    """True when some kind has no current model or the data changed since the last finished run."""
    fingerprint = fingerprint or ds.data_fingerprint()
    current = set(TrainedModel.objects.filter(is_current=True, kind__in=kinds).values_list("kind", flat=True).distinct())
    if set(kinds) - current:
        return True
    last = TrainingRun.objects.filter(status=TrainingRun.Status.DONE).order_by("-started_at").first()
    return last is None or last.data_fingerprint != fingerprint


# ---------------------------------------------------------------------------------------------
# Training runs
# ---------------------------------------------------------------------------------------------


def train_all_models(kinds=None, if_needed=False, triggered_by="task", progress=None, workers=None):
    """Train every model kind for every scope trained ahead, record each model in the registry and
    keep a TrainingRun with progress. Returns the TrainingRun, or None when nothing needed doing.

    `progress(run, step_label)` is called after each model (the command prints from it); live
    "training_progress" events go to every browser. Raises TrainingInProgress when another run holds
    the lock.
    """
    kinds = [k for k in training.KINDS if k in (kinds or training.KINDS)]
    fingerprint = ds.data_fingerprint()
    if if_needed and not needs_training(kinds, fingerprint):
        return None
    if not cache.add(LOCK_KEY, timezone.now().isoformat(), LOCK_SECONDS):
        raise TrainingInProgress("A training run is already in progress.")
    run = TrainingRun.objects.create(kinds=kinds, triggered_by=triggered_by[:40], data_fingerprint=fingerprint,
                                     current_step="loading data")
    _publish(run, "started")
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    try:
        data = ds.ShopData.load()
        if data.end is None:
            raise ValueError("There are no repair tickets to train on.")
        timings = {"loading_data": round(time.perf_counter() - started, 2)}
        planned = planned_tasks(data, kinds)
        run.total_steps = sum(len(tasks) for tasks in planned.values())
        run.save(update_fields=["total_steps"])
        for kind in kinds:
            kind_started = time.perf_counter()
            for result in _run_tasks(planned[kind], workers or training_workers()):
                model = register_model(result, run)
                _record_step(run, result, model)
                if progress:
                    progress(run, f"{result.kind} {result.scope}")
            timings[kind] = round(time.perf_counter() - kind_started, 2)
            run.timings = timings
            run.save(update_fields=["timings"])
        run.status = TrainingRun.Status.DONE
        run.current_step = ""
        prune_registry()
    except Exception as exc:
        log.exception("training run %s failed", run.pk)
        run.status = TrainingRun.Status.FAILED
        run.error = str(exc)[:5000]
        raise
    finally:
        run.finished_at = timezone.now()
        run.duration_seconds = round(time.perf_counter() - started, 2)
        # CPU seconds (this process and its cmdstan children) beside wall clock: on a shared machine
        # the wall time depends on what else runs, the CPU time much less.
        run.timings = {**run.timings, "total": run.duration_seconds, "cpu_seconds": round(_cpu_seconds() - cpu_started, 2)}
        run.save()
        cache.delete(LOCK_KEY)
        result_cache.bump("models")
        _publish(run, run.status)
    return run


def planned_tasks(data, kinds=training.KINDS):
    """The tasks of a training run: every scope trained ahead, and every other scope that has a current
    model (first fitted on demand by a request, otherwise it would keep answering from the data it was
    fitted on). training.plan() adds only the current scopes it does not already train ahead."""
    return training.plan(data, kinds, extra_scopes=current_scopes(kinds))


def current_scopes(kinds=training.KINDS):
    """Scopes of the current store-scoped models, per kind.

    Not only those no run trained: a scope fitted on demand is refitted by the next run (which then owns
    its current version), and must be refitted by every run after that too.
    """
    rows = (TrainedModel.objects.filter(is_current=True, kind__in=[k for k in kinds if k in training.STORE_SCOPED_KINDS])
            .values_list("kind", "scope"))
    scopes = {}
    for kind, scope in rows:
        scopes.setdefault(kind, []).append(scope)
    return scopes


def _cpu_seconds():
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _run_tasks(tasks, workers):
    """Yield results as tasks finish: Prophet tasks in a thread pool, the rest in this thread."""
    parallel = [t for t in tasks if t.parallel]
    serial = [t for t in tasks if not t.parallel]
    for task in serial:
        yield task.run()
    if parallel:
        if workers <= 1:
            for task in parallel:
                yield task.run()
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mla-train") as pool:
            futures = [pool.submit(task.run) for task in parallel]
            for future in as_completed(futures):
                yield future.result()


def _record_step(run, result, model):
    run.done_steps += 1
    run.current_step = f"{result.kind} {result.scope}"
    entry = {"kind": result.kind, "scope": result.scope, "method": result.method, "seconds": result.duration_seconds,
             "version": model.version if model else None}
    if result.error:
        entry["error"] = result.error.splitlines()[0][:300]
    run.log = [*run.log, entry]
    run.save(update_fields=["done_steps", "current_step", "log"])
    _publish(run, "running")


def _publish(run, state):
    live.publish("training_progress", {
        "run_id": run.pk, "state": state, "done": run.done_steps, "total": run.total_steps,
        "step": run.current_step, "kinds": run.kinds, "duration_seconds": run.duration_seconds,
    }, store_id=None)


def start_training(user=None, kinds=None):
    """Queue a training run in the background (Celery in production, a thread in the embedded default)."""
    from mlanalytics.core import audit, jobs

    if cache.get(LOCK_KEY):
        raise TrainingInProgress("A training run is already in progress.")
    if user is not None:
        audit.record(user, "start_training", None, changes={"kinds": kinds or list(training.KINDS)})
    return jobs.enqueue("predictive.tasks.train_all_models", kinds, False, getattr(user, "username", "task"))


# ---------------------------------------------------------------------------------------------
# On-demand fits for scopes not trained ahead
# ---------------------------------------------------------------------------------------------


def fit_on_demand(kind, scope, replacing=None):
    """Fit and register one model for a scope no training run covers (e.g. one store's phones), or a
    newer version of a stale model (`replacing`, from the background job of `queue_refit`).

    The first request of a never-trained scope pays for the fit (there is nothing to serve yet); the model
    is then in the registry like any other, so later requests (and other processes) answer from it.
    """
    lock = f"predictive:on-demand:{kind}:{scope}"
    if not cache.add(lock, 1, 300):
        if replacing is not None:  # another process is refitting it: the current version keeps serving
            return None
        for _ in range(100):  # another request is fitting the same scope: wait for it
            time.sleep(0.2)
            found = TrainedModel.objects.filter(kind=kind, scope=scope, is_current=True).first()
            if found:
                return found
    try:
        spec = ds.parse_scope(scope)
        store_ids = None
        if spec["stores"]:
            store_ids = list(Store.objects.filter(code__in=spec["stores"]).values_list("id", flat=True))
        data = ds.ShopData.load(store_ids=store_ids)
        if data.end is None:
            return None
        result = training.task_for_scope(data, kind, scope).run()
        model = register_model(result)
        if result.error:
            log.warning("on-demand %s %s failed: %s", kind, scope, result.error.splitlines()[0])
            return None
        result_cache.bump("models")
        return model
    finally:
        cache.delete(lock)


# A stale model's refit is queued at most once per this many seconds for the same data end (a failed one
# is retried after it).
REFIT_RETRY_SECONDS = 3600


def _refit_key(kind, scope, data_end):
    return f"predictive:refit:{kind}:{scope}:{data_end}"


def queue_refit(model):
    """Queue a background refit of a model whose data window ends well before its scope's data (see
    selectors.is_stale), so the request that noticed it answers at once from the stale version.

    Returns the refit's state for the response: "queued" (by this request or an earlier one), or
    "failed" (an attempt in the last REFIT_RETRY_SECONDS failed; the next request after that retries).
    """
    from mlanalytics.core import jobs

    key = _refit_key(model.kind, model.scope, model.data_end)
    if cache.add(key, "queued", REFIT_RETRY_SECONDS):
        jobs.enqueue("predictive.tasks.refit_stale_model", model.kind, model.scope, _iso_day(model.data_end))
        return "queued"
    return cache.get(key) or "queued"


def refit_stale(kind, scope, data_end):
    """The background job of queue_refit: fit a new version of the current model of a kind and scope whose
    data ends on `data_end` (ISO date). Does nothing when that version is no longer current (a training
    run or another refit replaced it). Returns the new model, or None."""
    model = TrainedModel.objects.filter(kind=kind, scope=scope, is_current=True).defer("artifact", "output").first()
    if model is None or _iso_day(model.data_end) != data_end:
        return None
    fitted = fit_on_demand(kind, scope, replacing=model)
    if fitted is None and TrainedModel.objects.filter(pk=model.pk, is_current=True).exists():
        # Still the stale version: say so in the answers (they are cached until the models domain moves).
        cache.set(_refit_key(kind, scope, model.data_end), "failed", REFIT_RETRY_SECONDS)
        result_cache.bump("models")
    return fitted


def _iso_day(day):
    return day.isoformat() if day else None


# ---------------------------------------------------------------------------------------------
# Monitoring: intake above the forecast, accuracy drift
# ---------------------------------------------------------------------------------------------

DRIFT_MIN_DAYS = 14
# Business metrics are judged the same way once this many complete periods have passed since training.
DRIFT_MIN_PERIODS = {"week": 4, "month": 3}
DRIFT_MASE_FACTOR = 1.5
DRIFT_MIN_COVERAGE_95 = 0.75


def check_forecasts(now=None):
    """The periodic job: compare what happened with the current forecasts, raise and resolve alerts.

    - intake above forecast: today's tickets so far at a store exceed the 95 % upper bound of the day;
    - drift: on the days (intake) or complete weeks/months (business metrics) since training, the served
      forecast's MASE is more than 1.5 × its backtest MASE (or the 95 % interval covers under 75 % of
      them), over at least 14 days / 4 weeks / 3 months.
    Returns a summary of what was checked.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    summary = {"intake_alerts": 0, "drift_alerts": 0, "models_checked": 0, "status_changes": 0}
    models = list(TrainedModel.objects.filter(kind__in=[training.REPAIR_DEMAND, training.BUSINESS_METRICS], is_current=True)
                  .defer("artifact").order_by("kind", "scope"))
    stores = {s.code: s for s in Store.objects.filter(is_active=True)}
    business_tickets = _business_tickets(models, stores)
    for model in models:
        filters = model.parameters.get("filters", {})
        codes = filters.get("stores") or list(stores)
        store_ids = [stores[c].pk for c in codes if c in stores]
        forecast = pd.DataFrame(model.output.get("forecast") or {})
        if forecast.empty or not model.data_end:
            continue
        forecast["ds"] = pd.to_datetime(forecast.ds)
        summary["models_checked"] += 1
        before = (model.monitoring or {}).get("status")
        if model.kind == training.REPAIR_DEMAND:
            tickets = ds.load_tickets(store_ids=store_ids, since=_local_midnight(model.data_end + timedelta(days=1)))
            tickets = training.select_tickets(tickets, None, filters.get("category"), filters.get("repair_type")) if len(tickets) else tickets
            if model.scope.startswith("store=") and "|" not in model.scope:
                summary["intake_alerts"] += _check_intake(model, stores[codes[0]], tickets, forecast, today, now)
            points, actual = _intake_points(tickets, forecast, today)
            minimum, unit = DRIFT_MIN_DAYS, "days"
        else:
            tickets = training.select_tickets(business_tickets, store_ids) if len(business_tickets) else business_tickets
            granularity = filters.get("granularity", "week")
            points, actual = _business_points(tickets, forecast, today, granularity, filters.get("metric"))
            minimum, unit = DRIFT_MIN_PERIODS.get(granularity, 4), f"{granularity}s"
        summary["drift_alerts"] += _check_drift(model, live_accuracy(model, points, actual, unit), minimum, unit, now)
        summary["status_changes"] += int(before != model.monitoring.get("status"))
    if summary["status_changes"]:
        result_cache.bump("models")  # model-performance and the model blocks show the drift status
    return summary


def _business_tickets(models, stores):
    """The tickets received or completed since the earliest forecast period of the business models (one read for all)."""
    starts = [pd.Timestamp(m.output["forecast"]["ds"][0]) for m in models
              if m.kind == training.BUSINESS_METRICS and (m.output.get("forecast") or {}).get("ds")]
    if not starts:
        return pd.DataFrame()
    tickets = ds.load_tickets(store_ids=[s.pk for s in stores.values()], completed_since=_local_midnight(min(starts)))
    return tickets.reset_index(drop=True)


def _intake_points(tickets, forecast, today):
    """The forecast's complete days before today and the tickets received on each."""
    days = forecast[forecast.ds < pd.Timestamp(today)]
    counts = tickets.groupby("received_day").size() if len(tickets) else pd.Series(dtype=float)
    return days, counts.reindex(days.ds, fill_value=0).to_numpy(float)


def _business_points(tickets, forecast, today, granularity, metric):
    """The forecast's periods lying wholly before today and the metric's actual value in each (the same
    definition the model was trained on, datasets.business_metric_series)."""
    freq = training.BUSINESS_SETTINGS[granularity]["freq"]
    start, end = forecast.ds.min(), pd.Timestamp(today) - pd.Timedelta(days=1)
    if end < start or not len(tickets):
        return forecast.iloc[0:0], np.array([])
    series = ds.business_metric_series(tickets, freq, start, end)
    points = forecast[forecast.ds.isin(series.index)]
    return points, series[metric].reindex(points.ds).to_numpy(float)


def live_accuracy(model, points, actual, unit="days"):
    """Accuracy of the stored forecast on the `points` (forecast rows) that have happened, against `actual`."""
    if points.empty:
        return {"points": 0, "unit": unit, "days": 0}
    errors = np.abs(actual - points.yhat.to_numpy())
    scale = model.parameters.get("mase_scale") or np.nan
    step = 1 if unit == "days" else 7 if unit == "weeks" else None
    last = points.ds.iloc[-1] + (pd.Timedelta(days=step - 1) if step else pd.offsets.MonthEnd(0))
    return {
        "points": int(len(points)), "unit": unit, "days": int((last - points.ds.iloc[0]).days + 1),
        "from": points.ds.iloc[0].date().isoformat(), "to": last.date().isoformat(),
        "mae": float(errors.mean()), "mase": float(errors.mean() / scale) if scale else None,
        "coverage_80": float(((actual >= points.lower_80) & (actual <= points.upper_80)).mean()),
        "coverage_95": float(((actual >= points.lower_95) & (actual <= points.upper_95)).mean()),
        "actual_total": float(actual.sum()), "forecast_total": float(points.yhat.sum()),
    }


def _local_midnight(day):
    return timezone.make_aware(pd.Timestamp(day).to_pydatetime())


def _check_intake(model, store, tickets, forecast, today, now):
    key = f"intake_above_forecast:{store.code}"
    row = forecast[forecast.ds == pd.Timestamp(today)]
    if row.empty:
        return 0
    received_today = int((tickets.received_day == pd.Timestamp(today)).sum()) if len(tickets) else 0
    upper = float(row.upper_95.iloc[0])
    if received_today > upper:
        alerts.raise_alert(
            kind=Alert.Kind.INTAKE_ABOVE_FORECAST, dedup_key=key, store=store, severity=Alert.Severity.WARNING,
            title=f"Intake at {store.code} above forecast: {received_today} tickets today (95% upper bound {upper:.0f})",
            message=f"Forecast {float(row.yhat.iloc[0]):.1f} tickets for {today.isoformat()} (model v{model.version}, {model.method}).",
            subject_type="store", subject_id=store.code,
            data={"date": today.isoformat(), "received": received_today, "forecast": float(row.yhat.iloc[0]), "upper_95": upper,
                  "model_id": model.pk}, audience_roles=("manager", "staff"), now=now,
        )
        return 1
    alerts.resolve_by_key(key, now=now)
    return 0


def _check_drift(model, accuracy, minimum, unit, now):
    backtest_mase = model.metrics.get("mase")
    status = "waiting_for_data"
    if accuracy["points"] >= minimum and accuracy.get("mase") is not None and backtest_mase:
        drifting = accuracy["mase"] > DRIFT_MASE_FACTOR * backtest_mase or accuracy["coverage_95"] < DRIFT_MIN_COVERAGE_95
        status = "drift" if drifting else "ok"
    model.monitoring = training._clean({**accuracy, "status": status, "checked_at": now.isoformat(), "backtest_mase": backtest_mase,
                                        "rule": f"MASE > {DRIFT_MASE_FACTOR} × backtest or 95% coverage < {DRIFT_MIN_COVERAGE_95:.0%}, "
                                                f"over ≥ {minimum} {unit}"})
    TrainedModel.objects.filter(pk=model.pk).update(monitoring=model.monitoring)
    key = f"model_drift:{model.kind}:{model.scope}"
    if status == "drift":
        codes = model.parameters.get("filters", {}).get("stores") or []
        store = Store.objects.filter(code=codes[0]).first() if model.scope.startswith("store=") and len(codes) == 1 else None
        alerts.raise_alert(
            kind=Alert.Kind.MODEL_DRIFT, dedup_key=key, store=store, severity=Alert.Severity.WARNING,
            title=f"Forecast accuracy drift: {model.kind} [{model.scope}] MASE {accuracy['mase']:.2f} vs backtest {backtest_mase:.2f}",
            message=f"Over {accuracy['points']} {unit} since training, 95% interval coverage {accuracy['coverage_95']:.0%}. Retrain the models.",
            subject_type="model", subject_id=str(model.pk), data=model.monitoring, audience_roles=("manager", "admin"), now=now,
        )
        return 1
    # A current model that is not drifting (or a retrained one still waiting for data) clears the alert.
    alerts.resolve_by_key(key, now=now)
    return 0
