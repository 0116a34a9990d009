#!/usr/bin/env python
"""Commit-to-browser latency of live updates: real stock counts through the REST API, received by an open
Real-time Stock Monitor in headless Chromium.

    .venv/bin/python scripts/bench_live.py http://127.0.0.1:8000 [--events 120] [--store LON1] [--gap-ms 40]
                                           [--user manager --password manager-demo] [--json bench-live.json]

What it does:
1. logs a browser in (Debian's /usr/bin/chromium, headless) and opens
   /admin/ml-analytics/inventory/stock-monitor/?store=<store>, waiting for the live socket;
2. picks a part of that store in good standing (status ok, enough on hand) through the API;
3. posts --events stock counts to POST /api/inventory-management/stock-adjustments/ (with a JWT from
   /api/auth/token/), alternating the count by one unit, so every call commits one stock movement;
4. records, in the page, each "stock" event for that part as it arrives; the event's `sent_at` is stamped in
   the on-commit callback (mlanalytics.core.live.publish), so receipt − sent_at is the time from the commit
   to the browser (server and browser on the same machine share one clock);
5. restores the original count and prints p50 / p95 / max (and the API-post-to-browser time beside it).

Channel layer: the page's live "hello" says which layer the server uses. API calls are handled inside the
server process, so their events reach the browser on either layer. On Redis (start the server with REDIS_URL
set) the same path carries events from other processes too (workers, simulate_activity); on the in-memory
layer events published by another process cannot arrive, which the script states in its output.
"""
import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
API = "/api/inventory-management/"

# Installed in the page once the live connection is up: every "stock" event of the part being counted.
RECORDER = """
(sku) => {
  window.__bench = [];
  MLA.live.on("stock", (m) => {
    if (m.payload.sku !== sku) return;
    window.__bench.push({ on_hand: m.payload.on_hand, sent_at: m.sent_at, received_ms: Date.now() });
  });
}
"""


class Api:
    """The REST API as an outside client uses it: a JWT for the user, JSON in and out."""

    def __init__(self, base_url, user, password):
        self.base_url = base_url
        self.token = self.call("POST", "/api/auth/token/", {"username": user, "password": password}, auth=False)["access"]

    def call(self, method, path, data=None, auth=True):
        body = json.dumps(data).encode() if data is not None and method == "POST" else None
        if method == "GET" and data:
            path += "?" + "&".join(f"{k}={v}" for k, v in data.items())
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            sys.exit(f"{method} {path} answered {exc.code}: {exc.read()[:500].decode(errors='replace')}")


def pick_part(api, store):
    rows = api.call("GET", API + "stock-monitoring/", {"store": store, "status": "ok", "ordering": "sku", "limit": 500})["results"]
    candidates = [r for r in rows if r["on_hand"] >= 3 and not r["reserved"]]
    if not candidates:
        sys.exit(f"no part of {store} in good standing with stock on hand to count")
    return candidates[0]


def percentile(ordered, q):
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(args):
    from playwright.sync_api import sync_playwright

    base = args.url.rstrip("/")
    api = Api(base, args.user, args.password)
    part = pick_part(api, args.store)
    sku, original = part["sku"], part["on_hand"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.goto(base + "/accounts/login/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(f"{base}/admin/ml-analytics/inventory/stock-monitor/?store={args.store}")
        page.wait_for_function("() => window.MLA && MLA.live && MLA.live.connected && MLA.live.hello", timeout=30000)
        hello = page.evaluate("() => MLA.live.hello")
        layer = hello.get("channel_layer", "unknown (server older than this script)")
        page.evaluate(RECORDER, sku)
        posted = []  # (wall-clock ms when the API call started, when it returned, the count posted)
        try:
            for i in range(args.events):
                counted = original + 1 if i % 2 == 0 else original
                started = time.time() * 1000
                api.call("POST", API + "stock-adjustments/", {"sku": sku, "store": args.store, "counted": counted,
                                                             "reason": "bench_live: latency measurement"})
                posted.append((started, time.time() * 1000, counted))
                if args.gap_ms:
                    time.sleep(args.gap_ms / 1000)
            deadline = time.monotonic() + args.wait
            while time.monotonic() < deadline and page.evaluate("() => window.__bench.length") < args.events:
                time.sleep(0.1)
            events = page.evaluate("() => window.__bench.slice()")
        finally:
            api.call("POST", API + "stock-adjustments/", {"sku": sku, "store": args.store, "counted": original,
                                                         "reason": "bench_live: restore the count"})
            browser.close()

    commit_to_browser = sorted(e["received_ms"] - _epoch_ms(e["sent_at"]) for e in events if e["sent_at"])
    post_to_browser = sorted(e["received_ms"] - p[0] for e, p in zip(events, posted))
    figures = {"url": base, "store": args.store, "sku": sku, "events_posted": len(posted), "events_received": len(events),
               "channel_layer": layer, "gap_ms": args.gap_ms,
               "commit_to_browser_ms": _stats(commit_to_browser), "api_post_to_browser_ms": _stats(post_to_browser),
               "api_call_ms": _stats(sorted(p[1] - p[0] for p in posted))}
    print_report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"written to {args.json}")
    return 0 if len(events) >= len(posted) else 1


def _epoch_ms(iso):
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def _stats(ordered):
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1), "p95": round(percentile(ordered, 0.95), 1),
            "max": round(ordered[-1], 1), "min": round(ordered[0], 1)}


def print_report(f):
    print(f"\nLive update latency · {f['url']} · stock monitor of {f['store']} · part {f['sku']}")
    if f["channel_layer"] == "in-memory":
        print("channel layer: IN-MEMORY. The API calls below are handled inside the server process, so their events do "
              "arrive; events published by any other process (a Celery worker, simulate_activity) cannot reach the "
              "browsers on this layer. Start the server with REDIS_URL set to measure the Redis path.")
    else:
        print(f"channel layer: {f['channel_layer']} (events from every process sharing REDIS_URL reach the browsers)")
    print(f"events: {f['events_posted']} stock counts posted through the REST API, {f['events_received']} received by the page "
          f"(one every ~{f['gap_ms']} ms plus the API call)\n")
    print(f"{'':<34} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8}")
    for label, key in (("commit → browser (ms)", "commit_to_browser_ms"), ("API post started → browser (ms)", "api_post_to_browser_ms"),
                       ("API call round trip (ms)", "api_call_ms")):
        s = f[key]
        if not s.get("n"):
            print(f"{label:<34} {0:>5}")
            continue
        print(f"{label:<34} {s['n']:>5} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['max']:>8.1f}")
    if f["events_received"] < f["events_posted"]:
        print(f"\nMISSING: {f['events_posted'] - f['events_received']} events never reached the page.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--user", default="manager", help="a role that may count stock (manage_inventory), default the demo manager")
    parser.add_argument("--password", default="manager-demo")
    parser.add_argument("--store", default="LON1")
    parser.add_argument("--events", type=int, default=120, help="stock counts to post (at least 100 for the p95)")
    parser.add_argument("--gap-ms", type=int, default=40, help="pause between API calls")
    parser.add_argument("--wait", type=float, default=15, help="seconds to wait for the last events")
    parser.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = parser.parse_args()
    import os

    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium (never a downloaded browser)")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
