"""Action buttons are guarded by role on the rendered pages: a manager sees every action the API offers
(train models, draft POs, order once and snooze, switch rules on and off, run the rules, apply an
allocation, subscribe), staff and stakeholders see none of those their role does not include, and the
endpoints behind the page-level buttons refuse them too. Django's test client reads the HTML the browser
gets; tests/browser/test_dashboards.py checks one role in Chromium."""
import re

import pytest

pytestmark = pytest.mark.django_db

MODEL_PERFORMANCE = "/admin/ml-analytics/predictive/model-performance/"
REORDER = "/admin/ml-analytics/inventory/reorder/"
RULES = "/admin/ml-analytics/workflow/automation/"
ALLOCATION = "/admin/ml-analytics/workflow/allocation/"


@pytest.fixture(scope="module")
def workflow_trained(django_db_setup, django_db_blocker):
    """The triage / repair-time models the rules and allocation pages serve from (trained once here)."""
    with django_db_blocker.unblock():
        from workflow import training

        return training.train_all()


def row_action_labels(html):
    return set(re.findall(r"data-row-action=\"[^\"]+\"[^>]*>([^<]+)</button>", html))


def page_action_values(html):
    return set(re.findall(r'<button class="btn[^"]*" type="submit" name="action" value="([^"]+)"', html))


def get(client, path, params=None):
    response = client.get(path, params or {})
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_a_manager_sees_every_action_of_the_panels(as_role, trained_models, workflow_trained, store_codes):
    client = as_role("manager")
    assert "data-train-models" in get(client, MODEL_PERFORMANCE)
    reorder = get(client, REORDER, {"store": store_codes[0], "include_all": "true", "submitted": "1"})
    assert "draft" in page_action_values(reorder)
    assert {"Order once", "Snooze until…", "Approve min/max"} <= row_action_labels(reorder)
    rules = get(client, RULES)
    assert "run" in page_action_values(rules)
    assert row_action_labels(rules) & {"Switch on", "Switch off"}
    assert "apply" in page_action_values(get(client, ALLOCATION))
    assert "Subscribe to this view" in rules


def test_staff_see_no_purchasing_rule_or_allocation_buttons(as_role, trained_models, workflow_trained, store_codes):
    client = as_role("staff", [store_codes[0]])
    assert client.get(MODEL_PERFORMANCE).status_code == 403  # no predictive panel, so no training either
    reorder = get(client, REORDER, {"store": store_codes[0], "include_all": "true", "submitted": "1"})
    assert "<table" in reorder  # the suggestions are shown ...
    assert not page_action_values(reorder) and not row_action_labels(reorder)  # ... without a button
    rules = get(client, RULES)
    assert "<table" in rules
    assert "run" not in page_action_values(rules) and not row_action_labels(rules) & {"Switch on", "Switch off"}
    assert "apply" not in page_action_values(get(client, ALLOCATION))
    assert "Subscribe to this view" not in rules and "Download PDF" not in rules


def test_stakeholders_read_and_download_but_act_on_nothing(as_role, trained_models, workflow_trained, store_codes):
    client = as_role("stakeholder")
    performance = get(client, MODEL_PERFORMANCE)
    assert "data-train-models" not in performance and "Download PDF" in performance
    reorder = get(client, REORDER, {"store": store_codes[0], "include_all": "true", "submitted": "1"})
    assert "<table" in reorder and not page_action_values(reorder) and not row_action_labels(reorder)
    rules = get(client, RULES)
    assert not page_action_values(rules) and not row_action_labels(rules)
    allocation = get(client, ALLOCATION)
    assert "apply" not in page_action_values(allocation)
    assert "Subscribe to this view" in allocation  # what a stakeholder does: reports


def test_a_forged_action_is_refused_for_a_role_without_it(as_role, store_codes):
    client = as_role("stakeholder")
    response = client.post(REORDER, {"action": "draft", "store": store_codes[0]})
    assert response.status_code == 403
    response = client.post(ALLOCATION, {"action": "apply", "store": store_codes[0]})
    assert response.status_code == 403
    response = client.post(MODEL_PERFORMANCE + "train/", {})
    assert response.status_code == 403
