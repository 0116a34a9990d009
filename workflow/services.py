"""Writes to repair tickets. Every status change goes through `change_status()`, which checks the
transition against the repair process, stamps the ticket's dates and records a status event."""
import uuid

from django.db import transaction
from django.utils import timezone

from mlanalytics.core import audit, live
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


def change_status(ticket, to_status, *, user=None, at=None, note=""):
    """Move a ticket to `to_status` if the process allows it; returns the status event."""
    at = at or timezone.now()
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
    return ticket


def record_qa(ticket, *, passed, checklist=None, defects=None, notes="", user=None, at=None):
    """Record a QA inspection of a ticket in quality check, and move it on (ready, or back to repair)."""
    at = at or timezone.now()
    with transaction.atomic():
        inspection = QAInspection.objects.create(
            ticket=ticket, inspector=user, inspected_at=at, passed=passed, checklist=checklist or {},
            defects=defects or [], notes=notes,
        )
        if ticket.status == S.QUALITY_CHECK:
            change_status(ticket, S.READY if passed else S.IN_REPAIR, user=user, at=at, note="QA " + ("passed" if passed else "failed"))
        qa_recorded.send(sender=QAInspection, inspection=inspection)
    return inspection
