"""Signal receivers of the workflow app: after the commit of the change that triggered them (a
rolled-back change triggers nothing) they hand the rules engine to a background job
(mlanalytics.core.jobs: Celery in production, a thread when embedded), so booking a device in or
moving a ticket never waits for the rules, their messages or a slow mail server."""
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.dispatch import receiver

from inventory.signals import stock_changed

from .models import AutomationRule, RepairTicket, RepairTypePart, TicketStatus
from .signals import qa_recorded, ticket_created, ticket_status_changed

log = logging.getLogger(__name__)
T = AutomationRule.Trigger
QA_CHECK_FLAG = "workflow:qa-check-pending"  # set for WORKFLOW_QA_RECHECK_SECONDS after a re-check starts
QA_CHECK_DIRTY = "workflow:qa-check-dirty"  # a failure came in while the flag was set: re-check when it expires


def _depth():
    from .rules import current_depth

    return current_depth()


def _later(path, *args):
    """Run the job `path(*args)` in the background once the current transaction commits."""
    from mlanalytics.core import jobs

    transaction.on_commit(lambda: jobs.enqueue(path, *args))


def handle_ticket_created(ticket_id, depth=0):
    from . import rules, selectors, services, training

    if training.current(training.REPAIR_TIME) is not None:
        tickets = rules.load_tickets([ticket_id])
        predictions, _ = selectors.triage(tickets)
        services.apply_triage(predictions)
    rules.run_safely(T.TICKET_CREATED, [ticket_id], context={"ticket_id": ticket_id}, chain_depth=depth)


def handle_status_changed(ticket_id, event_id, from_status, to_status, depth=0):
    from . import rules, services

    ticket = RepairTicket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return
    services.resolve_ticket_alerts(ticket)
    rules.run_safely(T.STATUS_CHANGED, [ticket_id], context={
        "ticket_id": ticket_id, "event_id": event_id, "from_status": from_status, "to_status": to_status}, chain_depth=depth)


def handle_qa_failed(ticket_id, depth=0):
    from mlanalytics.core import jobs

    from . import rules

    rules.run_safely(T.QA_FAILED, [ticket_id], context={"ticket_id": ticket_id}, chain_depth=depth)
    # Re-check the control charts now, then at most once per WORKFLOW_QA_RECHECK_SECONDS however many
    # failures come in (the flag is left to expire). A failure inside that window is not dropped: it marks
    # a re-check as due, which the minute job workflow.qa_recheck (recheck_qa_control_if_due below) runs once
    # the window is over, so no failure waits for the hourly check.
    if cache.add(QA_CHECK_FLAG, 1, settings.WORKFLOW_QA_RECHECK_SECONDS):
        jobs.enqueue("workflow.tasks.check_qa_control")
    else:
        cache.set(QA_CHECK_DIRTY, 1, timeout=max(4 * settings.WORKFLOW_QA_RECHECK_SECONDS, 3600))


def recheck_qa_control_if_due():
    """The trailing run of the throttle above: when failures came in during a window that has now ended,
    open a new window and re-check the control charts (they count every failure committed before). Returns
    whether it ran."""
    from . import tasks

    if not cache.get(QA_CHECK_DIRTY) or not cache.add(QA_CHECK_FLAG, 1, settings.WORKFLOW_QA_RECHECK_SECONDS):
        return False
    cache.delete(QA_CHECK_DIRTY)  # before the check: a failure arriving during it marks the next window
    tasks.check_qa_control()
    return True


def handle_parts_received(part_id, store_id, depth=0):
    from . import rules

    needs_part = RepairTypePart.objects.filter(repair_type=OuterRef("repair_type"), part_id=part_id).filter(
        Q(device_model__isnull=True) | Q(device_model=OuterRef("device_model")))
    waiting = list(RepairTicket.objects.filter(store_id=store_id, status=TicketStatus.AWAITING_PARTS)
                   .filter(Exists(needs_part)).values_list("id", flat=True))
    if waiting:
        rules.run_safely(T.PARTS_RECEIVED, waiting, context={"part_id": part_id}, chain_depth=depth)


# The chain depth is passed to the job explicitly: rules triggered by rules stay one generation
# deeper even when the next generation runs in another process.


@receiver(ticket_created, dispatch_uid="workflow.rules.ticket_created")
def on_ticket_created(sender, ticket, **kwargs):
    _later("workflow.receivers.handle_ticket_created", ticket.pk, _depth())


@receiver(ticket_status_changed, dispatch_uid="workflow.rules.status_changed")
def on_status_changed(sender, ticket, event, from_status, to_status, **kwargs):
    _later("workflow.receivers.handle_status_changed", ticket.pk, event.pk, from_status, to_status, _depth())


@receiver(qa_recorded, dispatch_uid="workflow.rules.qa_recorded")
def on_qa_recorded(sender, inspection, **kwargs):
    if not inspection.passed:
        _later("workflow.receivers.handle_qa_failed", inspection.ticket_id, _depth())


@receiver(stock_changed, dispatch_uid="workflow.rules.parts_received")
def on_stock_changed(sender, stock, movement, **kwargs):
    if movement.kind in ("receipt", "transfer_in") and movement.quantity > 0:
        _later("workflow.receivers.handle_parts_received", movement.part_id, movement.store_id, _depth())
