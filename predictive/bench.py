"""Benchmark cases of the predictive endpoints for `manage.py bench` (p50/p95, cold and warm cache).

Every case is answered from stored models: run `manage.py train_models` first. After the cases,
`report()` prints the training time per model kind of the latest finished training run.
"""
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
