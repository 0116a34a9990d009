"""Parts held for committed repairs: a ticket entering awaiting_parts or in_repair (workflow's
change_status) reserves its bill of parts through the stock service; consumption and cancellation
release it; available = on hand − reserved everywhere (stock row, API, live event)."""
import pytest
from django.db.models import Sum

from inventory import selectors
from inventory.models import Stock, StockReservation
from inventory.services import (
    adjust_stock,
    bill_of_parts,
    consume_for_ticket,
    move_stock,
    rebuild_reservations,
)
from mlanalytics.core.errors import InsufficientStock
from mlanalytics.core.tests.factories import DeviceModelFactory, PartFactory, RepairTypeFactory, StoreFactory
from workflow.models import OPEN_STATUSES, RepairTicket, RepairTypePart
from workflow.services import change_status, create_ticket

BASE = "/api/inventory-management/"


@pytest.fixture
def repair(db):
    """A store holding 3 screens, and a repair type whose bill takes 2 of them."""
    store, part, device = StoreFactory(), PartFactory(), DeviceModelFactory()
    repair_type = RepairTypeFactory()
    RepairTypePart.objects.create(repair_type=repair_type, part=part, quantity=2)
    move_stock(part, store, "receipt", 3)

    def ticket():
        made = create_ticket(store=store, device_model=device, repair_type=repair_type)
        change_status(made, "diagnosing")
        return made

    return store, part, ticket


def stock(part, store):
    return Stock.objects.get(part=part, store=store)


def test_a_committed_repair_holds_its_bill_of_parts_until_it_uses_them(repair, api_for):
    store, part, new_ticket = repair
    ticket = new_ticket()
    assert stock(part, store).reserved == 0  # diagnosing: nothing committed yet
    change_status(ticket, "awaiting_parts")
    row = stock(part, store)
    assert (row.on_hand, row.reserved, row.available) == (3, 2, 1)
    assert StockReservation.objects.get(ticket=ticket, part=part).quantity == 2
    body = api_for("manager").get(BASE + "stock-monitoring", {"store": store.code, "sku": part.sku}).json()
    assert {k: body["results"][0][k] for k in ("on_hand", "reserved", "available", "backordered")} == \
        {"on_hand": 3, "reserved": 2, "available": 1, "backordered": 0}

    consume_for_ticket(ticket, part, 2)
    row = stock(part, store)
    assert (row.on_hand, row.reserved, row.available) == (1, 0, 1)
    assert not StockReservation.objects.filter(ticket=ticket).exists()
    change_status(ticket, "in_repair")  # parts already used: nothing is held again
    assert stock(part, store).reserved == 0


def test_a_cancelled_ticket_gives_its_parts_back(repair):
    store, part, new_ticket = repair
    ticket = new_ticket()
    change_status(ticket, "in_repair")
    change_status(ticket, "awaiting_parts")  # back to waiting: still the same two units, not four
    assert stock(part, store).reserved == 2
    change_status(ticket, "cancelled")
    assert stock(part, store).reserved == 0 and not StockReservation.objects.filter(ticket=ticket).exists()


def test_units_held_for_one_repair_cannot_be_taken_by_another_or_transferred_away(repair, api_for):
    store, part, new_ticket = repair
    first, second = new_ticket(), new_ticket()
    change_status(first, "in_repair")  # holds 2 of the 3
    with pytest.raises(InsufficientStock, match="reserved for other repairs"):
        consume_for_ticket(second, part, 2)
    consume_for_ticket(second, part, 1)  # the one free unit is fine
    other = StoreFactory()
    manager = api_for("manager")
    refused = manager.post(BASE + "stock-transfers/", {"sku": part.sku, "from_store": store.code, "to_store": other.code, "quantity": 1},
                           format="json")
    assert refused.status_code == 409 and "reserved" in refused.json()["detail"]
    consume_for_ticket(first, part, 2)  # its own reservation
    row = stock(part, store)
    assert (row.on_hand, row.reserved) == (0, 0)


def test_a_reservation_beyond_the_shelf_is_a_back_order_the_stock_position_covers(repair):
    store, part, new_ticket = repair
    adjust_stock(part, store, 1, user=None, reason="test: count")
    ticket = new_ticket()
    change_status(ticket, "awaiting_parts")
    row = stock(part, store)
    assert (row.on_hand, row.reserved, row.available, row.backordered) == (1, 2, 0, 1)
    position = selectors.stock_positions([store.pk], part_ids=[part.pk]).iloc[0]
    assert (position.available, position.backordered, position.position) == (0, 1, -1)
    # A stock count is the truth of the shelf and is never refused, reservations or not.
    adjust_stock(part, store, 0, user=None, reason="test: count")
    assert stock(part, store).reserved == 2


def test_the_seed_holds_the_bill_of_parts_of_the_repairs_open_at_the_end(inventory_db, demo):
    committed = RepairTicket.objects.filter(status__in=["awaiting_parts", "in_repair", "quality_check"])
    assert set(committed.values_list("status", flat=True)) <= set(OPEN_STATUSES)
    expected = {}
    for ticket in committed:
        consumed = {}
        for movement in ticket.part_movements.filter(kind="consumption"):
            consumed[movement.part_id] = consumed.get(movement.part_id, 0) - movement.quantity
        for part_id, units in bill_of_parts(ticket).items():
            if units - consumed.get(part_id, 0) > 0:
                expected[(ticket.pk, part_id)] = units - consumed.get(part_id, 0)
    held = {(r.ticket_id, r.part_id): r.quantity for r in StockReservation.objects.all()}
    assert held == expected and held  # tickets waiting for parts at the end hold them
    assert Stock.objects.aggregate(s=Sum("reserved"))["s"] == sum(held.values())
    assert rebuild_reservations() == sum(held.values())  # rebuilding changes nothing
