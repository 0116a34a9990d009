"""The two services every write goes through: ticket status changes and stock movements."""
import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.utils import timezone

from inventory.models import PurchaseOrder, PurchaseOrderLine, Stock, StockMovement
from inventory.services import adjust_stock, consume_for_ticket, move_stock, receive_po_line, transfer_stock
from mlanalytics.core.errors import DomainError, InsufficientStock, InvalidTransition
from workflow.models import TicketStatusEvent
from workflow.services import change_status, create_ticket

from .factories import (
    CustomerFactory, DeviceModelFactory, PartFactory, RepairTypeFactory, StoreFactory, SupplierFactory, stock_of,
)

pytestmark = pytest.mark.django_db


def ledger_total(part, store):
    return StockMovement.objects.filter(part=part, store=store).aggregate(t=Sum("quantity"))["t"] or 0


@pytest.fixture
def ticket():
    store = StoreFactory()
    return create_ticket(store=store, device_model=DeviceModelFactory(), repair_type=RepairTypeFactory(),
                         customer=CustomerFactory(), received_at=timezone.now() - timedelta(hours=5))


def test_new_ticket_starts_received_with_its_first_event(ticket):
    assert ticket.status == "received"
    events = list(TicketStatusEvent.objects.filter(ticket=ticket).values_list("from_status", "to_status"))
    assert events == [("", "received")]
    assert ticket.promised_at == ticket.received_at + timedelta(hours=ticket.repair_type.sla_hours)


def test_a_repair_walks_the_process_and_every_step_is_recorded(ticket):
    for status in ("diagnosing", "in_repair", "quality_check", "ready", "collected"):
        change_status(ticket, status)
    ticket.refresh_from_db()
    assert ticket.status == "collected"
    assert ticket.completed_at is not None and ticket.collected_at >= ticket.completed_at
    assert ticket.outcome == "fixed"
    steps = list(ticket.status_events.order_by("at", "id").values_list("to_status", flat=True))
    assert steps == ["received", "diagnosing", "in_repair", "quality_check", "ready", "collected"]


def test_an_invalid_transition_is_refused_with_the_allowed_next_steps(ticket):
    with pytest.raises(InvalidTransition) as refused:
        change_status(ticket, "ready")
    assert "cannot go from received to ready" in str(refused.value)
    assert "diagnosing" in str(refused.value)
    ticket.refresh_from_db()
    assert ticket.status == "received"
    assert ticket.status_events.count() == 1


def test_a_closed_ticket_cannot_move_and_unknown_statuses_are_named(ticket):
    change_status(ticket, "cancelled")
    with pytest.raises(InvalidTransition, match="none \\(the ticket is closed\\)"):
        change_status(ticket, "diagnosing")
    with pytest.raises(DomainError, match="'fixed' is not a ticket status"):
        change_status(ticket, "fixed")


def test_a_repair_type_for_another_device_category_is_refused():
    with pytest.raises(DomainError, match="is for laptop devices"):
        create_ticket(store=StoreFactory(), device_model=DeviceModelFactory(category="phone"),
                      repair_type=RepairTypeFactory(device_category="laptop"))


def test_consumption_moves_stock_and_ledger_together_and_costs_the_ticket(ticket):
    part = PartFactory(unit_cost=12.5)
    move_stock(part, ticket.store, "receipt", 3, reason="delivery")
    consume_for_ticket(ticket, part, 2)
    assert stock_of(part, ticket.store) == 1
    assert ledger_total(part, ticket.store) == 1
    movement = StockMovement.objects.filter(part=part, kind="consumption").get()
    assert (movement.quantity, movement.balance_after, movement.ticket_id) == (-2, 1, ticket.id)
    ticket.refresh_from_db()
    assert float(ticket.parts_cost) == 25.0


def test_stock_never_goes_negative(ticket):
    part = PartFactory()
    move_stock(part, ticket.store, "receipt", 1)
    with pytest.raises(InsufficientStock, match="Only 1 of"):
        consume_for_ticket(ticket, part, 2)
    assert stock_of(part, ticket.store) == 1
    assert StockMovement.objects.filter(part=part).count() == 1


def test_an_adjustment_needs_a_reason_and_a_count_equal_to_stock_writes_nothing(ticket):
    part = PartFactory()
    with pytest.raises(DomainError, match="needs a reason"):
        move_stock(part, ticket.store, "adjustment", 4)
    assert adjust_stock(part, ticket.store, 4, user=None, reason="stock-take") is not None
    assert adjust_stock(part, ticket.store, 4, user=None, reason="stock-take") is None
    assert stock_of(part, ticket.store) == ledger_total(part, ticket.store) == 4


def test_a_transfer_is_two_paired_movements():
    part, a, b = PartFactory(), StoreFactory(), StoreFactory()
    move_stock(part, a, "receipt", 5)
    out, into = transfer_stock(part, a, b, 2)
    assert out.transfer_ref == into.transfer_ref and out.quantity == -2 and into.quantity == 2
    assert (stock_of(part, a), stock_of(part, b)) == (3, 2)
    with pytest.raises(InsufficientStock):
        transfer_stock(part, a, b, 9)
    assert (stock_of(part, a), stock_of(part, b)) == (3, 2)


def test_receiving_a_po_books_good_units_and_records_defects():
    store, supplier, part = StoreFactory(), SupplierFactory(), PartFactory()
    po = PurchaseOrder.objects.create(number="PO-T-1", supplier=supplier, store=store, status="ordered", ordered_at=timezone.now())
    line = PurchaseOrderLine.objects.create(po=po, part=part, quantity=10, unit_price=9)
    receive_po_line(line, 6, defective=1)
    po.refresh_from_db()
    assert po.status == "partial" and stock_of(part, store) == 5
    receive_po_line(line, 5)
    po.refresh_from_db()
    line.refresh_from_db()
    assert po.status == "received" and stock_of(part, store) == 10
    assert (line.quantity_received, line.quantity_defective) == (11, 1)
    receipt = StockMovement.objects.filter(part=part, kind="receipt").first()
    assert receipt.supplier_id == supplier.id and float(receipt.unit_cost) == 9.0


def test_the_demo_ledger_and_stock_rows_agree_everywhere(demo):
    totals = {
        (r["part_id"], r["store_id"]): r["t"]
        for r in StockMovement.objects.values("part_id", "store_id").annotate(t=Sum("quantity"))
    }
    rows = list(Stock.objects.values_list("part_id", "store_id", "on_hand"))
    assert len(rows) == demo.row_counts["inventory.Stock"]
    assert all(totals.get((p, s), 0) == on_hand for p, s, on_hand in rows)
    assert not StockMovement.objects.filter(balance_after__lt=0).exists()


CONTENDERS = 3


def on_the_lock(ready):
    """Set `ready` when this thread's connection starts the statement that must wait for the lock holder:
    SQLite's BEGIN IMMEDIATE (the database write lock), PostgreSQL's SELECT ... FOR UPDATE of the stock row."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        connection.connection.set_trace_callback(lambda sql: ready.set() if sql.startswith("BEGIN") else None)
        return contextlib.nullcontext()

    def wrapper(execute, sql, params, many, context):
        if "FOR UPDATE" in sql:
            ready.set()
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper)


def waiting_backends():
    """PostgreSQL sessions of this database blocked on a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def race_for_the_last_unit(holder_commits):
    """One transaction takes the last unit and stays open (threading.Event) until CONTENDERS other threads
    are provably waiting for its lock; then it commits or rolls back. Returns the outcomes and the stock."""
    store, part = StoreFactory(), PartFactory()
    device, repair_type = DeviceModelFactory(), RepairTypeFactory()
    tickets = [create_ticket(store=store, device_model=device, repair_type=repair_type) for _ in range(CONTENDERS + 1)]
    move_stock(part, store, "receipt", 1)
    holding, release = threading.Event(), threading.Event()
    at_the_lock = [threading.Event() for _ in range(CONTENDERS)]
    outcomes = {}

    class Abandon(Exception):
        pass

    def hold(ticket):
        try:
            with transaction.atomic():
                consume_for_ticket(ticket, part, 1)
                holding.set()
                if not release.wait(60):
                    raise TimeoutError("never released")
                if not holder_commits:
                    raise Abandon()
            outcomes["holder"] = "took it"
        except Abandon:
            outcomes["holder"] = "rolled back"
        except Exception as exc:  # noqa: BLE001 - recorded and failed below
            outcomes["holder"] = f"error: {exc!r}"
        finally:
            holding.set()
            connections.close_all()

    def contend(k, ticket):
        try:
            with on_the_lock(at_the_lock[k]):
                consume_for_ticket(ticket, part, 1)
            outcomes[k] = "took it"
        except InsufficientStock:
            outcomes[k] = "out of stock"
        except Exception as exc:  # noqa: BLE001
            outcomes[k] = f"error: {exc!r}"
        finally:
            at_the_lock[k].set()
            connections.close_all()

    holder = threading.Thread(target=hold, args=(tickets[0],))
    holder.start()
    assert holding.wait(30) and "holder" not in outcomes, outcomes
    contenders = [threading.Thread(target=contend, args=(k, t)) for k, t in enumerate(tickets[1:])]
    for thread in contenders:
        thread.start()
    for event in at_the_lock:
        assert event.wait(30)
    assert not any(k in outcomes for k in range(CONTENDERS)), f"a contender finished while the unit was held: {outcomes}"
    if connection.vendor == "postgresql":
        deadline = time.monotonic() + 30
        while waiting_backends() < CONTENDERS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting_backends() == CONTENDERS
    release.set()
    for thread in [holder, *contenders]:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in [holder, *contenders])
    return outcomes, store, part


@pytest.mark.django_db(transaction=True)
def test_threads_racing_for_the_last_unit_exactly_one_gets_it_and_ledger_agrees():
    outcomes, store, part = race_for_the_last_unit(holder_commits=True)
    assert outcomes == {"holder": "took it", **{k: "out of stock" for k in range(CONTENDERS)}}
    assert stock_of(part, store) == ledger_total(part, store) == 0
    assert StockMovement.objects.filter(part=part, kind="consumption").count() == 1
    assert connection.vendor in ("postgresql", "sqlite")


@pytest.mark.django_db(transaction=True)
def test_when_the_holder_rolls_back_exactly_one_waiting_thread_gets_the_last_unit():
    outcomes, store, part = race_for_the_last_unit(holder_commits=False)
    assert outcomes.pop("holder") == "rolled back"
    assert sorted(outcomes.values()) == ["out of stock"] * (CONTENDERS - 1) + ["took it"], outcomes
    assert stock_of(part, store) == ledger_total(part, store) == 0
    consumed = StockMovement.objects.filter(part=part, kind="consumption")
    assert consumed.count() == 1 and consumed.get().balance_after == 0
