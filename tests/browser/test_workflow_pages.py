"""The Workflow Automation pages in a real browser: every page at 375 px and 1440 px without console errors or
sideways overflow (screenshots in test-artifacts/screenshots/), measured load times
(test-artifacts/workflow_page_timings.json); a click on a technician (a chart bar or a table link) opens their
detail; a bad value is shown beside its field; a new ticket moves the live tickets-by-status tiles on Process
Automation Controls; each rule shows only the switch it needs and it works; the apply-allocation button is there
for a manager and absent for staff and stakeholders."""
import json
import urllib.request

import pytest

from .conftest import PASSWORDS
from .helpers import check_pages_load_cleanly, click_bar, open_settings

pytestmark = pytest.mark.browser

BASE = "/admin/ml-analytics/workflow/"
API = "/api/workflow-automation/"
PAGES = ("overview", "automation", "process", "analytics", "communication", "quality", "allocation")


def _post(url, data, token=None, timeout=60):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module", autouse=True)
def workflow_answers_warm(app_server):
    """The app server trained the workflow models at start (train_workflow_models, as `make run` does); one
    call per model-backed endpoint loads them into the server process before pages are timed."""
    token = _post(app_server.url + "/api/auth/token/", {"username": "manager", "password": PASSWORDS["manager"]})["access"]
    for endpoint in ("repair-automation/", "quality-assurance/"):
        _post(app_server.url + API + endpoint, {}, token, timeout=900)


def test_every_workflow_page_loads_cleanly_on_a_phone_and_a_desktop(page_as, shoot):
    check_pages_load_cleanly(page_as, shoot, "workflow", BASE, PAGES)


@pytest.mark.parametrize("width", (375, 1440))
def test_a_technician_click_opens_their_detail(page_as, shoot, width):
    bp = page_as("manager", width)
    # A bar of "QA failure rate by technician" (the top one: the highest rate) opens that technician's detail.
    bp.goto(BASE + "quality/")
    top = bp.page.locator("table:has(th:text('Inspections')) tbody tr").first.locator('[data-field="label"]').inner_text()
    click_bar(bp, "chart-1")
    assert "technician=" in bp.page.url
    heading = bp.page.locator("[data-detail] h2").inner_text()
    assert heading.startswith(f"Technician {top.replace('Out of control', '').strip()}")
    bp.page.wait_for_function("() => [...document.querySelectorAll('[data-detail] [data-chart]')].every(el => el.querySelector('.main-svg'))",
                              timeout=20000)
    detail = bp.page.locator("[data-detail]")
    assert detail.locator(".kpi").count() >= 4  # QA and comeback rates, utilisation, repairs per day
    assert "Observed proportion failed" in detail.locator("#chart-90").text_content()
    shoot(bp, "workflow-technician-detail")
    # Back to every technician, then a technician's name in the analytics table opens the same kind of detail.
    with bp.page.expect_navigation():
        detail.get_by_role("link", name="Back to every technician").click()
    assert bp.page.locator("[data-detail]").count() == 0
    bp.goto(BASE + "analytics/")
    link = bp.page.locator("table:has(th:text('Days worked')) tbody tr").first.locator('[data-field="label"] a')
    name = link.inner_text()
    link.scroll_into_view_if_needed()
    with bp.page.expect_navigation():
        link.click()
    assert "/workflow/quality/?technician=" in bp.page.url
    assert bp.page.locator("[data-detail] h2").inner_text().startswith(f"Technician {name}")
    assert bp.console_errors == []


def test_a_bad_value_shows_beside_its_field_on_a_phone(page_as, shoot):
    bp = page_as("manager", 375)
    bp.goto(BASE + "quality/")
    open_settings(bp)
    bp.page.fill("#id_window_days", "5")
    with bp.page.expect_navigation():
        bp.page.click(".param-form button[type=submit]")
    assert "greater than or equal to 30" in bp.page.inner_text("#err_window_days")
    assert bp.page.get_attribute("#id_window_days", "aria-invalid") == "true"
    shoot(bp, "workflow-quality-bad-input")


def test_a_new_ticket_moves_the_live_status_tiles_on_process_automation_controls(page_as, app_server):
    bp = page_as("manager", 1440)
    bp.goto(BASE + "overview/?store=LON1")
    bp.wait_live()
    tile = bp.page.locator('[data-workflow-status] [data-status="received"] [data-status-count]')
    before = int(tile.inner_text())
    url = bp.page.url
    app_server.hook("new_ticket", store="LON1")
    bp.page.wait_for_function("(want) => document.querySelector('[data-workflow-status] [data-status=\"received\"] [data-status-count]')"
                              ".textContent.trim() === want", arg=str(before + 1), timeout=3000)
    assert bp.page.url == url  # in place, not by a reload
    assert bp.console_errors == []


def test_each_rule_shows_only_its_switch_and_the_switch_works(page_as, shoot):
    bp = page_as("manager", 1440)
    bp.goto(BASE + "automation/")
    bp.page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before switching a rule off
    rules = bp.page.locator("table:has(th:text('Fired (7 days)')) tbody tr")
    for i in range(rules.count()):
        row = rules.nth(i)
        on = row.locator('[data-field="enabled"]').inner_text() == "Yes"
        assert row.locator("[data-row-action]").all_inner_texts() == (["Switch off"] if on else ["Switch on"])
    row = rules.filter(has=bp.page.locator('[data-field="enabled"]:text-is("Yes")')).first
    name = row.locator('[data-field="name"]').inner_text()
    row.get_by_role("button", name="Switch off").click()
    # The action re-reads the rules' results before its toast: seconds on a busy machine.
    bp.page.wait_for_selector(".toast:has-text('Switch off: done')", timeout=30000)
    switched = rules.filter(has=bp.page.get_by_role("link", name=name, exact=True))
    switched.get_by_role("button", name="Switch on").wait_for(timeout=30000)  # the results re-read with the rule off
    assert switched.locator('[data-field="enabled"]').inner_text() == "No"
    shoot(bp, "workflow-automation-rule-off")
    switched.get_by_role("button", name="Switch on").click()  # leave the rule as it was
    switched.get_by_role("button", name="Switch off").wait_for(timeout=30000)
    assert bp.console_errors == []


@pytest.mark.parametrize("role, sees", (("manager", True), ("staff", False), ("stakeholder", False)))
def test_the_apply_allocation_button_follows_the_role(page_as, shoot, role, sees):
    bp = page_as(role, 375)
    response = bp.goto(BASE + "allocation/")
    assert response.status == 200
    bp.page.wait_for_selector("[data-results]")
    assert bp.page.locator("button[value=apply]").count() == (1 if sees else 0)
    if sees:
        assert bp.page.locator("button[value=apply]").is_visible()
    shoot(bp, f"workflow-allocation-{role}")
    assert bp.console_errors == []
