"""A live stream of realistic shop activity through the real services, so dashboards can be watched
moving: new tickets (create_ticket) modelled on recent ones, status changes along the allowed
transitions (change_status, record_qa for quality checks), technician assignment and part
consumption from the bill of parts when a repair starts (consume_for_ticket). Events and alerts flow
exactly as they do for real work. Used by `manage.py simulate_activity` and the admin's home-page control.
"""
import logging
import random
import threading
import time

from django.db import close_old_connections

from .errors import DomainError

log = logging.getLogger(__name__)

# Next step of a ticket, by current status: (next status, weight). Weights follow the demo process.
NEXT_STEP = {
    "received": [("diagnosing", 1.0)],
    "diagnosing": [("in_repair", 0.6), ("awaiting_approval", 0.25), ("awaiting_parts", 0.1), ("cancelled", 0.05)],
    "awaiting_approval": [("in_repair", 0.8), ("awaiting_parts", 0.1), ("cancelled", 0.1)],
    "awaiting_parts": [("in_repair", 1.0)],
    "in_repair": [("quality_check", 0.9), ("awaiting_parts", 0.1)],
    "quality_check": [("qa", 1.0)],
    "ready": [("collected", 1.0)],
}
QA_PASS_RATE = 0.92
NEW_TICKET_SHARE = 0.35


def parse_rate(text):
    """'2/s', '30/min', '0.5' -> events per second."""
    text = str(text).strip().lower()
    number, _, unit = text.partition("/")
    value = float(number)
    seconds = {"": 1, "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}.get(unit)
    if seconds is None or value <= 0:
        raise ValueError(f"Rate must look like 2/s or 30/min, not {text!r}.")
    return value / seconds


class ActivitySimulator:
    def __init__(self, store_codes=None, seed=None, user=None):
        from .models import Store

        self.random = random.Random(seed)
        stores = Store.objects.filter(is_active=True)
        if store_codes:
            stores = stores.filter(code__in=store_codes)
        self.stores = list(stores)
        if not self.stores:
            raise DomainError("No such active store to simulate.", field="store")
        self.user = user
        self.counts = {"tickets_created": 0, "status_changes": 0, "qa_recorded": 0, "parts_consumed": 0,
                       "assignments": 0, "refused": 0}
        self._templates = None

    def templates(self):
        """Recent tickets of these stores: new tickets copy their device, repair type and customer mix."""
        if self._templates is None:
            from workflow.models import RepairTicket

            self._templates = list(
                RepairTicket.objects.filter(store__in=self.stores).select_related("store", "device_model", "repair_type", "customer")
                .order_by("-received_at")[:400]
            )
            if not self._templates:
                raise DomainError("There are no tickets to model new ones on; seed the demo data first.")
        return self._templates

    def step(self):
        """One event: a new ticket or the next step of an open one. Returns a short description."""
        if self.random.random() < NEW_TICKET_SHARE:
            return self.new_ticket()
        return self.advance_ticket() or self.new_ticket()

    def new_ticket(self):
        from workflow.services import create_ticket

        template = self.random.choice(self.templates())
        store = template.store if template.store in self.stores else self.random.choice(self.stores)
        priority = self.random.choices(["low", "normal", "high", "urgent"], [0.15, 0.65, 0.15, 0.05])[0]
        ticket = create_ticket(store=store, device_model=template.device_model, repair_type=template.repair_type,
                               customer=template.customer, priority=priority, user=self.user,
                               fault_description="Simulated activity")
        self.counts["tickets_created"] += 1
        return f"new ticket {ticket.reference} ({template.repair_type.name})"

    def advance_ticket(self):
        from workflow.models import RepairTicket

        candidates = list(
            RepairTicket.objects.filter(store__in=self.stores, status__in=list(NEXT_STEP))
            .order_by("-updated_at").values_list("id", flat=True)[:300]
        )
        if not candidates:
            return None
        ticket = RepairTicket.objects.select_related("store", "repair_type", "device_model").get(pk=self.random.choice(candidates))
        options, weights = zip(*NEXT_STEP[ticket.status])
        target = self.random.choices(options, weights)[0]
        try:
            return self._move(ticket, target)
        except DomainError as exc:  # someone else moved it first, or stock ran out: count and go on
            self.counts["refused"] += 1
            return f"{ticket.reference}: {exc.message}"

    def _move(self, ticket, target):
        from workflow.services import change_status, record_qa

        if target == "qa":
            passed = self.random.random() < QA_PASS_RATE
            record_qa(ticket, passed=passed, user=self.user, checklist={"simulated": True})
            self.counts["qa_recorded"] += 1
            self.counts["status_changes"] += 1
            return f"{ticket.reference}: QA {'passed' if passed else 'failed'}"
        if target == "diagnosing" and ticket.technician_id is None:
            self._assign(ticket)
        if target == "in_repair":
            shortage = self._consume_parts(ticket)
            if shortage and ticket.status != "awaiting_parts":
                change_status(ticket, "awaiting_parts", user=self.user, note=f"Simulated: {shortage} short")
                self.counts["status_changes"] += 1
                return f"{ticket.reference}: awaiting parts ({shortage})"
            if shortage:
                return f"{ticket.reference}: still waiting for {shortage}"
        change_status(ticket, target, user=self.user, note="Simulated activity")
        self.counts["status_changes"] += 1
        return f"{ticket.reference}: {target}"

    def _assign(self, ticket):
        from workflow.models import Technician
        from workflow.services import assign_technician

        required = set(ticket.repair_type.required_skills.values_list("id", flat=True))
        technicians = [t for t in Technician.objects.filter(store=ticket.store, is_active=True).prefetch_related("skills")
                       if required <= {s.id for s in t.skills.all()}]
        if technicians:
            assign_technician(ticket, self.random.choice(technicians), user=self.user)
            self.counts["assignments"] += 1

    def _consume_parts(self, ticket):
        """Take the repair's bill of parts from the store; returns the SKU that is short, if any."""
        from django.db.models import Q

        from inventory.models import Stock
        from inventory.services import consume_for_ticket
        from workflow.models import RepairTypePart

        if ticket.part_movements.exists():
            return None  # parts were taken on an earlier pass through in_repair
        lines = list(RepairTypePart.objects.filter(repair_type=ticket.repair_type)
                     .filter(Q(device_model=ticket.device_model) | Q(device_model__isnull=True)).select_related("part"))
        for line in lines:
            stock = Stock.objects.filter(part=line.part, store=ticket.store).first()
            if stock is None or stock.on_hand < line.quantity:
                return line.part.sku
        for line in lines:
            consume_for_ticket(ticket, line.part, line.quantity, user=self.user)
            self.counts["parts_consumed"] += line.quantity
        return None

    def run(self, rate, duration=None, stop=None, report=None):
        """Emit events at `rate` per second (Poisson arrivals) for `duration` seconds or until `stop` is set."""
        started = time.monotonic()
        stop = stop or threading.Event()
        while not stop.is_set():
            if duration and time.monotonic() - started >= duration:
                break
            try:
                what = self.step()
            except DomainError as exc:
                self.counts["refused"] += 1
                what = exc.message
            if report:
                report(what)
            stop.wait(self.random.expovariate(rate))
        return self.counts


def run_simulation(rate=1.0, duration=120, store_codes=None, seed=None):
    """Background-job entry point (mlanalytics.core.jobs): run inside the web process or a worker."""
    close_old_connections()
    simulator = ActivitySimulator(store_codes=store_codes, seed=seed)
    counts = simulator.run(rate, duration)
    log.info("simulated activity for %s s at %s/s: %s", duration, rate, counts)
    return counts
