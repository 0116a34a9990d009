"""Triage: the repair-time model is trained on past tickets and beats the catalogue's standard
minutes on held-out repairs; predictions and scores are sensible; the sweep raises SLA alerts."""
import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from mlanalytics.core.models import Alert
from workflow.ml.repair_time import PriorityScoreParameters, priority_score

pytestmark = pytest.mark.django_db


def test_repair_time_model_beats_the_standard_minutes_on_held_out_repairs(models_ready):
    from workflow import training

    record = training.current(training.REPAIR_TIME)
    labour = record.metrics["labour"]
    assert labour["n_holdout"] > 500
    assert labour["mae_minutes"] < labour["baseline_standard_minutes_mae"]
    assert record.metrics["remaining_time"]["mae_working_hours"] <= record.metrics["remaining_time"]["baseline_status_median_mae_working_hours"]
    block = training.model_block(record)
    assert block["name"] == "repair_time" and block["version"] >= 1 and block["backtest"]["mae_minutes"] == labour["mae_minutes"]


SCORE = PriorityScoreParameters(weights={"priority": 35, "sla_pressure": 45, "age": 10, "comeback": 10},
                                levels={"low": 0.1, "normal": 0.35, "high": 0.7, "urgent": 1.0},
                                pressure_hours=24, age_full_hours=168, unknown_pressure=0.5)


def test_priority_score_orders_tickets_by_urgency():
    urgent_late = priority_score("urgent", -2.0, 30, False, SCORE)
    normal_slack = priority_score("normal", 40.0, 2, False, SCORE)
    low_slack = priority_score("low", 80.0, 1, False, SCORE)
    assert urgent_late > normal_slack > low_slack
    assert priority_score("normal", 40.0, 2, True, SCORE) > normal_slack  # a comeback goes up


def test_priority_score_is_the_weighted_mean_of_its_components():
    # Urgent (1.0), predicted late (pressure 1), a week old (age 1), a comeback (1): every component full.
    assert priority_score("urgent", -1.0, 168, True, SCORE) == 100.0
    # Low (0.1), slack 24 h (e^-1), new, not a comeback: 35·0.1 + 45·e^-1 = 20.05.
    assert priority_score("low", 24.0, 0, False, SCORE) == pytest.approx(20.1, abs=0.05)
    # Only the ratios of the weights matter.
    doubled = dataclasses.replace(SCORE, weights={k: 2 * v for k, v in SCORE.weights.items()})
    assert priority_score("low", 24.0, 0, False, doubled) == priority_score("low", 24.0, 0, False, SCORE)


def test_triage_and_allocation_answers_show_their_hand_set_parameters(models_ready, api_for, settings):
    settings.WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS = {"low": 1.0, "normal": 3.0, "high": 5.0, "urgent": 9.0}
    manager = api_for("manager")
    triage = manager.post("/api/workflow-automation/repair-automation", {"limit": 5}, format="json").json()
    block = triage["parameters"]["priority_score"]
    assert block["assumed"] is True and block["weights"] == settings.WORKFLOW_PRIORITY_SCORE_WEIGHTS
    allocation = manager.post("/api/workflow-automation/resource-allocation", {}, format="json").json()
    assert allocation["parameters"]["assumed"] is True
    assert allocation["parameters"]["priority_weights"]["normal"] == 3.0
    assert allocation["parameters"]["day_discount"] == settings.WORKFLOW_ALLOCATION_DAY_DISCOUNT
    for row in allocation["assignments"]:  # the weights used are the ones reported
        level = allocation["parameters"]["priority_weights"][row["priority"]]
        assert row["weight"] == pytest.approx(level * (1 + (row["priority_score"] or 0) / 100), abs=0.001)


def test_triage_predicts_from_the_repair_type_and_the_promise(models_ready, make_ticket):
    from workflow import selectors

    quick = make_ticket(status="diagnosing", repair_type="phone-battery")
    long = make_ticket(status="diagnosing", repair_type="laptop-motherboard")
    predictions, record = selectors.triage([quick, long])
    assert predictions[quick.pk]["predicted_minutes"] < predictions[long.pk]["predicted_minutes"]
    for ticket in (quick, long):
        assert predictions[ticket.pk]["predicted_completion_at"] >= timezone.now() - timedelta(minutes=1)
    assert record.kind == "repair_time"


def test_sweep_raises_sla_alerts_and_resolves_them_when_the_ticket_is_ready(models_ready, make_ticket, quiet_rules):
    from workflow import services, tasks
    from workflow.models import RepairTicket

    ticket = make_ticket(status="diagnosing")
    RepairTicket.objects.filter(pk=ticket.pk).update(promised_at=timezone.now() + timedelta(hours=2))
    tasks.sweep()
    alert = Alert.objects.get(kind=Alert.Kind.SLA_RISK, subject_id=str(ticket.pk))
    assert alert.state == Alert.State.FIRING and ticket.reference in alert.title
    ticket.refresh_from_db()
    assert ticket.priority_score is not None and ticket.predicted_minutes is not None
    for status in ("in_repair", "quality_check", "ready"):
        services.change_status(ticket, status)
    tasks.sweep()
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
