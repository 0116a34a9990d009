#!/usr/bin/env python
"""Page load times of every dashboard page, per panel: server time and full load in headless Chromium.

    .venv/bin/python scripts/bench_pages.py http://127.0.0.1:8000 [--runs 5] [--width 1440] [--panels inventory,workflow]
                                            [--user manager --password manager-demo] [--json bench-pages.json]

For each page of each panel (home, predictive, inventory, workflow, alerts, reports) it measures

- server: the server's own time for the HTML (Server-Timing `app`, set by mlanalytics.core.middleware), and
  whether the endpoint's result came from the cache (Server-Timing `compute` desc: hit / miss / none);
- TTFB: request start to the first byte of the HTML, as the browser saw it;
- load: navigation start to the end of the load event;
- charts: navigation start to the moment every Plotly chart of the page has drawn ("–" on a page without charts);

cold (the first visit in a fresh browser profile, nothing cached in the browser; the server's result cache is
emptied first when this script can reach it — see below) and warm (median of --runs further visits in one
browser profile). It prints a table per page and a summary per panel.

Server cache: results are cached per data version (mlanalytics.core.cache). When the server runs on Redis
and this script is started with the same REDIS_URL and CACHE_KEY_PREFIX, it bumps every data version before
each cold visit, so the cold server time includes computing the figures. On the embedded in-memory cache it
cannot reach the server's cache: it says so, and the `cache` column shows what the cold visit really was.

Chromium is Debian's (/usr/bin/chromium, --headless --no-sandbox --disable-gpu --disable-background-networking),
never a downloaded browser. The page list comes from the dashboards' own navigation (mlanalytics.core.navigation),
so a page added there is measured without editing this script.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PANEL_KEYS = ("home", "predictive", "inventory", "workflow", "alerts", "reports")

# Runs in every page before its own scripts: notes when every chart has drawn (Plotly's .main-svg in each
# [data-chart]) without polling from outside, which would add the polling interval to the figure.
CHARTS_PROBE = """
(() => {
  const bench = window.__mlaBench = { chartsDrawn: null, charts: 0 };
  const check = () => {
    if (bench.chartsDrawn !== null || document.readyState === 'loading') return;
    const charts = [...document.querySelectorAll('[data-chart]')];
    bench.charts = charts.length;
    if (charts.every(el => el.querySelector('.main-svg'))) bench.chartsDrawn = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true });
  document.addEventListener('DOMContentLoaded', check);
  window.addEventListener('load', check);
})();
"""

READ_TIMING = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const timing = {};
  (nav.serverTiming || []).forEach(t => { timing[t.name] = { dur: t.duration, desc: t.description }; });
  return {
    status: nav.responseStatus || null,
    ttfb: nav.responseStart - nav.requestStart,
    html: nav.responseEnd - nav.requestStart,
    load: nav.loadEventEnd,
    charts: window.__mlaBench.charts ? window.__mlaBench.chartsDrawn : null,
    chart_count: window.__mlaBench.charts,
    server: timing.app ? timing.app.dur : null,
    compute: timing.compute ? timing.compute.dur : null,
    cache: timing.compute ? timing.compute.desc : '',
  };
}
"""


def setup_django():
    """The repository's settings, only to read the navigation and (on Redis) to reach the result cache."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlanalytics.settings")
    import django

    django.setup()


def discover_pages():
    """[(panel key, page label, path)] of every routed dashboard page, in navigation order."""
    from django.urls import reverse

    from mlanalytics.core.navigation import PANELS

    pages = [("home", "Home", reverse("dashboard-home")), ("home", "Ticket intake", reverse("dashboard-intake"))]
    for panel in PANELS:
        for view in panel.views:
            for ref, url in view.available_pages():
                label = view.title if len(view.pages) == 1 else f"{view.title} · {ref.label}"
                pages.append((panel.key, label, url))
    pages.append(("alerts", "Alert inbox", reverse("dashboard-alerts")))
    pages.append(("reports", "Report subscriptions", reverse("dashboard-subscriptions")))
    return pages


def server_cache_clearer():
    """A function emptying the server's result cache (bumping every data version), or None with the reason."""
    from django.conf import settings

    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        return None, ("not cleared: this script has no REDIS_URL, so it cannot reach the server's cache (the embedded "
                      "server keeps it in its own memory). Cold = a fresh browser profile; the cache column says "
                      "whether the server computed the figures (miss) or served them from its cache (hit).")
    from mlanalytics.core.cache import DOMAINS, bump

    def clear():
        bump(*DOMAINS)

    return clear, (f"cleared before each cold visit: every data version bumped in Redis {settings.REDIS_URL} "
                   f"(key prefix {settings.CACHE_KEY_PREFIX!r}; the server must use the same)")


def log_in(browser, base_url, username, password, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/accounts/login/" in page.url:
        sys.exit(f"login as {username} failed at {base_url}")
    state = context.storage_state()
    context.close()
    return state


def visit(page, url, timeout_ms):
    response = page.goto(url, wait_until="load", timeout=timeout_ms)
    try:
        page.wait_for_function("() => window.__mlaBench && (window.__mlaBench.charts === 0 || window.__mlaBench.chartsDrawn !== null)",
                               timeout=timeout_ms)
    except Exception:  # a chart that never draws is reported as missing, not as a crash of the benchmark
        pass
    page.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0", timeout=timeout_ms)
    figures = page.evaluate(READ_TIMING)
    figures["status"] = response.status if response else figures["status"]
    return figures


def new_page(browser, state, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, storage_state=state)
    context.add_init_script(CHARTS_PROBE)
    return context, context.new_page()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ms(value):
    return "–" if value is None else f"{value:,.0f}"


def run(args):
    from playwright.sync_api import sync_playwright

    setup_django()
    pages = [p for p in discover_pages() if not args.panels or p[0] in args.panels]
    clear, cache_note = server_cache_clearer()
    base = args.url.rstrip("/")
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        state = log_in(browser, base, args.user, args.password, args.width)
        for panel, label, path in pages:
            if clear:
                clear()
            context, page = new_page(browser, state, args.width)  # cold: a fresh profile, nothing cached
            cold = visit(page, base + path, args.timeout * 1000)
            context.close()
            context, page = new_page(browser, state, args.width)
            visit(page, base + path, args.timeout * 1000)  # fills this profile's cache (plotly.js, CSS) for the warm runs
            warm_runs = [visit(page, base + path, args.timeout * 1000) for _ in range(args.runs)]
            context.close()
            warm = {key: median([r[key] for r in warm_runs]) for key in ("server", "ttfb", "load", "charts")}
            warm["cache"] = "/".join(sorted({r["cache"] for r in warm_runs if r["cache"]})) or ""
            results.append({"panel": panel, "page": label, "path": path, "status": cold["status"], "cold": cold, "warm": warm,
                            "runs": args.runs})
            print(f"  measured {panel:<10} {label:<48} load cold {ms(cold['load'])} ms, warm {ms(warm['load'])} ms",
                  file=sys.stderr, flush=True)
        browser.close()
    report(results, args, cache_note)
    if args.json:
        Path(args.json).write_text(json.dumps({"url": base, "width": args.width, "runs": args.runs, "server_cache": cache_note,
                                               "pages": results, "panels": panel_summary(results)}, indent=2))
        print(f"\nwritten to {args.json}")
    return 0 if all(r["status"] == 200 for r in results) else 1


def panel_summary(results):
    summary = {}
    for key in PANEL_KEYS:
        rows = [r for r in results if r["panel"] == key]
        if not rows:
            continue
        summary[key] = {"pages": len(rows)}
        for phase in ("cold", "warm"):
            for measure in ("server", "load", "charts"):
                values = [r[phase][measure] for r in rows if r[phase][measure] is not None]
                summary[key][f"{phase}_{measure}_median"] = statistics.median(values) if values else None
                summary[key][f"{phase}_{measure}_max"] = max(values) if values else None
    return summary


def report(results, args, cache_note):
    print(f"\nDashboard page load times · {args.url} · viewport {args.width} px · Chromium {CHROMIUM} headless")
    print(f"warm = median of {args.runs} visits with the browser cache filled; cold = first visit in a fresh profile")
    print(f"server cache: {cache_note}\n")
    head = (f"{'panel':<10} {'page':<48} {'HTTP':>4}  {'server ms':>15}  {'cache':>9}  {'TTFB ms':>13}  {'load ms':>13}  "
            f"{'charts drawn ms':>15}")
    print(head)
    print(f"{'':<10} {'':<48} {'':>4}  {'cold':>7} {'warm':>7}  {'cold':>9}  {'cold':>6} {'warm':>6}  {'cold':>6} {'warm':>6}  "
          f"{'cold':>7} {'warm':>7}")
    print("-" * len(head))
    for r in results:
        c, w = r["cold"], r["warm"]
        print(f"{r['panel']:<10} {r['page'][:48]:<48} {r['status'] or '':>4}  {ms(c['server']):>7} {ms(w['server']):>7}  "
              f"{c['cache'] or '–':>9}  {ms(c['ttfb']):>6} {ms(w['ttfb']):>6}  {ms(c['load']):>6} {ms(w['load']):>6}  "
              f"{ms(c['charts']):>7} {ms(w['charts']):>7}")
    print("\nPer panel (median of its pages, max in brackets)")
    print(f"{'panel':<10} {'pages':>5}  {'server cold':>15} {'server warm':>15}  {'load cold':>15} {'load warm':>15}  "
          f"{'charts cold':>15} {'charts warm':>15}")
    for key, s in panel_summary(results).items():
        cells = []
        for phase_measure in ("cold_server", "warm_server", "cold_load", "warm_load", "cold_charts", "warm_charts"):
            cells.append(f"{ms(s[f'{phase_measure}_median'])} ({ms(s[f'{phase_measure}_max'])})")
        print(f"{key:<10} {s['pages']:>5}  " + " ".join(f"{c:>15}" for c in cells[:2]) + "  "
              + " ".join(f"{c:>15}" for c in cells[2:4]) + "  " + " ".join(f"{c:>15}" for c in cells[4:]))
    failed = [r for r in results if r["status"] != 200]
    if failed:
        print("\nNot 200: " + ", ".join(f"{r['path']} ({r['status']})" for r in failed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--user", default="manager", help="a role that sees every panel (default: the demo manager)")
    parser.add_argument("--password", default="manager-demo")
    parser.add_argument("--runs", type=int, default=5, help="warm visits per page (their median is reported)")
    parser.add_argument("--width", type=int, default=1440, help="viewport width in px (375 for a phone)")
    parser.add_argument("--panels", type=lambda v: [p.strip() for p in v.split(",") if p.strip()], default=[],
                        help=f"comma-separated subset of {', '.join(PANEL_KEYS)}")
    parser.add_argument("--timeout", type=int, default=120, help="seconds a page may take before it counts as failed")
    parser.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium (never a downloaded browser)")
    started = time.monotonic()
    status = run(args)
    print(f"\n({time.monotonic() - started:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
