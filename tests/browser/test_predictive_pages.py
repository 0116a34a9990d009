"""The Predictive Analytics pages in a real browser: every page at 375 px and 1440 px without console
errors or sideways overflow (screenshots in test-artifacts/screenshots/), measured load times
(test-artifacts/predictive_page_timings.json), chart clicks that drill down, a bad value shown beside
its field, and "Train models now" with its live progress."""

import pytest

from .helpers import check_pages_load_cleanly, click_bar, open_settings

pytestmark = pytest.mark.browser

PAGES = ("cost-optimization", "repair-demand", "parts-demand", "customer-behavior", "business-metrics", "model-performance")
BASE = "/admin/ml-analytics/predictive/"


def test_every_predictive_page_loads_cleanly_on_a_phone_and_a_desktop(page_as, shoot):
    check_pages_load_cleanly(page_as, shoot, "predictive", BASE, PAGES)


def test_chart_clicks_drill_down_to_the_detail(page_as):
    bp = page_as("manager", 1440)
    # A cost opportunity opens the same page for its store and kind of opportunity.
    bp.goto(BASE + "cost-optimization/")
    click_bar(bp, "chart-0")
    assert "kinds=" in bp.page.url and "store=" in bp.page.url
    store = bp.page.url.split("store=")[1].split("&")[0]
    assert bp.page.input_value("#id_store") == store
    assert bp.page.locator("[data-kpi='summary.opportunities'], [data-kpi='summary.monthly_saving']").count() >= 1
    # An intake model in the registry opens the forecast it serves.
    bp.goto(BASE + "model-performance/")
    click_bar(bp, "chart-0")
    assert "/predictive/repair-demand/" in bp.page.url
    bp.page.wait_for_selector("#chart-0 .main-svg")
    assert bp.console_errors == []


def test_a_bad_value_shows_its_message_on_a_phone(page_as, shoot):
    bp = page_as("manager", 375)
    bp.goto(BASE + "business-metrics/")
    open_settings(bp)
    bp.page.select_option("#id_granularity", "month")
    bp.page.fill("#id_horizon", "20")
    with bp.page.expect_navigation():
        bp.page.click(".param-form button[type=submit]")
    assert "At most 12 for granularity month." in bp.page.inner_text("#err_horizon")
    assert bp.page.get_attribute("#id_horizon", "aria-invalid") == "true"
    shoot(bp, "predictive-business-metrics-bad-input")


def test_train_models_now_shows_live_progress_until_done(page_as, shoot):
    """Runs last in this module: it retrains every model (about half a minute on the small data)."""
    bp = page_as("manager", 1440)
    bp.goto(BASE + "model-performance/")
    bp.wait_live()
    bp.page.once("dialog", lambda dialog: dialog.accept())  # the confirm() before a long action
    with bp.page.expect_navigation():
        bp.page.click("[data-train-models]")
    assert "Training started" in bp.page.inner_text(".messages")
    bp.wait_live()
    progress = bp.page.locator("[data-training-progress]")
    progress.wait_for(state="visible", timeout=20000)  # live training_progress events show the bar
    bp.page.wait_for_function("() => Number(document.querySelector('[data-training-bar]').value) > 0", timeout=60000)
    shoot(bp, "predictive-training-progress")
    bp.page.wait_for_selector(".toast:has-text('Training finished')", timeout=240000)
    assert progress.is_hidden()
    assert bp.console_errors == []
