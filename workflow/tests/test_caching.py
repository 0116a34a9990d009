"""Cached answers of the workflow endpoints: a write invalidates exactly the answers that read it.

A dry run of the rules and the sweep's triage refresh change nothing the overview or the analyses count,
so they leave those answers cached; a real rule run, a stored triage the delay message quotes, and a sent
message do invalidate what shows them. Writes bump data versions after their commit, so each write here
runs inside django_capture_on_commit_callbacks(execute=True)."""
from datetime import datetime, timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest

from workflow import rules, services
from workflow.models import AutomationRule, RuleRun

pytestmark = pytest.mark.django_db
BASE = "/api/workflow-automation/"
SEND = BASE + "customer-communication"


@pytest.fixture(autouse=True)
def pinned_time_buckets(monkeypatch):
    """Each endpoint keeps the time bucket of its first call for the whole test, so a minute passing mid-test
    cannot turn an expected hit into a miss: what is tested here is the data versions."""
    from workflow.api import views

    original = views.WorkflowAnalyticsView.validate
    pinned = {}

    def validate(self, request, data):
        params = original(self, request, data)
        params["as_of"] = pinned.setdefault(type(self), params["as_of"])
        return params

    monkeypatch.setattr(views.WorkflowAnalyticsView, "validate", validate)


def cache_state(response):
    assert response.status_code == 200, response.content
    return response.headers["X-Cache"]


def test_a_dry_run_leaves_the_overview_and_analytics_cached_and_a_real_rule_run_does_not(api_for, quiet_rules, make_ticket,
                                                                                          django_capture_on_commit_callbacks):
    manager = api_for("manager")
    ticket = make_ticket()
    rule = AutomationRule.objects.create(name="log me", trigger="ticket_created", trigger_params={}, conditions={}, actions=[])
    assert cache_state(manager.get(BASE + "overview")) == "miss"
    assert cache_state(manager.get(BASE + "analytics")) == "miss"
    assert cache_state(manager.get(BASE + "overview")) == "hit"

    runs_before = RuleRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        rules.run_rules("ticket_created", [ticket.pk], dry_run=True, rules=[rule])
        assert cache_state(manager.post(BASE + "repair-automation", {"triggers": ["ticket_created"]}, format="json")) == "none"
    assert RuleRun.objects.count() == runs_before  # the dry runs wrote nothing ...
    assert cache_state(manager.get(BASE + "overview")) == "hit"  # ... and changed no figure of these answers
    assert cache_state(manager.get(BASE + "analytics")) == "hit"

    # A real run whose conditions did not match (the sweep logs these every few minutes): only the overview's
    # count of runs today changes; the analytics count runs that matched.
    unmatched = AutomationRule.objects.create(name="never matches", trigger="ticket_created", trigger_params={},
                                              conditions={"field": "quoted_price", "op": "eq", "value": 987.65}, actions=[])
    runs_before = manager.get(BASE + "overview").json()["automations_today"]["runs"]
    with django_capture_on_commit_callbacks(execute=True):
        rules.run_rules("ticket_created", [ticket.pk], dry_run=False, rules=[unmatched])
    assert not RuleRun.objects.get(rule=unmatched, dry_run=False).matched
    overview = manager.get(BASE + "overview")
    assert cache_state(overview) == "miss" and overview.json()["automations_today"]["runs"] == runs_before + 1
    assert cache_state(manager.get(BASE + "analytics")) == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        rules.run_rules("ticket_created", [ticket.pk], dry_run=False, rules=[rule])
    assert RuleRun.objects.filter(rule=rule, dry_run=False).count() == 1
    overview = manager.get(BASE + "overview")
    assert cache_state(overview) == "miss"  # "automations today" counts real runs
    assert overview.json()["automations_today"]["matched"] >= 1
    assert cache_state(manager.get(BASE + "analytics")) == "miss"  # the automations it counts matched


def test_the_triage_refresh_leaves_the_overview_cached_but_renews_the_delay_message_it_quotes(
        api_for, store_codes, make_ticket, django_capture_on_commit_callbacks):
    manager = api_for("manager")
    ticket = make_ticket(store_code=store_codes[0], status="in_repair")
    preview = {"event": "sla_delay", "ticket": ticket.reference, "channels": ["email"]}
    assert cache_state(manager.get(BASE + "overview")) == "miss"
    first = manager.post(SEND, preview, format="json")
    assert cache_state(first) == "miss"
    assert cache_state(manager.post(SEND, preview, format="json")) == "hit"

    # What the sweep stores for every open ticket every five minutes.
    expected = datetime(2031, 3, 14, 15, 30, tzinfo=dt_timezone.utc)
    with django_capture_on_commit_callbacks(execute=True):
        services.apply_triage({ticket.pk: {"predicted_minutes": 45, "predicted_completion_at": expected, "priority_score": 60.0}})
    assert cache_state(manager.get(BASE + "overview")) == "hit"
    renewed = manager.post(SEND, preview, format="json")
    assert cache_state(renewed) == "miss"
    local = expected.astimezone(ZoneInfo(ticket.store.timezone or "Europe/London"))
    assert f"ready by {local:%A} {local.day} {local:%B, %H:%M}" in renewed.json()["messages"][0]["body"]
    assert "ready by" not in first.json()["messages"][0]["body"]


def test_a_preview_is_cached_per_right_to_see_addresses_and_a_send_is_never_cached(
        api_for, store_codes, make_ticket, settings, django_capture_on_commit_callbacks):
    settings.WORKFLOW_QUIET_HOURS = []  # whatever the time of day the test runs at
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    preview = {"event": "ready_for_collection", "ticket": ticket.reference, "channels": ["email"]}
    staff = api_for("staff", stores=[store_codes[0]])
    stakeholder = api_for("stakeholder", stores=[store_codes[0]])

    shown = staff.post(SEND, preview, format="json")
    assert cache_state(shown) == "miss"
    assert shown.json()["messages"][0]["to"] == "ada@example.com" and shown.json()["messages"][0]["status"] == "queued"
    again = staff.post(SEND, preview, format="json")
    assert cache_state(again) == "hit" and again.json()["messages"] == shown.json()["messages"]
    # Same stores, same question, but a role that may not message customers: its own answer, addresses masked.
    masked = stakeholder.post(SEND, preview, format="json")
    assert cache_state(masked) == "miss" and masked.json()["messages"][0]["to"] == "a***@example.com"

    with django_capture_on_commit_callbacks(execute=True):
        sent = staff.post(SEND, {**preview, "mode": "send"}, format="json")
    assert cache_state(sent) == "none" and sent.json()["messages"][0]["message_id"]
    after = staff.post(SEND, preview, format="json")
    assert cache_state(after) == "miss"  # the outbox changed: the preview now says it would be a duplicate
    assert after.json()["messages"][0]["status"] == "duplicate"

