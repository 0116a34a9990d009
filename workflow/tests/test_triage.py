"""Triage: the repair-time model is trained on past tickets and beats the catalogue's standard
minutes on held-out repairs; predictions and scores are sensible; the sweep raises SLA alerts."""
from datetime import timedelta

import pytest
from django.utils import timezone

from mlanalytics.core.models import Alert
from workflow.ml.repair_time import priority_score

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


def test_priority_score_orders_tickets_by_urgency():
    urgent_late = priority_score("urgent", -2.0, 30, False)
    normal_slack = priority_score("normal", 40.0, 2, False)
    low_slack = priority_score("low", 80.0, 1, False)
    assert urgent_late > normal_slack > low_slack
    assert priority_score("normal", 40.0, 2, True) > normal_slack  # a comeback goes up


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
