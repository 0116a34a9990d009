"""Benchmark cases of the inventory endpoints for `manage.py bench` (p50/p95, cold and warm cache)."""
from mlanalytics.core.management.commands.bench import BenchCase

BASE = "/api/inventory-management/"


def cases(context):
    first_store = min(context["stores"], default="")
    return [
        BenchCase("inventory overview", "GET", BASE + "overview"),
        BenchCase("inventory stock-monitoring", "GET", BASE + "stock-monitoring", {"limit": 200}),
        BenchCase("inventory stock-monitoring low+critical+out", "GET", BASE + "stock-monitoring", {"status": "low,critical,out"}),
        BenchCase("inventory demand-forecast", "POST", BASE + "demand-forecast", {"horizon_days": 28}),
        BenchCase("inventory reorder-suggestions", "POST", BASE + "reorder-suggestions", {}),
        BenchCase("inventory reorder-suggestions 1 store 0.98", "POST", BASE + "reorder-suggestions",
                  {"store": first_store, "service_level": 0.98}),
        BenchCase("inventory supply-chain-optimization", "POST", BASE + "supply-chain-optimization", {}),
        BenchCase("inventory cost-optimization", "POST", BASE + "cost-optimization", {}),
        BenchCase("inventory performance-analytics", "GET", BASE + "performance-analytics"),
    ]
