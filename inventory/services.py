"""Writes to stock and purchasing. `move_stock()` is the only code that changes a Stock row, and it
always writes the matching ledger movement in the same transaction, under a row lock, so two
concurrent consumers can never both take the last unit nor lose an update."""
import uuid
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mlanalytics.core import audit, live
from mlanalytics.core.errors import DomainError, InsufficientStock

from .models import POReceipt, PurchaseOrder, PurchaseOrderLine, Stock, StockMovement
from .signals import stock_changed

INBOUND = {StockMovement.Kind.RECEIPT, StockMovement.Kind.TRANSFER_IN, StockMovement.Kind.RETURN}
OUTBOUND = {StockMovement.Kind.CONSUMPTION, StockMovement.Kind.TRANSFER_OUT}


def _locked_stock(part, store):
    """The stock row for part/store, created if missing, locked for this transaction."""
    try:
        with transaction.atomic():
            Stock.objects.get_or_create(part=part, store=store)
    except IntegrityError:  # created concurrently by another transaction: fine, it exists now
        pass
    return Stock.objects.select_for_update().select_related("part", "store").get(part=part, store=store)


def stock_event_payload(stock):
    return {
        "sku": stock.part.sku,
        "part_id": stock.part_id,
        "store": stock.store.code,
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
        "available": stock.available,
    }


def move_stock(part, store, kind, quantity, *, at=None, ticket=None, po_line=None, supplier=None, user=None,
               reason="", unit_cost=None, transfer_ref=""):
    """Record one ledger movement and apply it to the stock row, atomically.

    `quantity` is the size of the movement; its sign follows from `kind` (receipts add, consumption
    removes; an adjustment takes the sign given). Raises InsufficientStock instead of going negative.
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
        stock.on_hand = new_balance
        stock.save(update_fields=["on_hand", "updated_at"])
        movement = StockMovement.objects.create(
            part=part, store=store, kind=kind, quantity=signed, balance_after=new_balance,
            unit_cost=unit_cost if unit_cost is not None else part.unit_cost,
            at=at or timezone.now(), ticket=ticket, po_line=po_line, supplier=supplier, user=user,
            reason=reason, transfer_ref=transfer_ref,
        )
        stock_changed.send(sender=Stock, stock=stock, movement=movement)
        live.publish("stock", {**stock_event_payload(stock), "movement": kind, "quantity": signed}, store.id)
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
    """Take parts from the ticket's store for its repair and add their cost to the ticket."""
    with transaction.atomic():
        movement = move_stock(
            part, ticket.store, StockMovement.Kind.CONSUMPTION, quantity, ticket=ticket, user=user, at=at,
            supplier=last_supplier_of(part, ticket.store),
        )
        type(ticket).objects.filter(pk=ticket.pk).update(parts_cost=F("parts_cost") + part.unit_cost * abs(int(quantity)))
    return movement


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
    return line


def place_purchase_order(po, *, user=None, at=None):
    """Turn a draft into an ordered PO, with its expected date from the supplier's lead time."""
    if po.status != PurchaseOrder.Status.DRAFT:
        raise DomainError(f"Purchase order {po.number} is not a draft.")
    at = at or timezone.now()
    po.status = PurchaseOrder.Status.ORDERED
    po.ordered_at = at
    po.expected_at = at + timezone.timedelta(days=po.supplier.quoted_lead_time_days)
    po.save(update_fields=["status", "ordered_at", "expected_at"])
    audit.record(user, "po.place", po)
    return po


def line_value(line):
    return (line.unit_price or Decimal(0)) * line.quantity
