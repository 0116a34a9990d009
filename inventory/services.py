"""Writes to stock and purchasing. `move_stock()` is the only code that changes a Stock row, and it
always writes the matching ledger movement in the same transaction, under a row lock, so two
concurrent consumers can never both take the last unit nor lose an update."""
import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone

from mlanalytics.core import audit, live
from mlanalytics.core import cache as result_cache
from mlanalytics.core.errors import DomainError, InsufficientStock

from .errors import DecisionConflict

from .models import (
    POReceipt,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderDecision,
    Stock,
    StockMovement,
    StockPolicy,
    StockPolicyRefresh,
    StockReplay,
    StockReservation,
)
from .signals import stock_changed

log = logging.getLogger(__name__)

INBOUND = {StockMovement.Kind.RECEIPT, StockMovement.Kind.TRANSFER_IN, StockMovement.Kind.RETURN}
OUTBOUND = {StockMovement.Kind.CONSUMPTION, StockMovement.Kind.TRANSFER_OUT}


def _locked_stock(part, store):
    """The stock row for part (instance or id) and store, created if missing, locked for this transaction."""
    part_id = getattr(part, "pk", part)
    try:
        with transaction.atomic():
            Stock.objects.get_or_create(part_id=part_id, store=store)
    except IntegrityError:  # created concurrently by another transaction: fine, it exists now
        pass
    return Stock.objects.select_for_update().select_related("part", "store").get(part_id=part_id, store=store)


def stock_event_payload(stock, status=None):
    """What the live stock monitor receives for a stock row: quantities and, when the part has a stored
    policy, its status (ok / low / critical / out / over), days of cover and projected stockout."""
    payload = {
        "sku": stock.part.sku,
        "part_id": stock.part_id,
        "store": stock.store.code,
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
        "available": stock.available,
    }
    if status:
        payload.update({key: status[key] for key in (
            "status", "reorder_point", "max_level", "on_order", "days_of_cover", "projected_stockout_date")})
    return payload


def _status_for_event(stock):
    """The stock row's status for the live event; never lets a status problem stop a stock movement."""
    from .selectors import stock_status_of

    try:
        return stock_status_of(stock)
    except Exception:  # the movement matters more than its decoration
        log.warning("stock status for %s@%s not computed", stock.part_id, stock.store_id, exc_info=True)
        return None


def move_stock(part, store, kind, quantity, *, at=None, ticket=None, po_line=None, supplier=None, user=None,
               reason="", unit_cost=None, transfer_ref="", own_reservation=0):
    """Record one ledger movement and apply it to the stock row, atomically.

    `quantity` is the size of the movement; its sign follows from `kind` (receipts add, consumption
    removes; an adjustment takes the sign given). Raises InsufficientStock instead of going negative,
    and instead of taking units reserved for other tickets' committed repairs: an outbound movement may
    take what is available plus `own_reservation` (the units held for the consuming ticket itself). A
    stock-take adjustment is the count of the shelf and is never refused.
    """
    if kind not in StockMovement.Kind.values:
        raise DomainError(f"Unknown movement kind '{kind}'.", field="kind")
    quantity = int(quantity)
    if quantity == 0:
        raise DomainError("A stock movement needs a non-zero quantity.", field="quantity")
    if kind in INBOUND:
        signed = abs(quantity)
    elif kind in OUTBOUND:
        signed = -abs(quantity)
    else:
        signed = quantity
    if kind == StockMovement.Kind.ADJUSTMENT and not reason:
        raise DomainError("An adjustment needs a reason.", field="reason")

    with transaction.atomic():
        stock = _locked_stock(part, store)
        new_balance = stock.on_hand + signed
        if new_balance < 0:
            raise InsufficientStock(
                f"Only {stock.on_hand} of {part.sku} on hand at {store.code}; cannot take {-signed}."
            )
        if kind in OUTBOUND:
            held_for_others = max(stock.reserved - int(own_reservation), 0)
            free = max(stock.on_hand - held_for_others, 0)
            if -signed > free:
                raise InsufficientStock(
                    f"Only {free} of {part.sku} free at {store.code} ({held_for_others} reserved for other repairs); "
                    f"cannot take {-signed}."
                )
        stock.on_hand = new_balance
        stock.save(update_fields=["on_hand", "updated_at"])
        movement = StockMovement.objects.create(
            part=part, store=store, kind=kind, quantity=signed, balance_after=new_balance,
            unit_cost=unit_cost if unit_cost is not None else part.unit_cost,
            at=at or timezone.now(), ticket=ticket, po_line=po_line, supplier=supplier, user=user,
            reason=reason, transfer_ref=transfer_ref,
        )
        status = _status_for_event(stock)
        # The browser gets the stock change first, then whatever the receivers raise (e.g. an alert).
        live.publish("stock", {**stock_event_payload(stock, status), "movement": kind, "quantity": signed}, store.id)
        stock_changed.send(sender=Stock, stock=stock, movement=movement, status=status)
        result_cache.bump_on_commit("stock")
    return movement


def last_supplier_of(part, store):
    """The supplier of the most recent receipt of the part at the store: the lot now being used."""
    receipt = (
        StockMovement.objects.filter(part=part, store=store, kind=StockMovement.Kind.RECEIPT, supplier__isnull=False)
        .select_related("supplier")
        .order_by("-at", "-id")
        .first()
    )
    return receipt.supplier if receipt else None


def consume_for_ticket(ticket, part, quantity=1, *, user=None, at=None):
    """Take parts from the ticket's store for its repair and add their cost to the ticket. Units held for
    the ticket are used first and their reservation released; the rest must be free stock."""
    quantity = abs(int(quantity))
    with transaction.atomic():
        # The ticket row first, then stock rows: the order a status change takes them in (change_status
        # locks the ticket, its reservation receiver the stock rows), so the two cannot deadlock.
        type(ticket).objects.select_for_update().filter(pk=ticket.pk).values_list("pk", flat=True).first()
        stock = _locked_stock(part, ticket.store)
        reservation = StockReservation.objects.select_for_update().filter(ticket=ticket, part=part).first()
        # Units held at the store the part is taken from count as the ticket's own.
        own = reservation.quantity if reservation and reservation.store_id == ticket.store_id else 0
        movement = move_stock(
            part, ticket.store, StockMovement.Kind.CONSUMPTION, quantity, ticket=ticket, user=user, at=at,
            supplier=last_supplier_of(part, ticket.store), own_reservation=own,
        )
        if own:
            _release(stock, reservation, min(own, quantity))
        type(ticket).objects.filter(pk=ticket.pk).update(parts_cost=F("parts_cost") + part.unit_cost * quantity)
    return movement


# --- Reservations: parts held for committed repairs --------------------------------------------------------

# A ticket's parts are committed once the repair is agreed: it waits for them or is being repaired.
COMMITTING_STATUSES = ("awaiting_parts", "in_repair")
# Leaving the repair (finished or cancelled) releases whatever is still held.
RELEASING_STATUSES = ("ready", "collected", "cancelled")


def bill_of_parts(ticket):
    """{part id: units} the ticket's repair type uses for its device model (a model-specific bill line
    replaces the generic one of the same part)."""
    from workflow.models import RepairTypePart

    lines = RepairTypePart.objects.filter(repair_type_id=ticket.repair_type_id).filter(
        Q(device_model_id=ticket.device_model_id) | Q(device_model__isnull=True)).values_list("part_id", "device_model_id", "quantity")
    bill = {}
    for part_id, model_id, quantity in sorted(lines, key=lambda line: line[1] is not None):
        bill[part_id] = int(quantity)  # the model-specific line, sorted last, wins
    return bill


def _consumed_by_ticket(ticket):
    return {part_id: -int(total) for part_id, total in StockMovement.objects.filter(
        ticket=ticket, kind=StockMovement.Kind.CONSUMPTION).values("part_id").annotate(t=Sum("quantity")).values_list("part_id", "t")}


def _reserved_changed(stock):
    """After commit: the live stock event (reserved and available changed) and the stockout check."""
    status = _status_for_event(stock)
    live.publish("stock", {**stock_event_payload(stock, status), "movement": "reservation", "quantity": 0}, stock.store_id)
    part_id, store_id = stock.part_id, stock.store_id
    transaction.on_commit(lambda: evaluate_stockout_alert_safely(part_id, store_id))
    result_cache.bump_on_commit("stock")


def _release(stock, reservation, quantity):
    """Give back `quantity` units of a reservation (row already locked with its stock row)."""
    quantity = min(int(quantity), reservation.quantity)
    if quantity <= 0:
        return 0
    stock.reserved = max(stock.reserved - quantity, 0)
    stock.save(update_fields=["reserved", "updated_at"])
    if reservation.quantity == quantity:
        reservation.delete()
    else:
        reservation.quantity -= quantity
        reservation.save(update_fields=["quantity", "updated_at"])
    _reserved_changed(stock)
    return quantity


def reserve_ticket_parts(ticket):
    """Hold the ticket's bill of parts at its store: for each part, the bill's units not yet consumed by
    the ticket and not yet held for it. Idempotent. A reservation may exceed what is on the shelf: the
    excess is back-ordered (the repair waits for the delivery) and lowers the stock position the
    reorder policy sees. Returns {part id: units newly reserved}."""
    bill = bill_of_parts(ticket)
    if not bill:
        return {}
    added = {}
    with transaction.atomic():
        consumed = _consumed_by_ticket(ticket)
        held = dict(StockReservation.objects.filter(ticket=ticket).values_list("part_id", "quantity"))
        # Stock rows are locked in part-id order, as everywhere, so two tickets cannot deadlock.
        for part_id in sorted(bill):
            need = bill[part_id] - consumed.get(part_id, 0) - held.get(part_id, 0)
            if need <= 0:
                continue
            stock = _locked_stock(part_id, ticket.store)
            reservation = StockReservation.objects.select_for_update().filter(ticket=ticket, part_id=part_id).first()
            if reservation is None:
                StockReservation.objects.create(ticket=ticket, part_id=part_id, store_id=ticket.store_id, quantity=need)
            else:
                reservation.quantity += need
                reservation.save(update_fields=["quantity", "updated_at"])
            stock.reserved += need
            stock.save(update_fields=["reserved", "updated_at"])
            _reserved_changed(stock)
            added[part_id] = need
    return added


def release_ticket_parts(ticket):
    """Give back everything still held for the ticket (cancelled, finished without using it, or deleted),
    each reservation at the store it was made at. Returns {part id: units released}."""
    released = {}
    with transaction.atomic():
        for reservation in StockReservation.objects.filter(ticket_id=ticket.pk).order_by("part_id"):
            stock = _locked_stock(reservation.part_id, reservation.store)
            reservation = StockReservation.objects.select_for_update().filter(pk=reservation.pk).first()
            if reservation is not None:
                released[reservation.part_id] = _release(stock, reservation, reservation.quantity)
    return released


def rebuild_reservations(store_ids=None):
    """Recompute every reservation from the open tickets (e.g. after loading data that has none): each
    ticket whose parts are committed (COMMITTING_STATUSES, or quality_check after them) holds its bill of
    parts minus what it consumed. Replaces the stores' reservations and sets Stock.reserved to their
    sums, in one transaction with the stock rows locked. Returns the number of units reserved."""
    import pandas as pd

    from mlanalytics.core.models import Store
    from workflow.models import RepairTicket, RepairTypePart

    if store_ids is None:
        store_ids = list(Store.objects.values_list("id", flat=True))
    store_ids = sorted(set(store_ids))
    tickets = pd.DataFrame(list(RepairTicket.objects.filter(store_id__in=store_ids, status__in=(*COMMITTING_STATUSES, "quality_check"))
                                .values_list("id", "store_id", "repair_type_id", "device_model_id")),
                           columns=["ticket_id", "store_id", "repair_type_id", "device_model_id"])
    bill = pd.DataFrame(list(RepairTypePart.objects.values_list("repair_type_id", "device_model_id", "part_id", "quantity")),
                        columns=["repair_type_id", "bill_model_id", "part_id", "quantity"])
    rows = pd.DataFrame(columns=["ticket_id", "store_id", "part_id", "quantity"])
    if len(tickets) and len(bill):
        joined = tickets.merge(bill, on="repair_type_id")
        joined = joined[joined.bill_model_id.isna() | (joined.bill_model_id == joined.device_model_id)]
        # The model-specific bill line replaces the generic one of the same part.
        joined = joined.assign(specific=joined.bill_model_id.notna()).sort_values("specific")
        joined = joined.drop_duplicates(["ticket_id", "part_id"], keep="last")
        consumed = pd.DataFrame(list(StockMovement.objects.filter(ticket_id__in=tickets.ticket_id.tolist(), kind=StockMovement.Kind.CONSUMPTION)
                                     .values("ticket_id", "part_id").annotate(used=Sum("quantity")).values_list("ticket_id", "part_id", "used")),
                                columns=["ticket_id", "part_id", "used"])
        joined = joined.merge(consumed, on=["ticket_id", "part_id"], how="left")
        joined["quantity"] = joined.quantity + joined.used.fillna(0).astype(int)  # consumption is negative
        rows = joined[joined.quantity > 0][["ticket_id", "store_id", "part_id", "quantity"]]
    totals = rows.groupby(["store_id", "part_id"]).quantity.sum().to_dict() if len(rows) else {}
    with transaction.atomic():
        StockReservation.objects.filter(store_id__in=store_ids).delete()
        locked = {(s.store_id, s.part_id): s for s in Stock.objects.select_for_update().filter(store_id__in=store_ids)}
        missing = [Stock(store_id=store_id, part_id=part_id) for store_id, part_id in totals if (store_id, part_id) not in locked]
        for stock in Stock.objects.bulk_create(missing, batch_size=2000):
            locked[(stock.store_id, stock.part_id)] = stock
        StockReservation.objects.bulk_create(
            [StockReservation(ticket_id=int(r.ticket_id), store_id=int(r.store_id), part_id=int(r.part_id), quantity=int(r.quantity))
             for r in rows.itertuples(index=False)], batch_size=2000)
        changed = []
        for key_, stock in locked.items():
            reserved = int(totals.get(key_, 0))
            if stock.reserved != reserved:
                stock.reserved = reserved
                changed.append(stock)
        Stock.objects.bulk_update(changed, ["reserved"], batch_size=2000)
        result_cache.bump_on_commit("stock")
    return int(sum(totals.values()))


def reservations_on_status_change(ticket, to_status):
    """A ticket's status change commits or frees its parts (called inside the status change's transaction)."""
    if to_status in COMMITTING_STATUSES:
        return reserve_ticket_parts(ticket)
    if to_status in RELEASING_STATUSES:
        return release_ticket_parts(ticket)
    return {}


def adjust_stock(part, store, counted, *, user, reason):
    """Set on-hand to a counted figure through an adjustment movement (stock-take). No-op if equal."""
    with transaction.atomic():
        stock = _locked_stock(part, store)
        delta = int(counted) - stock.on_hand
        if delta == 0:
            return None
        movement = move_stock(part, store, StockMovement.Kind.ADJUSTMENT, delta, user=user, reason=reason)
        audit.record(user, "stock.adjust", stock, changes={"from": stock.on_hand, "to": int(counted), "reason": reason})
        return movement


def transfer_stock(part, from_store, to_store, quantity, *, user=None, reason=""):
    """Move units between branches: two movements sharing a transfer reference, in one transaction."""
    if from_store.pk == to_store.pk:
        raise DomainError("A transfer needs two different stores.", field="to_store")
    ref = f"TR-{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        # Lock both rows in store-id order so two opposite transfers cannot deadlock.
        for store in sorted((from_store, to_store), key=lambda s: s.pk):
            _locked_stock(part, store)
        out = move_stock(part, from_store, StockMovement.Kind.TRANSFER_OUT, quantity, user=user, reason=reason, transfer_ref=ref)
        into = move_stock(part, to_store, StockMovement.Kind.TRANSFER_IN, quantity, user=user, reason=reason, transfer_ref=ref)
        audit.record(user, "stock.transfer", object_type="inventory.part", object_id=str(part.pk), store=from_store,
                     changes={"to": to_store.code, "quantity": int(quantity), "ref": ref})
    return out, into


def receive_po_line(line, quantity, *, defective=0, at=None, user=None):
    """Book a delivery against a PO line: good units go into stock, defective ones are recorded only."""
    quantity, defective = int(quantity), int(defective)
    if quantity <= 0:
        raise DomainError("Received quantity must be positive.", field="quantity")
    if not 0 <= defective <= quantity:
        raise DomainError("Defective units must be between 0 and the quantity received.", field="defective")
    at = at or timezone.now()
    with transaction.atomic():
        line = PurchaseOrderLine.objects.select_for_update().select_related("po", "part").get(pk=line.pk)
        po = line.po
        if po.status in (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED):
            raise DomainError(f"Purchase order {po.number} is {po.get_status_display().lower()}; it cannot be received.")
        POReceipt.objects.create(line=line, received_at=at, quantity=quantity, defective=defective)
        line.quantity_received += quantity
        line.quantity_defective += defective
        line.save(update_fields=["quantity_received", "quantity_defective"])
        good = quantity - defective
        if good:
            move_stock(line.part, po.store, StockMovement.Kind.RECEIPT, good, at=at, po_line=line, supplier=po.supplier,
                       user=user, unit_cost=line.unit_price)
        lines = list(po.lines.all())
        if all(item.quantity_received - item.quantity_defective >= item.quantity for item in lines):
            po.status, po.received_at = PurchaseOrder.Status.RECEIVED, at
        else:
            po.status = PurchaseOrder.Status.PARTIAL
        po.save(update_fields=["status", "received_at"])
        audit.record(user, "po.receive", po, changes={"line": line.pk, "quantity": quantity, "defective": defective})
        result_cache.bump_on_commit("purchasing")
        # Units on order changed (even when every unit was defective and nothing reached the shelf).
        _recheck_after_purchasing(po.store_id, [line.part_id])
    return line


def place_purchase_order(po, *, user=None, at=None):
    """Turn a draft into an ordered PO, with its expected date from the supplier's lead time."""
    if po.status != PurchaseOrder.Status.DRAFT:
        raise DomainError(f"Purchase order {po.number} is not a draft.")
    at = at or timezone.now()
    po.status = PurchaseOrder.Status.ORDERED
    po.ordered_at = at
    po.expected_at = at + timezone.timedelta(days=po.supplier.quoted_lead_time_days)
    with transaction.atomic():
        po.save(update_fields=["status", "ordered_at", "expected_at"])
        audit.record(user, "po.place", po)
        result_cache.bump_on_commit("purchasing")
        # What is now on order may lift a projected stockout: re-check its alerts once this commits.
        _recheck_after_purchasing(po.store_id, list(po.lines.values_list("part_id", flat=True)))
    return po


def _recheck_after_purchasing(store_id, part_ids):
    """After commit: re-evaluate the projected-stockout alert of each part at the store (units on order
    changed) and tell the live monitor its new on-order figure and status."""
    part_ids = sorted(set(part_ids))

    def recheck():
        for part_id in part_ids:
            evaluate_stockout_alert_safely(part_id, store_id)
            stock = Stock.objects.select_related("part", "store").filter(part_id=part_id, store_id=store_id).first()
            if stock is not None:
                live.publish("stock", {**stock_event_payload(stock, _status_for_event(stock)), "movement": "on_order",
                                       "quantity": 0}, store_id)
        result_cache.bump("stock")

    transaction.on_commit(recheck)


def line_value(line):
    return (line.unit_price or Decimal(0)) * line.quantity


# --- Stored reorder policies ------------------------------------------------------------------------

POLICY_STORE_CHUNK = 10  # stores computed together: bounds memory at the large scale


def refresh_stock_policies(store_ids=None, now=None):
    """Recompute and store the recommended policy of every part at the stores (default: all active).

    Upserts one StockPolicy row per (store, part) and removes rows of pairs that no longer exist.
    Returns the number of rows written.
    """
    from mlanalytics.core.models import Store

    from .selectors import compute_policies, forecast_model_block

    if store_ids is None:
        store_ids = list(Store.objects.filter(is_active=True).values_list("id", flat=True))
    store_ids = sorted(set(store_ids))
    now = now or timezone.now()
    written = 0
    fields = [f.name for f in StockPolicy._meta.concrete_fields if f.name not in ("id", "store", "part")]
    for i in range(0, len(store_ids), POLICY_STORE_CHUNK):
        chunk = store_ids[i:i + POLICY_STORE_CHUNK]
        frame = compute_policies(chunk)
        rows = [
            StockPolicy(
                store_id=int(r.store_id), part_id=int(r.part_id), computed_at=now, demand_class=str(r.demand_class)[:12],
                forecast_method=str(r.method or "")[:60], daily_mean=float(r.daily_mean), daily_sd=float(r.daily_sd),
                adi=_finite_or_none(r.adi), cv2=_finite_or_none(r.cv2),
                forecast_backtest=r.backtest if isinstance(r.backtest, dict) else {},
                model_version="" if pd_isna(r.model_version) else str(r.model_version)[:40],
                trained_at=None if pd_isna(r.trained_at) else r.trained_at,
                service_level=float(r.service_level), policy_method=str(r.policy_method),
                supplier_id=None if pd_isna(r.supplier_id) else int(r.supplier_id),
                unit_price=float(r.unit_price), lead_time_days=float(r.lead_time_mean), lead_time_sd=float(r.lead_time_sd),
                review_days=float(r.review_days), protection_demand=float(r.protection_demand), protection_sd=float(r.protection_sd),
                safety_stock=float(r.safety_stock), reorder_point=int(r.reorder_point), order_qty=int(r.order_qty),
                eoq=float(r.eoq), max_level=int(r.max_level), annual_cost=float(r.annual_cost),
                lead_time_source=str(r.lead_time_source) if isinstance(r.lead_time_source, str) else "delivered",
            )
            for r in frame.itertuples(index=False)
        ]
        summaries = {store_id: forecast_model_block(group) for store_id, group in frame.groupby("store_id")}
        with transaction.atomic():
            StockPolicy.objects.bulk_create(rows, batch_size=2000, update_conflicts=True,
                                            unique_fields=["store", "part"], update_fields=fields)
            StockPolicy.objects.filter(store_id__in=chunk, computed_at__lt=now).delete()
            for store_id in chunk:
                StockPolicyRefresh.objects.update_or_create(
                    store_id=store_id, defaults={"computed_at": now, "forecast": summaries.get(store_id, {})})
        written += len(rows)
    result_cache.bump("purchasing")
    return written


def _finite_or_none(value):
    import math

    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def ensure_stock_policies(store_ids):
    """Make sure the stores have stored policies: compute them now for a store that has none (first
    use), and refresh in the background those older than INVENTORY_POLICY_MAX_AGE_MINUTES."""
    from django.core.cache import cache

    from mlanalytics.core import jobs

    store_ids = list(store_ids)
    if not store_ids:
        return
    oldest = dict(StockPolicyRefresh.objects.filter(store_id__in=store_ids).values_list("store_id", "computed_at"))
    missing = [s for s in store_ids if s not in oldest]
    if missing:
        refresh_stock_policies(missing)
    limit = timezone.now() - timedelta(minutes=settings.INVENTORY_POLICY_MAX_AGE_MINUTES)
    stale = sorted(s for s, at in oldest.items() if at < limit)
    # One background refresh at a time, whoever notices first.
    if stale and cache.add("inventory-policy-refresh-running", 1, timeout=600):
        transaction.on_commit(lambda: jobs.enqueue("inventory.tasks.refresh_policies_job", stale))


# --- Stored cost-optimization replays ------------------------------------------------------------------------

REPLAY_DAYS = 365  # what is stored: the endpoint's default window, at each part's own service level


def refresh_stock_replays(store_ids=None, now=None):
    """Replay the last REPLAY_DAYS days of the stores through today's ordering, the recommended policy and
    its out-of-sample twin (`selectors.policy_replay`), and store each store's totals (`StockReplay`),
    so cost-optimization answers by adding stores up. Run after the policies are refreshed (the
    recommended policy is the stored one). Returns the number of stores written."""
    from mlanalytics.core.models import Store

    from .selectors import REPLAY_SERVICE_LEVELS, policy_replay, store_replay_summaries

    if store_ids is None:
        store_ids = list(Store.objects.filter(is_active=True).values_list("id", flat=True))
    store_ids = sorted(set(store_ids))
    if not store_ids:
        return 0
    now = now or timezone.now()
    replay = policy_replay(store_ids, REPLAY_DAYS, service_levels=REPLAY_SERVICE_LEVELS)
    summaries = store_replay_summaries(replay)
    with transaction.atomic():
        for store_id in store_ids:
            StockReplay.objects.update_or_create(store_id=store_id, defaults={
                "computed_at": now, "start": replay.start, "end": replay.end, "days": REPLAY_DAYS,
                "summary": summaries.get(store_id, {}),
            })
    result_cache.bump("purchasing")
    return len(store_ids)


def stale_replay_stores(store_ids=None):
    """Stores whose stored replay is missing or whose window no longer ends yesterday."""
    from mlanalytics.core.models import Store

    if store_ids is None:
        store_ids = list(Store.objects.filter(is_active=True).values_list("id", flat=True))
    yesterday = timezone.localdate() - timedelta(days=1)
    current = set(StockReplay.objects.filter(store_id__in=store_ids, end__gte=yesterday).values_list("store_id", flat=True))
    return sorted(set(store_ids) - current)


def ensure_stock_replays(store_ids):
    """The stores' stored replays, never computed inside a request (a year × three policies × monthly
    re-estimates): stores whose replay is missing or whose window no longer ends yesterday
    (`stale_replay_stores`) are replayed in the background, once, whoever asks first. Raises
    ReplayNotReady (503, with how many of the stores are ready) while a store asked about has none;
    otherwise returns ({store id: StockReplay}, stale store ids) — a stale one is served, flagged."""
    from django.core.cache import cache

    from mlanalytics.core import jobs

    from .errors import ReplayNotReady

    store_ids = sorted(set(store_ids))
    stored = {r.store_id: r for r in StockReplay.objects.filter(store_id__in=store_ids)}
    behind = stale_replay_stores(store_ids)
    if behind and cache.add("inventory-policy-refresh-running", 1, timeout=600):
        # Policies and daily summary first (the replay reads them), then the replays of these stores.
        transaction.on_commit(lambda: jobs.enqueue("inventory.tasks.refresh_policies_job", behind))
    missing = [s for s in store_ids if s not in stored]
    if missing:
        raise ReplayNotReady(
            f"The cost replay of {len(missing)} of the {len(store_ids)} store(s) asked about is being computed in the "
            "background; ask again in a few minutes.",
            progress={"stores": len(store_ids), "stores_ready": len(store_ids) - len(missing),
                      "stores_being_computed": len(missing)})
    return stored, [s for s in behind if s in stored]


# --- Projected-stockout alerts ------------------------------------------------------------------------


def stockout_alert_key(store_id, part_id):
    return f"stockout:{store_id}:{part_id}"


def evaluate_stockout_alert(part_id, store_id, status=None):
    """Raise the stockout-risk alert of a part at a store when its stock is projected to run out within
    the supplier's lead time (an order placed now would arrive too late), or resolve it when the
    projection has recovered. One open alert per part and store (dedup key). Returns the alert or None.
    """
    from mlanalytics.core import alerts
    from mlanalytics.core.models import Alert

    from .selectors import stock_status_of

    stock = Stock.objects.select_related("part", "store").filter(part_id=part_id, store_id=store_id).first()
    if stock is None:
        return None
    status = status or stock_status_of(stock)
    key = stockout_alert_key(store_id, part_id)
    at_risk = bool(status) and status["daily_mean"] > 0 and status["days_to_stockout"] is not None \
        and status["days_to_stockout"] <= status["lead_time_days"]
    if not at_risk:
        return alerts.resolve_by_key(key)
    out = status["available"] <= 0
    when = "is out of stock" if out else f"is projected to run out on {status['projected_stockout_date']}"
    title = f"{stock.part.sku} at {stock.store.code} {when}"
    message = (f"{stock.part.name}: {status['available']} available, {status['on_order']} on order, "
               f"lead time {status['lead_time_days']} days, reorder point {status['reorder_point']}.")
    alert, _ = alerts.raise_alert(
        kind=Alert.Kind.STOCKOUT_RISK, dedup_key=key, title=title, message=message, store=stock.store,
        severity=Alert.Severity.CRITICAL if out else Alert.Severity.WARNING, subject_type="part", subject_id=part_id,
        data={"sku": stock.part.sku, **status}, audience_roles=("manager", "staff"),
    )
    return alert


def evaluate_stockout_alert_safely(part_id, store_id):
    """The after-commit hook of every stock movement: an alert problem must never surface to the writer."""
    try:
        evaluate_stockout_alert(part_id, store_id)
        result_cache.bump("alerts")
    except Exception:
        log.exception("stockout alert for part %s at store %s not evaluated", part_id, store_id)


def scan_stockout_alerts(store_ids=None):
    """Evaluate every part at the stores (after a policy refresh: the forecast may have moved).
    Returns (raised or refreshed, resolved) counts."""
    from mlanalytics.core import alerts
    from mlanalytics.core.models import Alert, Store

    from .selectors import stock_positions

    if store_ids is None:
        store_ids = list(Store.objects.filter(is_active=True).values_list("id", flat=True))
    positions = stock_positions(store_ids, detail=False)
    at_risk = positions[(positions.daily_mean > 0) & (positions.days_to_stockout <= positions.lead_time_mean)]
    risky_keys = {stockout_alert_key(int(r.store_id), int(r.part_id)) for r in at_risk.itertuples()}
    raised = 0
    for r in at_risk.itertuples():
        evaluate_stockout_alert(int(r.part_id), int(r.store_id))
        raised += 1
    resolved = 0
    open_alerts = Alert.objects.filter(kind=Alert.Kind.STOCKOUT_RISK, store_id__in=store_ids).exclude(state=Alert.State.RESOLVED)
    for alert in open_alerts:
        if alert.dedup_key not in risky_keys:
            alerts.resolve_alert(alert)
            resolved += 1
    result_cache.bump("alerts")
    return raised, resolved


# --- Acting on reorder suggestions -------------------------------------------------------------------------


def record_reorder_decision(*, part, store, action, user, until=None, quantity=None, proposal=None):
    """Remember a manager's answer to a suggestion for a part at a store.

    snooze           hide the suggestion until `until` (a future date);
    order_once       order `quantity` (default: the suggested quantity) with the next draft purchase
                     orders, without changing the policy; used up by that draft;
    approve_min_max  make the proposed reorder point / maximum (`proposal`) the stock row's min/max.
    A new decision replaces the active snooze or order-once of the part at the store.
    """
    Action = ReorderDecision.Action
    if action not in Action.values:
        raise DomainError(f"Unknown action '{action}'.", field="action")
    if action == Action.SNOOZE and (until is None or until <= timezone.localdate()):
        raise DomainError("A snooze needs a date in the future.", field="until")
    if action == Action.APPROVE_MIN_MAX and not proposal:
        raise DomainError("There is no proposed policy to approve for this part.", field="action")
    with transaction.atomic():
        # Answers for one part and store queue behind its stock row; the partial unique constraints
        # (one active snooze / order-once, one active min/max approval) are the backstop.
        _locked_stock(part, store)
        replaced = [Action.SNOOZE, Action.ORDER_ONCE] if action != Action.APPROVE_MIN_MAX else [Action.APPROVE_MIN_MAX]
        ReorderDecision.objects.filter(part=part, store=store, active=True, action__in=replaced).update(active=False)
        try:
            with transaction.atomic():
                decision = ReorderDecision.objects.create(
                    part=part, store=store, action=action, until=until if action == Action.SNOOZE else None,
                    quantity=quantity, decided_by=user if getattr(user, "is_authenticated", False) else None,
                )
        except IntegrityError as exc:
            raise DecisionConflict(f"Another decision for {part.sku} at {store.code} was just recorded; try again.") from exc
        changes = {"action": action, "until": until.isoformat() if until else None, "quantity": quantity}
        if action == Action.APPROVE_MIN_MAX:
            Stock.objects.get_or_create(part=part, store=store)
            Stock.objects.filter(part=part, store=store).update(
                min_qty=int(proposal["reorder_point"]), max_qty=int(proposal["max_level"]))
            changes.update(min_qty=int(proposal["reorder_point"]), max_qty=int(proposal["max_level"]))
            result_cache.bump_on_commit("stock")
        audit.record(user, f"reorder.{action}", decision, store=store, changes=changes)
        result_cache.bump_on_commit("purchasing")
    return decision


def _open_reorder_draft(store, supplier, user):
    """The open draft of reorder suggestions for a store and supplier, created when there is none.

    Its idempotency key counts the reorder purchase orders of the pair that have left the draft state,
    so two concurrent requests agree on the key and the unique constraint lets only one create it."""
    draft = (PurchaseOrder.objects.select_for_update()
             .filter(store=store, supplier=supplier, source="reorder", status=PurchaseOrder.Status.DRAFT)
             .order_by("created_at", "id").first())
    if draft:
        return draft, False
    generation = PurchaseOrder.objects.filter(store=store, supplier=supplier, source="reorder").exclude(
        status=PurchaseOrder.Status.DRAFT).count() + 1
    key = f"reorder:{store.pk}:{supplier.pk}:{generation}"
    try:
        with transaction.atomic():
            draft = PurchaseOrder.objects.create(
                number=f"RO-{store.code}-S{supplier.pk}-{generation:04d}", supplier=supplier, store=store,
                status=PurchaseOrder.Status.DRAFT, source="reorder", idempotency_key=key,
                created_by=user if getattr(user, "is_authenticated", False) else None,
                notes="Drafted from reorder suggestions.",
            )
        return draft, True
    except IntegrityError:
        return PurchaseOrder.objects.select_for_update().get(idempotency_key=key), False


def create_draft_purchase_orders(lines, *, user, stores=None, part_ids=None):
    """Put suggested order lines into draft purchase orders, one per store and supplier, idempotently.

    `lines`: dicts with store, supplier, part (model instances), quantity, unit_price and optionally
    decision_id (an order-once decision it uses up). A part already on the open draft gets the new
    quantity instead of a second line, so the same suggestions twice change nothing. `stores` and
    `part_ids` (None = every part) say what the suggestions covered: lines of the stores' open reorder
    drafts for parts in that scope that are no longer suggested are removed (a draft left empty is
    deleted), so a reused draft never orders what the policy no longer asks for. A line an order-once
    decision put on the draft stays as the manager set it (`kept_order_once`).
    Returns one dict per draft: the purchase order, whether it was created, what happened per line,
    the lines removed, and whether the draft was deleted.
    """
    groups = {}
    for line in lines:
        groups.setdefault((line["store"].pk, line["supplier"].pk), []).append(line)
    stale_drafts = {}
    if stores:
        for draft in (PurchaseOrder.objects.filter(store__in=stores, source="reorder", status=PurchaseOrder.Status.DRAFT)
                      .select_related("store", "supplier")):
            if (draft.store_id, draft.supplier_id) not in groups:
                stale_drafts[(draft.store_id, draft.supplier_id)] = draft
    results = []
    for key_ in sorted(set(groups) | set(stale_drafts)):
        group = groups.get(key_, [])
        if group:
            store, supplier = group[0]["store"], group[0]["supplier"]
        else:
            store, supplier = stale_drafts[key_].store, stale_drafts[key_].supplier
        with transaction.atomic():
            if group:
                draft, created = _open_reorder_draft(store, supplier, user)
            else:
                draft = PurchaseOrder.objects.select_for_update().filter(pk=stale_drafts[key_].pk, status=PurchaseOrder.Status.DRAFT).first()
                created = False
                if draft is None:
                    continue
            existing = {line.part_id: line for line in PurchaseOrderLine.objects.select_for_update().filter(po=draft).select_related("part")}
            suggested = {item["part"].pk for item in group}
            # A manager's order-once line is the manager's: once drafted its decision is used up, so later runs
            # neither suggest the part for it nor may remove or resize the line.
            ordered_once = set(ReorderDecision.objects.filter(purchase_order=draft, action=ReorderDecision.Action.ORDER_ONCE)
                               .values_list("part_id", flat=True))
            in_scope = None if part_ids is None else set(part_ids)
            removed = [line for part_id, line in existing.items()
                       if part_id not in suggested and part_id not in ordered_once and (in_scope is None or part_id in in_scope)]
            for line in removed:
                line.delete()
            outcome = []
            for item in sorted(group, key=lambda x: x["part"].sku):
                quantity, price = int(item["quantity"]), Decimal(str(round(float(item["unit_price"]), 2)))
                line = existing.get(item["part"].pk)
                if line is not None and line.part_id in ordered_once and not item.get("decision_id"):
                    action = "kept_order_once"
                elif line is None:
                    line = PurchaseOrderLine.objects.create(po=draft, part=item["part"], quantity=quantity, unit_price=price)
                    action = "added"
                elif line.quantity != quantity or line.unit_price != price:
                    line.quantity, line.unit_price = quantity, price
                    line.save(update_fields=["quantity", "unit_price"])
                    action = "updated"
                else:
                    action = "unchanged"
                outcome.append({"line": line, "action": action})
            used = [item["decision_id"] for item in group if item.get("decision_id")]
            if used:
                ReorderDecision.objects.filter(pk__in=used, active=True).update(active=False, purchase_order=draft)
            deleted = not group and not PurchaseOrderLine.objects.filter(po=draft).exists()
            if created or removed or any(o["action"] not in ("unchanged", "kept_order_once") for o in outcome):
                audit.record(user, "po.draft_from_suggestions", draft,
                             changes={"lines": {o["line"].part.sku: o["line"].quantity for o in outcome if o["action"] != "unchanged"},
                                      "removed": sorted(line.part.sku for line in removed), "deleted": deleted})
            if deleted:
                draft.delete()
            result_cache.bump_on_commit("purchasing")
        results.append({"purchase_order": draft, "created": created, "lines": outcome, "removed": removed, "deleted": deleted})
    return results


# --- The PartDay summary of the ledger ---------------------------------------------------------------------


def refresh_part_days(store_ids=None, full=False, now=None):
    """Bring the PartDay summary of the stores up to date from the ledger.

    Rebuilds every day from REDATE_DAYS before the last refresh (a late consumption can re-date demand
    that far back), or the whole history on the first run or with `full`. One store at a time, in one
    transaction each. Returns the number of rows written.
    """
    from mlanalytics.core.models import Store

    from .models import PartDay, PartDayRefresh
    from .selectors import REDATE_DAYS, build_part_days

    if store_ids is None:
        store_ids = list(Store.objects.filter(is_active=True).values_list("id", flat=True))
    now = now or timezone.now()
    written = 0
    for store_id in sorted(set(store_ids)):
        state = PartDayRefresh.objects.filter(store_id=store_id).first()
        if full or state is None:
            first = StockMovement.objects.filter(store_id=store_id).aggregate(first=Min("at"))["first"]
            since = timezone.localtime(first).date() if first else timezone.localdate(now)
        else:
            since = timezone.localtime(state.refreshed_at).date() - timedelta(days=REDATE_DAYS)
        frame, last_id = build_part_days(store_id, since)
        rows = [PartDay(store_id=store_id, part_id=int(r.part_id), day=r.day.date(), needed=int(r.needed), waited=int(r.waited),
                        consumed=int(r.consumed), consumed_cost=float(r.consumed_cost), net=int(r.net),
                        closing_balance=None if pd_isna(r.closing_balance) else int(r.closing_balance))
                for r in frame.itertuples(index=False)]
        with transaction.atomic():
            PartDay.objects.filter(store_id=store_id, day__gte=since).delete()
            PartDay.objects.bulk_create(rows, batch_size=5000)
            PartDayRefresh.objects.update_or_create(
                store_id=store_id, defaults={"refreshed_at": now, "last_movement_id": last_id,
                                             **({"first_day": since} if full or state is None else {})})
        written += len(rows)
    result_cache.bump("stock")
    return written


def pd_isna(value):
    import pandas as pd

    return bool(pd.isna(value))


def ensure_part_days(store_ids):
    """The PartDay summary must cover yesterday completely: build it now for a store that has none,
    top it up now when it was last refreshed before today, and in the background when it is older
    than INVENTORY_POLICY_MAX_AGE_MINUTES."""
    from django.core.cache import cache

    from mlanalytics.core import jobs

    from .models import PartDayRefresh

    store_ids = list(store_ids)
    if not store_ids:
        return
    states = dict(PartDayRefresh.objects.filter(store_id__in=store_ids).values_list("store_id", "refreshed_at"))
    today_start = timezone.make_aware(timezone.datetime.combine(timezone.localdate(), timezone.datetime.min.time()))
    now_needed = [s for s in store_ids if s not in states or states[s] < today_start]
    if now_needed:
        refresh_part_days(now_needed)
    limit = timezone.now() - timedelta(minutes=settings.INVENTORY_POLICY_MAX_AGE_MINUTES)
    stale = sorted(s for s, at in states.items() if at < limit and s not in now_needed)
    if stale and cache.add("inventory-policy-refresh-running", 1, timeout=600):
        transaction.on_commit(lambda: jobs.enqueue("inventory.tasks.refresh_policies_job", stale))
