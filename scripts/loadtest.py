"""Load test: concurrent requests against a running server for every benchmarked endpoint.

    .venv/bin/python scripts/loadtest.py --url http://127.0.0.1:8000 --concurrency 8 --requests 400

Reads the endpoint mix from each app's bench.py (the same cases as `manage.py bench`), logs in with
a JWT, and fires requests from a thread pool. Prints per endpoint p50/p95 overall and split by the
server's `X-Cache` header (miss = computed, hit = served from the cache), the throughput and the
cache hit rate of the mix. Run it with the same DATABASE_URL/DATA_DIR as the server so the cases
can read store codes and SKUs. With a shared Redis cache, --cold invalidates every cached result
first (by bumping the data versions), so the run starts from a cold cache.
"""
import argparse
import importlib
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlanalytics.settings")


def login(base, username, password):
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(f"{base}/api/auth/token/", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access"]


def call(base, token, case):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if case.method == "GET":
        query = urllib.parse.urlencode(case.data, doseq=True)
        request = urllib.request.Request(f"{base}{case.path}" + (f"?{query}" if query else ""), headers=headers)
    else:
        request = urllib.request.Request(f"{base}{case.path}", data=json.dumps(case.data).encode(), headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status, cache_state = response.status, response.headers.get("X-Cache", "none")
    except urllib.error.HTTPError as error:
        status, cache_state = error.code, "error"
    return (time.perf_counter() - started) * 1000, status, cache_state


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="manager")
    parser.add_argument("--password", default="manager-demo")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--apps", nargs="*", default=["predictive", "inventory", "workflow"])
    parser.add_argument("--cold", action="store_true", help="Invalidate cached results first (shared Redis only).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import django

    django.setup()
    from mlanalytics.core import cache as result_cache
    from mlanalytics.core.management.commands.bench import percentile
    from mlanalytics.core.models import Store, User

    if args.cold:
        result_cache.bump(*result_cache.DOMAINS)
    context = {"stores": list(Store.objects.values_list("code", flat=True)), "user": User.objects.filter(username=args.user).first()}
    cases = []
    for app in args.apps:
        try:
            cases.extend((app, case) for case in importlib.import_module(f"{app}.bench").cases(context))
        except ModuleNotFoundError:
            print(f"{app}: no bench cases", file=sys.stderr)
    if not cases:
        sys.exit("no cases to run")
    token = login(args.url, args.user, args.password)
    rng = random.Random(args.seed)
    # Every case once first (in random order), then a random mix: a realistic share of repeats.
    plan = rng.sample(cases, len(cases)) + [rng.choice(cases) for _ in range(max(0, args.requests - len(cases)))]
    results = defaultdict(list)
    lock = threading.Lock()

    def run(item):
        app, case = item
        elapsed, status, state = call(args.url, token, case)
        with lock:
            results[(app, case.name)].append((elapsed, status, state))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(run, plan))
    wall = time.perf_counter() - started

    print(f"{len(plan)} requests, concurrency {args.concurrency}, {wall:.1f} s, {len(plan) / wall:.1f} requests/s")
    print(f"{'endpoint':54s} {'n':>4s} {'p50':>7s} {'p95':>7s} {'miss p95':>9s} {'hit p95':>8s}  errors")
    hits = misses = errors = 0
    for (app, name), rows in sorted(results.items()):
        times = [r[0] for r in rows]
        miss = [r[0] for r in rows if r[2] == "miss"]
        hit = [r[0] for r in rows if r[2] == "hit"]
        bad = [r[1] for r in rows if r[1] >= 400]
        hits, misses, errors = hits + len(hit), misses + len(miss), errors + len(bad)
        print(f"{app + ' ' + name:54s} {len(rows):4d} {percentile(times, .5):7.1f} {percentile(times, .95):7.1f} "
              f"{percentile(miss, .95):9.1f} {percentile(hit, .95):8.1f}  {sorted(set(bad)) or ''}")
    every = [r[0] for rows in results.values() for r in rows]
    print(f"all: p50 {statistics.median(every):.1f} ms, p95 {percentile(every, .95):.1f} ms; "
          f"cache hit rate {hits / max(hits + misses, 1):.0%} of cacheable requests; {errors} error responses")


if __name__ == "__main__":
    main()
