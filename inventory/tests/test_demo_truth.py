"""The inventory methods find what the demo generator planted (small demo set of the session)."""
import math

import pandas as pd
import pytest
from scipy import stats

from inventory import results, selectors
from inventory.ml import policy as pol
from inventory.models import PurchaseOrder, Supplier


def test_planted_late_supplier_ranks_last_on_reliability(stores, demo):
    body = results.supply_chain_optimization(stores)
    cards = {c["code"]: c for c in body["scorecards"]}
    late = cards[demo.truth["late_supplier"]["code"]]
    assert late["reliability_rank"] == max(c["reliability_rank"] for c in cards.values())
    assert late["on_time_rate"] == pytest.approx(demo.truth["late_supplier"]["on_time_rate"], abs=0.05)
    # It is late by about the planted mean extra days, and its lead time varies far more than anyone's.
    assert late["mean_days_late"] == pytest.approx(demo.truth["late_supplier"]["planted_mean_extra_days"], abs=1.5)
    assert late["lead_time_sd"] > 3 * max(c["lead_time_sd"] for code, c in cards.items() if code != late["code"])


def test_allocation_moves_the_overpaying_stores_premium_purchases_to_cheaper_suppliers(stores, demo):
    planted = demo.truth["overpriced_purchasing"]
    body = results.supply_chain_optimization(stores)
    allocation = body["allocation"]
    assert allocation["solver_status"] == "optimal"
    optimal = {row["supplier"]: row for row in allocation["by_supplier"]}
    assert optimal[planted["supplier"]]["today_units"] > 0
    assert optimal[planted["supplier"]]["units"] == pytest.approx(0, abs=1e-6)
    # Relative to what it spends, the overpaying store saves the most, and most of it is cash (price).
    shares = {row["store"]: row["saving_share"] for row in allocation["by_store"]}
    assert shares[planted["store"]] == max(shares.values()) > 0
    landed = {row["store"]: row["landed_saving"] / row["today_cost"] for row in allocation["by_store"]}
    assert landed[planted["store"]] == max(landed.values()) > 0
    assert allocation["saving"] == pytest.approx(allocation["today_cost"] - allocation["optimal_cost"], abs=0.05)


def test_planted_dead_stock_is_found(stores, demo):
    store_ids = [s.pk for s in stores]
    frame = selectors.dead_and_excess_stock(selectors.stock_positions(store_ids), store_ids)
    planted = set(demo.truth["dead_stock"]["skus"])
    slow = set(demo.truth["slow_moving_parts"]["skus"])
    held = frame[frame.sku.isin(planted) & (frame.on_hand > 0)]
    assert len(held) > 0
    assert held.dead.all(), held[~held.dead][["sku", "store_id", "last_consumed"]]
    flagged = frame[frame.dead]
    # Everything flagged is planted dead stock or a planted slow mover that has not sold in the window.
    assert flagged.sku.isin(planted | slow).all()


def test_planted_slow_movers_get_intermittent_demand_treatment(stores, demo):
    positions = selectors.stock_positions([s.pk for s in stores])
    slow = positions[positions.sku.isin(demo.truth["slow_moving_parts"]["skus"])]
    assert len(slow) > 10
    assert set(slow.demand_class) <= {"intermittent", "lumpy", "none"}
    assert set(slow.policy_method) <= {pol.POISSON, pol.NEGATIVE_BINOMIAL, pol.NO_DEMAND}
    with_demand = slow[slow.daily_mean > 0]
    assert with_demand.reorder_point.max() <= 3


def _cycle_service_level_expected(policies):
    """Σ n·P(D_P ≤ s) / Σ n over the parts (n = D/Q + 1, the cycles of a year), P from scipy with each part's
    stored protection-interval mean, spread and method."""
    total = served = 0.0
    for row in policies.itertuples():
        mean, sd, s = row.protection_demand, row.protection_sd, row.reorder_point
        if row.policy_method == pol.NORMAL:
            p = stats.norm.cdf(s, mean, sd)
        elif sd ** 2 > mean * 1.0001:
            p = stats.nbinom.cdf(s, mean ** 2 / (sd ** 2 - mean), mean / sd ** 2)
        else:
            p = stats.poisson.cdf(s, mean)
        cycles = 365 * row.daily_mean / row.order_qty + 1  # deliveries a year and the cycle under way
        total, served = total + cycles, served + cycles * p
    return served / total


def test_a_stores_reorder_points_meet_its_service_level_together_at_the_lowest_stock(stores):
    # The reorder points of a store's parts are set together: its replenishment cycles, weighted by how often each
    # part is ordered, are served at the target in expectation — not above it by the rounding of each part's own
    # quantile (which at 90 % serves ~96 % and holds the stock for it).
    from inventory.models import StockPolicy

    policies = pd.DataFrame(StockPolicy.objects.filter(store__in=stores, daily_mean__gt=0, order_qty__gt=0).values(
        "store_id", "service_level", "protection_demand", "protection_sd", "reorder_point", "policy_method", "daily_mean",
        "order_qty", "unit_price"))
    for (_, level), group in policies.groupby(["store_id", "service_level"]):
        if len(group) < 20:
            continue
        expected = _cycle_service_level_expected(group)
        assert level - 1e-6 <= expected <= level + 0.01, (level, expected)
        # Each part's own quantile (the textbook rule) serves more cycles than asked and holds more stock for it.
        own = group.assign(reorder_point=[_own_quantile(r, level) for r in group.itertuples()])
        assert _cycle_service_level_expected(own) > expected
        assert (own.reorder_point * own.unit_price).sum() > (group.reorder_point * group.unit_price).sum()


def _own_quantile(row, level):
    mean, sd = row.protection_demand, row.protection_sd
    if row.policy_method == pol.NORMAL:
        return math.ceil(stats.norm.ppf(level, mean, sd) - 1e-9)
    if sd ** 2 > mean * 1.0001:
        return stats.nbinom.ppf(level, mean ** 2 / (sd ** 2 - mean), mean / sd ** 2)
    return stats.poisson.ppf(level, mean)


def _not_significantly_below(successes, trials, target, alpha=0.05):
    """One-sided exact binomial test: is a service level measured on `trials` cycles consistent with `target`?"""
    return stats.binomtest(successes, trials, target, alternative="less").pvalue > alpha


def test_recommended_policy_meets_the_requested_service_level_in_the_replay(stores):
    replay = selectors.policy_replay([s.pk for s in stores], 365, service_level=0.95)
    today, recommended, held_out = replay.today, replay.recommended, replay.out_of_sample
    # In-sample: the policy of the current forecast, whose training saw this window.
    assert recommended.cycle_service_level >= 0.95
    assert recommended.fill_rate >= 0.95
    assert recommended.fill_rate > today.fill_rate
    assert recommended.total_cost < today.total_cost
    # Out of sample: the same method re-estimated through the window from the data before each re-estimate
    # only. It still serves at least 95 % of units on the day, its cycle service level is not significantly
    # below the 95 % asked for, and it costs less than today's ordering.
    assert held_out is not None and replay.holdout["origins"][0] == replay.start.isoformat()
    assert held_out.fill_rate >= 0.95
    # All its replenishment cycles — new parts' too, pooled from the other stores (ml.today.pool_new_items) — are
    # served at the 95 % asked for: not significantly below it (~950 cycles), and not far above (it over-delivers
    # by about a point: docs/inventory.md, service level asked for against delivered).
    figures = held_out.summary()
    cycles, served = figures["replenishment_cycles"], figures["replenishment_cycles"] - figures["cycles_with_stockout"]
    assert _not_significantly_below(served, cycles, 0.95), figures["cycle_service_level"]
    assert figures["cycle_service_level"] < 0.95 + 0.02
    assert held_out.fill_rate > today.fill_rate
    assert held_out.total_cost < today.total_cost


def test_replay_of_todays_inferred_ordering_reproduces_the_observed_fill_rate(stores):
    """Today's ordering is read back from the shop's purchase orders (s, S per part and store, review weekdays
    per store), not copied from anywhere. Replayed with the real opening stock, the demand as dated by the
    repairs and the suppliers' real lead times, it serves the same share of units on the day as the ledger
    says the shop did: the replay is calibrated on the shop's own data, so its cost comparison is credible."""
    replay = selectors.policy_replay([s.pk for s in stores], 365)
    items = replay.items
    active = items.today_inferred | items.today_assumed
    assert items.today_inferred.sum() >= 0.75 * active.sum()  # mostly read back, few series on the assumed rule
    observed = 1 - replay.observed["waited"] / replay.observed["units"]
    assert replay.observed["units"] == replay.today.units_demanded
    assert replay.today.fill_rate == pytest.approx(observed, abs=0.02)


def test_todays_review_days_and_levels_are_read_back_from_the_purchase_orders(stores, demo):
    # The generator's shop reviews on Monday and Thursday and orders up to S when the position is at or below
    # s; both are planted, neither is told to the inference.
    assert "review Monday and Thursday" in demo.truth["process"]["baseline_stock_policy"]
    replay = selectors.policy_replay([s.pk for s in stores], 365)
    assert replay.review_weekdays == {s.pk: [0, 3] for s in stores} and not replay.assumed_weekdays
    inferred = replay.items[replay.items.today_inferred]
    assert (inferred.today_order_up_to > inferred.today_reorder_level).all()
    # A part ordered more often has higher levels: the levels follow each part's own demand.
    busy = inferred.today_orders >= inferred.today_orders.median()
    assert inferred[busy].today_order_up_to.mean() > inferred[~busy].today_order_up_to.mean()


def test_replay_demand_equals_the_ledgers_consumption(stores):
    from datetime import timedelta

    from django.db.models import Sum

    from inventory.models import StockMovement

    replay = selectors.policy_replay([s.pk for s in stores], 365)
    start = selectors.local_day_start(replay.start)
    end = selectors.local_day_start(replay.end + timedelta(days=1))
    consumed = -StockMovement.objects.filter(kind="consumption", at__gte=start, at__lt=end).aggregate(s=Sum("quantity"))["s"]
    # Demand is dated when the repair needed the part (the start of its wait), consumption when it was used:
    # re-dating moves a handful of units across the window's edges, no more.
    assert replay.today.units_demanded == pytest.approx(consumed, rel=0.01)


def test_lead_times_come_from_delivered_purchase_orders(stores, demo):
    stats = selectors.supplier_delivery_stats().merge(
        selectors.suppliers_frame()[["supplier_id", "code"]], on="supplier_id").set_index("code")
    late = demo.truth["late_supplier"]
    assert stats.loc[late["code"], "lead_time_mean"] == pytest.approx(late["mean_lead_days"], abs=1.0)
    assert stats.loc[late["code"], "on_time_rate"] < 0.1
    received = PurchaseOrder.objects.filter(supplier=Supplier.objects.get(code=late["code"]), received_at__isnull=False).count()
    assert received > 0
