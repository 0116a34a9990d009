"""The Inventory Management pages in a real browser: every page at 375 px and 1440 px without console errors or
sideways overflow (screenshots in test-artifacts/screenshots/), measured load times
(test-artifacts/inventory_page_timings.json); on an open Real-time Stock Monitor, a stock count posted to the
API changes that row in place within a second and the projected stockout it creates arrives as a toast
(latencies in test-artifacts/inventory_live_latency.json); chart clicks drill down; the reorder buttons work for a
manager and are absent for a stakeholder; a bad weight is shown beside its field."""
import json
import statistics
import time
import urllib.request
from datetime import datetime

import pytest

from .conftest import PASSWORDS, ROOT
from .helpers import check_pages_load_cleanly, click_bar, open_settings

pytestmark = pytest.mark.browser

BASE = "/admin/ml-analytics/inventory/"
API = "/api/inventory-management/"
PAGES = ("stock-monitor", "overview", "reorder", "demand-forecast", "supply-chain", "cost-optimization", "performance")
ROW = '[data-live-table="stock"] tr[data-key="{key}"]'


class Api:
    """The REST API as a client outside the browser uses it: a JWT for the role, JSON in and out."""

    def __init__(self, base_url, role):
        self.base_url = base_url
        self.token = self.call("POST", "/api/auth/token/", {"username": role, "password": PASSWORDS[role]}, auth=False)["access"]

    def call(self, method, path, data=None, auth=True):
        body = json.dumps(data).encode() if data is not None and method == "POST" else None
        if method == "GET" and data:
            path += "?" + "&".join(f"{k}={v}" for k, v in data.items())
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


def test_every_inventory_page_loads_cleanly_on_a_phone_and_a_desktop(page_as, shoot):
    check_pages_load_cleanly(page_as, shoot, "inventory", BASE, PAGES)


def test_a_stock_count_through_the_api_changes_the_open_monitor_in_place_and_alerts(page_as, app_server, shoot):
    api = Api(app_server.url, "manager")
    # A part LON1 uses, in stock and not at risk: counting it at zero makes it "out" and raises a stockout alert.
    rows = api.call("GET", API + "stock-monitoring/", {"store": "LON1", "status": "ok", "ordering": "sku", "limit": 500})["results"]
    row = next(r for r in rows if r["daily_mean"] and r["on_hand"] >= 2 and not r["reserved"] and not r["on_order"])
    key = f"{row['sku']}|LON1"
    bp = page_as("manager", 1440)
    bp.goto(BASE + "stock-monitor/?store=LON1&limit=500")
    bp.wait_live()
    cell = bp.page.locator(ROW.format(key=key) + ' [data-field="on_hand"]')
    assert cell.inner_text() == str(row["on_hand"])
    url_before = bp.page.url
    try:
        latencies = []
        # Counts that keep the part in stock: the row follows each one in place.
        for step in range(1, 9):
            counted = row["on_hand"] + step
            started = time.monotonic()
            answer = api.call("POST", API + "stock-adjustments/", {"sku": row["sku"], "store": "LON1", "counted": counted,
                                                                   "reason": "browser test count"})
            assert answer["on_hand"] == counted
            bp.page.wait_for_function("([sel, want]) => document.querySelector(sel).textContent.trim() === want",
                                      arg=[ROW.format(key=key) + ' [data-field="on_hand"]', str(counted)], timeout=1000)
            latencies.append((time.monotonic() - started) * 1000)
        # Counted at zero: out of stock now, a projected stockout within the lead time -> a critical alert as a toast.
        # The page notes (its own clock, the same machine's) when the alert event arrived and when its toast showed.
        bp.page.evaluate("""(sku) => {
          window.__toast = { shownAt: null, sentAt: null };
          MLA.live.on('alert', (m) => { if (m.payload.title.includes(sku) && !window.__toast.sentAt) window.__toast.sentAt = m.sent_at; });
          new MutationObserver(() => {
            if (window.__toast.shownAt) return;
            if ([...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes(sku))) window.__toast.shownAt = Date.now();
          }).observe(document.getElementById('toasts'), { childList: true, subtree: true });
        }""", row["sku"])
        out_bar = "() => { const s = document.getElementById('chart-0').data[0]; return s.y[s.x.indexOf('Out')] || 0; }"
        out_before = bp.page.evaluate(out_bar)
        started = time.monotonic()
        posted_at_ms = time.time() * 1000
        api.call("POST", API + "stock-adjustments/", {"sku": row["sku"], "store": "LON1", "counted": 0, "reason": "browser test count"})
        bp.page.wait_for_function("([sel]) => document.querySelector(sel).textContent.trim() === '0'",
                                  arg=[ROW.format(key=key) + ' [data-field="available"]'], timeout=1000)
        row_ms = (time.monotonic() - started) * 1000
        # The RealTimeChart "SKU lines by status" moved the line from OK to Out in place.
        bp.page.wait_for_function(f"() => ({out_bar})() === {out_before + 1}", timeout=1000)
        status = bp.page.locator(ROW.format(key=key) + ' [data-field="status"] .badge')
        assert status.text_content() == "out" and "status-out" in status.get_attribute("class")
        toast = bp.page.locator(f".toast:has-text('{row['sku']} at LON1 is out of stock')")
        toast.wait_for(timeout=1000)
        shown = bp.page.evaluate("() => window.__toast")
        toast_ms = shown["shownAt"] - posted_at_ms  # from the API call, through the commit, to the toast on screen
        commit_to_toast_ms = shown["shownAt"] - datetime.fromisoformat(shown["sentAt"]).timestamp() * 1000
        assert toast_ms < 1000, f"the stockout toast took {toast_ms:.0f} ms after the API call"
        assert 0 <= commit_to_toast_ms < 1000, commit_to_toast_ms
        alert_box = bp.page.locator(f"[data-inventory-alert] .alert-item:has-text('{row['sku']} at LON1')")
        alert_box.wait_for(timeout=1000)  # the InventoryAlert list took it too
        assert bp.page.url == url_before  # in place, not by a reload
        # The reorder point is drawn as declared (markers), the legend above the plot.
        traces = bp.page.evaluate("() => document.getElementById('chart-1').data.map(t => [t.name, t.mode || t.type])")
        assert ["Reorder point", "markers"] in traces and ["Available", "bar"] in traces
        shoot(bp, "inventory-stock-monitor-live")
        assert bp.console_errors == []
        in_browser = bp.page.evaluate("() => MLA.live.latencies.slice()")
    finally:
        api.call("POST", API + "stock-adjustments/", {"sku": row["sku"], "store": "LON1", "counted": row["on_hand"],
                                                      "reason": "browser test: restore"})
    figures = {"api_post_to_row_updated_ms": {"n": len(latencies), "p50": round(statistics.median(latencies), 1),
                                              "max": round(max(latencies), 1)},
               "stockout_row_updated_ms": round(row_ms, 1), "stockout_toast_ms": round(toast_ms, 1),
               "stockout_commit_to_toast_ms": round(commit_to_toast_ms, 1),
               "commit_to_browser_ms": {"n": len(in_browser), "p50": statistics.median(in_browser), "max": max(in_browser)}}
    out = ROOT / "test-artifacts" / "inventory_live_latency.json"
    out.write_text(json.dumps(figures, indent=2))
    print("inventory live latency", figures)


def test_chart_clicks_drill_down_to_the_detail(page_as):
    bp = page_as("manager", 1440)
    # A status bar opens the monitor filtered by that status.
    bp.goto(BASE + "stock-monitor/?store=LON1")
    click_bar(bp, "chart-0", last=True)  # "OK": every store has parts in good order
    assert "status=ok" in bp.page.url and "store=LON1" in bp.page.url
    assert bp.page.input_value("#id_status") == "ok"
    assert bp.page.locator('[data-live-table="stock"] [data-field="status"] .status-ok').count() >= 1
    assert bp.page.locator('[data-live-table="stock"] [data-field="status"] .status-low').count() == 0
    # A supplier's bar opens its scorecard.
    bp.goto(BASE + "supply-chain/")
    click_bar(bp, "chart-0")
    assert "supplier=" in bp.page.url
    assert bp.page.locator("[data-detail] h2").inner_text().startswith("Supplier ")
    # A cell of the ABC × XYZ heatmap (A · X at the top left) lists its parts.
    bp.goto(BASE + "performance/")
    bp.page.wait_for_selector("#chart-0 .main-svg")
    area = bp.page.locator("#chart-0 .nsewdrag").first.bounding_box()
    with bp.page.expect_navigation():
        bp.page.mouse.click(area["x"] + area["width"] / 6, area["y"] + area["height"] / 6)
    assert "cell=AX" in bp.page.url
    assert "ABC × XYZ cell A · X" in bp.page.locator("[data-detail] h2").inner_text()
    assert bp.console_errors == []


def test_a_manager_drafts_purchase_orders_once_and_snoozes_a_suggestion(page_as, app_server, shoot):
    bp = page_as("manager", 1440)
    bp.goto(BASE + "reorder/?store=MAN1&include_all=true")
    bp.page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before each action
    # Snooze needs its date first: without one the row stays and the person is told.
    first = bp.page.locator("table.data-table tbody tr").first
    sku = first.locator('[data-field="sku"]').inner_text()
    first.get_by_role("button", name="Snooze until…").click()
    bp.page.wait_for_selector(".toast:has-text('Snooze until: enter it first.')", timeout=2000)
    until = time.strftime("%Y-%m-%d", time.localtime(time.time() + 14 * 86400))
    first.locator('[data-row-input="until"]').fill(until)
    first.get_by_role("button", name="Snooze until…").click()
    bp.page.wait_for_selector(".toast:has-text('Snooze until…: done')", timeout=3000)
    bp.page.wait_for_function("(sku) => ![...document.querySelectorAll('[data-field=\"sku\"]')].some(td => td.textContent.trim() === sku)",
                              arg=sku, timeout=5000)  # the results re-read without it
    # Order once: the part goes onto the next drafts.
    ordered = bp.page.locator("table.data-table tbody tr").first
    ordered_sku = ordered.locator('[data-field="sku"]').inner_text()
    ordered.get_by_role("button", name="Order once").click()
    bp.page.wait_for_selector(".toast:has-text('Order once: done')", timeout=3000)
    # Draft POs for everything short: once, then nothing new.
    with bp.page.expect_navigation():
        bp.page.click("button[value=draft]")
    assert "Create draft POs for everything short: done." in bp.page.inner_text(".notice-success")
    shoot(bp, "inventory-reorder-drafted")
    numbers = bp.page.locator("table:has(th:text('Purchase order')) [data-field='number']").all_inner_texts()
    assert numbers, "the part ordered once is drafted at least"
    assert ordered_sku in bp.page.locator("table:has(th:text('Change')) [data-field='sku']").all_inner_texts()
    with bp.page.expect_navigation():
        bp.page.click("button[value=draft]")
    again = bp.page.locator("table:has(th:text('Purchase order')) [data-field='number']").all_inner_texts()
    assert sorted(set(again)) == sorted(set(numbers))
    assert set(bp.page.locator("[data-field='created']").all_inner_texts()) == {"No"}
    assert bp.console_errors == []


def test_a_stakeholder_sees_the_suggestions_without_buttons_on_a_phone(page_as, shoot):
    bp = page_as("stakeholder", 375)
    response = bp.goto(BASE + "reorder/?include_all=true")
    assert response.status == 200
    assert bp.page.locator("[data-row-action]").count() == 0
    assert bp.page.locator("button[value=draft]").count() == 0
    assert bp.page.locator("[data-export=pdf]").count() == 1  # stakeholders download reports
    shoot(bp, "inventory-reorder-stakeholder")
    assert bp.console_errors == []


def test_a_bad_weight_shows_its_message_on_a_phone(page_as, shoot):
    bp = page_as("manager", 375)
    bp.goto(BASE + "supply-chain/")
    open_settings(bp)
    bp.page.fill("#id_weight_price", "-2")
    with bp.page.expect_navigation():
        bp.page.click(".param-form button[type=submit]")
    assert "greater than or equal to 0" in bp.page.inner_text("#err_weight_price")
    assert bp.page.get_attribute("#id_weight_price", "aria-invalid") == "true"
    shoot(bp, "inventory-supply-chain-bad-input")
