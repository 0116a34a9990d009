"""Writes to repair tickets. Every status change goes through `change_status()`, which checks the
transition against the repair process, stamps the ticket's dates and records a status event."""
import uuid

from django.db import transaction
from django.utils import timezone

from mlanalytics.core import audit, live
from mlanalytics.core.cache import bump_on_commit
from mlanalytics.core.errors import DomainError, InvalidTransition

from .models import QAInspection, RepairTicket, TicketStatus, TicketStatusEvent
from .signals import qa_recorded, ticket_created, ticket_status_changed

S = TicketStatus

# The repair process (SPEC §3). A QA failure sends the device back to repair.
ALLOWED_TRANSITIONS = {
    S.RECEIVED: {S.DIAGNOSING, S.CANCELLED},
    S.DIAGNOSING: {S.AWAITING_APPROVAL, S.AWAITING_PARTS, S.IN_REPAIR, S.CANCELLED},
    S.AWAITING_APPROVAL: {S.AWAITING_PARTS, S.IN_REPAIR, S.CANCELLED},
    S.AWAITING_PARTS: {S.IN_REPAIR, S.CANCELLED},
    S.IN_REPAIR: {S.AWAITING_PARTS, S.QUALITY_CHECK, S.CANCELLED},
    S.QUALITY_CHECK: {S.READY, S.IN_REPAIR},
    S.READY: {S.COLLECTED},
    S.COLLECTED: set(),
    S.CANCELLED: set(),
}


def allowed_next(status):
    return sorted(ALLOWED_TRANSITIONS.get(status, set()))


def check_transition(from_status, to_status):
    if to_status not in S.values:
        raise DomainError(f"'{to_status}' is not a ticket status. Valid: {', '.join(S.values)}.", field="status")
    if to_status not in ALLOWED_TRANSITIONS.get(from_status, set()):
        nexts = ", ".join(allowed_next(from_status)) or "none (the ticket is closed)"
        raise InvalidTransition(
            f"A ticket cannot go from {from_status} to {to_status}. Allowed next: {nexts}."
        )


def status_counts_payload(store_id):
    from django.db.models import Count

    rows = RepairTicket.objects.filter(store_id=store_id).exclude(status__in=[S.COLLECTED, S.CANCELLED])
    counts = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {"status_counts": counts}


def _publish_ticket(ticket, event):
    live.publish(
        event,
        {"reference": ticket.reference, "id": ticket.id, "status": ticket.status, **status_counts_payload(ticket.store_id)},
        ticket.store_id,
    )


STATUS_STAMPED_FIELDS = ("status", "completed_at", "collected_at", "outcome", "updated_at")


def change_status(ticket, to_status, *, user=None, at=None, note=""):
    """Move a ticket to `to_status` if the process allows it; returns the status event.

    The transition is judged on the row as it is in the database (locked), not on the caller's copy,
    and the caller's instance is brought up to date afterwards, so code holding it (record_qa, a rule's
    next action) sees the new status."""
    at = at or timezone.now()
    given = ticket
    with transaction.atomic():
        ticket = RepairTicket.objects.select_for_update().get(pk=ticket.pk)
        from_status = ticket.status
        check_transition(from_status, to_status)
        ticket.status = to_status
        fields = ["status", "updated_at"]
        if to_status == S.READY:
            ticket.completed_at = at
            fields.append("completed_at")
            if not ticket.outcome:
                ticket.outcome = "fixed"
                fields.append("outcome")
        elif to_status == S.COLLECTED:
            ticket.collected_at = at
            fields.append("collected_at")
        elif to_status == S.CANCELLED:
            ticket.completed_at = at
            fields.append("completed_at")
        ticket.save(update_fields=fields)
        event = TicketStatusEvent.objects.create(ticket=ticket, from_status=from_status, to_status=to_status, at=at, user=user, note=note)
        ticket_status_changed.send(sender=RepairTicket, ticket=ticket, event=event, from_status=from_status, to_status=to_status)
        _publish_ticket(ticket, "ticket_status")
        bump_on_commit("tickets")
    if given is not ticket:
        for field in STATUS_STAMPED_FIELDS:
            setattr(given, field, getattr(ticket, field))
    return event


def new_reference(store):
    return f"{store.code}-{timezone.now():%y%m%d}-{uuid.uuid4().hex[:6].upper()}"


def create_ticket(*, store, device_model, repair_type, customer=None, priority="normal", user=None,
                  received_at=None, promised_at=None, quoted_price=None, fault_description="", reference=None,
                  technician=None, source=RepairTicket.Source.APP):
    """Book a device in: the ticket starts as received, with its first status event."""
    received_at = received_at or timezone.now()
    if device_model.category != repair_type.device_category:
        raise DomainError(
            f"{repair_type.name} is for {repair_type.device_category} devices, not {device_model.category}.",
            field="repair_type",
        )
    with transaction.atomic():
        ticket = RepairTicket.objects.create(
            reference=reference or new_reference(store), store=store, customer=customer, device_model=device_model,
            repair_type=repair_type, priority=priority, technician=technician, status=S.RECEIVED,
            received_at=received_at,
            promised_at=promised_at or received_at + timezone.timedelta(hours=repair_type.sla_hours),
            quoted_price=quoted_price if quoted_price is not None else repair_type.list_price,
            fault_description=fault_description, source=source,
        )
        TicketStatusEvent.objects.create(ticket=ticket, from_status="", to_status=S.RECEIVED, at=received_at, user=user)
        ticket_created.send(sender=RepairTicket, ticket=ticket)
        _publish_ticket(ticket, "ticket_created")
        audit.record(user, "ticket.create", ticket)
        bump_on_commit("tickets", "customers")
    return ticket


def assign_technician(ticket, technician, *, user=None):
    """Give the ticket to a technician of its store who has the skills its repair type requires."""
    if technician.store_id != ticket.store_id:
        raise DomainError(f"{technician.name} works at another store.", field="technician")
    missing = set(ticket.repair_type.required_skills.values_list("code", flat=True)) - set(
        technician.skills.values_list("code", flat=True)
    )
    if missing:
        raise DomainError(f"{technician.name} lacks the skills {', '.join(sorted(missing))}.", field="technician")
    with transaction.atomic():
        previous = ticket.technician_id
        RepairTicket.objects.filter(pk=ticket.pk).update(technician=technician, updated_at=timezone.now())
        ticket.technician = technician
        audit.record(user, "ticket.assign", ticket, changes={"from": previous, "to": technician.pk})
        live.publish("assignment", {"reference": ticket.reference, "technician": technician.name, "technician_id": technician.pk}, ticket.store_id)
        bump_on_commit("tickets")
    return ticket


def record_qa(ticket, *, passed, checklist=None, defects=None, notes="", user=None, at=None):
    """Record a QA inspection of a ticket in quality check, and move it on (ready, or back to repair)."""
    at = at or timezone.now()
    with transaction.atomic():
        inspection = QAInspection.objects.create(
            ticket=ticket, inspector=user, inspected_at=at, passed=passed, checklist=checklist or {},
            defects=defects or [], notes=notes,
        )
        # Judge by the status in the database: the caller's instance may be older than the last change.
        if RepairTicket.objects.filter(pk=ticket.pk).values_list("status", flat=True).first() == S.QUALITY_CHECK:
            change_status(ticket, S.READY if passed else S.IN_REPAIR, user=user, at=at, note="QA " + ("passed" if passed else "failed"))
        qa_recorded.send(sender=QAInspection, inspection=inspection)
        audit.record(user, "ticket.qa", ticket, changes={"passed": passed, "defects": defects or []})
        bump_on_commit("qa", "tickets")
    return inspection


# === Workflow automation: writes of the rules engine, triage, allocation, alerts =====================

from mlanalytics.core import alerts as alert_service  # noqa: E402
from mlanalytics.core.cache import bump  # noqa: E402
from mlanalytics.core.models import Alert  # noqa: E402

from .models import Priority  # noqa: E402

ASSIGNMENT_CLEARS_AT = {S.IN_REPAIR, S.QUALITY_CHECK, S.READY, S.COLLECTED, S.CANCELLED}
CLOSED = {S.READY, S.COLLECTED, S.CANCELLED}


def set_priority(ticket, priority, *, user=None, note=""):
    """Change a ticket's priority (audited)."""
    if priority not in Priority.values:
        raise DomainError(f"'{priority}' is not a priority. Valid: {', '.join(Priority.values)}.", field="priority")
    with transaction.atomic():
        previous = ticket.priority
        RepairTicket.objects.filter(pk=ticket.pk).update(priority=priority, updated_at=timezone.now())
        ticket.priority = priority
        audit.record(user, "ticket.priority", ticket, changes={"from": previous, "to": priority, "note": note})
        bump_on_commit("tickets")
    return ticket


def _assignment_key(ticket):
    return f"assignment:ticket:{ticket.pk}"


def assign_and_notify(ticket, technician, *, user=None, note=""):
    """Assign through the ticket service and tell the store's staff (a "new assignment" alert).

    The alert's key is per ticket, so a reassignment resolves the old one and raises a new one; it
    resolves by itself when the repair starts or the ticket closes."""
    with transaction.atomic():
        assign_technician(ticket, technician, user=user)
        alert_service.resolve_by_key(_assignment_key(ticket))
        alert_service.raise_alert(
            kind=Alert.Kind.ASSIGNMENT, dedup_key=_assignment_key(ticket), store=ticket.store, severity=Alert.Severity.INFO,
            title=f"{ticket.reference} assigned to {technician.name}",
            message=f"{ticket.repair_type.name} on {ticket.device_model}. Promised {timezone.localtime(ticket.promised_at):%a %d %b %H:%M}."
            if ticket.promised_at else ticket.repair_type.name,
            subject_type="ticket", subject_id=ticket.pk, data={"technician": technician.code, "note": note},
            audience_roles=("staff",),
        )
        bump_on_commit("alerts")
    return ticket


def raise_rule_alert(rule, ticket, *, title, severity="warning", message=""):
    """An alert raised by an automation rule about a ticket (one open per rule and ticket)."""
    alert, created = alert_service.raise_alert(
        kind=Alert.Kind.RULE, dedup_key=f"rule:{rule.pk}:ticket:{ticket.pk}", store=ticket.store, severity=severity,
        title=title, message=message, subject_type="ticket", subject_id=ticket.pk, data={"rule": rule.pk, "rule_name": rule.name},
    )
    bump_on_commit("alerts")
    return alert, created


def resolve_ticket_alerts(ticket, *, now=None):
    """Resolve the ticket's alerts whose condition has cleared with its new status."""
    resolved = 0
    open_alerts = Alert.objects.filter(subject_type="ticket", subject_id=str(ticket.pk)).exclude(state=Alert.State.RESOLVED)
    for alert in open_alerts:
        clears = (
            (alert.kind == Alert.Kind.ASSIGNMENT and ticket.status in ASSIGNMENT_CLEARS_AT)
            or (alert.kind in (Alert.Kind.SLA_RISK, Alert.Kind.RULE) and ticket.status in CLOSED)
        )
        if clears:
            alert_service.resolve_alert(alert, now=now)
            resolved += 1
    if resolved:
        bump("alerts")
    return resolved


def apply_triage(predictions):
    """Store triage output on the tickets: {ticket id: {predicted_minutes, predicted_completion_at, priority_score}}."""
    if not predictions:
        return 0
    tickets = list(RepairTicket.objects.filter(pk__in=predictions))
    for ticket in tickets:
        p = predictions[ticket.pk]
        ticket.predicted_minutes = p["predicted_minutes"]
        ticket.predicted_completion_at = p["predicted_completion_at"]
        ticket.priority_score = p["priority_score"]
    RepairTicket.objects.bulk_update(tickets, ["predicted_minutes", "predicted_completion_at", "priority_score"], batch_size=500)
    # Its own domain: the sweep refreshes the triage of every open ticket every few minutes, and the stored
    # triage is read only by what renders or judges one ticket (messages, rule conditions), not by the
    # overview or the analyses, so refreshing it must not invalidate everything cached on "tickets".
    bump_on_commit("triage")
    return len(tickets)


def sync_sla_alerts(at_risk, scope_store_ids, *, now=None):
    """Raise an "SLA at risk" alert for each ticket in `at_risk` ({id: (ticket, detail)}) and resolve the
    open ones of the scope's stores whose ticket is no longer at risk (ready, closed, or promise moved)."""
    now = now or timezone.now()
    raised = resolved = 0
    for ticket, detail in at_risk.values():
        overdue = ticket.promised_at and ticket.promised_at < now
        _, created = alert_service.raise_alert(
            kind=Alert.Kind.SLA_RISK, dedup_key=f"sla-risk:ticket:{ticket.pk}", store=ticket.store,
            severity=Alert.Severity.CRITICAL if overdue else Alert.Severity.WARNING,
            title=f"{ticket.reference} {'is past' if overdue else 'may miss'} its promise ({timezone.localtime(ticket.promised_at):%a %d %b %H:%M})",
            message=detail.get("reason", ""), subject_type="ticket", subject_id=ticket.pk, data=detail, now=now,
        )
        raised += int(created)
    still = {f"sla-risk:ticket:{pk}" for pk in at_risk}
    stale = (Alert.objects.filter(kind=Alert.Kind.SLA_RISK, store_id__in=scope_store_ids)
             .exclude(state=Alert.State.RESOLVED).exclude(dedup_key__in=still))
    for alert in stale:
        alert_service.resolve_alert(alert, now=now)
        resolved += 1
    if raised or resolved:
        bump("alerts")
    return {"raised": raised, "resolved": resolved, "at_risk": len(at_risk)}


def sync_qa_alerts(flags, scope_store_ids, *, now=None):
    """Raise "QA out of control" alerts for flagged subgroups and resolve those that are back in control.

    flags: [{"dimension", "key", "label", "metric", "store_id" (or None), "p", "ucl", "n", "x"}] from
    selectors.qa_report over the stores `scope_store_ids`."""
    now = now or timezone.now()
    keys = set()
    raised = resolved = 0
    for flag in flags:
        key = f"qa-ooc:{flag['dimension']}:{flag['key']}:{flag['metric']}"
        keys.add(key)
        metric = "QA failure rate" if flag["metric"] == "qa_fail_rate" else "comeback rate"
        _, created = alert_service.raise_alert(
            kind=Alert.Kind.QA_OUT_OF_CONTROL, dedup_key=key, store=flag.get("store_id"), severity=Alert.Severity.WARNING,
            title=f"{metric} of {flag['label']} out of control: {flag['p']:.1%} (UCL {flag['ucl']:.1%})",
            message=f"{flag['x']} of {flag['n']} over the window; p-chart centre {flag['centre']:.1%}.",
            subject_type=flag["dimension"], subject_id=flag["key"], data=flag, now=now, audience_roles=("manager", "staff"),
        )
        raised += int(created)
    open_alerts = Alert.objects.filter(kind=Alert.Kind.QA_OUT_OF_CONTROL).exclude(state=Alert.State.RESOLVED).exclude(dedup_key__in=keys)
    for alert in open_alerts:
        # Only resolve what this check looked at: technicians of the scope's stores, or store-less subgroups.
        if alert.store_id is None or alert.store_id in scope_store_ids:
            alert_service.resolve_alert(alert, now=now)
            resolved += 1
    if raised or resolved:
        bump("alerts")
    return {"raised": raised, "resolved": resolved, "open": len(keys)}


def apply_allocation(assignments, *, user=None):
    """Make the planned assignments through the ticket service: [(ticket, technician)]. All or nothing."""
    done = []
    with transaction.atomic():
        for ticket, technician in assignments:
            ticket = RepairTicket.objects.select_for_update().select_related("repair_type", "device_model", "store").get(pk=ticket.pk)
            if ticket.status not in OPEN_FOR_ALLOCATION:
                raise DomainError(f"{ticket.reference} is {ticket.status} now; run the allocation again.", field="apply")
            assign_and_notify(ticket, technician, user=user, note="resource allocation")
            done.append(ticket)
        audit.record(user, "allocation.apply", None, object_type="workflow.allocation", object_id="",
                     changes={"assignments": [{"ticket": t.reference, "technician": tech.code} for t, tech in assignments]})
    return done


OPEN_FOR_ALLOCATION = (S.RECEIVED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.AWAITING_PARTS, S.IN_REPAIR)


# -- rules and templates (audited writes) ---------------------------------------------------------------


RULE_FIELDS = ("name", "description", "trigger", "trigger_params", "conditions", "actions", "store", "enabled", "order")


def save_rule(rule, data, *, user=None):
    """Create or update a rule after the engine validated it (`data` holds RULE_FIELDS)."""
    from .rules import validate_rule

    merged = {f: data.get(f, getattr(rule, f, None)) for f in RULE_FIELDS}
    validate_rule(merged["trigger"], merged["trigger_params"] or {}, merged["conditions"] or {}, merged["actions"],
                  merged["store"])
    creating = rule.pk is None
    before = {f: getattr(rule, f"{f}_id" if f == "store" else f) for f in RULE_FIELDS} if not creating else {}
    for f in RULE_FIELDS:
        if f in data:
            setattr(rule, f, data[f])
    rule.trigger_params = rule.trigger_params or {}
    rule.conditions = rule.conditions or {}
    if creating:
        rule.created_by = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        rule.save()
        after = {f: getattr(rule, f"{f}_id" if f == "store" else f) for f in RULE_FIELDS}
        changes = after if creating else {f: {"from": before[f], "to": after[f]} for f in RULE_FIELDS if before[f] != after[f]}
        audit.record(user, "rule.create" if creating else "rule.update", rule, changes=changes, store=rule.store)
        bump_on_commit("rules")
    return rule


def set_rule_enabled(rule, enabled, *, user=None):
    with transaction.atomic():
        rule.enabled = enabled
        rule.save(update_fields=["enabled", "updated_at"])
        audit.record(user, "rule.enable" if enabled else "rule.disable", rule, store=rule.store)
        bump_on_commit("rules")
    return rule


def delete_rule(rule, *, user=None):
    with transaction.atomic():
        audit.record(user, "rule.delete", rule, changes={"name": rule.name, "trigger": rule.trigger}, store=rule.store)
        rule.delete()
        bump_on_commit("rules")


def save_template(template, data, *, user=None):
    from .messaging import check_template_text

    check_template_text(data.get("subject", template.subject), data.get("body", template.body))
    creating = template.pk is None
    for field, value in data.items():
        setattr(template, field, value)
    with transaction.atomic():
        template.save()
        audit.record(user, "template.create" if creating else "template.update", template, changes={k: str(v)[:200] for k, v in data.items()})
        bump_on_commit("messages")
    return template


def delete_template(template, *, user=None):
    with transaction.atomic():
        audit.record(user, "template.delete", template, changes={"code": template.code})
        template.delete()
        bump_on_commit("messages")
