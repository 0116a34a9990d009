"""Benchmark cases of the workflow API (python manage.py bench --apps workflow)."""
from mlanalytics.core.management.commands.bench import BenchCase

BASE = "/api/workflow-automation/"


def cold():
    """A cold call also loads the models again from the registry (unpickling is part of a cold start)."""
    from . import training

    training._loaded.clear()


def cases(context):
    store = context["stores"][0] if context["stores"] else ""
    return [
        BenchCase("workflow overview", "GET", BASE + "overview"),
        BenchCase("workflow overview (one store)", "GET", BASE + "overview", {"store": store}),
        BenchCase("repair-automation (dry run)", "POST", BASE + "repair-automation", {}),
        BenchCase("customer-communication (preview)", "POST", BASE + "customer-communication",
                  {"event": "ready_for_collection", "limit": 20}),
        BenchCase("quality-assurance", "POST", BASE + "quality-assurance", {}),
        BenchCase("resource-allocation", "POST", BASE + "resource-allocation", {}),
        BenchCase("performance-optimization (one store)", "POST", BASE + "performance-optimization", {"store": store}),
        BenchCase("performance-optimization (all stores)", "POST", BASE + "performance-optimization", {}),
        BenchCase("workflow analytics", "GET", BASE + "analytics"),
        BenchCase("rules list", "GET", BASE + "rules/"),
        BenchCase("qa-inspections list", "GET", BASE + "qa-inspections/", {"limit": 50}),
        BenchCase("outbox list", "GET", BASE + "outbox/", {"limit": 50}),
    ]
