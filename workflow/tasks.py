"""Background and periodic jobs of the workflow app (registered in WorkflowConfig.ready through
mlanalytics.core.jobs: Celery beat in production, the embedded scheduler otherwise)."""
import logging

from django.utils import timezone

from mlanalytics.core.models import Alert, Store

log = logging.getLogger(__name__)


def deliver_outbox():
    """Send queued messages that are due (after quiet hours) and retry failed ones past their backoff."""
    from . import messaging

    return messaging.deliver_due()


def deliver_messages(message_ids):
    """Send these just-queued messages (enqueued after the commit that queued them)."""
    from . import messaging

    return messaging.deliver_now(message_ids)


def sweep(now=None):
    """Every few minutes: refresh triage of open tickets, raise/resolve "SLA at risk" alerts, run the
    idle and SLA-at-risk rules, and resolve assignment alerts whose repair has started."""
    from . import rules, selectors, services
    from .models import AutomationRule, RepairTicket

    now = now or timezone.now()
    stores = list(Store.objects.filter(is_active=True))
    tickets = selectors.open_tickets(stores)
    predictions, _ = selectors.triage(tickets, now=now)
    services.apply_triage(predictions)
    at_risk = {}
    for ticket in tickets:
        p = predictions.get(ticket.pk)
        if p and p["sla_at_risk"]:
            at_risk[ticket.pk] = (ticket, {
                "promised_at": ticket.promised_at.isoformat() if ticket.promised_at else None,
                "predicted_completion_at": p["predicted_completion_at"].isoformat() if p["predicted_completion_at"] else None,
                "hours_to_promise": p["hours_to_promise"], "priority_score": p["priority_score"],
                "reason": "predicted to be ready after the promise" if p["predicted_late"] else "close to the promised time",
            })
    alerts = services.sync_sla_alerts(at_risk, [s.pk for s in stores], now=now)
    ids = [t.pk for t in tickets]
    fired = {}
    for trigger in (AutomationRule.Trigger.SLA_AT_RISK, AutomationRule.Trigger.TICKET_IDLE):
        result = rules.run_safely(trigger, ids, source="schedule", now=now)
        fired[str(trigger.value)] = sum(1 for outcomes in result.values() for o in outcomes if o.get("matched") and o.get("actions"))
    stale = 0
    for alert in Alert.objects.filter(kind=Alert.Kind.ASSIGNMENT).exclude(state=Alert.State.RESOLVED):
        ticket = RepairTicket.objects.filter(pk=alert.subject_id).first() if alert.subject_id.isdigit() else None
        if ticket is None:
            continue
        stale += services.resolve_ticket_alerts(ticket, now=now)
    return {"open_tickets": len(tickets), "sla_alerts": alerts, "rules_fired": fired, "assignment_alerts_resolved": stale}


def check_qa_control():
    """Hourly (and soon after a QA failure): raise or resolve "QA out of control" alerts from the p-charts."""
    from django.core.cache import cache

    from . import selectors, services
    from .receivers import QA_CHECK_DIRTY

    # The "re-check pending" flag a QA failure sets is not cleared here: it expires by itself, which is
    # what limits the re-checks to one per WORKFLOW_QA_RECHECK_SECONDS. A re-check marked as due is
    # covered by this one (it counts every failure committed before it starts).
    cache.delete(QA_CHECK_DIRTY)
    stores = list(Store.objects.filter(is_active=True))
    if not stores:
        return {}
    report = selectors.qa_report(stores)
    return services.sync_qa_alerts(report["out_of_control"], [s.pk for s in stores])


def recheck_qa_control():
    """Every minute: the re-check of the control charts that QA failures inside the throttle window left due
    (receivers.recheck_qa_control_if_due); nothing when none is due."""
    from .receivers import recheck_qa_control_if_due

    return recheck_qa_control_if_due()


def retrain_models():
    """Daily: retrain the workflow models whose current version is missing or a week old."""
    from . import training

    return {kind: getattr(result, "version", result) for kind, result in training.retrain_stale().items()}
