"""The rules engine: rules are validated, run after the commit of their trigger, do what their
actions say (only where the process allows), log every run, and can be tried as a dry run."""
from datetime import timedelta

import pytest
from django.utils import timezone

from mlanalytics.core.models import Alert
from workflow import rules, services
from workflow.models import AutomationRule, RepairTicket, RuleRun

pytestmark = pytest.mark.django_db
RULES = "/api/workflow-automation/rules/"


def make_rule(**fields):
    data = {"name": "test rule", "trigger": "ticket_created", "trigger_params": {}, "conditions": {}, **fields}
    rules.validate_rule(data["trigger"], data["trigger_params"], data["conditions"], data["actions"])
    return AutomationRule.objects.create(**data)


def test_malformed_rule_is_rejected_with_clear_field_messages(api_for):
    api = api_for("manager")
    response = api.post(RULES, {
        "name": "broken", "trigger": "ticket_idle", "trigger_params": {"minutes": 5},
        "conditions": {"all": [{"field": "priority", "op": "eq", "value": "asap"}]},
        "actions": [{"type": "set_priority", "priority": "sky-high"}, {"type": "send_message", "template": "no-such-template"}],
    }, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "ticket_idle does not take minutes" in body["trigger_params"][0]
    assert "ticket_idle needs trigger_params.hours" in body["trigger_params"][1]
    assert body["conditions"] == ["all[0].value: 'asap' is not a valid priority. Valid: low, normal, high, urgent."]
    assert body["actions"][0].startswith("actions[0]: set_priority takes 'priority'")
    assert "there is no message template 'no-such-template'" in body["actions"][1]
    assert not AutomationRule.objects.filter(name="broken").exists()


RULE_JUNK = [None, "", "x" * 500, -1, 1e308, 10**400, True, [], ["a"], [["a"]], {}, {"a": 1}, [{"a": 1}]]


def test_junk_anywhere_in_a_rule_is_a_400_with_a_message_never_a_500(api_for, store_codes):
    api = api_for("manager")
    good = {"name": "fuzzed", "trigger": "ticket_idle", "trigger_params": {"hours": 24},
            "conditions": {"all": [{"field": "priority", "op": "in", "value": ["high"]}]},
            "actions": [{"type": "send_message", "event": "ready_for_collection", "channels": ["email"]}]}
    assert api.post(RULES, good, format="json").status_code == 201
    places = [
        lambda j: {"trigger": j}, lambda j: {"trigger_params": j}, lambda j: {"trigger_params": {"hours": j}},
        lambda j: {"conditions": j}, lambda j: {"conditions": {"all": j}}, lambda j: {"conditions": {"not": j}},
        lambda j: {"conditions": {"field": j, "op": "eq", "value": "high"}},
        lambda j: {"conditions": {"field": "priority", "op": j, "value": "high"}},
        lambda j: {"conditions": {"field": "quoted_price", "op": "gte", "value": j}},
        lambda j: {"conditions": {"field": "status", "op": "in", "value": j}},
        lambda j: {"actions": j}, lambda j: {"actions": [j]}, lambda j: {"actions": [{"type": j}]},
        lambda j: {"actions": [{"type": "send_message", "event": j}]},
        lambda j: {"actions": [{"type": "send_message", "template": j}]},
        lambda j: {"actions": [{"type": "send_message", "event": "ready_for_collection", "channels": j}]},
        lambda j: {"actions": [{"type": "assign", "technician": j}]},
        lambda j: {"actions": [{"type": "set_priority", "priority": j}]},
        lambda j: {"actions": [{"type": "raise_alert", "title": "t", "message": j}]},
        lambda j: {"store": j}, lambda j: {"order": j},
    ]
    for place in places:
        for junk in RULE_JUNK:
            response = api.post(RULES, {**good, **place(junk)}, format="json")
            assert response.status_code in (201, 400, 404), (place(junk), response.status_code, response.content[:300])
            if response.status_code == 400:
                assert response.json() and all(isinstance(v, list) and v for v in response.json().values()), response.content[:300]


def test_a_rule_for_an_unknown_store_is_404_and_for_a_store_not_yours_403(api_for, store_codes):
    body = {"name": "x", "trigger": "ticket_created", "actions": [{"type": "set_priority", "priority": "high"}]}
    manager = api_for("manager")
    assert manager.post(RULES, {**body, "store": "NOWHERE"}, format="json").status_code == 404
    local = api_for("manager", stores=[store_codes[0]])
    assert local.post(RULES, {**body, "store": store_codes[1]}, format="json").status_code == 403
    created = local.post(RULES, {**body, "store": store_codes[0]}, format="json")
    assert created.status_code == 201 and created.json()["store"] == store_codes[0]
    assert local.patch(f"{RULES}{created.json()['id']}/", {"store": "NOWHERE"}, format="json").status_code == 404


def test_rule_resource_create_update_enable_disable_delete(api_for, store_codes):
    api = api_for("manager")
    created = api.post(RULES, {
        "name": "Big quotes are high priority", "trigger": "status_changed", "trigger_params": {"to": ["awaiting_approval"]},
        "conditions": {"field": "quoted_price", "op": "gte", "value": 150},
        "actions": [{"type": "set_priority", "priority": "high"}], "store": store_codes[0],
    }, format="json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert created.json()["condition_text"] == "quoted_price gte 150"
    assert api.patch(f"{RULES}{rule_id}/", {"conditions": {"field": "quoted_price", "op": "gte", "value": 200}}, format="json").status_code == 200
    assert AutomationRule.objects.get(pk=rule_id).conditions["value"] == 200
    assert api.post(f"{RULES}{rule_id}/disable/").json()["enabled"] is False
    assert api.post(f"{RULES}{rule_id}/enable/").json()["enabled"] is True
    assert api.delete(f"{RULES}{rule_id}/").status_code == 204
    assert not AutomationRule.objects.filter(pk=rule_id).exists()


def test_only_managers_change_rules_and_only_in_their_stores(api_for, store_codes):
    rule = AutomationRule.objects.filter(enabled=True).first()
    staff = api_for("staff", stores=[store_codes[0]])
    assert staff.get(RULES).status_code == 200
    assert staff.post(f"{RULES}{rule.pk}/disable/").status_code == 403
    assert api_for("stakeholder").post(RULES, {}, format="json").status_code == 403
    local_manager = api_for("manager", stores=[store_codes[0]])
    body = {"name": "x", "trigger": "ticket_created", "actions": [{"type": "set_priority", "priority": "high"}]}
    assert local_manager.post(RULES, {**body, "store": store_codes[1]}, format="json").status_code == 403
    assert local_manager.post(RULES, body, format="json").status_code == 403  # every-store rule needs every store
    assert local_manager.post(RULES, {**body, "store": store_codes[0]}, format="json").status_code == 201


def test_status_change_runs_matching_rules_after_commit(quiet_rules, make_ticket, django_capture_on_commit_callbacks):
    rule = make_rule(name="Big quotes are high priority", trigger="status_changed", trigger_params={"to": ["awaiting_approval"]},
                     conditions={"field": "quoted_price", "op": "gte", "value": 150},
                     actions=[{"type": "set_priority", "priority": "high"}])
    big = make_ticket(status="diagnosing", quoted_price=199)
    small = make_ticket(status="diagnosing", quoted_price=49)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(big, "awaiting_approval")
        services.change_status(small, "awaiting_approval")
        # Nothing has run yet: rules wait for the commit.
        assert RepairTicket.objects.get(pk=big.pk).priority == "normal"
    assert RepairTicket.objects.get(pk=big.pk).priority == "high"
    assert RepairTicket.objects.get(pk=small.pk).priority == "normal"
    runs = {r.ticket_id: r for r in RuleRun.objects.filter(rule=rule)}
    assert runs[big.pk].matched and runs[big.pk].actions[0]["result"] == "set"
    assert not runs[small.pk].matched and runs[small.pk].actions == []


def test_a_rolled_back_change_triggers_nothing(quiet_rules, make_ticket, django_capture_on_commit_callbacks):
    from django.db import transaction

    make_rule(trigger="status_changed", actions=[{"type": "set_priority", "priority": "urgent"}])
    ticket = make_ticket(status="received")
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                services.change_status(ticket, "diagnosing")
                raise RuntimeError("the request failed after the change")
        except RuntimeError:
            pass
    assert RepairTicket.objects.get(pk=ticket.pk).priority == "normal"
    assert not RuleRun.objects.filter(ticket=ticket).exists()


def test_change_status_action_only_follows_valid_transitions(quiet_rules, make_ticket):
    rule = make_rule(trigger="ticket_created", actions=[{"type": "change_status", "status": "in_repair"}])
    waiting = make_ticket(status="awaiting_parts")
    received = make_ticket(status="received")
    results = rules.run_rules("ticket_created", [waiting.pk, received.pk], rules=[rule])
    assert results[waiting.pk][0]["actions"][0]["result"] == "changed"
    assert RepairTicket.objects.get(pk=waiting.pk).status == "in_repair"
    skipped = results[received.pk][0]["actions"][0]
    assert skipped["result"] == "skipped" and "cannot go from received to in_repair" in skipped["reason"]
    assert RepairTicket.objects.get(pk=received.pk).status == "received"


def test_assign_action_gives_the_ticket_to_a_skilled_technician_and_tells_the_staff(quiet_rules, make_ticket):
    rule = make_rule(trigger="ticket_created", conditions={"field": "priority", "op": "eq", "value": "urgent"},
                     actions=[{"type": "assign", "strategy": "least_loaded"}])
    ticket = make_ticket(status="received", repair_type="laptop-motherboard", priority="urgent")
    rules.run_rules("ticket_created", [ticket.pk], rules=[rule])
    ticket.refresh_from_db()
    needed = set(ticket.repair_type.required_skills.values_list("code", flat=True))
    assert needed <= set(ticket.technician.skills.values_list("code", flat=True))
    alert = Alert.objects.get(kind=Alert.Kind.ASSIGNMENT, subject_id=str(ticket.pk))
    assert alert.audience_roles == ["staff"] and ticket.technician.name in alert.title
    # The alert clears once the repair starts.
    services.change_status(ticket, "diagnosing")
    services.change_status(ticket, "in_repair")
    services.resolve_ticket_alerts(RepairTicket.objects.get(pk=ticket.pk))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_raise_alert_action_is_deduplicated_per_rule_and_ticket(quiet_rules, make_ticket):
    rule = make_rule(trigger="qa_failed", actions=[{"type": "raise_alert", "severity": "critical", "title": "QA failed on {{ ticket.reference }}"}])
    ticket = make_ticket(status="quality_check")
    assert rules.run_rules("qa_failed", [ticket.pk], rules=[rule])[ticket.pk] == []  # no failed QA yet
    services.record_qa(ticket, passed=False, defects=["port loose"])
    for _ in range(2):
        rules.run_rules("qa_failed", [ticket.pk], rules=[rule])
    alerts = Alert.objects.filter(kind=Alert.Kind.RULE, subject_id=str(ticket.pk))
    assert alerts.count() == 1 and alerts[0].title == f"QA failed on {ticket.reference}"


def test_idle_rule_fires_once_per_status_visit(quiet_rules, make_ticket):
    rule = make_rule(trigger="ticket_idle", trigger_params={"hours": 24, "statuses": ["diagnosing"]},
                     actions=[{"type": "set_priority", "priority": "high"}])
    ticket = make_ticket(status="diagnosing")
    now = timezone.now()
    assert rules.run_rules("ticket_idle", [ticket.pk], rules=[rule], now=now + timedelta(hours=2))[ticket.pk] == []
    first = rules.run_rules("ticket_idle", [ticket.pk], rules=[rule], now=now + timedelta(hours=25))[ticket.pk]
    assert first[0]["matched"] and first[0]["actions"][0]["result"] == "set"
    again = rules.run_rules("ticket_idle", [ticket.pk], rules=[rule], now=now + timedelta(hours=30))[ticket.pk]
    assert again[0]["note"] == "already fired for this episode"
    assert RuleRun.objects.filter(rule=rule, matched=True, dry_run=False).count() == 1


def test_rules_that_trigger_rules_stop_at_the_chain_limit(quiet_rules, make_ticket, settings, django_capture_on_commit_callbacks):
    settings.WORKFLOW_MAX_RULE_CHAIN = 2
    make_rule(name="a", trigger="status_changed", trigger_params={"to": ["diagnosing"]}, actions=[{"type": "change_status", "status": "awaiting_approval"}])
    make_rule(name="b", trigger="status_changed", trigger_params={"to": ["awaiting_approval"]}, actions=[{"type": "change_status", "status": "in_repair"}])
    make_rule(name="c", trigger="status_changed", trigger_params={"to": ["in_repair"]}, actions=[{"type": "change_status", "status": "quality_check"}])
    ticket = make_ticket(status="received")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket, "diagnosing")
    ticket.refresh_from_db()
    assert ticket.status == "in_repair"  # two rule generations ran, the third was stopped
    assert RuleRun.objects.filter(ticket=ticket, error__startswith="stopped").exists()


def test_dry_run_reports_without_changing_anything(models_ready, quiet_rules, make_ticket, api_for, store_codes):
    rule = make_rule(trigger="sla_at_risk", trigger_params={"hours_before": 1000}, actions=[
        {"type": "set_priority", "priority": "urgent"}, {"type": "raise_alert", "title": "late {{ ticket.reference }}"}])
    ticket = make_ticket(store_code=store_codes[0], status="diagnosing")
    manager = api_for("manager")
    response = manager.post("/api/workflow-automation/repair-automation", {"tickets": [ticket.reference]}, format="json")
    assert response.status_code == 200, response.content
    row = response.json()["tickets"][0]
    assert row["triage"]["predicted_minutes"] > 0 and row["triage"]["priority_score"] > 0
    assert [a["result"] for a in row["rules"][0]["actions"]] == ["would set", "would raise"]
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and ticket.predicted_minutes is None
    assert not Alert.objects.filter(kind=Alert.Kind.RULE, subject_id=str(ticket.pk)).exists()
    assert not RuleRun.objects.filter(rule=rule, ticket=ticket).exists()  # a dry run writes nothing, not even the log

    staff = api_for("staff", stores=[store_codes[0]])
    assert staff.post("/api/workflow-automation/repair-automation", {"tickets": [ticket.reference], "dry_run": False},
                      format="json").status_code == 403
    real = manager.post("/api/workflow-automation/repair-automation", {"tickets": [ticket.reference], "dry_run": False}, format="json")
    assert [a["result"] for a in real.json()["tickets"][0]["rules"][0]["actions"]] == ["set", "raised"]
    ticket.refresh_from_db()
    assert ticket.priority == "urgent" and ticket.predicted_minutes is not None


def test_parts_arriving_moves_waiting_tickets_back_to_repair(make_ticket, django_capture_on_commit_callbacks):
    """The default "Parts arrived: back to repair" rule, through a real stock receipt."""
    from inventory.models import Part, StockMovement
    from inventory.services import move_stock
    from workflow.models import RepairTypePart

    waiting = make_ticket(status="awaiting_parts", repair_type="phone-screen")
    line = RepairTypePart.objects.filter(repair_type=waiting.repair_type, device_model=waiting.device_model).first()
    part = line.part if line else Part.objects.filter(used_in__repair_type=waiting.repair_type).first()
    other = make_ticket(status="awaiting_parts", repair_type="laptop-battery")  # needs a different part
    with django_capture_on_commit_callbacks(execute=True):
        move_stock(part, waiting.store, StockMovement.Kind.RECEIPT, 5, reason="test delivery")
    assert RepairTicket.objects.get(pk=waiting.pk).status == "in_repair"
    assert RepairTicket.objects.get(pk=other.pk).status == "awaiting_parts"


# -- triggers through the real path: the change commits, the receiver hands the run to a background job --


def test_booking_a_device_in_runs_the_ticket_created_rules_after_the_commit(quiet_rules, make_ticket, django_capture_on_commit_callbacks):
    from mlanalytics.core.models import Store
    from workflow.models import Customer, DeviceModel, RepairType

    rule = make_rule(name="Consoles first", trigger="ticket_created", conditions={"field": "device_category", "op": "eq", "value": "console"},
                     actions=[{"type": "set_priority", "priority": "high"}])
    store = Store.objects.order_by("code").first()
    customer = Customer.objects.create(external_ref="T-created-1", name="Grace Hopper", email="grace@example.com",
                                       home_store=store, created_at=timezone.now())
    booked = {}
    with django_capture_on_commit_callbacks(execute=True):
        for category in ("console", "phone"):
            repair_type = RepairType.objects.filter(device_category=category).first()
            booked[category] = services.create_ticket(store=store, device_model=DeviceModel.objects.filter(category=category).first(),
                                                      repair_type=repair_type, customer=customer)
        assert RepairTicket.objects.get(pk=booked["console"].pk).priority == "normal"  # nothing before the commit
    assert RepairTicket.objects.get(pk=booked["console"].pk).priority == "high"
    assert RepairTicket.objects.get(pk=booked["phone"].pk).priority == "normal"
    runs = {r.ticket_id: r for r in RuleRun.objects.filter(rule=rule)}
    assert runs[booked["console"].pk].matched and runs[booked["console"].pk].source == "event"
    assert not runs[booked["phone"].pk].matched


def test_a_qa_failure_recorded_through_the_api_runs_the_qa_failed_rules(quiet_rules, make_ticket, api_for, store_codes,
                                                                       django_capture_on_commit_callbacks):
    rule = make_rule(trigger="qa_failed", actions=[{"type": "raise_alert", "severity": "critical", "title": "QA failed on {{ ticket.reference }}"}])
    ticket = make_ticket(store_code=store_codes[0], status="quality_check")
    staff = api_for("staff", stores=[store_codes[0]])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/api/workflow-automation/qa-inspections/", {"ticket": ticket.reference, "passed": False,
                                                                            "defects": ["port loose"]}, format="json")
        assert response.status_code == 201
    alert = Alert.objects.get(kind=Alert.Kind.RULE, subject_id=str(ticket.pk))
    assert alert.title == f"QA failed on {ticket.reference}" and alert.severity == "critical"
    assert RuleRun.objects.get(rule=rule, ticket=ticket).matched


def test_a_burst_of_qa_failures_rechecks_the_control_charts_once(quiet_rules, make_ticket, api_for, store_codes, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    from workflow import tasks

    checks = []
    monkeypatch.setattr(tasks, "check_qa_control", lambda: checks.append(timezone.now()))
    tickets = [make_ticket(store_code=store_codes[0], status="quality_check") for _ in range(4)]
    staff = api_for("staff", stores=[store_codes[0]])
    for ticket in tickets:  # four failures, each its own request and commit
        with django_capture_on_commit_callbacks(execute=True):
            assert staff.post("/api/workflow-automation/qa-inspections/", {"ticket": ticket.reference, "passed": False,
                                                                            "defects": ["housing gap"]}, format="json").status_code == 201
    assert len(checks) == 1
    # The limit is the flag's lifetime: once it has expired, the next failure re-checks again.
    from django.core.cache import cache

    from workflow.receivers import QA_CHECK_FLAG

    cache.delete(QA_CHECK_FLAG)
    services.change_status(tickets[0], "quality_check")
    with django_capture_on_commit_callbacks(execute=True):
        services.record_qa(tickets[0], passed=False, defects=["housing gap"])
    assert len(checks) == 2



def test_a_qa_failure_inside_the_throttle_window_is_rechecked_when_the_window_ends(
        quiet_rules, make_ticket, api_for, store_codes, monkeypatch, settings, django_capture_on_commit_callbacks):
    """The throttle has a trailing edge: a failure after the leading re-check is not left for the hourly check."""
    import time

    from mlanalytics.core import jobs
    from workflow import tasks

    settings.WORKFLOW_QA_RECHECK_SECONDS = 1
    checks = []
    monkeypatch.setattr(tasks, "check_qa_control", lambda: checks.append(timezone.now()))
    first, second = (make_ticket(store_code=store_codes[0], status="quality_check") for _ in range(2))
    staff = api_for("staff", stores=[store_codes[0]])
    for ticket in (first, second):
        with django_capture_on_commit_callbacks(execute=True):
            assert staff.post("/api/workflow-automation/qa-inspections/", {"ticket": ticket.reference, "passed": False,
                                                                            "defects": ["housing gap"]}, format="json").status_code == 201
    assert len(checks) == 1  # the leading edge: at once for the first failure
    assert tasks.recheck_qa_control() is False and len(checks) == 1  # the window is still open
    time.sleep(1.1)
    assert tasks.recheck_qa_control() is True and len(checks) == 2  # the second failure, once the window is over
    time.sleep(1.1)
    assert tasks.recheck_qa_control() is False and len(checks) == 2  # nothing new since: nothing to do
    assert jobs._periodic["workflow.qa_recheck"] == (60, "workflow.tasks.recheck_qa_control")

def test_the_sweep_fires_idle_and_sla_rules_once(models_ready, quiet_rules, make_ticket):
    from workflow import tasks
    from workflow.models import TicketStatusEvent

    # The sweep looks at every open ticket of the demo data; a quote no demo ticket has marks this test's own.
    mine = {"field": "quoted_price", "op": "eq", "value": 987.65}
    idle_rule = make_rule(name="idle", trigger="ticket_idle", trigger_params={"hours": 24, "statuses": ["awaiting_approval"]},
                          conditions=mine, actions=[{"type": "set_priority", "priority": "high"}])
    sla_rule = make_rule(name="sla", trigger="sla_at_risk", trigger_params={"hours_before": 6},
                         conditions={"all": [mine, {"field": "status", "op": "eq", "value": "diagnosing"}]},
                         actions=[{"type": "raise_alert", "title": "{{ ticket.reference }} is close to its promise"}])
    idle = make_ticket(status="awaiting_approval", quoted_price=987.65)
    TicketStatusEvent.objects.filter(ticket=idle).update(at=timezone.now() - timedelta(hours=30))
    RepairTicket.objects.filter(pk=idle.pk).update(received_at=timezone.now() - timedelta(hours=31),
                                                   promised_at=timezone.now() + timedelta(days=5))
    due = make_ticket(status="diagnosing", quoted_price=987.65)
    RepairTicket.objects.filter(pk=due.pk).update(promised_at=timezone.now() + timedelta(hours=3))
    fresh = make_ticket(status="awaiting_approval", quoted_price=987.65)
    RepairTicket.objects.filter(pk=fresh.pk).update(promised_at=timezone.now() + timedelta(days=5))

    first = tasks.sweep()
    assert first["rules_fired"] == {"sla_at_risk": 1, "ticket_idle": 1}
    assert RepairTicket.objects.get(pk=idle.pk).priority == "high"
    assert Alert.objects.filter(kind=Alert.Kind.RULE, subject_id=str(due.pk)).count() == 1
    assert RepairTicket.objects.get(pk=fresh.pk).priority == "normal"
    second = tasks.sweep()  # five minutes later nothing new has happened: nothing fires again
    assert second["rules_fired"] == {"sla_at_risk": 0, "ticket_idle": 0}
    fired = RuleRun.objects.filter(matched=True, dry_run=False, source="schedule")
    assert sorted(fired.values_list("rule_id", "ticket_id")) == sorted([(idle_rule.pk, idle.pk), (sla_rule.pk, due.pk)])


def test_record_qa_sees_a_status_change_made_through_the_same_instance(quiet_rules, make_ticket):
    ticket = make_ticket(status="in_repair")
    services.change_status(ticket, "quality_check")
    assert ticket.status == "quality_check"  # the caller's instance follows the change
    services.record_qa(ticket, passed=True)
    ticket.refresh_from_db()
    assert ticket.status == "ready" and ticket.completed_at is not None
