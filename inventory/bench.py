"""Benchmark cases of the inventory endpoints for `manage.py bench` (p50/p95, cold and warm cache)."""
from mlanalytics.core.management.commands.bench import BenchCase

BASE = "/api/inventory-management/"


def prepare():
    """Bring the stored summaries (the ledger's daily summary, the reorder policies, the cost replays) up to
    date for stores that lack them, before anything is measured: a cold request clears the result cache,
    not these rows, so the figures are the request path and not a first build (minutes at the large scale)."""
    from mlanalytics.core.models import Store

    from .models import PartDayRefresh, StockPolicyRefresh
    from .services import stale_replay_stores
    from .tasks import refresh_policies_job

    stores = set(Store.objects.filter(is_active=True).values_list("id", flat=True))
    built = set(PartDayRefresh.objects.values_list("store_id", flat=True)) & set(StockPolicyRefresh.objects.values_list("store_id", flat=True))
    missing = sorted((stores - built) | set(stale_replay_stores(sorted(stores))))
    if missing:
        refresh_policies_job(missing)


def cases(context):
    prepare()
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
        BenchCase("inventory cost-optimization 1 store 90 days (replayed on request)", "POST", BASE + "cost-optimization",
                  {"store": first_store, "replay_days": 90}),
        BenchCase("inventory performance-analytics", "GET", BASE + "performance-analytics"),
    ]
