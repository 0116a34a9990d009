"""python manage.py bench — p50/p95 latency of the REST endpoints, cold and warm cache.

Each app lists its cases in `<app>/bench.py` as `cases(context) -> [BenchCase, ...]`; the command
runs every case `--repeat` times through the full Django/DRF stack (in process, authenticated as
the demo manager), once with the cache cleared before each call (cold; an app's optional `cold()`
also drops what it keeps in process memory) and once warm, and prints a table with the cache hit
rate. The load test with concurrency is scripts/loadtest.py.
"""
import importlib
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from rest_framework.test import APIClient

from mlanalytics.core import cache as result_cache
from mlanalytics.core.models import Store, User

APPS = ("predictive", "inventory", "workflow")


@dataclass
class BenchCase:
    name: str
    method: str
    path: str
    data: dict = field(default_factory=dict)
    expect: int = 200


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Command(BaseCommand):
    help = "Benchmark the REST endpoints: p50/p95 cold and warm, and the cache hit rate."

    def add_arguments(self, parser):
        parser.add_argument("--apps", nargs="*", default=list(APPS), choices=APPS)
        parser.add_argument("--repeat", type=int, default=10)
        parser.add_argument("--user", default="manager")
        parser.add_argument("--only", default="", help="Run only cases whose name contains this text.")

    def handle(self, *args, apps, repeat, user, only, **options):
        account = User.objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"No user '{user}'. Seed the demo data first (manage.py seed_demo).")
        client = APIClient()
        client.force_authenticate(account)
        context = {"stores": list(Store.objects.values_list("code", flat=True)), "user": account}
        rows = []
        result_cache.reset_stats()
        for app in apps:
            try:
                module = importlib.import_module(f"{app}.bench")
            except ModuleNotFoundError:
                self.stderr.write(f"{app}: no bench cases yet")
                continue
            for case in module.cases(context):
                if only and only not in case.name:
                    continue
                cold, warm = [], []
                # An app may hold more than the cache in memory (loaded models); its `cold()` drops that too.
                reset = getattr(module, "cold", None)
                for _ in range(repeat):
                    cache.clear()
                    if reset is not None:
                        reset()
                    cold.append(self._call(client, case))
                self._call(client, case)
                for _ in range(repeat):
                    warm.append(self._call(client, case))
                rows.append((app, case.name, cold, warm))
                self.stdout.write(
                    f"{app:11s} {case.name:42s} cold p50 {percentile(cold, .5):7.1f} p95 {percentile(cold, .95):7.1f} ms   "
                    f"warm p50 {percentile(warm, .5):6.1f} p95 {percentile(warm, .95):6.1f} ms"
                )
            # An app may add lines of its own after its cases (`report(context) -> [str]`), e.g. training times.
            for line in getattr(module, "report", lambda context: [])(context):
                self.stdout.write(f"{app:11s} {line}")
        stats = result_cache.stats()
        if stats["hit_rate"] is not None:
            self.stdout.write(f"cache: {stats['hits']} hits, {stats['misses']} misses, hit rate {stats['hit_rate']:.0%} (cold runs clear the cache on purpose)")
        slow = [r for r in rows if percentile(r[2], .95) > 500 or percentile(r[3], .95) > 100]
        if slow:
            self.stdout.write(self.style.WARNING("over target (cold p95 > 500 ms or warm p95 > 100 ms): " + ", ".join(r[1] for r in slow)))
        return None

    def _call(self, client, case):
        started = time.perf_counter()
        if case.method == "GET":
            response = client.get(case.path, case.data)
        else:
            response = client.post(case.path, case.data, format="json")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != case.expect:
            raise CommandError(f"{case.name}: expected {case.expect}, got {response.status_code}: {str(response.content[:300])}")
        return elapsed
