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
    assert (row.on_hand, row.reserved, row.available) == (1, 2, 0)
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


# --- Stock.reserved stays the sum of the reservation rows, whatever happens to the ticket ------------------


def assert_reserved_is_the_sum_of_the_reservations(*stores):
    held = {}
    for reservation in StockReservation.objects.filter(store__in=stores):
        held[(reservation.store_id, reservation.part_id)] = held.get((reservation.store_id, reservation.part_id), 0) + reservation.quantity
    rows = {(row.store_id, row.part_id): row.reserved for row in Stock.objects.filter(store__in=stores)}
    assert set(held) <= set(rows)
    assert {key: reserved for key, reserved in rows.items() if reserved or key in held} == held


def test_parts_held_at_one_store_are_given_back_there_after_the_ticket_moved(repair):
    store, part, new_ticket = repair
    ticket = new_ticket()
    change_status(ticket, "awaiting_parts")  # 2 held at its store
    other = StoreFactory()
    move_stock(part, other, "receipt", 1)
    RepairTicket.objects.filter(pk=ticket.pk).update(store=other)  # e.g. corrected in the admin
    ticket.refresh_from_db()
    # Used at its new store: the units held at the old one are not its own there.
    consume_for_ticket(ticket, part, 1)
    assert (stock(part, store).reserved, stock(part, other).reserved, stock(part, other).on_hand) == (2, 0, 0)
    assert_reserved_is_the_sum_of_the_reservations(store, other)
    change_status(ticket, "cancelled")
    assert stock(part, store).reserved == 0 and not StockReservation.objects.filter(ticket=ticket).exists()
    assert_reserved_is_the_sum_of_the_reservations(store, other)


def test_deleting_a_ticket_gives_back_its_parts(repair):
    store, part, new_ticket = repair
    kept, deleted = new_ticket(), new_ticket()
    change_status(kept, "awaiting_parts")
    change_status(deleted, "in_repair")
    assert stock(part, store).reserved == 4
    RepairTicket.objects.filter(pk=deleted.pk).delete()  # the admin's delete, a cascade
    assert stock(part, store).reserved == 2
    assert_reserved_is_the_sum_of_the_reservations(store)


def _tickets_file(rows):
    import csv
    from io import StringIO

    out = StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_imported_tickets_waiting_for_parts_hold_them_and_keep_their_store_while_they_do(repair):
    from mlanalytics.imports import IMPORTERS

    store, part, new_ticket = repair
    app_ticket = new_ticket()
    change_status(app_ticket, "in_repair")  # 2 held
    repair_type = RepairTypePart.objects.get(part=part).repair_type
    device = app_ticket.device_model
    row = {"reference": "IMP-RES-1", "store": store.code, "device_category": device.category, "brand": device.brand,
           "model": device.model_name, "repair_type": repair_type.code, "status": "awaiting_parts",
           "received_at": "2026-01-05 10:00"}
    result = IMPORTERS["tickets"]().run(_tickets_file([row]))
    assert not result.errors
    imported = RepairTicket.objects.get(reference="IMP-RES-1")
    assert StockReservation.objects.get(ticket=imported, part=part).quantity == 2
    assert stock(part, store).reserved == 4  # the app's ticket keeps its two
    assert_reserved_is_the_sum_of_the_reservations(store)

    # A file moving a ticket that holds parts to another store is refused, row and column named.
    other = StoreFactory()
    moved = IMPORTERS["tickets"]().run(_tickets_file([{**row, "store": other.code}]))
    assert [(e.row, e.column) for e in moved.errors] == [(2, "store")] and "holds parts" in moved.errors[0].reason
    assert RepairTicket.objects.get(reference="IMP-RES-1").store_id == store.pk

    # Finished in the source system: the next import gives its parts back.
    done = IMPORTERS["tickets"]().run(_tickets_file([{**row, "status": "cancelled", "completed_at": "2026-01-06 10:00"}]))
    assert not done.errors
    assert not StockReservation.objects.filter(ticket=imported).exists() and stock(part, store).reserved == 2
    assert_reserved_is_the_sum_of_the_reservations(store)
