"""Replay of actual demand through an ordering policy: a day-by-day inventory simulation.

Every (store, part) item starts from its real opening stock and the deliveries that were really on
the way; each day, deliveries due arrive before the shop opens, the day's demand is served from the
shelf (units not on the shelf are back-ordered and served first from the next delivery, as a ticket
waits in awaiting_parts), and on review days the policy orders. One purchase order per store,
supplier and day; its lead time is the next of that supplier's *historical* lead times, taken in
order by each store (a deterministic replay of real delivery behaviour, late supplier included).

Costs: holding = h/365 × unit cost × units on hand at each day's close; ordering = the supplier's
order cost per purchase order; stockout = the cost per unit not served on the day it was needed.
Service: fill rate = units served on the day / units demanded; cycle service level = share of
replenishment cycles (delivery to delivery) without a stockout.

Policies:
- `HabitualRule`: the periodic (s, S) rule a shop runs by hand: on review weekdays, when stock on
  hand + on order − back-orders ≤ s, order up to S, with s = trailing-rate × (quoted lead + buffer
  days) and S = s + cover days of demand, in whole packs, rates re-estimated at every review.
- `ReorderPointPolicy`: the recommended periodic (R, s, nQ) policy: on review days, when the
  position is ≤ s, order the smallest multiple of Q that lifts it above s.
Vectorised across items with numpy; a loop over days only.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ReplayItems:
    """The items replayed, one element per (store, part)."""

    store_index: np.ndarray
    unit_cost: np.ndarray  # holding valuation, GBP per unit
    opening_on_hand: np.ndarray
    pipeline_day: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # window day a delivery lands
    pipeline_item: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pipeline_qty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self):
        return len(self.store_index)


@dataclass
class Suppliers:
    """Per supplier index: order cost and the sequence of historical lead times (days, in order)."""

    order_cost: np.ndarray
    lead_times: list  # list of int arrays; an empty array falls back to `quoted_lead`
    quoted_lead: np.ndarray


@dataclass
class HabitualRule:
    supplier: np.ndarray  # supplier index per item
    unit_price: np.ndarray
    quoted_lead: np.ndarray
    pack_size: np.ndarray
    min_order_qty: np.ndarray
    review_days: np.ndarray  # bool per window day
    rate_window_days: int = 56
    buffer_days: int = 7
    cover_days: int = 28
    name: str = "today"


@dataclass
class ReorderPointPolicy:
    supplier: np.ndarray
    unit_price: np.ndarray
    reorder_point: np.ndarray
    order_qty: np.ndarray
    review_days: np.ndarray
    name: str = "recommended"


@dataclass
class ReplayResult:
    policy: str
    days: int
    holding_cost: float
    ordering_cost: float
    stockout_cost: float
    purchase_cost: float
    units_demanded: int
    units_filled_on_day: int
    units_short: int
    fill_rate: float | None
    cycles: int
    cycles_with_stockout: int
    cycle_service_level: float | None
    purchase_orders: int
    order_lines: int
    units_ordered: int
    average_stock_value: float
    stockout_item_days: int
    item_demand: np.ndarray = field(repr=False)
    item_short: np.ndarray = field(repr=False)
    item_stock_days: np.ndarray = field(repr=False)  # Σ units on hand at close over the days
    item_holding_cost: np.ndarray = field(repr=False)

    @property
    def total_cost(self):
        return self.holding_cost + self.ordering_cost + self.stockout_cost

    def summary(self):
        return {
            "holding_cost": round(self.holding_cost, 2), "ordering_cost": round(self.ordering_cost, 2),
            "stockout_cost": round(self.stockout_cost, 2), "total_cost": round(self.total_cost, 2),
            "purchase_cost": round(self.purchase_cost, 2),
            "fill_rate": None if self.fill_rate is None else round(self.fill_rate, 4),
            "cycle_service_level": None if self.cycle_service_level is None else round(self.cycle_service_level, 4),
            "units_demanded": self.units_demanded, "units_filled_on_day": self.units_filled_on_day,
            "units_short": self.units_short, "stockout_item_days": self.stockout_item_days,
            "purchase_orders": self.purchase_orders, "order_lines": self.order_lines, "units_ordered": self.units_ordered,
            "average_stock_value": round(self.average_stock_value, 2), "replenishment_cycles": self.cycles,
            "cycles_with_stockout": self.cycles_with_stockout,
        }


def replay_policy(demand, history_days, items: ReplayItems, policy, suppliers: Suppliers, holding_rate, stockout_cost):
    """Run one policy over the window. `demand` is (history_days + window days, items) units per day;
    the first `history_days` rows are the run-up the habitual rule estimates its first rates from."""
    demand = np.asarray(demand)
    n_days = demand.shape[0] - history_days
    n = len(items)
    unit_cost = np.asarray(items.unit_cost, dtype=float)
    daily_holding = unit_cost * holding_rate / 365.0
    n_suppliers = len(suppliers.order_cost)
    max_lead = max([int(suppliers.quoted_lead.max()) if len(suppliers.quoted_lead) else 1]
                   + [int(s.max()) for s in suppliers.lead_times if len(s)])
    horizon = max_lead + 2
    arrivals = np.zeros((horizon, n), dtype=np.int64)
    late_pipeline = {}  # deliveries further out than the ring holds: day -> (items, qty)
    on_hand = np.asarray(items.opening_on_hand, dtype=np.int64).copy()
    on_order = np.zeros(n, dtype=np.int64)
    backlog = np.zeros(n, dtype=np.int64)
    for day, item, qty in zip(items.pipeline_day, items.pipeline_item, items.pipeline_qty):
        on_order[item] += qty
        if 0 <= day < horizon:
            arrivals[day, item] += qty
        elif day >= horizon:
            late_pipeline.setdefault(int(day), []).append((int(item), int(qty)))
    habitual = isinstance(policy, HabitualRule)
    if habitual:
        cumulative = np.vstack([np.zeros((1, n), dtype=np.int32), np.cumsum(demand, axis=0, dtype=np.int32)])
        pack = np.maximum(np.asarray(policy.pack_size, dtype=np.int64), 1)
        moq = np.maximum(np.asarray(policy.min_order_qty, dtype=np.int64), 1)
        cover_lead = np.asarray(policy.quoted_lead, dtype=float) + policy.buffer_days
    else:
        reorder_point = np.asarray(policy.reorder_point, dtype=np.int64)
        order_qty = np.asarray(policy.order_qty, dtype=np.int64)
        orders_anything = order_qty > 0
    supplier = np.asarray(policy.supplier, dtype=np.int64)
    price = np.asarray(policy.unit_price, dtype=float)
    store = np.asarray(items.store_index, dtype=np.int64)
    # Each store works through each supplier's record on its own, so a store's replay does not depend
    # on which other stores are replayed with it.
    lead_counter = {}

    item_demand = np.zeros(n, dtype=np.int64)
    item_short = np.zeros(n, dtype=np.int64)
    item_stock_days = np.zeros(n, dtype=np.int64)
    cycle_short = np.zeros(n, dtype=bool)
    cycle_demand = np.zeros(n, dtype=bool)
    cycles = cycles_short = 0
    stock_value_total = 0.0
    ordering_cost = purchase_cost = 0.0
    purchase_orders = order_lines = units_ordered = stockout_item_days = 0

    for d in range(n_days):
        slot = d % horizon
        landed = arrivals[slot].copy()
        arrivals[slot] = 0
        for item, qty in late_pipeline.pop(d, []):
            landed[item] += qty
        if landed.any():
            got = landed > 0
            on_hand += landed
            on_order -= landed
            cycles += int(got.sum())
            cycles_short += int((cycle_short & got).sum())
            cycle_short[got] = False
            cycle_demand[got] = False
        # Back-orders are served first (the tickets waiting for parts), then the day's demand.
        owed = np.minimum(on_hand, backlog)
        on_hand -= owed
        backlog -= owed
        today = demand[history_days + d].astype(np.int64)
        filled = np.minimum(on_hand, today)
        on_hand -= filled
        short = today - filled
        backlog += short
        item_demand += today
        item_short += short
        has_short = short > 0
        stockout_item_days += int(has_short.sum())
        cycle_short |= has_short
        cycle_demand |= today > 0
        item_stock_days += on_hand
        stock_value_total += float(on_hand @ unit_cost)

        if not policy.review_days[d]:
            continue
        position = on_hand + on_order - backlog
        if habitual:
            now = history_days + d
            rate = (cumulative[now] - cumulative[max(now - policy.rate_window_days, 0)]) / float(policy.rate_window_days)
            low = np.ceil(rate * cover_lead - 1e-9).astype(np.int64)
            up_to = low + np.maximum(pack, np.ceil(rate * policy.cover_days - 1e-9).astype(np.int64))
            up_to[rate == 0] = 0
            want = (position <= low) & (up_to > 0)
            if not want.any():
                continue
            idx = np.nonzero(want)[0]
            qty = np.maximum(up_to[idx] - position[idx], 1)
            qty = np.maximum(np.ceil(qty / pack[idx]).astype(np.int64) * pack[idx], moq[idx])
        else:
            want = orders_anything & (position <= reorder_point)
            if not want.any():
                continue
            idx = np.nonzero(want)[0]
            batches = np.ceil((reorder_point[idx] - position[idx] + 1) / order_qty[idx]).astype(np.int64)
            qty = np.maximum(batches, 1) * order_qty[idx]
        # One purchase order per store and supplier today; each takes that supplier's next real lead time.
        keys = store[idx] * n_suppliers + supplier[idx]
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        po_lead = np.empty(len(unique_keys), dtype=np.int64)
        for k, key in enumerate(unique_keys):
            s = int(key % n_suppliers)
            history = suppliers.lead_times[s]
            if len(history):
                used = lead_counter.get(int(key), 0)
                po_lead[k] = max(int(history[used % len(history)]), 1)
                lead_counter[int(key)] = used + 1
            else:
                po_lead[k] = max(int(suppliers.quoted_lead[s]), 1)
            ordering_cost += float(suppliers.order_cost[s])
        purchase_orders += len(unique_keys)
        order_lines += len(idx)
        units_ordered += int(qty.sum())
        purchase_cost += float(qty @ price[idx])
        on_order[idx] += qty
        lead = np.minimum(po_lead[inverse], horizon - 1)
        np.add.at(arrivals, ((d + lead) % horizon, idx), qty)

    cycles += int(cycle_demand.sum())
    cycles_short += int(cycle_short.sum())
    demanded = int(item_demand.sum())
    shorted = int(item_short.sum())
    item_holding = item_stock_days * daily_holding
    return ReplayResult(
        policy=policy.name, days=n_days,
        holding_cost=float(item_holding.sum()), ordering_cost=ordering_cost,
        stockout_cost=float(shorted * stockout_cost), purchase_cost=purchase_cost,
        units_demanded=demanded, units_filled_on_day=demanded - shorted, units_short=shorted,
        fill_rate=(demanded - shorted) / demanded if demanded else None,
        cycles=cycles, cycles_with_stockout=cycles_short,
        cycle_service_level=1 - cycles_short / cycles if cycles else None,
        purchase_orders=purchase_orders, order_lines=order_lines, units_ordered=units_ordered,
        average_stock_value=stock_value_total / n_days if n_days else 0.0,
        stockout_item_days=stockout_item_days,
        item_demand=item_demand, item_short=item_short, item_stock_days=item_stock_days, item_holding_cost=item_holding,
    )


def combine_results(results):
    """One result from the results of disjoint sets of items (e.g. stores replayed in chunks)."""
    first = results[0]
    total = lambda name: sum(getattr(r, name) for r in results)
    demanded, shorted = total("units_demanded"), total("units_short")
    cycles, cycles_short = total("cycles"), total("cycles_with_stockout")
    return ReplayResult(
        policy=first.policy, days=first.days, holding_cost=total("holding_cost"), ordering_cost=total("ordering_cost"),
        stockout_cost=total("stockout_cost"), purchase_cost=total("purchase_cost"), units_demanded=demanded,
        units_filled_on_day=demanded - shorted, units_short=shorted,
        fill_rate=(demanded - shorted) / demanded if demanded else None, cycles=cycles, cycles_with_stockout=cycles_short,
        cycle_service_level=1 - cycles_short / cycles if cycles else None, purchase_orders=total("purchase_orders"),
        order_lines=total("order_lines"), units_ordered=total("units_ordered"),
        average_stock_value=total("average_stock_value"), stockout_item_days=total("stockout_item_days"),
        item_demand=np.concatenate([r.item_demand for r in results]), item_short=np.concatenate([r.item_short for r in results]),
        item_stock_days=np.concatenate([r.item_stock_days for r in results]),
        item_holding_cost=np.concatenate([r.item_holding_cost for r in results]),
    )
