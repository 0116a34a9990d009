#!/usr/bin/env python
"""The README's screenshots of the main views, from a running server, at 1440 px and 375 px.

    .venv/bin/python scripts/readme_screenshots.py http://127.0.0.1:8000 [--simulate 90] [--out docs/screenshots]
                                                    [--only home,stock-monitor]

Logs in as the demo manager and saves docs/screenshots/<name>-1440.png and <name>-375.png (whole pages) for
home, stock-monitor, repair-demand, quality and allocation. With --simulate N it first starts the in-process
activity simulation as the demo admin (the home page's "Simulate shop activity", N seconds at --rate events a
second) and waits --settle seconds, so the home page shows tickets received today and live figures moving.
It writes to the database of that server (realistic tickets, status changes, part use), like the button does.

Chromium is Debian's (/usr/bin/chromium, headless), never a downloaded browser. Each page is shot once every
chart has drawn; on a phone the page's settings are folded under "Settings", so its figures come first.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWS = {  # name -> path
    "home": "/admin/ml-analytics/",
    "stock-monitor": "/admin/ml-analytics/inventory/stock-monitor/",
    "repair-demand": "/admin/ml-analytics/predictive/repair-demand/",
    "quality": "/admin/ml-analytics/workflow/quality/",
    "allocation": "/admin/ml-analytics/workflow/allocation/",
}
WIDTHS = (1440, 375)
ALL_CHARTS_DRAWN = "() => [...document.querySelectorAll('[data-chart]')].every(el => el.querySelector('.main-svg'))"


def log_in(browser, base, user, password):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/accounts/login/" in page.url:
        sys.exit(f"login as {user} failed at {base}")
    return context, page


def start_simulation(browser, base, args):
    context, page = log_in(browser, base, args.admin_user, args.admin_password)
    page.goto(base + "/admin/ml-analytics/")
    if page.locator("#sim-rate").count() == 0:
        context.close()
        sys.exit(f"{args.admin_user} cannot start the simulation (only admins can)")
    page.fill("#sim-rate", str(args.rate))
    page.fill("#sim-duration", str(args.simulate))
    with page.expect_navigation():
        page.click(".sim-form button[type=submit]")
    print(page.inner_text(".messages") if page.locator(".messages").count() else "simulation started", file=sys.stderr)
    context.close()
    print(f"waiting {args.settle} s for the simulated activity to show", file=sys.stderr)
    time.sleep(args.settle)


def shoot(browser, base, state, name, path, width, out):
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 700 else 812},
                                  device_scale_factor=1 if width > 700 else 2, storage_state=state,
                                  is_mobile=width <= 700, has_touch=width <= 700)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto(base + path, wait_until="load", timeout=180000)
    if response.status != 200:
        context.close()
        return f"{name} at {width}px: HTTP {response.status}, not saved"
    page.wait_for_function(ALL_CHARTS_DRAWN, timeout=60000)
    page.wait_for_timeout(600)  # let Plotly's transitions and the live socket's first catch-up settle
    target = out / f"{name}-{width}.png"
    page.screenshot(path=str(target), full_page=True)
    context.close()
    return f"saved {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}" + (f" (page errors: {errors})" if errors else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--user", default="manager")
    parser.add_argument("--password", default="manager-demo")
    parser.add_argument("--admin-user", default="admin", help="starts the simulation (admins only)")
    parser.add_argument("--admin-password", default="admin-demo")
    parser.add_argument("--simulate", type=int, default=0, help="seconds of simulated shop activity first (0: none)")
    parser.add_argument("--rate", type=float, default=2.0, help="simulated events a second")
    parser.add_argument("--settle", type=int, default=30, help="seconds to wait after starting the simulation")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--only", type=lambda v: [n.strip() for n in v.split(",") if n.strip()], default=list(VIEWS),
                        help=f"comma-separated subset of {', '.join(VIEWS)}")
    args = parser.parse_args()
    unknown = set(args.only) - set(VIEWS)
    if unknown:
        sys.exit(f"unknown view(s): {', '.join(sorted(unknown))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.url.rstrip("/")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if args.simulate:
            start_simulation(browser, base, args)
        context, _ = log_in(browser, base, args.user, args.password)
        state = context.storage_state()
        context.close()
        for name in args.only:
            for width in WIDTHS:
                print(shoot(browser, base, state, name, VIEWS[name], width, out))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
