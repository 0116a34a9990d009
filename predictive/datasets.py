"""The shop's records as the plain frames the methods in `predictive.ml` take.

Everything here reads the database once, in bulk, and returns pandas objects with local (the shop's
TIME_ZONE) naive timestamps; nothing here fits a model. Training loads one `ShopData` and every model kind reads
from it, so a full training run queries each table once.
"""
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Count, F, Max, Sum
from django.utils import timezone

from mlanalytics.core import shop
from mlanalytics.core.models import Store

WEEK_FREQ = "W-MON"  # weeks start on Monday
MONTH_FREQ = "MS"


def to_local(series):
    """Aware datetimes (UTC from the database) -> naive local wall-clock timestamps."""
    values = pd.to_datetime(series, utc=True)
    return values.dt.tz_convert(local_tz()).dt.tz_localize(None)


def local_tz():
    """The shop's time zone (TIME_ZONE): its days and weeks are the series' periods."""
    return settings.TIME_ZONE


# ---------------------------------------------------------------------------------------------
# Scopes: which slice of the shop a model was trained on
# ---------------------------------------------------------------------------------------------


def scope_key(store_codes=None, all_store_codes=None, **dims):
    """Canonical scope string: "all", "store=LON1", "stores=BHM1,LON1", plus "|key=value" dimensions.

    A store list equal to every active store is written as no store part at all.
    """
    parts = []
    if store_codes:
        codes = sorted(set(store_codes))
        if all_store_codes is None or set(codes) != set(all_store_codes):
            parts.append(f"store={codes[0]}" if len(codes) == 1 else f"stores={','.join(codes)}")
    for key in sorted(dims):
        if dims[key] not in (None, ""):
            parts.append(f"{key}={dims[key]}")
    return "|".join(parts) or "all"


def parse_scope(scope):
    """Inverse of scope_key: {"stores": [codes] or None (all), other dims...}."""
    out = {"stores": None}
    if scope in ("", "all"):
        return out
    for part in scope.split("|"):
        key, _, value = part.partition("=")
        if key == "store":
            out["stores"] = [value]
        elif key == "stores":
            out["stores"] = value.split(",")
        else:
            out[key] = value
    return out


def active_store_codes():
    return list(Store.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))


# ---------------------------------------------------------------------------------------------
# Fingerprint of the data: --if-needed retrains only when it changed
# ---------------------------------------------------------------------------------------------


def data_fingerprint():
    """A digest of row counts, highest ids and last update times of the tables the models read."""
    from inventory.models import PurchaseOrderLine, StockMovement, SupplierPrice
    from workflow.models import Customer, RepairTicket

    parts = [
        RepairTicket.objects.aggregate(n=Count("id"), last=Max("id"), updated=Max("updated_at")),
        StockMovement.objects.aggregate(n=Count("id"), last=Max("id")),
        PurchaseOrderLine.objects.aggregate(n=Count("id"), last=Max("id")),
        SupplierPrice.objects.aggregate(n=Count("id"), last=Max("id")),
        Customer.objects.aggregate(n=Count("id"), last=Max("id")),
        Store.objects.filter(is_active=True).aggregate(n=Count("id"), last=Max("id")),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# Tickets
# ---------------------------------------------------------------------------------------------

TICKET_FIELDS = {
    "id": "id", "store_id": "store_id", "store": "store__code", "customer_id": "customer_id",
    "category": "device_model__category", "brand": "device_model__brand",
    "device_model_id": "device_model_id", "released_on": "device_model__released_on", "repair_type_id": "repair_type_id",
    "repair_type": "repair_type__code", "priority": "priority", "technician_id": "technician_id",
    "technician": "technician__code", "hourly_cost": "technician__hourly_cost", "received_at": "received_at",
    "completed_at": "completed_at", "final_price": "final_price", "labour_minutes": "labour_minutes",
    "parts_cost": "parts_cost", "warranty_of_id": "warranty_of_id", "status": "status",
}


def load_tickets(store_ids=None, since=None, completed_since=None):
    """Every repair ticket as a frame (local times, money as float, labour cost at the technician's rate).

    `since`: only tickets received from then on; `completed_since`: only tickets received or completed
    from then on (what the business metrics of later periods read).
    """
    from django.db.models import Q

    from workflow.models import RepairTicket

    rows = RepairTicket.objects.all()
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if completed_since is not None:
        rows = rows.filter(Q(received_at__gte=completed_since) | Q(completed_at__gte=completed_since))
    frame = pd.DataFrame(list(rows.values_list(*TICKET_FIELDS.values())), columns=list(TICKET_FIELDS))
    if frame.empty:
        return frame
    frame["received_at"] = to_local(frame.received_at)
    frame["completed_at"] = to_local(frame.completed_at)
    for name in ("final_price", "parts_cost", "hourly_cost", "labour_minutes"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    frame["labour_cost"] = frame.labour_minutes.fillna(0) * frame.hourly_cost.fillna(0) / 60
    frame["received_day"] = frame.received_at.dt.normalize()
    frame["completed_day"] = frame.completed_at.dt.normalize()
    return frame


def history_end(tickets):
    """The last complete day of data: the last intake day, but never today (today is still filling up)."""
    if tickets.empty:
        return None
    last = tickets.received_day.max()
    yesterday = pd.Timestamp(timezone.localdate() - timedelta(days=1))
    return min(last, yesterday)


def last_complete_day(store_ids=None):
    """The data end ShopData.load(store_ids) would find (the last intake day of the active stores among
    `store_ids`, never today), from one aggregate query instead of loading the tickets."""
    from workflow.models import RepairTicket

    rows = RepairTicket.objects.filter(store__is_active=True)
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    last = rows.aggregate(last=Max("received_at"))["last"]
    if last is None:
        return None
    return min(timezone.localdate(last), timezone.localdate() - timedelta(days=1))


def daily_counts(tickets, start, end):
    """Tickets received per day over [start, end], zeros filled."""
    days = pd.date_range(start, end, freq="D")
    counts = tickets.groupby("received_day").size()
    return counts.reindex(days, fill_value=0).astype(float)


def complete_periods(start, end, freq):
    """Start dates of the weeks (Mon–Sun) or calendar months lying wholly inside [start, end]."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if freq == WEEK_FREQ:
        first = start + pd.Timedelta(days=(7 - start.weekday()) % 7)
        last = end - pd.Timedelta(days=(end.weekday() + 1) % 7) - pd.Timedelta(days=6)
        return pd.date_range(first, last, freq=WEEK_FREQ) if last >= first else pd.DatetimeIndex([])
    first = start if start.day == 1 else pd.Timestamp(start.year, start.month, 1) + pd.offsets.MonthBegin(1)
    last = pd.Timestamp(end.year, end.month, 1)
    if (end + pd.Timedelta(days=1)).day != 1:  # the month of `end` is not finished
        last = last - pd.offsets.MonthBegin(1)
    return pd.date_range(first, last, freq=MONTH_FREQ) if last >= first else pd.DatetimeIndex([])


def period_of(days, freq):
    """The start of the week (Monday) or month of each day."""
    days = pd.DatetimeIndex(days) if not isinstance(days, pd.Series) else days
    if freq == WEEK_FREQ:
        return days - pd.to_timedelta(days.dt.weekday if isinstance(days, pd.Series) else days.weekday, unit="D")
    return days.dt.to_period("M").dt.start_time if isinstance(days, pd.Series) else days.to_period("M").start_time


BUSINESS_METRICS = ("revenue", "gross_margin", "ticket_count", "average_ticket_value")


def business_metric_series(tickets, freq, start, end):
    """Revenue, gross margin, ticket count and average ticket value per complete week or month.

    revenue: final prices of repairs completed in the period; gross margin: that revenue minus the parts
    and labour cost of every repair completed in the period (warranty comebacks cost without revenue);
    ticket count: tickets received in the period; average ticket value: revenue per paid repair completed.
    """
    periods = complete_periods(start, end, freq)
    frame = pd.DataFrame(index=periods)
    if not len(periods):
        return frame.assign(**{m: [] for m in BUSINESS_METRICS})
    completed = tickets[tickets.completed_day.notna() & (tickets.completed_day <= end)]
    completed = completed[completed.final_price.notna() | completed.warranty_of_id.notna()]
    done_period = period_of(completed.completed_day, freq)
    revenue = completed.final_price.fillna(0).groupby(done_period).sum()
    cost = (completed.parts_cost.fillna(0) + completed.labour_cost).groupby(done_period).sum()
    paid = (completed.final_price.fillna(0) > 0).groupby(done_period).sum()
    received = tickets.groupby(period_of(tickets.received_day, freq)).size()
    frame["revenue"] = revenue.reindex(periods, fill_value=0.0)
    frame["gross_margin"] = frame.revenue - cost.reindex(periods, fill_value=0.0)
    frame["ticket_count"] = received.reindex(periods, fill_value=0).astype(float)
    paid = paid.reindex(periods, fill_value=0)
    frame["average_ticket_value"] = np.where(paid > 0, frame.revenue / paid.replace(0, np.nan), 0.0)
    return frame.fillna(0.0)


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------


@dataclass
class CustomerSummary:
    """Per customer, in weeks: repeat visits x, recency t_x, age T, mean spend of priced repeat visits."""

    customer_id: np.ndarray
    store_id: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray  # mean final price of repeat visits with a price > 0 (0 if none)
    priced_repeats: np.ndarray
    visits: np.ndarray  # all visits including the first
    total_spend: np.ndarray
    first_visit: np.ndarray  # datetime64
    last_visit: np.ndarray
    end: pd.Timestamp

    def __len__(self):
        return len(self.customer_id)

    def subset(self, mask):
        values = {name: getattr(self, name)[mask] for name in self.__dataclass_fields__ if name != "end"}
        return CustomerSummary(**values, end=self.end)

    def arrays(self):
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "end"}


def customer_visits(tickets):
    """Purchases for the customer models: tickets with a customer that are not warranty comebacks."""
    visits = tickets[tickets.customer_id.notna() & tickets.warranty_of_id.isna()].copy()
    visits["customer_id"] = visits.customer_id.astype(np.int64)
    # A customer belongs to the store of their first visit (the demo's customers all have one home store).
    first_store = visits.sort_values("received_at").groupby("customer_id").store_id.first()
    visits["store_of_customer"] = visits.customer_id.map(first_store).astype(np.int64)
    return visits


def summarise_customers(visits, end):
    """BG/NBD / Gamma-Gamma inputs from visits up to `end` (a timestamp; later visits are ignored)."""
    visits = visits[visits.received_at <= end].sort_values("received_at")
    week = pd.Timedelta(days=7)
    grouped = visits.groupby("customer_id")
    first = grouped.received_at.min()
    last = grouped.received_at.max()
    count = grouped.size()
    store = grouped.store_of_customer.first()
    price = visits.final_price.fillna(0)
    total = price.groupby(visits.customer_id).sum()
    # Repeat visits: every visit after the customer's first.
    is_first = ~visits.customer_id.duplicated(keep="first")
    repeats = visits[~is_first]
    priced = repeats[repeats.final_price.fillna(0) > 0]
    priced_count = priced.groupby("customer_id").size().reindex(first.index, fill_value=0)
    priced_mean = priced.groupby("customer_id").final_price.mean().reindex(first.index, fill_value=0.0)
    return CustomerSummary(
        customer_id=first.index.to_numpy(np.int64), store_id=store.to_numpy(np.int64),
        frequency=(count - 1).to_numpy(float), recency=((last - first) / week).to_numpy(float),
        T=((end - first) / week).to_numpy(float), monetary=priced_mean.to_numpy(float),
        priced_repeats=priced_count.to_numpy(float), visits=count.to_numpy(float), total_spend=total.to_numpy(float),
        first_visit=first.to_numpy(), last_visit=last.to_numpy(), end=pd.Timestamp(end),
    )


def repeat_visits_between(visits, customer_ids, start, end):
    """Visits per customer in (start, end] — the holdout actuals of the calibration check."""
    window = visits[(visits.received_at > start) & (visits.received_at <= end)]
    return window.groupby("customer_id").size().reindex(customer_ids, fill_value=0).to_numpy(float)


# ---------------------------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------------------------


def load_consumption(store_ids=None, part_ids=None, since=None):
    """Units consumed by repairs per movement (store_id, part_id, day) from the stock ledger."""
    from inventory.models import StockMovement

    rows = StockMovement.objects.filter(kind=StockMovement.Kind.CONSUMPTION)
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    if part_ids is not None:
        rows = rows.filter(part_id__in=part_ids)
    if since is not None:
        rows = rows.filter(at__gte=since)
    frame = pd.DataFrame(list(rows.values_list("store_id", "part_id", "at", "quantity")), columns=["store_id", "part_id", "at", "quantity"])
    if frame.empty:
        return frame.assign(day=[], units=[])
    frame["day"] = to_local(frame["at"]).dt.normalize()
    frame["units"] = -frame.quantity.astype(float)
    return frame


def weekly_part_demand(consumption, store_ids, part_ids, weeks):
    """Long frame (unique_id "store:part", ds, y) of weekly units consumed, zeros filled, for every pair."""
    index = pd.MultiIndex.from_product([store_ids, part_ids, weeks], names=["store_id", "part_id", "ds"])
    if consumption.empty:
        counts = pd.Series(0.0, index=index)
    else:
        week = period_of(consumption.day, WEEK_FREQ)
        counts = consumption.units.groupby([consumption.store_id, consumption.part_id, week]).sum()
        counts.index.names = ["store_id", "part_id", "ds"]
        counts = counts.reindex(index, fill_value=0.0)
    frame = counts.rename("y").reset_index()
    frame["unique_id"] = frame.store_id.astype(str) + ":" + frame.part_id.astype(str)
    return frame


def part_catalogue():
    """Part id → sku, name, category, unit cost, service level, and the cheapest supplier's lead time."""
    from inventory.models import Part, SupplierPrice

    parts = pd.DataFrame(list(Part.objects.values_list("id", "sku", "name", "category", "unit_cost", "service_level", "is_active")),
                         columns=["part_id", "sku", "name", "category", "unit_cost", "service_level", "is_active"]).set_index("part_id")
    parts["unit_cost"] = parts.unit_cost.astype(float)
    parts["service_level"] = parts.service_level.astype(float)
    prices = pd.DataFrame(list(SupplierPrice.objects.filter(supplier__is_active=True).values_list(
        "part_id", "supplier__code", "unit_price", "lead_time_days")), columns=["part_id", "supplier", "unit_price", "lead_time_days"])
    if len(prices):
        prices["unit_price"] = prices.unit_price.astype(float)
        best = prices.sort_values(["part_id", "unit_price"]).drop_duplicates("part_id").set_index("part_id")
        parts["lead_time_days"] = best.lead_time_days.reindex(parts.index)
        parts["lead_time_supplier"] = best.supplier.reindex(parts.index)
    else:
        parts["lead_time_days"] = np.nan
        parts["lead_time_supplier"] = None
    return parts


# ---------------------------------------------------------------------------------------------
# Costs and purchasing
# ---------------------------------------------------------------------------------------------


def bill_parts_cost():
    """Standard cost of the model-specific bill of parts per (repair type, device model)."""
    from workflow.models import RepairTypePart

    rows = (RepairTypePart.objects.filter(device_model__isnull=False).values_list("repair_type_id", "device_model_id")
            .annotate(cost=Sum(F("part__unit_cost") * F("quantity"))))
    frame = pd.DataFrame(list(rows), columns=["repair_type_id", "device_model_id", "bill_parts_cost"])
    frame["bill_parts_cost"] = frame.bill_parts_cost.astype(float)
    return frame


def cost_frame(tickets, bill):
    """Finished, non-warranty repairs with a technician and labour time, with the cost-model features."""
    done = tickets[tickets.labour_minutes.notna() & tickets.technician_id.notna() & tickets.warranty_of_id.isna()].copy()
    done = done.merge(bill, on=["repair_type_id", "device_model_id"], how="left")
    done["bill_parts_cost"] = done.bill_parts_cost.fillna(0.0)
    released = pd.to_datetime(done.released_on)
    done["device_age_years"] = ((done.received_at - released).dt.days / 365.25).fillna(0.0)
    done["month"] = done.received_at.dt.month
    done["total_cost"] = done.parts_cost.fillna(0) + done.labour_cost
    done["store"] = done.store.astype(str)
    done["device_category"] = done.category
    return done


def load_purchase_lines():
    """Ordered purchase-order lines (drafts and cancelled orders excluded) with store, supplier, price, date."""
    from inventory.models import PurchaseOrder, PurchaseOrderLine

    rows = PurchaseOrderLine.objects.exclude(po__status__in=[PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED])
    frame = pd.DataFrame(list(rows.values_list("id", "part_id", "po__supplier__code", "po__store__code", "quantity", "unit_price", "po__ordered_at")),
                         columns=["line_id", "part", "supplier", "store", "quantity", "unit_price", "ordered_at"])
    frame["unit_price"] = frame.unit_price.astype(float)
    frame["ordered_at"] = to_local(frame.ordered_at)
    return frame


def supplier_record_days():
    """The days of purchase orders up to the data end a supplier's delivery record covers (setting
    PREDICTIVE_SUPPLIER_RECORD_DAYS)."""
    from django.conf import settings

    return settings.PREDICTIVE_SUPPLIER_RECORD_DAYS


def supplier_delivery_records(end, window_days=None, store_ids=None):
    """Per supplier code: purchase orders placed and received, on-time rate, defect rate and mean days
    late over the `window_days` (default supplier_record_days()) up to `end` (a date), over every store's
    orders or only `store_ids`' — the inventory app's supplier scorecard
    (inventory.ml.suppliers.supplier_scorecards) on its purchase-order history and delivery receipts."""
    from inventory import selectors as inventory
    from inventory.ml.suppliers import supplier_scorecards

    window_days = window_days or supplier_record_days()
    history = inventory.purchase_order_history(window_days, store_ids=store_ids, end=end)
    quality = inventory.receipt_quality(window_days, store_ids=store_ids, end=end)
    suppliers = inventory.suppliers_frame().set_index("supplier_id")
    if history.empty:
        cards = pd.DataFrame(index=suppliers.index, columns=["orders_received", "on_time_rate", "defect_rate", "mean_days_late"], dtype=float)
    else:
        cards = supplier_scorecards(history, quality, inventory.price_list(active_only=False))
        cards = cards.set_index("supplier_id").reindex(suppliers.index)
    records = pd.DataFrame({
        "supplier": suppliers.code, "is_active": suppliers.is_active,
        "deliveries": cards.orders_received.fillna(0).astype(int), "on_time_rate": cards.on_time_rate,
        "defect_rate": cards.defect_rate, "mean_days_late": cards.mean_days_late,
    })
    return records.set_index("supplier")


def qualification_rule():
    """The thresholds a supplier's delivery record must meet (settings PREDICTIVE_QUALIFIED_*)."""
    from django.conf import settings

    return {"min_on_time_rate": settings.PREDICTIVE_QUALIFIED_MIN_ON_TIME, "max_defect_rate": settings.PREDICTIVE_QUALIFIED_MAX_DEFECT,
            "min_deliveries": settings.PREDICTIVE_QUALIFIED_MIN_DELIVERIES, "record_days": supplier_record_days()}


def qualified_codes(records, rule):
    """Per supplier code (the index of supplier_delivery_records): True when it is active and its delivery
    record meets the rule (ml.costs.qualified_suppliers)."""
    from .ml.costs import qualified_suppliers

    ok = qualified_suppliers(records, rule["min_on_time_rate"], rule["max_defect_rate"], rule["min_deliveries"])
    return ok & records.is_active.astype(bool)


def qualified_offers(codes):
    """The price-list lines of the active suppliers `codes` (those qualified_codes() accepts): part,
    supplier, price, min_order_qty, pack_size, valid_from as a timestamp or NaT."""
    from inventory.models import SupplierPrice

    rows = SupplierPrice.objects.filter(supplier__is_active=True, supplier__code__in=list(codes)).values_list(
        "part_id", "supplier__code", "unit_price", "min_order_qty", "pack_size", "valid_from")
    frame = pd.DataFrame(list(rows), columns=["part", "supplier", "price", "min_order_qty", "pack_size", "valid_from"])
    frame["price"] = frame.price.astype(float)
    frame["valid_from"] = pd.to_datetime(frame.valid_from)
    return frame


def labour_times(store_ids, since, end):
    """Labour minutes and repair type of the jobs the cost analyses read (finished, not warranty, with a
    technician) received at `store_ids` from the local day `since` to the local day `end`."""
    from workflow.models import RepairTicket

    start = timezone.make_aware(pd.Timestamp(since).normalize().to_pydatetime())
    stop = timezone.make_aware((pd.Timestamp(end).normalize() + pd.Timedelta(days=1)).to_pydatetime())
    rows = RepairTicket.objects.filter(store_id__in=store_ids, received_at__gte=start, received_at__lt=stop, labour_minutes__isnull=False,
                                       technician__isnull=False, warranty_of__isnull=True).values_list("repair_type__code", "labour_minutes")
    frame = pd.DataFrame(list(rows), columns=["repair_type", "labour_minutes"])
    frame["labour_minutes"] = frame.labour_minutes.astype(float)
    return frame


@dataclass
class ShopData:
    """Everything a training run reads, loaded once."""

    tickets: pd.DataFrame
    stores: dict  # id -> code (active stores)
    end: pd.Timestamp | None
    start: pd.Timestamp | None
    extras: dict = field(default_factory=dict)
    regions: dict = field(default_factory=dict)  # id -> the store's holiday calendar (shop.HolidayRegion)

    @classmethod
    def load(cls, store_ids=None):
        """All active stores' tickets (or only `store_ids`'), cut at the last complete day."""
        tickets = load_tickets(store_ids=store_ids)
        active = list(Store.objects.filter(is_active=True).order_by("code").only("id", "code", "holiday_country",
                                                                                   "holiday_subdivision"))
        stores = {s.id: s.code for s in active}
        regions = {s.id: shop.store_region(s) for s in active}
        tickets = tickets[tickets.store_id.isin(stores)] if len(tickets) else tickets
        end = history_end(tickets)
        start = tickets.received_day.min() if len(tickets) else None
        if len(tickets):
            tickets = tickets[tickets.received_day <= end]
        return cls(tickets=tickets, stores=stores, end=end, start=start, regions=regions)

    @property
    def store_codes(self):
        return list(self.stores.values())

    def holiday_region(self, store_ids=None):
        """The holidays a forecast of `store_ids` uses: a store's own (or the one its stores share), else
        the shop's (every store, a category, stores in different countries)."""
        return shop.common_region(self.regions.get(s, shop.shop_region()) for s in store_ids or ())
