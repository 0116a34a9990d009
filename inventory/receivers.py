"""Signal receivers of the inventory app. They run inside the writer's transaction, so everything that
leaves it (alerts, background jobs) is deferred with transaction.on_commit."""
from django.db import transaction

from .signals import stock_changed


def stockout_alert_on_stock_change(sender, stock, movement, **kwargs):
    """Every stock movement re-evaluates the projected-stockout alert of its part and store, after commit."""
    from .services import evaluate_stockout_alert_safely

    part_id, store_id = stock.part_id, stock.store_id
    transaction.on_commit(lambda: evaluate_stockout_alert_safely(part_id, store_id))


def refresh_policies_after_training(sender, instance, **kwargs):
    """A new current parts-demand model means new forecasts: recompute the stored reorder policies."""
    if not (instance.is_current and instance.status == "ready" and "part" in (instance.kind or "")):
        return
    from django.conf import settings

    from mlanalytics.core import jobs

    if settings.BACKGROUND_JOBS == "thread" and not settings.EMBEDDED_SCHEDULER:
        # A command (train_models) rather than the served app: refresh now, before the process exits,
        # instead of in a thread the interpreter is already shutting down.
        transaction.on_commit(_refresh_now)
    else:
        transaction.on_commit(lambda: jobs.enqueue("inventory.tasks.refresh_policies_job", None, "all"))


def reservations_on_ticket_status(sender, ticket, to_status, **kwargs):
    """A ticket entering awaiting_parts or in_repair holds its bill of parts; finished or cancelled, it
    gives back what it still holds. Inside the status change's transaction: both commit or neither."""
    from .services import reservations_on_status_change

    reservations_on_status_change(ticket, to_status)


def release_parts_of_deleted_ticket(sender, instance, **kwargs):
    """A ticket deleted (admin, cascade) gives back the parts held for it before its reservation rows go
    with it, so Stock.reserved stays the sum of the rows. Inside the delete's transaction."""
    from .services import release_ticket_parts

    release_ticket_parts(instance)


def connect():
    from django.db.models.signals import post_save, pre_delete

    from workflow.signals import ticket_status_changed

    stock_changed.connect(stockout_alert_on_stock_change, dispatch_uid="inventory-stockout-alert")
    ticket_status_changed.connect(reservations_on_ticket_status, dispatch_uid="inventory-reservations")
    pre_delete.connect(release_parts_of_deleted_ticket, sender="workflow.RepairTicket", dispatch_uid="inventory-release-on-delete")
    post_save.connect(refresh_policies_after_training, sender="predictive.TrainedModel",
                      dispatch_uid="inventory-refresh-after-training")


def _refresh_now():
    import logging

    from .tasks import refresh_policies_job

    try:
        refresh_policies_job(None, "all")
    except Exception:  # the training is committed; the hourly job will catch up
        logging.getLogger(__name__).exception("reorder policies not refreshed after training")
