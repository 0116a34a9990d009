"""The JSON-ready results of the seven inventory endpoints, composed from the selectors and methods.

Reads only (the writes — decisions and draft purchase orders — are in services.py). The API, the
dashboard pages and the exports all render these same dicts.
"""
import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import F, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from mlanalytics.core.models import Alert

from . import selectors as sel
from .ml import performance as perf
from .ml import policy as pol
from .ml import suppliers as sup
from .errors import UnknownPart
from .ml import replay as rp
from .models import Part, PurchaseOrder, PurchaseOrderLine, ReorderDecision

STATUS_ORDER = {pol.OUT: 0, pol.CRITICAL: 1, pol.LOW: 2, pol.OVER: 3, pol.OK: 4}
URGENCY_ORDER = {"out": 0, "critical": 1, "high": 2, "normal": 3}


def jsonable(value, digits=4):
    """numpy / pandas scalars, dates and non-finite floats -> JSON values."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def records(frame, columns, digits=4):
    return [{c: jsonable(v, digits) for c, v in zip(columns, row)} for row in frame[columns].itertuples(index=False)]


def store_codes(stores):
    return {s.pk: s.code for s in stores}


def policy_settings(service_level=None):
    return {
        "service_level": service_level if service_level is not None else "each part's own (Part.service_level)",
        "holding_cost_rate": settings.INVENTORY_HOLDING_COST_RATE,
        "stockout_cost_per_unit": settings.INVENTORY_STOCKOUT_COST,
        "review_period_days": settings.INVENTORY_REVIEW_PERIOD_DAYS,
        "max_order_cover_days": settings.INVENTORY_MAX_ORDER_COVER_DAYS,
        "late_delivery_weight": settings.INVENTORY_LATE_DELIVERY_WEIGHT,
    }


LEAD_TIME_SOURCES = {
    "quoted": "the supplier's quoted lead time (fewer than 3 deliveries on record)",
    "typical_of_suppliers": "no supplier lists the part: the median delivered lead time and order cost of the shop's suppliers",
    "setting": "no supplier on record: INVENTORY_FALLBACK_LEAD_TIME_DAYS and INVENTORY_FALLBACK_ORDER_COST (assumed)",
}


def policy_assumptions(positions):
    """Which stand-ins the policies of these rows used instead of delivery history, and how many rows each."""
    if not len(positions) or "lead_time_source" not in positions:
        return {"lead_time": {}}
    counts = positions.lead_time_source.value_counts()
    return {"lead_time": {source: {"items": int(counts[source]), "meaning": meaning}
                          for source, meaning in LEAD_TIME_SOURCES.items() if counts.get(source, 0)}}


def forecast_model(store_ids):
    """The `model` block: the parts-demand forecast the stores' policies were computed from."""
    return sel.policy_forecast_summary(store_ids)


def resolve_parts(skus=None, category=None):
    """Part ids for a request's SKU list (case-insensitive; an unknown SKU is a 404) and/or category.
    None means every part."""
    part_ids = None
    if skus:
        wanted = list(dict.fromkeys(s.strip() for s in skus))
        # One query for the whole list (SKUs are unique; compared case-insensitively).
        found = dict(Part.objects.annotate(sku_lower=Lower("sku")).filter(sku_lower__in={sku.lower() for sku in wanted})
                     .values_list("sku_lower", "id"))
        missing = [sku for sku in wanted if sku.lower() not in found]
        if missing:
            raise UnknownPart(f"Unknown SKU: {', '.join(missing)}.")
        part_ids = [found[sku.lower()] for sku in wanted]
    if category:
        qs = Part.objects.filter(category=category)
        if part_ids is not None:
            qs = qs.filter(pk__in=part_ids)
        part_ids = list(qs.values_list("id", flat=True))
    return part_ids


def _position_rows(positions, codes):
    frame = positions.copy(deep=False)  # new columns only: the positions' own arrays are not written
    frame["store"] = frame.store_id.map(codes)
    frame["stock_value"] = frame.on_hand * frame.unit_cost
    frame["days_of_cover"] = frame.days_of_cover.where(np.isfinite(frame.days_of_cover))
    frame["days_to_stockout"] = frame.days_to_stockout.where(np.isfinite(frame.days_to_stockout))
    return frame


# --- GET overview -------------------------------------------------------------------------------------------


def overview(stores):
    """Headline figures of the stores' inventory: SKUs, value, status counts, purchasing, turnover, alerts."""
    store_ids = [s.pk for s in stores]
    codes = store_codes(stores)
    end = sel.today() - timedelta(days=1)
    start = end - timedelta(days=364)
    positions = _position_rows(sel.stock_positions(store_ids, detail=False), codes)
    stock_value = float(positions.stock_value.sum()) if len(positions) else 0.0
    active = positions[positions.is_active.fillna(False).astype(bool) & ((positions.on_hand > 0) | (positions.daily_mean > 0))]
    open_lines = PurchaseOrderLine.objects.filter(po__store_id__in=store_ids, po__status__in=sel.OPEN_PO_STATUSES)
    open_value = open_lines.aggregate(v=Sum((F("quantity") - F("quantity_received")) * F("unit_price")))["v"] or 0
    drafts = PurchaseOrder.objects.filter(store_id__in=store_ids, status=PurchaseOrder.Status.DRAFT)
    draft_value = PurchaseOrderLine.objects.filter(po__in=drafts).aggregate(v=Sum(F("quantity") * F("unit_price")))["v"] or 0
    cogs = sel.consumption_cost(store_ids, start, end)
    average_value = sel.average_inventory_value(sel.inventory_value_history(store_ids, start))
    alerts = (Alert.objects.filter(store_id__in=store_ids, kind=Alert.Kind.STOCKOUT_RISK).exclude(state=Alert.State.RESOLVED)
              .select_related("store").order_by("severity", "-fired_at"))
    severity_rank = {"critical": 0, "warning": 1, "info": 2}
    top_alerts = sorted(alerts[:50], key=lambda a: (severity_rank.get(a.severity, 3), -a.fired_at.timestamp()))[:5]
    from mlanalytics.core.alerts import serialize_alert

    by_store = []
    for store_id, group in positions.groupby("store_id"):
        by_store.append({"store": codes.get(store_id), "stock_value": round(float(group.stock_value.sum()), 2),
                         **sel.status_counts(group)})
    return {
        "data_window": {"stock_as_of": timezone.now().isoformat(), "consumption_from": start.isoformat(), "consumption_to": end.isoformat()},
        "model": forecast_model(store_ids),
        "stores": sorted(codes.values()),
        "active_skus": int(active.part_id.nunique()),
        "stock_lines": len(positions),
        "stock_value": round(stock_value, 2),
        "status_counts": sel.status_counts(positions),
        "open_purchase_orders": {
            "count": PurchaseOrder.objects.filter(store_id__in=store_ids, status__in=sel.OPEN_PO_STATUSES).count(),
            "value": round(float(open_value), 2),
            "drafts": drafts.count(), "draft_value": round(float(draft_value), 2),
        },
        "turnover": {
            "cost_of_parts_used": round(cogs, 2),
            "average_inventory_value": round(average_value, 2),
            "turns_per_year": jsonable(perf.turnover(cogs, average_value), 2),
            "days_of_cover": jsonable(perf.days_of_cover(stock_value, cogs / 365.0), 1),
            "method": "cost of parts consumed in the last 365 days / mean month-end inventory value at cost (rebuilt from the ledger)",
        },
        "open_stockout_alerts": alerts.count(),
        "top_alerts": [serialize_alert(a) for a in top_alerts],
        "by_store": by_store,
    }


# --- GET stock-monitoring ------------------------------------------------------------------------------------

MONITOR_COLUMNS = [
    "store", "sku", "name", "category", "on_hand", "reserved", "available", "backordered", "on_order", "next_delivery",
    "reorder_point", "safety_stock", "max_level", "order_qty", "status", "days_of_cover", "days_to_stockout",
    "projected_stockout_date", "daily_mean", "demand_class", "forecast_method", "lead_time_mean", "lead_time_source",
    "approved_min_max", "stock_value",
]


def stock_monitoring(stores, status=None, sku=None, category=None, search=None, ordering="urgency", limit=200, offset=0):
    """Every SKU per store with its stock, policy and status: the list the live monitor shows."""
    store_ids = [s.pk for s in stores]
    part_ids = resolve_parts([sku] if sku else None, category)
    positions = _position_rows(sel.stock_positions(store_ids, part_ids=part_ids, detail=False), store_codes(stores))
    counts = sel.status_counts(positions)
    frame = positions
    if status:
        frame = frame[frame.status.isin(status)]
    if search:
        text = search.lower()
        frame = frame[frame.sku.str.lower().str.contains(text, regex=False) | frame.name.str.lower().str.contains(text, regex=False)]
    if ordering == "urgency":
        frame = frame.assign(_rank=frame.status.map(STATUS_ORDER)).sort_values(
            ["_rank", "days_to_stockout", "sku", "store"], na_position="last", kind="stable")
    elif ordering == "value":
        frame = frame.sort_values(["stock_value", "sku"], ascending=[False, True], kind="stable")
    elif ordering == "days_of_cover":
        frame = frame.sort_values(["days_of_cover", "sku"], na_position="last", kind="stable")
    else:
        frame = frame.sort_values(["sku", "store"], kind="stable")
    page = sel.with_policy_details(frame.iloc[offset: offset + limit])
    return {
        "data_window": {"stock_as_of": timezone.now().isoformat(), "forecast": "stored reorder policies (see model.policy_computed_at)"},
        "model": forecast_model(store_ids),
        "status_counts": counts,
        "assumptions": policy_assumptions(positions),
        "count": len(frame),
        "limit": limit, "offset": offset,
        "results": records(page, MONITOR_COLUMNS, 3),
        "live": {"websocket": "/ws/live/", "event": "stock"},
    }


# --- POST demand-forecast --------------------------------------------------------------------------------------


def demand_forecast(stores, skus=None, category=None, horizon_days=28, service_level=None, limit=25):
    """Per SKU and store: demand over lead time and over lead time + review period, and the projected
    stock path (on hand + deliveries − forecast) with its stockout date."""
    store_ids = [s.pk for s in stores]
    codes = store_codes(stores)
    part_ids = resolve_parts(skus, category)
    as_of = sel.today()
    positions = _position_rows(sel.stock_positions(store_ids, service_level, part_ids, as_of=as_of, detail=False), codes)
    frame = positions[positions.daily_mean > 0] if not skus else positions
    frame = frame.sort_values(["days_to_stockout", "sku", "store"], na_position="last", kind="stable").head(limit)
    frame = sel.with_policy_details(frame)
    orders = sel.open_order_lines(store_ids, frame.part_id.unique())
    deliveries = {}
    for row in orders.itertuples(index=False):
        offset = max(int((row.expected_date - pd.Timestamp(as_of)).days), 0)
        deliveries.setdefault((row.store_id, row.part_id), []).append((offset, int(row.outstanding), row.number))
    items = []
    for row in frame.itertuples(index=False):
        lead = float(row.lead_time_mean)
        mean_l, sd_l, _ = pol.protection_interval_demand(row.daily_mean, row.daily_sd, lead, row.lead_time_sd, 0.0)
        mean_p, sd_p, period = pol.protection_interval_demand(row.daily_mean, row.daily_sd, lead, row.lead_time_sd, row.review_days)
        arrivals = sorted(deliveries.get((row.store_id, row.part_id), []))
        path, level = [], float(row.available)
        arrived = {}
        for offset, quantity, number in arrivals:
            arrived.setdefault(min(offset, horizon_days), []).append((quantity, number))
        for day in range(horizon_days + 1):
            landed = sum(q for q, _ in arrived.get(day, []))
            level += landed
            if day > 0:
                level -= float(row.daily_mean)
            path.append({"date": (as_of + timedelta(days=day)).isoformat(), "projected_on_hand": round(level, 2),
                         **({"delivery": landed} if landed else {})})
        items.append({
            "store": codes.get(row.store_id), "sku": row.sku, "name": row.name,
            "demand_class": row.demand_class, "forecast_method": jsonable(row.forecast_method) or None,
            "daily_mean": jsonable(row.daily_mean), "daily_sd": jsonable(row.daily_sd),
            "lead_time_days": jsonable(lead, 2), "lead_time_sd": jsonable(row.lead_time_sd, 2), "review_days": jsonable(row.review_days, 2),
            "lead_time_demand": {"mean": jsonable(float(mean_l), 3), "sd": jsonable(float(sd_l), 3)},
            "protection_interval_days": jsonable(float(period), 2),
            "protection_demand": {"mean": jsonable(float(mean_p), 3), "sd": jsonable(float(sd_p), 3),
                                  "quantile_at_service_level": jsonable(row.reorder_point), "method": row.policy_method,
                                  "service_level": jsonable(row.service_level, 3)},
            "horizon_demand": jsonable(float(row.daily_mean) * horizon_days, 3),
            "on_hand": int(row.on_hand), "available": int(row.available), "on_order": int(row.on_order),
            "deliveries": [{"in_days": o, "quantity": q, "purchase_order": n} for o, q, n in arrivals],
            "projected_stockout_date": jsonable(row.projected_stockout_date),
            "days_to_stockout": jsonable(row.days_to_stockout, 1),
            "stockout_within_horizon": bool(pd.notna(row.days_to_stockout) and row.days_to_stockout <= horizon_days),
            "status": row.status,
            "projected_path": path,
        })
    return {
        "data_window": {"as_of": as_of.isoformat(), "horizon_days": horizon_days,
                        "horizon_end": (as_of + timedelta(days=horizon_days)).isoformat()},
        "model": forecast_model(store_ids),
        "method": "protection interval L + R: mean μ·(L+R), variance (L+R)·σ_d² + μ²·σ_L² (Silver, Pyke & Peterson); "
                  "projected stock = available + deliveries by their expected date − μ per day",
        "assumptions": policy_assumptions(frame),
        "count": len(positions[positions.daily_mean > 0]) if not skus else len(positions),
        "results": items,
    }


# --- POST reorder-suggestions -----------------------------------------------------------------------------------


def _urgency(row):
    """out (nothing available), critical (runs out within the lead time), high (within lead time + review
    period + INVENTORY_URGENCY_HIGH_EXTRA_DAYS), normal."""
    if row.available <= 0 and row.daily_mean > 0:
        return "out"
    if row.days_to_stockout <= row.lead_time_mean:
        return "critical"
    if row.days_to_stockout <= row.lead_time_mean + row.review_days + settings.INVENTORY_URGENCY_HIGH_EXTRA_DAYS:
        return "high"
    return "normal"


def _rounded(quantity, moq, pack):
    return int(pol.round_order_quantity([quantity], [moq], [pack])[0])


def reorder_suggestions(stores, scope_store_ids, skus=None, category=None, service_level=None, include_all=False,
                        include_snoozed=False, limit=200, part_ids=None):
    """What to order (or transfer) now, per store and part, under the recommended policy. `part_ids`: the
    request's `skus` / `category` already resolved (`resolve_parts`), when the caller has them.

    Returns the response body and the order lines (for draft purchase orders) as a second value."""
    store_ids = [s.pk for s in stores]
    if part_ids is None:
        part_ids = resolve_parts(skus, category)
    as_of = sel.today()
    requested = sel.stock_positions(store_ids, service_level, part_ids, as_of=as_of, detail=False)
    codes = store_codes(stores)
    from mlanalytics.core.models import Store

    positions = _position_rows(requested, codes)
    decisions = list(ReorderDecision.objects.filter(store_id__in=store_ids, active=True,
                                                    action__in=[ReorderDecision.Action.SNOOZE, ReorderDecision.Action.ORDER_ONCE]))
    snoozed = {(d.store_id, d.part_id): d for d in decisions if d.action == "snooze" and d.until and d.until > as_of}
    order_once = {(d.store_id, d.part_id): d for d in decisions if d.action == "order_once"}
    drafts = sel.draft_order_lines(store_ids)
    in_draft = {(r.store_id, r.part_id): r.number for r in drafts.itertuples(index=False)}

    stocked = positions.is_active.fillna(False).astype(bool) & (positions.order_qty > 0) & (positions.daily_mean > 0)
    needs = stocked & (positions.position <= positions.reorder_point)
    ordered_once = sel.item_keys([k[0] for k in order_once], [k[1] for k in order_once])
    wanted = needs | pd.Series(np.isin(sel.item_keys(positions.store_id, positions.part_id), ordered_once), index=positions.index)
    if include_all:
        wanted = wanted | stocked
    chosen = sel.with_policy_details(positions[wanted])

    # Stores with stock above their own maximum (by their own stored policy) can give it away before
    # anyone buys: the requested stores themselves and the other stores the user may see.
    others = sorted(set(scope_store_ids) - set(store_ids))
    needed_parts = chosen[chosen.position <= chosen.reorder_point].part_id.unique().tolist()
    everywhere = requested
    if others and needed_parts:
        elsewhere = sel.stock_positions(others, part_ids=needed_parts, as_of=as_of, detail=False)
        columns = ["store_id", "part_id", "on_hand", "reserved", "available", "max_level", "reorder_point"]
        if len(elsewhere):
            everywhere = pd.concat([requested[columns], elsewhere[columns]], ignore_index=True)
    all_codes = dict(Store.objects.filter(pk__in=set(store_ids) | set(others)).values_list("id", "code"))
    donors = everywhere.assign(excess=(everywhere.on_hand - everywhere.reserved).clip(lower=0)
                               - np.maximum(everywhere.max_level.fillna(0), everywhere.reorder_point.fillna(0)))
    donors = donors[(donors.excess > 0) & donors.part_id.isin(needed_parts) & donors.store_id.isin(scope_store_ids)]
    # What each donor can still give: every proposed transfer comes off it, so its excess is promised once.
    excess_left = {(int(d.store_id), int(d.part_id)): int(d.excess) for d in donors.itertuples(index=False)}
    donor_rows = {(int(d.store_id), int(d.part_id)): d for d in donors.itertuples(index=False)}
    donor_stores = {}
    for store_id, part_id in excess_left:
        donor_stores.setdefault(part_id, []).append(store_id)

    price_frame = sel.price_list(chosen.part_id.unique())
    terms_of = {(int(r.supplier_id), int(r.part_id)): (int(r.min_order_qty), int(r.pack_size), float(r.unit_price))
                for r in price_frame.itertuples(index=False)}
    supplier_names = dict(sel.suppliers_frame()[["supplier_id", "code"]].values)

    suggestions, lines = [], []
    # The most urgent need is served first from the donors' excess (soonest projected stockout next).
    chosen = chosen.assign(urgency_level=[_urgency(r) for r in chosen.itertuples(index=False)])
    chosen = chosen.assign(urgency_rank=chosen.urgency_level.map(URGENCY_ORDER)).sort_values(
        ["urgency_rank", "days_to_stockout", "sku", "store_id"], kind="stable")
    for row in chosen.itertuples(index=False):
        key = (row.store_id, row.part_id)
        supplier_id = None if pd.isna(row.supplier_id) else int(row.supplier_id)
        if supplier_id is not None and (supplier_id, int(row.part_id)) in terms_of:
            moq, pack, price = terms_of[(supplier_id, int(row.part_id))]
        else:
            moq, pack, price = 1, 1, float(row.unit_price or row.unit_cost)
        shortfall = max(int(row.reorder_point - row.position + 1), 0)
        if row.approved_min_max:
            quantity = _rounded(max(row.max_level - row.position, 0), moq, pack) if shortfall else 0
        else:
            quantity = int(math.ceil(shortfall / row.order_qty) * row.order_qty) if shortfall and row.order_qty > 0 else 0
        decision = order_once.get(key)
        requested = None
        if decision:
            # A manager's quantity is rounded up to the supplier's MOQ and whole packs, as every suggestion is.
            requested = int(decision.quantity or quantity or row.order_qty or 1)
            quantity = _rounded(requested, moq, pack)
        transfer = None
        if shortfall:
            part_id = int(row.part_id)
            candidates = [s for s in donor_stores.get(part_id, []) if s != int(row.store_id) and excess_left[(s, part_id)] > 0]
            if candidates:
                donor_store = max(candidates, key=lambda s: (excess_left[(s, part_id)], -s))
                give = int(min(excess_left[(donor_store, part_id)], max(quantity, shortfall)))
                excess_left[(donor_store, part_id)] -= give
                donor = donor_rows[(donor_store, part_id)]
                transfer = {"from_store": all_codes.get(donor_store), "quantity": give,
                            "donor_available": int(donor.available), "donor_max_level": int(max(donor.max_level, donor.reorder_point)),
                            "donor_excess_left": int(excess_left[(donor_store, part_id)])}
        purchase = quantity
        if transfer and not decision:
            left = shortfall - transfer["quantity"]
            purchase = 0 if left <= 0 else int(math.ceil(left / row.order_qty) * row.order_qty) if row.order_qty > 0 else left
        urgency = row.urgency_level
        snooze = snoozed.get(key)
        item = {
            "store": codes.get(row.store_id), "sku": row.sku, "name": row.name, "urgency": urgency, "status": row.status,
            "on_hand": int(row.on_hand), "reserved": int(row.reserved), "available": int(row.available),
            "backordered": int(row.backordered), "on_order": int(row.on_order), "position": int(row.position),
            "reorder_point": int(row.reorder_point), "safety_stock": jsonable(row.safety_stock, 2),
            "lead_time_demand": jsonable(row.daily_mean * row.lead_time_mean, 3),
            "protection_demand": jsonable(row.protection_demand, 3), "max_level": int(row.max_level),
            "order_qty": int(row.order_qty), "eoq": jsonable(row.eoq, 2), "suggested_quantity": int(quantity),
            "purchase_quantity": int(purchase), "transfer": transfer,
            "supplier": supplier_names.get(supplier_id), "unit_price": round(price, 2), "min_order_qty": moq, "pack_size": pack,
            "line_value": round(price * purchase, 2), "lead_time_days": jsonable(row.lead_time_mean, 2),
            "projected_stockout_date": jsonable(row.projected_stockout_date), "days_of_cover": jsonable(row.days_of_cover, 1),
            "service_level": jsonable(row.service_level, 3), "policy_method": row.policy_method,
            "demand_class": row.demand_class, "forecast_method": jsonable(row.forecast_method) or None,
            "daily_mean": jsonable(row.daily_mean), "approved_min_max": bool(row.approved_min_max),
            "order_once": bool(decision), "order_once_requested": requested,
            "snoozed_until": snooze.until.isoformat() if snooze else None, "lead_time_source": row.lead_time_source,
            "in_draft_purchase_order": in_draft.get(key),
            "below_reorder_point": bool(row.position <= row.reorder_point),
        }
        if snooze and not include_snoozed:
            continue
        suggestions.append(item)
        if purchase > 0 and supplier_id is not None and not snooze:
            lines.append({"store_id": row.store_id, "supplier_id": supplier_id, "part_id": int(row.part_id),
                          "quantity": int(purchase), "unit_price": price, "decision_id": decision.pk if decision else None})
    suggestions.sort(key=lambda s: (URGENCY_ORDER[s["urgency"]], s["projected_stockout_date"] or "9999", s["sku"], s["store"]))
    summary = {urgency: sum(1 for s in suggestions if s["urgency"] == urgency) for urgency in URGENCY_ORDER}
    by_supplier = {}
    for s in suggestions:
        if s["purchase_quantity"] and s["supplier"]:
            entry = by_supplier.setdefault(s["supplier"], {"supplier": s["supplier"], "lines": 0, "units": 0, "value": 0.0})
            entry["lines"] += 1
            entry["units"] += s["purchase_quantity"]
            entry["value"] = round(entry["value"] + s["line_value"], 2)
    body = {
        "data_window": {"as_of": as_of.isoformat(), "stock_as_of": timezone.now().isoformat()},
        "model": forecast_model(store_ids),
        "policy": {**policy_settings(service_level),
                   "reorder_point": "lead-time (+ review) demand + safety stock at the service level; Poisson / negative "
                                    "binomial quantile for intermittent items",
                   "order_quantity": "EOQ √(2DK/hc), capped at the cover limit, rounded up to MOQ and pack size",
                   "order_once": "a manager's order-once quantity is rounded up to the supplier's MOQ and whole packs too "
                                 "(order_once_requested is what was asked for)",
                   "transfers": "needs are served in urgency order from the store with the most excess left (available "
                                "above its maximum level); each transfer comes off that store's excess, so none is "
                                "promised twice; the purchase covers the rest",
                   "position": "on hand − reserved (units held for committed repairs, back-orders included) + on order",
                   "urgency_high_within_days": f"lead time + review period + {settings.INVENTORY_URGENCY_HIGH_EXTRA_DAYS}",
                   "supplier": "lowest yearly total relevant cost: price incl. defects, ordering, holding, and the stockout "
                               "risk of its delivered lead-time spread"},
        "assumptions": policy_assumptions(chosen),
        "count": len(suggestions),
        "summary": {"by_urgency": summary, "transfers": sum(1 for s in suggestions if s["transfer"]),
                    "purchase_value": round(sum(s["line_value"] for s in suggestions), 2),
                    "by_supplier": sorted(by_supplier.values(), key=lambda e: -e["value"])},
        "results": suggestions[:limit],
    }
    return body, lines


# --- POST supply-chain-optimization -----------------------------------------------------------------------------


def supply_chain_optimization(stores, horizon_days=90, window_days=365, weights=None, risk_aversion=1.0,
                              service_level=None, limit=50):
    """Supplier scorecards, a weighted ranking, and the least-cost allocation of forecast demand."""
    store_ids = [s.pk for s in stores]
    codes = store_codes(stores)
    end = sel.today() - timedelta(days=1)
    # Only what has demand is allocated (and weighs the price index).
    forecast = sel.stored_policies_as_forecast(sel.stored_policies(store_ids, fields=sel.POLICY_FORECAST_FIELDS, with_demand=True))
    part_demand = (forecast.groupby("part_id").daily_mean.sum() * 365.0) if len(forecast) else pd.Series(dtype=float)
    history = sel.purchase_order_history(window_days, store_ids, end)
    quality = sel.receipt_quality(window_days, store_ids, end)
    prices = sel.price_list()
    suppliers = sel.suppliers_frame()
    cards = sup.supplier_scorecards(history, quality, prices, part_demand)
    cards = suppliers[["supplier_id", "code", "name", "quoted_lead_time_days", "is_active"]].merge(cards, on="supplier_id", how="left")
    cards = cards[cards.is_active | cards.orders.fillna(0).gt(0)]
    ranked, used_weights = sup.rank_suppliers(cards, weights)

    # Cost per unit of each qualified supplier for each (store, part), from the same total-relevant-cost
    # model as the reorder policy, then averaged per part over the stores by their demand.
    _, candidates = sel.policy_candidates(store_ids, service_level=service_level, forecast=forecast, demand_only=True)
    candidates = candidates[candidates.supplier_id.notna() & (candidates.daily_mean > 0)].copy()
    candidates["supplier_id"] = candidates.supplier_id.astype(int)
    candidates["cost_per_unit"] = candidates.landed_cost_per_unit + risk_aversion * candidates.risk_cost_per_unit
    candidates["weight"] = candidates.daily_mean
    for column in ("cost_per_unit", "landed_cost_per_unit", "risk_cost_per_unit"):
        candidates[f"w_{column}"] = candidates[column] * candidates.weight
    grouped = candidates.groupby(["part_id", "supplier_id"])
    per_part = grouped.agg(weight=("weight", "sum"), w_cost=("w_cost_per_unit", "sum"), w_landed=("w_landed_cost_per_unit", "sum"),
                           w_risk=("w_risk_cost_per_unit", "sum"), unit_price=("unit_price", "first"),
                           min_order_qty=("min_order_qty", "first")).reset_index()
    per_part["cost_per_unit"] = per_part.w_cost / per_part.weight
    per_part["landed_cost_per_unit"] = per_part.w_landed / per_part.weight
    per_part["risk_cost_per_unit"] = per_part.w_risk / per_part.weight
    demand = forecast[forecast.daily_mean > 0].groupby("part_id").daily_mean.sum() * horizon_days
    capacity = suppliers.set_index("supplier_id").monthly_capacity_units.astype(float) * horizon_days / 30.0
    # An order covers at most INVENTORY_MAX_ORDER_COVER_DAYS of demand, so the horizon needs at least this
    # many orders, each at least the MOQ.
    cover = settings.INVENTORY_MAX_ORDER_COVER_DAYS
    min_lots = max(math.ceil(horizon_days / cover), 1) if cover else 1
    penalty = settings.INVENTORY_STOCKOUT_COST * settings.INVENTORY_UNMET_DEMAND_PENALTY_FACTOR
    result = sup.allocate_demand(per_part, demand, capacity=capacity, shortage_penalty=penalty, min_lots=min_lots)
    # What the optimum pays per unit of demand it covers, units bought only to reach an MOQ included.
    effective = sup.effective_unit_costs(result, demand, ("cost_per_unit", "landed_cost_per_unit"))

    # Today's allocation: each store's share of units per supplier for each part over the window.
    lines = sel.purchase_line_shares(store_ids, window_days, end)
    store_demand = forecast[forecast.daily_mean > 0][["store_id", "part_id", "daily_mean"]].copy()
    store_demand["units"] = store_demand.daily_mean * horizon_days
    optimal_unit = effective.cost_per_unit
    optimal_landed = effective.landed_cost_per_unit
    # Each store's demand split by today's shares among the suppliers qualified for the part, ...
    today = lines[["store_id", "part_id", "supplier_id", "share"]].merge(per_part[["part_id", "supplier_id"]],
                                                                        on=["part_id", "supplier_id"], how="inner")
    today = today.merge(store_demand[["store_id", "part_id", "units"]], on=["store_id", "part_id"], how="inner")
    today = today[today.part_id.map(optimal_unit).notna().to_numpy()]
    today["units"] = today.units * today.share / today.groupby(["store_id", "part_id"]).share.transform("sum")
    # ... costed with the same per-order MOQ rule as the optimum: units bought only to reach an MOQ are paid
    # for today too, so the saving compares like with like.
    today = sup.todays_mix_costs(today, per_part, ("cost_per_unit", "landed_cost_per_unit"), min_lots=min_lots)
    today_costs = today.groupby(["store_id", "part_id"])[["cost_per_unit_spent", "landed_cost_per_unit_spent", "bought"]].sum()
    compare = store_demand.set_index(["store_id", "part_id"]).join(today_costs, how="inner")
    part_level = compare.index.get_level_values("part_id")
    compare["optimal_unit"] = part_level.map(optimal_unit)
    compare["optimal_landed_unit"] = part_level.map(optimal_landed)
    compare["today_cost"] = compare.cost_per_unit_spent
    compare["optimal_cost"] = compare.units * compare.optimal_unit
    compare["saving"] = compare.today_cost - compare.optimal_cost
    # The cash part of the saving (price, defects, ordering, cycle stock) apart from the risk part
    # (safety stock, expected stockouts and late deliveries, priced by the same model).
    compare["landed_saving"] = compare.landed_cost_per_unit_spent - compare.units * compare.optimal_landed_unit
    by_store = []
    for store_id, group in compare.groupby(level="store_id"):
        today_total = float(group.today_cost.sum())
        by_store.append({"store": codes.get(store_id), "today_cost": round(today_total, 2),
                         "optimal_cost": round(float(group.optimal_cost.sum()), 2), "saving": round(float(group.saving.sum()), 2),
                         "saving_share": jsonable(float(group.saving.sum()) / today_total if today_total > 0 else None, 4),
                         "landed_saving": round(float(group.landed_saving.sum()), 2),
                         "risk_saving": round(float(group.saving.sum() - group.landed_saving.sum()), 2)})
    today_cost, optimal_cost = float(compare.today_cost.sum()), float(compare.optimal_cost.sum())

    names = suppliers.set_index("supplier_id").code
    # Today's units per supplier counted as the optimum's are: what is bought, MOQ surplus included.
    today_units = today.groupby("supplier_id").bought.sum()
    allocation = result.allocation.groupby("supplier_id").agg(units=("units", "sum"), cost=("cost", "sum"))
    allocation["today_units"] = today_units.reindex(allocation.index).fillna(0.0)
    allocation = allocation[(allocation.units > 0) | (allocation.today_units > 0)].reset_index()
    allocation["supplier"] = allocation.supplier_id.map(names)
    allocation["share"] = allocation.units / max(allocation.units.sum(), 1e-9)
    part_changes = compare.reset_index().groupby("part_id")[["today_cost", "optimal_cost", "saving", "units"]].sum()
    part_changes = part_changes.sort_values("saving", ascending=False).head(limit)
    skus = dict(Part.objects.filter(pk__in=part_changes.index.tolist()).values_list("id", "sku"))
    mix = result.allocation[result.allocation.units > 0]
    changes = []
    for part_id, row in part_changes.iterrows():
        split = mix[mix.part_id == part_id]
        changes.append({
            "sku": skus.get(part_id), "units": round(float(row.units), 2), "today_cost": round(float(row.today_cost), 2),
            "optimal_cost": round(float(row.optimal_cost), 2), "saving": round(float(row.saving), 2),
            "optimal_suppliers": [{"supplier": names.get(s), "units": round(float(u), 2)} for s, u in zip(split.supplier_id, split.units)],
        })
    card_columns = ["code", "name", "orders", "orders_received", "on_time_rate", "otif_rate", "lead_time_mean", "lead_time_sd",
                    "lead_time_p90", "mean_days_late", "quoted_lead_time_days", "defect_rate", "units_received", "price_index",
                    "score", "rank", "reliability_score", "reliability_rank"]
    return {
        "data_window": {"purchase_history_from": (end - timedelta(days=window_days - 1)).isoformat(),
                        "purchase_history_to": end.isoformat(), "horizon_days": horizon_days},
        "model": forecast_model(store_ids),
        "weights": used_weights,
        "scorecards": records(ranked.rename(columns={"code": "code"}), card_columns, 4),
        "allocation": {
            "method": "mixed-integer linear programme (HiGHS via scipy.optimize.milp): minimise Σ units × (landed cost + "
                      "risk_aversion × risk cost) subject to demand, supplier capacity and MOQ (semi-continuous lines)",
            "solver_status": result.status, "risk_aversion": risk_aversion,
            "demand_units": round(float(demand.sum()), 2),
            "unallocated_units": round(float(result.unallocated.sum()), 2),
            "unmet_demand_penalty_per_unit": round(penalty, 2),
            "moq": {"orders_per_horizon": min_lots,
                    "rule": "each supplier used for a part gets at least orders_per_horizon × its MOQ (an order covers at "
                            "most INVENTORY_MAX_ORDER_COVER_DAYS of demand, and each order is at least the MOQ)",
                    "surplus_units": round(float(effective.surplus_units.sum()), 2),
                    "today_surplus_units": round(float((compare.bought - compare.units).sum()), 2),
                    "note": "units bought only to reach an MOQ are paid for on both sides: optimal_cost is what the "
                            "optimum pays, today_cost what today's mix pays under the same per-order MOQ rule (each "
                            "supplier used for a part buys at least orders_per_horizon × its MOQ of it), each "
                            "divided over the demand it covers"},
            "capacity": {"suppliers_with_capacity": int(capacity.notna().sum()),
                         "source": "Supplier.monthly_capacity_units × horizon / 30 (empty: unlimited)"},
            "by_supplier": records(allocation.sort_values("units", ascending=False),
                                   ["supplier", "units", "share", "cost", "today_units"], 3),
            "today_cost": round(today_cost, 2), "optimal_cost": round(optimal_cost, 2),
            "saving": round(today_cost - optimal_cost, 2),
            "saving_share": jsonable((today_cost - optimal_cost) / today_cost if today_cost > 0 else None, 4),
            "landed_saving": round(float(compare.landed_saving.sum()), 2),
            "risk_saving": round(today_cost - optimal_cost - float(compare.landed_saving.sum()), 2),
            "compared": "parts with purchase history in the window, costed per unit with their demand over the horizon",
            "by_store": by_store,
            "largest_changes": changes,
        },
    }


# --- POST cost-optimization -------------------------------------------------------------------------------------


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
REPLAY_POLICIES = {
    "today": "today's ordering, read back from your purchase orders of the window: per part and store the periodic "
             "(s, S) levels of its orders (s = median inventory position — on hand + on order − back-orders — just "
             "before ordering, S = median position just after), reviewed on the weekdays the store placed its orders, "
             "each part from the supplier the store used most; parts with fewer than INVENTORY_TODAY_MIN_ORDERS "
             "orders follow the assumed rule of the INVENTORY_TODAY_FALLBACK_* settings",
    "recommended": "(R, s, nQ): review every R days; reorder point, EOQ order quantity and supplier from the current "
                   "reorder policy (forecast and lead times of the whole history, this window included: in-sample)",
    "recommended_out_of_sample": "the same method computed the day before the window from the data before it only: a "
                                 "moving-average forecast of the weeks before the window and the suppliers' deliveries "
                                 "of the 365 days before it; replayed through the window it never saw",
}


def replay_summaries(store_ids, service_level=None, replay_days=365):
    """Per store, the replay totals of each policy: the stored ones (`StockReplay`, refreshed in the
    background with the policies; a store without one is 503 until its first replay is stored) for the
    default request, otherwise a replay now. Returns
    (summaries by store id, start, end, where they came from, the PolicyReplay when computed now)."""
    from . import services

    if service_level is None and replay_days == services.REPLAY_DAYS:
        stored, stale = services.ensure_stock_replays(store_ids)
        if stored:
            rows = list(stored.values())
            source = {"stored": True, "computed_at": min(r.computed_at for r in rows).isoformat(),
                      # A window that no longer ends yesterday is served while its refresh runs in the background.
                      "stale": bool(stale), "stale_stores": len(stale)}
            return ({s: r.summary for s, r in stored.items()}, min(r.start for r in rows), max(r.end for r in rows), source, None)
    replay = sel.policy_replay(store_ids, replay_days, service_level)
    return sel.store_replay_summaries(replay), replay.start, replay.end, {"stored": False}, replay


def _replay_block(summaries, labels, codes, scale):
    """The replay figures of the stores together: per policy, yearly, saving, per demand class, per store."""
    totals = {label: rp.add_totals(s["policies"][label] for s in summaries.values()) for label in labels}
    figures = {label: rp.summarize(totals[label]) for label in labels}
    classes = {}
    for summary in summaries.values():
        for name, by_label in summary.get("by_demand_class", {}).items():
            for label in labels:
                classes.setdefault(name, {}).setdefault(label, []).append(by_label[label])
    by_class = []
    for name in sorted(classes):
        added = {label: rp.add_totals(classes[name][label]) for label in labels}
        demanded = added["today"]["units_demanded"]
        if not demanded:
            continue
        by_class.append({"demand_class": name, "items": added["today"]["items"], "units_demanded": demanded, **{
            label: {"fill_rate": round(1 - added[label]["units_short"] / demanded, 4),
                    "holding_cost": round(added[label]["holding_cost"], 2), "units_short": added[label]["units_short"]}
            for label in labels}})
    by_store = []
    for store_id in sorted(summaries, key=lambda s: codes.get(s, "")):
        per = {label: rp.summarize(summaries[store_id]["policies"][label]) for label in labels}
        by_store.append({"store": codes.get(store_id), "units_demanded": per["today"]["units_demanded"], **{
            label: {"fill_rate": per[label]["fill_rate"], "holding_cost": per[label]["holding_cost"],
                    "stockout_cost": per[label]["stockout_cost"], "total_cost": per[label]["total_cost"]}
            for label in labels}})

    def saving(against):
        today, other = figures["today"], figures[against]
        total = today["total_cost"] - other["total_cost"]
        return {"total": round(total, 2), "yearly": round(total * scale, 2),
                "share": jsonable(total / today["total_cost"] if today["total_cost"] else None, 4),
                "holding": round(today["holding_cost"] - other["holding_cost"], 2),
                "ordering": round(today["ordering_cost"] - other["ordering_cost"], 2),
                "stockout": round(today["stockout_cost"] - other["stockout_cost"], 2)}

    block = {**figures,
             "yearly": {label: {k: round(figures[label][k] * scale, 2) for k in ("holding_cost", "ordering_cost", "stockout_cost",
                                                                                 "total_cost")} for label in labels},
             "saving": saving("recommended"), "by_demand_class": by_class, "by_store": by_store}
    if "recommended_out_of_sample" in labels:
        block["saving_out_of_sample"] = saving("recommended_out_of_sample")
    return block


def _service_level_block(summaries, scale):
    """Target against delivered: the out-of-sample policy with every part at each of REPLAY_SERVICE_LEVELS,
    from the stored replays (a replay on request does not replay the three)."""
    block = {
        "method": "the out-of-sample policy (re-estimated through the window from the data before each re-estimate; "
                  "new parts pooled from the other stores or similar parts) with every part at the target; delivered = "
                  "share of all replenishment cycles without a stockout. Diagnostic: cycles short while the policy "
                  "stocked nothing for the part (cycles_unstocked: a part of a model released since the re-estimate) "
                  "and the level of the other cycles (cycle_service_level_stocked)",
        "tolerance": 0.01, "levels": [],
    }
    keys = [f"{level:g}" for level in sel.REPLAY_SERVICE_LEVELS]
    if not summaries or not all(key in s.get("service_levels", {}) for s in summaries.values() for key in keys):
        block["note"] = "replayed with the stored replay only (each part's own service level, 365 days)"
        return block
    for level, key in zip(sel.REPLAY_SERVICE_LEVELS, keys):
        figures = rp.summarize(rp.add_totals(s["service_levels"][key] for s in summaries.values()))
        delivered = figures["cycle_service_level"]
        block["levels"].append({
            "service_level": level, "delivered_cycle_service_level": delivered,
            "within_tolerance": delivered is not None and abs(delivered - level) <= block["tolerance"] + 1e-9,
            "cycle_service_level_stocked": figures["cycle_service_level_stocked"], "fill_rate": figures["fill_rate"],
            "holding_cost": figures["holding_cost"], "yearly_holding_cost": round(figures["holding_cost"] * scale, 2),
            "stockout_cost": figures["stockout_cost"], "ordering_cost": figures["ordering_cost"],
            "total_cost": figures["total_cost"], "average_stock_value": figures["average_stock_value"],
            "replenishment_cycles": figures["replenishment_cycles"], "cycles_with_stockout": figures["cycles_with_stockout"],
            "cycles_unstocked": figures["cycles_unstocked"],
        })
    return block


def cost_optimization(stores, service_level=None, replay_days=365, dead_stock_days=None, limit=25):
    """Yearly inventory cost of today's ordering against the recommended policy, by replaying the last
    `replay_days` of actual demand through both (and through the recommended policy built from the
    data before the window, the out-of-sample check); dead and excess stock with their value."""
    store_ids = [s.pk for s in stores]
    codes = store_codes(stores)
    dead_stock_days = dead_stock_days or settings.INVENTORY_DEAD_STOCK_DAYS
    summaries, start, end, source, replay = replay_summaries(store_ids, service_level, replay_days)
    scale = 365.0 / replay_days
    labels = [label for label in sel.REPLAY_LABELS if summaries and all(label in s["policies"] for s in summaries.values())]
    observed = {key: sum(s["observed"][key] for s in summaries.values()) for key in ("units", "waited")}
    today_info = [s["today_policy"] for s in summaries.values()]
    holdout = next((s.get("holdout") for s in summaries.values() if s.get("holdout")), {})
    inferred = sum(t["items_inferred"] for t in today_info)
    assumed = sum(t["items_assumed"] for t in today_info)
    weekdays = {codes.get(store_id): [WEEKDAYS[d] for d in s["today_policy"]["review_weekdays"]]
                for store_id, s in sorted(summaries.items(), key=lambda kv: codes.get(kv[0], ""))}
    assumed_weekdays = sorted(codes.get(store_id) for store_id, s in summaries.items() if s["today_policy"]["review_weekdays_assumed"])

    positions = sel.stock_positions(store_ids, service_level, policies=replay.policies if replay is not None else None,
                                    detail=False)
    stock = sel.dead_and_excess_stock(positions, store_ids, dead_stock_days)
    stock["store"] = stock.store_id.map(codes)
    stock["days_since_consumed"] = (pd.Timestamp(sel.today()) - stock.last_consumed).dt.days
    dead = stock[stock.dead].sort_values(["stock_value", "sku"], ascending=[False, True])
    excess = stock[stock.excess_units > 0].sort_values(["excess_value", "sku"], ascending=[False, True])
    block = _replay_block(summaries, labels, codes, scale) if labels else {}
    return {
        "data_window": {"replay_from": jsonable(start), "replay_to": jsonable(end), "days": replay_days,
                        "stock_as_of": timezone.now().isoformat(), "replay_source": source},
        "model": forecast_model(store_ids),
        "settings": policy_settings(service_level),
        "assumptions": policy_assumptions(positions),
        "replay": {
            "method": "day-by-day replay of actual demand (dated when repairs needed the parts) from the real opening "
                      "stock, deliveries taking each supplier's historical lead times in order; holding at "
                      "h/365 × unit cost per unit-day, ordering per purchase order, stockout per unit not served on the day",
            "policies": {label: REPLAY_POLICIES[label] for label in labels},
            "today_policy": REPLAY_POLICIES["today"],
            "recommended_policy": REPLAY_POLICIES["recommended"],
            "today_inference": {
                "series_inferred": inferred, "series_assumed": assumed,
                "assumed": assumed > 0 or bool(assumed_weekdays),
                "review_weekdays": weekdays, "stores_with_assumed_review_weekdays": assumed_weekdays,
                "min_orders": settings.INVENTORY_TODAY_MIN_ORDERS,
                "assumed_rule": {"rate_days": settings.INVENTORY_TODAY_FALLBACK_RATE_DAYS,
                                 "buffer_days": settings.INVENTORY_TODAY_FALLBACK_BUFFER_DAYS,
                                 "cover_days": settings.INVENTORY_TODAY_FALLBACK_COVER_DAYS,
                                 "review_weekdays": [WEEKDAYS[d] for d in settings.INVENTORY_TODAY_FALLBACK_REVIEW_WEEKDAYS],
                                 "rule": "s = trailing rate_days demand rate × (quoted lead + buffer_days), S = s + cover_days "
                                         "of demand (parts with too few orders; stores without orders: review_weekdays)"},
            },
            "out_of_sample": {**holdout, "replayed": "recommended_out_of_sample" in labels},
            "service_levels": _service_level_block(summaries, scale),
            **block,
            "observed": {"units_needed": observed["units"], "units_waited": observed["waited"],
                         "fill_rate": jsonable(1 - observed["waited"] / observed["units"] if observed["units"] else None, 4),
                         "note": "what actually happened: units whose repair waited in awaiting_parts; the replay of "
                                 "today's ordering reproducing it shows the replay is calibrated on the shop's own data"},
        },
        "dead_stock": {
            "definition": f"on hand with no consumption in {dead_stock_days} days",
            "days": dead_stock_days, "items": len(dead), "units": int(dead.on_hand.sum()),
            "value": round(float(dead.stock_value.sum()), 2),
            "results": records(dead.head(limit), ["store", "sku", "name", "on_hand", "stock_value", "last_consumed", "days_since_consumed"], 2),
        },
        "excess_stock": {
            "definition": "available above the policy's maximum level (reorder point + order quantity), items not dead",
            "items": len(excess), "units": int(excess.excess_units.sum()), "value": round(float(excess.excess_value.sum()), 2),
            "results": records(excess.head(limit), ["store", "sku", "name", "available", "max_level", "excess_units", "excess_value"], 2),
        },
    }


# --- GET performance-analytics ----------------------------------------------------------------------------------


def performance_analytics(stores, window_days=365):
    """Turnover, GMROI, fill rate, stockout days, ABC × XYZ, supplier on-time-in-full, PO cycle time."""
    store_ids = [s.pk for s in stores]
    codes = store_codes(stores)
    end = sel.today() - timedelta(days=1)
    start = end - timedelta(days=window_days - 1)
    used = sel.consumption_summary(store_ids, start, end)
    cogs = float(used.cost.sum()) if len(used) else 0.0
    revenue = float(used.revenue.sum()) if len(used) else 0.0
    value_history = sel.inventory_value_history(store_ids, start)
    now_value = float(value_history["now"].sum())
    average_value = sel.average_inventory_value(value_history)
    scale = 365.0 / window_days
    # The daily summary from the window's start until now: the window's demand and balances, and (after it)
    # what moved since, which takes today's stock back to the window's opening balance.
    since_start = sel.part_days(store_ids, start, sel.LAST_DAY, ("needed", "waited", "closing_balance", "net"))
    days = since_start[since_start.day <= pd.Timestamp(end)]
    daily = days[days.needed > 0].rename(columns={"needed": "units"})
    weekly = sel.weekly_demand_matrix(daily, start, end)
    units_needed = int(daily.units.sum()) if len(daily) else 0
    units_waited = int(daily.waited.sum()) if len(daily) else 0

    # Stockout days of items that had demand, from the daily closing balances.
    profile = sel.stockout_days(store_ids, start, end, since_start)

    # ABC by consumption value and XYZ by weekly demand variability, per SKU.
    parts = sel.parts_frame(used.part_id.unique() if len(used) else [])
    value = used.groupby("part_id").cost.sum() if len(used) else pd.Series(dtype=float)
    abc = perf.abc_classes(value)
    if len(weekly.columns):
        xyz, cv = perf.xyz_classes(weekly.reindex(columns=value.index, fill_value=0))
    else:
        xyz, cv = pd.Series("Z", index=value.index), pd.Series(np.nan, index=value.index)
    matrix = []
    classes = pd.DataFrame({"abc": abc, "xyz": xyz.reindex(value.index).fillna("Z"), "value": value})
    for a in "ABC":
        for x in "XYZ":
            cell = classes[(classes.abc == a) & (classes.xyz == x)]
            matrix.append({"abc": a, "xyz": x, "skus": len(cell), "value": round(float(cell.value.sum()), 2)})
    sku_of = dict(zip(parts.part_id, parts.sku))

    cards, history, cycle = sel.supplier_performance(store_ids, window_days, end)
    names = sel.suppliers_frame().set_index("supplier_id").code
    cards["supplier"] = cards.supplier_id.map(names)
    received = history[history.received.notna()]
    by_store = []
    cost_by_store = used.groupby("store_id").cost.sum() if len(used) else pd.Series(dtype=float)
    need_by_store = daily.groupby("store_id")[["units", "waited"]].sum() if len(daily) else pd.DataFrame(columns=["units", "waited"])
    zero_by_store = profile.zero_days.groupby(level=0).sum().to_dict() if len(profile) else {}
    for store_id in store_ids:
        s_cogs = float(cost_by_store.get(store_id, 0.0))
        s_average = float(value_history.loc[store_id].mean()) if store_id in value_history.index else 0.0
        need = int(need_by_store.units.get(store_id, 0)) if len(need_by_store) else 0
        waited = int(need_by_store.waited.get(store_id, 0)) if len(need_by_store) else 0
        by_store.append({
            "store": codes.get(store_id), "cost_of_parts_used": round(s_cogs, 2), "average_inventory_value": round(s_average, 2),
            "turnover": jsonable(perf.turnover(s_cogs * scale, s_average), 2),
            "fill_rate": jsonable(1 - waited / need if need else None, 4),
            "stockout_days": int(zero_by_store.get(store_id, 0)),
        })
    return {
        "data_window": {"from": start.isoformat(), "to": end.isoformat(), "days": window_days},
        "turnover": {"cost_of_parts_used": round(cogs, 2), "average_inventory_value": round(average_value, 2),
                     "turns_per_year": jsonable(perf.turnover(cogs * scale, average_value), 2),
                     "days_of_cover": jsonable(perf.days_of_cover(now_value, cogs / window_days), 1),
                     "method": "cost of parts consumed / mean month-end inventory value at cost (rebuilt from the ledger), annualised"},
        "gmroi": {"parts_revenue": round(revenue, 2), "gross_margin": round(revenue - cogs, 2),
                  "value": jsonable(perf.gmroi((revenue - cogs) * scale, average_value), 2),
                  "method": "yearly gross margin on parts (price − cost of parts consumed) / mean inventory at cost"},
        "fill_rate": {"units_needed": units_needed, "units_waited": units_waited,
                      "value": jsonable(1 - units_waited / units_needed if units_needed else None, 4),
                      "method": "share of part units on the shelf when the repair needed them (not waiting in awaiting_parts)"},
        "stockout_days": {"items_with_demand": len(profile), "item_days_at_zero": int(profile.zero_days.sum()) if len(profile) else 0,
                          "items_with_stockouts": int((profile.zero_days > 0).sum()) if len(profile) else 0,
                          "method": "days an item with demand closed at zero stock, from its ledger balance"},
        "abc_xyz": {"method": "ABC by consumption value (A ≤ 80 %, B ≤ 95 % cumulative), XYZ by CV of weekly demand "
                              "(X ≤ 0.5, Y ≤ 1.0, Z above)",
                    "matrix": matrix,
                    "top_skus": [{"sku": sku_of.get(p), "abc": classes.abc.get(p), "xyz": classes.xyz.get(p),
                                  "value": round(float(classes.value.get(p, 0.0)), 2), "cv": jsonable(cv.get(p), 3)}
                                 for p in value.sort_values(ascending=False).head(20).index]},
        "suppliers": {
            "purchase_orders": len(history), "received": len(received),
            "on_time_in_full": jsonable(float(((received.received <= received.expected) & received.in_full).mean()) if len(received) else None, 4),
            "po_cycle_time_days": {"mean": jsonable(float(cycle.mean()) if len(cycle) else None, 2),
                                   "median": jsonable(float(cycle.median()) if len(cycle) else None, 2),
                                   "p90": jsonable(float(cycle.quantile(0.9)) if len(cycle) else None, 2)},
            "by_supplier": records(cards.sort_values("otif_rate", ascending=False),
                                   ["supplier", "orders", "otif_rate", "on_time_rate", "lead_time_mean", "lead_time_p90", "defect_rate"], 4),
        },
        "by_store": by_store,
    }
