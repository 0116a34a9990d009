"""Database constraints: the rules hold even for writes that bypass the services."""
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory.models import Part, Stock, StockMovement
from mlanalytics.core.models import Alert, Store
from predictive.models import TrainedModel
from workflow.models import RepairTicket

pytestmark = pytest.mark.django_db


def refused(write):
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            write()
            connection.check_constraints()


def test_stock_and_ledger_balances_cannot_go_negative():
    stock = Stock.objects.first()
    refused(lambda: Stock.objects.filter(pk=stock.pk).update(on_hand=-1))
    refused(lambda: Stock.objects.filter(pk=stock.pk).update(reserved=-2))
    movement = StockMovement.objects.first()
    refused(lambda: StockMovement.objects.filter(pk=movement.pk).update(balance_after=-1))
    refused(lambda: StockMovement.objects.filter(pk=movement.pk).update(quantity=0))


def test_skus_ticket_references_and_stock_rows_are_unique():
    part = Part.objects.first()
    refused(lambda: Part.objects.create(sku=part.sku, name="copy", category="screen", unit_cost=1, price=2))
    ticket = RepairTicket.objects.first()
    refused(lambda: RepairTicket.objects.create(
        reference=ticket.reference, store=ticket.store, device_model=ticket.device_model, repair_type=ticket.repair_type,
        received_at=timezone.now()))
    stock = Stock.objects.first()
    refused(lambda: Stock.objects.create(part=stock.part, store=stock.store))


def test_prices_and_costs_cannot_be_negative():
    part = Part.objects.first()
    refused(lambda: Part.objects.filter(pk=part.pk).update(unit_cost=-1))
    refused(lambda: Part.objects.filter(pk=part.pk).update(service_level=1))
    ticket = RepairTicket.objects.filter(final_price__isnull=False).first()
    refused(lambda: RepairTicket.objects.filter(pk=ticket.pk).update(final_price=-5))


def test_a_ticket_cannot_be_completed_before_it_was_received():
    ticket = RepairTicket.objects.filter(completed_at__isnull=False).first()
    refused(lambda: RepairTicket.objects.filter(pk=ticket.pk).update(completed_at=ticket.received_at - timedelta(hours=1)))


def test_foreign_keys_must_point_at_real_rows():
    ticket = RepairTicket.objects.first()
    missing_store = (Store.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000
    refused(lambda: RepairTicket.objects.filter(pk=ticket.pk).update(store_id=missing_store))


def test_one_open_alert_per_dedup_key_but_history_may_repeat():
    now = timezone.now()
    fields = dict(kind="sla_risk", title="SLA", dedup_key="test:key", fired_at=now, last_seen_at=now)
    first = Alert.objects.create(**fields)
    refused(lambda: Alert.objects.create(**fields))
    Alert.objects.filter(pk=first.pk).update(state="resolved", resolved_at=now)
    Alert.objects.create(**fields)
    assert Alert.objects.filter(dedup_key="test:key").count() == 2


def test_only_one_current_model_per_kind_and_scope():
    TrainedModel.objects.create(kind="test_kind", scope="all", version=1, method="m", is_current=True)
    refused(lambda: TrainedModel.objects.create(kind="test_kind", scope="all", version=2, method="m", is_current=True))
    refused(lambda: TrainedModel.objects.create(kind="test_kind", scope="all", version=1, method="m"))
