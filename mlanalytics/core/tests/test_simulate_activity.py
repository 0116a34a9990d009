"""simulate_activity goes through the services: every status change is an allowed transition, stock
moves only through the ledger, and the rate parser understands people's units."""
import pytest
from django.core.management import call_command

from mlanalytics.core.simulation import ActivitySimulator, parse_rate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text,per_second", [("2/s", 2), ("30/min", 0.5), ("0.5", 0.5), ("3600/h", 1)])
def test_rates_are_read_in_people_units(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


def test_a_bad_rate_is_refused():
    with pytest.raises(ValueError):
        parse_rate("fast")


def test_the_stream_follows_the_repair_process_and_the_stock_ledger(store_codes):
    from inventory.models import Stock, StockMovement
    from workflow.models import RepairTicket, TicketStatusEvent
    from workflow.services import ALLOWED_TRANSITIONS

    first_event = TicketStatusEvent.objects.order_by("-id").values_list("id", flat=True).first()
    first_movement = StockMovement.objects.order_by("-id").values_list("id", flat=True).first() or 0
    tickets_before = RepairTicket.objects.count()
    simulator = ActivitySimulator(store_codes=[store_codes[0]], seed=3)
    for _ in range(80):
        simulator.step()
    counts = simulator.counts
    assert counts["tickets_created"] > 10 and counts["status_changes"] > 20
    assert RepairTicket.objects.count() == tickets_before + counts["tickets_created"]
    for event in TicketStatusEvent.objects.filter(id__gt=first_event).exclude(from_status=""):
        assert event.to_status in ALLOWED_TRANSITIONS[event.from_status], event
    assert not RepairTicket.objects.filter(id__gt=0, fault_description="Simulated activity").exclude(store__code=store_codes[0]).exists()
    moved = StockMovement.objects.filter(id__gt=first_movement)
    assert moved.filter(kind="consumption").count() >= 1 or counts["parts_consumed"] == 0
    for stock in Stock.objects.filter(store__code=store_codes[0], part__in=moved.values("part")):
        last = StockMovement.objects.filter(part=stock.part, store=stock.store).order_by("-at", "-id").first()
        assert last.balance_after == stock.on_hand


def test_the_command_runs_for_its_duration(capsys):
    call_command("simulate_activity", "--rate", "50/s", "--duration", "0.3", "--seed", "1")
    assert "Done: tickets created" in capsys.readouterr().out
