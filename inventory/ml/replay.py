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
- `OrderUpToPolicy`: the periodic (s, S) policy a shop runs by hand: on its review days, when stock
  on hand + on order − back-orders ≤ s, order up to S, in whole packs and at least the MOQ. Today's
  ordering is replayed with it: s and S per item as read back from the shop's purchase orders
  (`ml.today.infer_order_up_to_levels`), or, for items flagged `rate_based` (too few orders to read
  them from), s = trailing rate × (quoted lead + buffer days) and S = s + cover days of demand with
  the rate re-estimated at every review (an assumed rule, from settings).
- `ReorderPointPolicy`: the recommended periodic (R, s, nQ) policy: on review days, when the
  position is ≤ s, order the smallest multiple of Q that lifts it above s.
Review days are one flag per day for every item, or a (days × stores) table (each store its own
weekdays). Vectorised across items with numpy; a loop over days only.
"""
from dataclasses import dataclass, field
from functools import cached_property

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
class OrderUpToPolicy:
    supplier: np.ndarray  # supplier index per item
    unit_price: np.ndarray
    pack_size: np.ndarray
    min_order_qty: np.ndarray
    review_days: np.ndarray  # bool per window day, or (window days × stores)
    reorder_level: np.ndarray = None  # s per item (fixed levels)
    order_up_to: np.ndarray = None  # S per item
    rate_based: np.ndarray = None  # bool per item: levels from the trailing demand rate instead (default: all)
    quoted_lead: np.ndarray = None  # days, per item (rate-based levels)
    rate_window_days: int = 56
    buffer_days: int = 7
    cover_days: int = 28
    name: str = "today"


@dataclass
class ReorderPointPolicy:
    """Per item, or per period × item with `period_starts` (the window day each period's policy takes
    over: a policy re-estimated as the window goes on)."""

    supplier: np.ndarray
    unit_price: np.ndarray
    reorder_point: np.ndarray
    order_qty: np.ndarray
    review_days: np.ndarray
    name: str = "recommended"
    period_starts: np.ndarray = None


TOTAL_FIELDS = ("holding_cost", "ordering_cost", "stockout_cost", "purchase_cost", "units_demanded", "units_short",
                "cycles", "cycles_with_stockout", "cycles_unstocked", "purchase_orders", "order_lines", "units_ordered", "stock_value_days",
                "stockout_item_days", "items", "days")


@dataclass
class ReplayResult:
    """One policy's replay: per item (and per store index for purchase orders) what happened. The
    reported figures are read from `totals()`, so the whole replay and any whole-store part of it are
    added up by the same code."""

    policy: str
    days: int
    item_demand: np.ndarray = field(repr=False)
    item_short: np.ndarray = field(repr=False)
    item_stock_days: np.ndarray = field(repr=False)  # Σ units on hand at close over the days
    item_holding_cost: np.ndarray = field(repr=False)
    # Per item: order lines, units and spend ordered, replenishment cycles (with a stockout), stockout days,
    # stock value × days; per store index: purchase orders and their ordering cost.
    item_order_lines: np.ndarray = field(repr=False)
    item_units_ordered: np.ndarray = field(repr=False)
    item_purchase_cost: np.ndarray = field(repr=False)
    item_cycles: np.ndarray = field(repr=False)
    item_cycles_short: np.ndarray = field(repr=False)
    item_cycles_unstocked: np.ndarray = field(repr=False)  # cycles short while the policy in force stocked nothing
    item_stockout_days: np.ndarray = field(repr=False)
    item_stock_value_days: np.ndarray = field(repr=False)
    item_store: np.ndarray = field(repr=False)
    store_purchase_orders: np.ndarray = field(repr=False)
    store_ordering_cost: np.ndarray = field(repr=False)
    stockout_cost_per_unit: float = 0.0

    @cached_property
    def _all(self):
        return self.totals()

    holding_cost = property(lambda self: self._all["holding_cost"])
    ordering_cost = property(lambda self: self._all["ordering_cost"])
    stockout_cost = property(lambda self: self._all["stockout_cost"])
    purchase_cost = property(lambda self: self._all["purchase_cost"])
    units_demanded = property(lambda self: self._all["units_demanded"])
    units_short = property(lambda self: self._all["units_short"])
    units_filled_on_day = property(lambda self: self._all["units_demanded"] - self._all["units_short"])
    cycles = property(lambda self: self._all["cycles"])
    cycles_with_stockout = property(lambda self: self._all["cycles_with_stockout"])
    purchase_orders = property(lambda self: self._all["purchase_orders"])
    order_lines = property(lambda self: self._all["order_lines"])
    units_ordered = property(lambda self: self._all["units_ordered"])
    stockout_item_days = property(lambda self: self._all["stockout_item_days"])

    @property
    def fill_rate(self):
        demanded = self.units_demanded
        return (demanded - self.units_short) / demanded if demanded else None

    @property
    def cycle_service_level(self):
        return 1 - self.cycles_with_stockout / self.cycles if self.cycles else None

    @property
    def average_stock_value(self):
        return self._all["stock_value_days"] / self.days if self.days else 0.0

    @property
    def total_cost(self):
        return self.holding_cost + self.ordering_cost + self.stockout_cost

    def summary(self):
        return summarize(self.totals())

    def totals(self, items=None):
        """The additive figures (see TOTAL_FIELDS) of all items, or of the items selected by a boolean
        mask or index array. Purchase orders and their ordering cost belong to a store, not to an item
        (one order carries many parts): they are given for a selection that takes every item of each
        store it touches, and are None for any other (e.g. one demand class of a store)."""
        if items is None:
            items = np.ones(len(self.item_demand), dtype=bool)
        items = np.asarray(items)
        if items.dtype != bool:
            mask = np.zeros(len(self.item_demand), dtype=bool)
            mask[items] = True
            items = mask
        stores = np.unique(self.item_store[items]) if items.any() else np.zeros(0, dtype=np.int64)
        whole_stores = bool(np.array_equal(items, np.isin(self.item_store, stores)))
        short = int(self.item_short[items].sum())
        return {
            "holding_cost": float(self.item_holding_cost[items].sum()),
            "ordering_cost": float(self.store_ordering_cost[stores].sum()) if whole_stores else None,
            "stockout_cost": float(short * self.stockout_cost_per_unit),
            "purchase_cost": float(self.item_purchase_cost[items].sum()),
            "units_demanded": int(self.item_demand[items].sum()), "units_short": short,
            "cycles": int(self.item_cycles[items].sum()), "cycles_with_stockout": int(self.item_cycles_short[items].sum()),
            "cycles_unstocked": int(self.item_cycles_unstocked[items].sum()),
            "purchase_orders": int(self.store_purchase_orders[stores].sum()) if whole_stores else None,
            "order_lines": int(self.item_order_lines[items].sum()), "units_ordered": int(self.item_units_ordered[items].sum()),
            "stock_value_days": float(self.item_stock_value_days[items].sum()),
            "stockout_item_days": int(self.item_stockout_days[items].sum()), "items": int(items.sum()), "days": self.days,
        }


def add_totals(totals):
    """Σ of the additive figures of disjoint sets of items (e.g. stores); `days` is shared. A figure
    one of them lacks (None: a store-level figure of part of a store) is None in the sum too."""
    totals = list(totals)
    if not totals:
        return {name: 0 for name in TOTAL_FIELDS}

    def added(name):
        values = [t.get(name, 0) for t in totals]
        return None if any(v is None for v in values) else sum(values)

    summed = {name: added(name) for name in TOTAL_FIELDS if name != "days"}
    summed["days"] = max(t.get("days", 0) for t in totals)
    return summed


def summarize(totals):
    """The reported figures of a replay from its additive totals: the three costs and their sum, fill
    rate (units served on the day / demanded), cycle service level (cycles without a stockout /
    cycles), average stock value (stock value × days / days) and the counts."""
    demanded, short = totals["units_demanded"], totals["units_short"]
    cycles, cycles_short = totals["cycles"], totals["cycles_with_stockout"]
    unstocked = totals.get("cycles_unstocked") or 0  # (absent from totals stored before it was counted)
    total = totals["holding_cost"] + totals["ordering_cost"] + totals["stockout_cost"]
    return {
        "holding_cost": round(totals["holding_cost"], 2), "ordering_cost": round(totals["ordering_cost"], 2),
        "stockout_cost": round(totals["stockout_cost"], 2), "total_cost": round(total, 2),
        "purchase_cost": round(totals["purchase_cost"], 2),
        "fill_rate": round((demanded - short) / demanded, 4) if demanded else None,
        "cycle_service_level": round(1 - cycles_short / cycles, 4) if cycles else None,
        "units_demanded": demanded, "units_filled_on_day": demanded - short, "units_short": short,
        "stockout_item_days": totals["stockout_item_days"], "purchase_orders": totals["purchase_orders"],
        "order_lines": totals["order_lines"], "units_ordered": totals["units_ordered"],
        "average_stock_value": round(totals["stock_value_days"] / totals["days"], 2) if totals["days"] else 0.0,
        "replenishment_cycles": cycles, "cycles_with_stockout": cycles_short,
        # The cycles of items the policy stocked: a shortage of an item while the policy in force had no forecast
        # for it (a part's first demand, nothing to reorder) is a cycle no safety stock could serve.
        "cycles_unstocked": unstocked,
        "cycle_service_level_stocked": (round(1 - (cycles_short - unstocked) / (cycles - unstocked), 4)
                                        if cycles > unstocked else None),
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
    order_up_to_policy = isinstance(policy, OrderUpToPolicy)
    if order_up_to_policy:
        pack = np.maximum(np.asarray(policy.pack_size, dtype=np.int64), 1)
        moq = np.maximum(np.asarray(policy.min_order_qty, dtype=np.int64), 1)
        rate_based = (np.ones(n, dtype=bool) if policy.rate_based is None else np.asarray(policy.rate_based, dtype=bool))
        fixed_low = np.zeros(n, dtype=np.int64) if policy.reorder_level is None else np.asarray(policy.reorder_level, dtype=np.int64)
        fixed_up_to = np.zeros(n, dtype=np.int64) if policy.order_up_to is None else np.asarray(policy.order_up_to, dtype=np.int64)
        if rate_based.any():
            cumulative = np.vstack([np.zeros((1, n), dtype=np.int32), np.cumsum(demand, axis=0, dtype=np.int32)])
            cover_lead = np.asarray(policy.quoted_lead, dtype=float) + policy.buffer_days
    else:
        periods_s = np.atleast_2d(np.asarray(policy.reorder_point, dtype=np.int64))
        periods_q = np.atleast_2d(np.asarray(policy.order_qty, dtype=np.int64))
        starts = np.zeros(1, dtype=np.int64) if policy.period_starts is None else np.asarray(policy.period_starts, dtype=np.int64)
    periods_supplier = np.atleast_2d(np.asarray(policy.supplier, dtype=np.int64))
    periods_price = np.atleast_2d(np.asarray(policy.unit_price, dtype=float))
    period = None  # no policy in force yet: the first review day takes the one in force then
    store = np.asarray(items.store_index, dtype=np.int64)
    # Each store works through each supplier's record on its own, so a store's replay does not depend
    # on which other stores are replayed with it.
    lead_counter = {}
    review_mask = review_table(policy.review_days, store, n_days)

    item_demand = np.zeros(n, dtype=np.int64)
    item_short = np.zeros(n, dtype=np.int64)
    item_stock_days = np.zeros(n, dtype=np.int64)
    item_lines = np.zeros(n, dtype=np.int64)
    item_units = np.zeros(n, dtype=np.int64)
    item_spend = np.zeros(n, dtype=float)
    item_cycles = np.zeros(n, dtype=np.int64)
    item_cycles_short = np.zeros(n, dtype=np.int64)
    item_cycles_unstocked = np.zeros(n, dtype=np.int64)
    item_stockout_days = np.zeros(n, dtype=np.int64)
    n_stores = int(store.max()) + 1 if n else 0
    store_orders = np.zeros(n_stores, dtype=np.int64)
    store_ordering = np.zeros(n_stores, dtype=float)
    cycle_short = np.zeros(n, dtype=bool)
    cycle_unstocked = np.zeros(n, dtype=bool)  # short on a day the policy in force stocked nothing (no forecast)
    if order_up_to_policy:
        stocking = rate_based | (fixed_up_to > 0)
    else:
        stocking = periods_q[0] > 0
    cycle_demand = np.zeros(n, dtype=bool)

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
            item_cycles += got
            item_cycles_short += cycle_short & got
            item_cycles_unstocked += cycle_unstocked & got
            cycle_short[got] = False
            cycle_unstocked[got] = False
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
        item_stockout_days += has_short
        cycle_short |= has_short
        cycle_unstocked |= has_short & ~stocking
        cycle_demand |= today > 0
        item_stock_days += on_hand

        reviewing = review_mask[d]
        if not reviewing.any():
            continue
        current = 0 if order_up_to_policy else int(np.searchsorted(starts, d, side="right") - 1)
        if current != period:  # the policy in force from this day
            period = current
            supplier, price = periods_supplier[max(period, 0)], periods_price[max(period, 0)]
            if not order_up_to_policy:
                reorder_point, order_qty = periods_s[max(period, 0)], periods_q[max(period, 0)]
                orders_anything = stocking = order_qty > 0
        position = on_hand + on_order - backlog
        if order_up_to_policy:
            low, up_to = fixed_low, fixed_up_to
            if rate_based.any():
                now = history_days + d
                rate = (cumulative[now] - cumulative[max(now - policy.rate_window_days, 0)]) / float(policy.rate_window_days)
                rate_low = np.ceil(rate * cover_lead - 1e-9).astype(np.int64)
                rate_up_to = rate_low + np.maximum(pack, np.ceil(rate * policy.cover_days - 1e-9).astype(np.int64))
                rate_up_to[rate == 0] = 0
                low, up_to = np.where(rate_based, rate_low, fixed_low), np.where(rate_based, rate_up_to, fixed_up_to)
                stocking = up_to > 0
            want = reviewing & (position <= low) & (up_to > 0)
            if not want.any():
                continue
            idx = np.nonzero(want)[0]
            qty = np.maximum(up_to[idx] - position[idx], 1)
            qty = np.maximum(np.ceil(qty / pack[idx]).astype(np.int64) * pack[idx], moq[idx])
        else:
            want = reviewing & orders_anything & (position <= reorder_point)
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
            store_orders[int(key // n_suppliers)] += 1
            store_ordering[int(key // n_suppliers)] += float(suppliers.order_cost[s])
        item_lines[idx] += 1
        item_units[idx] += qty
        item_spend[idx] += qty * price[idx]
        on_order[idx] += qty
        lead = np.minimum(po_lead[inverse], horizon - 1)
        np.add.at(arrivals, ((d + lead) % horizon, idx), qty)

    item_cycles += cycle_demand  # the cycle still open at the end counts when it saw demand
    item_cycles_short += cycle_short
    item_cycles_unstocked += cycle_unstocked
    return result_of(policy.name, n_days, stockout_cost, item_demand, item_short, item_stock_days, item_stock_days * daily_holding,
                     item_lines, item_units, item_spend, item_cycles, item_cycles_short, item_cycles_unstocked, item_stockout_days,
                     item_stock_days * unit_cost, store, store_orders, store_ordering)


def result_of(name, days, stockout_cost, item_demand, item_short, item_stock_days, item_holding, item_lines, item_units,
              item_spend, item_cycles, item_cycles_short, item_cycles_unstocked, item_stockout_days, item_stock_value_days,
              item_store,
              store_orders, store_ordering):
    return ReplayResult(
        policy=name, days=days,
        item_demand=item_demand, item_short=item_short, item_stock_days=item_stock_days, item_holding_cost=item_holding,
        item_order_lines=item_lines, item_units_ordered=item_units, item_purchase_cost=item_spend, item_cycles=item_cycles,
        item_cycles_short=item_cycles_short, item_cycles_unstocked=item_cycles_unstocked, item_stockout_days=item_stockout_days,
        item_stock_value_days=item_stock_value_days,
        item_store=item_store, store_purchase_orders=store_orders, store_ordering_cost=store_ordering,
        stockout_cost_per_unit=float(stockout_cost),
    )


def review_table(review_days, store_index, n_days):
    """(days × items) review flags from one flag per day, or from a (days × stores) table."""
    review_days = np.asarray(review_days, dtype=bool)
    if review_days.ndim == 1:
        return np.broadcast_to(review_days[:n_days, None], (n_days, len(store_index)))
    return review_days[:n_days][:, np.asarray(store_index, dtype=np.int64)]


def combine_results(results):
    """One result from the results of disjoint sets of items (e.g. stores replayed in chunks); store
    indexes of later parts are shifted past the earlier ones'."""
    first = results[0]
    offsets = np.cumsum([0] + [len(r.store_purchase_orders) for r in results[:-1]])
    cat = lambda name: np.concatenate([getattr(r, name) for r in results])
    return result_of(first.policy, first.days, first.stockout_cost_per_unit, cat("item_demand"), cat("item_short"),
                     cat("item_stock_days"), cat("item_holding_cost"), cat("item_order_lines"), cat("item_units_ordered"),
                     cat("item_purchase_cost"), cat("item_cycles"), cat("item_cycles_short"), cat("item_cycles_unstocked"),
                     cat("item_stockout_days"),
                     cat("item_stock_value_days"), np.concatenate([r.item_store + o for r, o in zip(results, offsets)]),
                     cat("store_purchase_orders"), cat("store_ordering_cost"))
