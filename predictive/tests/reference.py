"""Figures computed independently of the predictive app, straight from the ORM, for the tests to compare
the app's answers with (shared by the API and planted-truth tests)."""
from datetime import datetime, time, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone


def local_midnight(day):
    return timezone.make_aware(datetime.combine(day, time()))


def qualified_suppliers_from_orders(end):
    """Suppliers whose orders of the year up to `end` arrived on time (local delivery date on or before the
    promised one) and sound often enough for the PREDICTIVE_QUALIFIED_* settings."""
    from inventory.models import POReceipt, PurchaseOrder, Supplier

    start, stop = local_midnight(end - timedelta(days=364)), local_midnight(end + timedelta(days=1))
    orders = (PurchaseOrder.objects.filter(ordered_at__gte=start, ordered_at__lt=stop, received_at__isnull=False, expected_at__isnull=False)
              .exclude(status__in=["draft", "cancelled"])
              .annotate(got=TruncDate("received_at"), due=TruncDate("expected_at"))
              .values("supplier__code").annotate(n=Count("id"), on_time=Count("id", filter=Q(got__lte=F("due")))))
    quality = {code: bad / units for code, units, bad in POReceipt.objects.filter(received_at__gte=start)
               .values("line__po__supplier__code").annotate(units=Sum("quantity"), bad=Sum("defective"))
               .values_list("line__po__supplier__code", "units", "bad") if units}
    active = set(Supplier.objects.filter(is_active=True).values_list("code", flat=True))
    return {row["supplier__code"] for row in orders
            if row["supplier__code"] in active and row["n"] >= settings.PREDICTIVE_QUALIFIED_MIN_DELIVERIES
            and row["on_time"] / row["n"] >= settings.PREDICTIVE_QUALIFIED_MIN_ON_TIME
            and quality.get(row["supplier__code"], 0.0) <= settings.PREDICTIVE_QUALIFIED_MAX_DEFECT}


def overpaid_against_qualified(store, supplier, since, end):
    """What a store's purchase lines from a supplier ordered on the local days since..end cost above the
    cheapest offer of a qualified supplier (valid on the order date; the quantity rounded up to the offer's
    pack size and minimum order). Returns (overpaid, lines above it)."""
    from inventory.models import PurchaseOrderLine, SupplierPrice

    offers = {}
    for part, price, moq, pack, valid_from in SupplierPrice.objects.filter(supplier__code__in=qualified_suppliers_from_orders(end)).values_list(
            "part_id", "unit_price", "min_order_qty", "pack_size", "valid_from"):
        offers.setdefault(part, []).append((float(price), moq, pack, valid_from))
    lines = (PurchaseOrderLine.objects.filter(po__store__code=store, po__supplier__code=supplier, po__ordered_at__gte=local_midnight(since),
                                              po__ordered_at__lt=local_midnight(end + timedelta(days=1)))
             .exclude(po__status__in=["draft", "cancelled"]).values_list("part_id", "unit_price", "quantity", "po__ordered_at"))
    overpaid, count = 0.0, 0
    for part, price, qty, ordered_at in lines:
        day = timezone.localdate(ordered_at)
        costs = [p * max(-(-qty // pack) * pack, moq) for p, moq, pack, valid in offers.get(part, []) if valid is None or valid <= day]
        if costs and float(price) * qty - min(costs) > 0.005 * qty:
            overpaid += float(price) * qty - min(costs)
            count += 1
    return overpaid, count


def finished_jobs(store_codes, since, end):
    """(repair type, labour minutes, total cost) of the finished, non-warranty jobs with a technician received
    at the stores on the local days since..end; total cost = parts + minutes × the technician's hourly cost."""
    from workflow.models import RepairTicket

    rows = RepairTicket.objects.filter(store__code__in=store_codes, received_at__gte=local_midnight(since),
                                       received_at__lt=local_midnight(end + timedelta(days=1)), labour_minutes__isnull=False,
                                       technician__isnull=False, warranty_of__isnull=True)
    return [(code, minutes, float(parts) + minutes * float(rate) / 60) for code, minutes, parts, rate in
            rows.values_list("repair_type__code", "labour_minutes", "parts_cost", "technician__hourly_cost")]


def labour_spread_by_repair_type(jobs, min_tickets=20):
    """Per repair type with enough jobs: tickets, median and mean minutes, 1.4826 × MAD of log minutes."""
    by_type = {}
    for code, minutes, _ in jobs:
        if minutes > 0:
            by_type.setdefault(code, []).append(minutes)
    out = {}
    for code, minutes in by_type.items():
        if len(minutes) >= min_tickets:
            logs = np.log(minutes)
            out[code] = {"tickets": len(minutes), "median_minutes": float(np.median(minutes)), "mean_minutes": float(np.mean(minutes)),
                         "log_spread": float(1.4826 * np.median(np.abs(logs - np.median(logs))))}
    return out
