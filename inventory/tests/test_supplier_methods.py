"""Supplier scorecards, ranking and the allocation MILP on hand-made data with known answers."""
import itertools

import numpy as np
import pandas as pd
import pytest

from inventory.ml import suppliers as sup


def _brute_force_optimum():
    """Independent check of the allocation instance below: enumerate whole-unit allocations."""
    best = None
    for a1, b1 in itertools.product(range(61), range(31)):
        if a1 + b1 > 60:  # supplier 1's capacity
            continue
        for b3 in (0, 50):  # supplier 3 only in lots of at least its MOQ (50); more is never useful for B
            if b1 + b3 < 30:
                continue
            rest = 100 - a1
            for a3 in [0] + list(range(50, 101)):
                a2 = max(rest - a3, 0)
                cost = 10 * a1 + 12 * a2 + 11 * a3 + 5 * b1 + 4 * b3
                if best is None or cost < best[0]:
                    best = (cost, a1, a2, a3, b1, b3)
    return best


ALLOCATION_CANDIDATES = pd.DataFrame({
    "part_id": ["A", "A", "A", "B", "B"],
    "supplier_id": [1, 2, 3, 1, 3],
    "cost_per_unit": [10.0, 12.0, 11.0, 5.0, 4.0],
    "min_order_qty": [1, 1, 50, 1, 50],
})


def test_allocation_finds_the_known_optimum_under_capacity_and_moq():
    # Part A needs 100, part B 30. Supplier 1 is cheapest for A but can deliver only 60 units in all;
    # supplier 3 is cheapest for B but only sells lots of 50. Best: B's 30 from supplier 1, which leaves
    # 30 of its capacity for A, and A's other 70 from supplier 3 (a lot above its MOQ): 1,220.
    demand = pd.Series({"A": 100.0, "B": 30.0})
    result = sup.allocate_demand(ALLOCATION_CANDIDATES, demand, capacity=pd.Series({1: 60.0}))
    brute = _brute_force_optimum()
    assert brute[0] == 1220
    assert result.status == "optimal"
    assert result.objective == pytest.approx(1220, abs=1e-4)
    units = {(p, s): u for p, s, u in zip(result.allocation.part_id, result.allocation.supplier_id, result.allocation.units)}
    assert units[("A", 1)] == pytest.approx(30, abs=1e-4) and units[("A", 3)] == pytest.approx(70, abs=1e-4)
    assert units[("B", 1)] == pytest.approx(30, abs=1e-4) and units[("B", 3)] == pytest.approx(0, abs=1e-4)
    assert result.unallocated.sum() == pytest.approx(0)


def test_allocation_without_limits_buys_each_part_from_its_cheapest_supplier():
    result = sup.allocate_demand(ALLOCATION_CANDIDATES.assign(min_order_qty=1), pd.Series({"A": 100.0, "B": 30.0}))
    chosen = result.allocation[result.allocation.units > 0].set_index("part_id").supplier_id.to_dict()
    assert chosen == {"A": 1, "B": 3}
    assert result.objective == pytest.approx(100 * 10 + 30 * 4)


def test_allocation_reports_demand_that_capacity_cannot_cover():
    candidates = pd.DataFrame({"part_id": ["A"], "supplier_id": [1], "cost_per_unit": [10.0], "min_order_qty": [1]})
    result = sup.allocate_demand(candidates, pd.Series({"A": 100.0}), capacity=pd.Series({1: 80.0}), shortage_penalty=1000)
    assert result.allocation.units.iloc[0] == pytest.approx(80)
    assert result.unallocated["A"] == pytest.approx(20)


def test_allocation_cost_of_todays_shares():
    shares = pd.DataFrame({"part_id": ["A", "A"], "supplier_id": [1, 2], "share": [0.25, 0.75]})
    cost = sup.allocation_cost(shares, ALLOCATION_CANDIDATES, pd.Series({"A": 100.0}))
    assert cost.cost.sum() == pytest.approx(25 * 10 + 75 * 12)


def _orders():
    day = pd.Timestamp
    return pd.DataFrame([
        # supplier 1: three orders, quoted 3 days, all on time, one line short
        (1, day("2026-01-05"), day("2026-01-08"), day("2026-01-08"), True),
        (1, day("2026-01-12"), day("2026-01-15"), day("2026-01-14"), True),
        (1, day("2026-01-19"), day("2026-01-22"), day("2026-01-22"), False),
        # supplier 2: quoted 3 days, delivered after 5, 9 and 7 days; one still open
        (2, day("2026-01-05"), day("2026-01-08"), day("2026-01-10"), True),
        (2, day("2026-01-12"), day("2026-01-15"), day("2026-01-21"), True),
        (2, day("2026-01-19"), day("2026-01-22"), day("2026-01-26"), True),
        (2, day("2026-01-26"), day("2026-01-29"), pd.NaT, False),
    ], columns=["supplier_id", "ordered", "expected", "received", "in_full"])


def test_scorecards_measure_delivery_quality_and_price_from_history():
    receipts = pd.DataFrame({"supplier_id": [1, 2], "quantity": [200, 100], "defective": [2, 5]})
    prices = pd.DataFrame({"supplier_id": [1, 2, 1, 2], "part_id": [10, 10, 11, 11], "unit_price": [10.0, 9.0, 20.0, 18.0]})
    cards = sup.supplier_scorecards(_orders(), receipts, prices).set_index("supplier_id")
    assert cards.loc[1, "orders"] == 3 and cards.loc[2, "orders"] == 4 and cards.loc[2, "orders_received"] == 3
    assert cards.loc[1, "on_time_rate"] == 1.0 and cards.loc[2, "on_time_rate"] == 0.0
    assert cards.loc[1, "otif_rate"] == pytest.approx(2 / 3)
    assert cards.loc[2, "lead_time_mean"] == pytest.approx(7.0) and cards.loc[2, "lead_time_sd"] == pytest.approx(2.0)
    assert cards.loc[1, "lead_time_mean"] == pytest.approx((3 + 2 + 3) / 3)
    assert cards.loc[2, "mean_days_late"] == pytest.approx((2 + 6 + 4) / 3)
    assert cards.loc[1, "defect_rate"] == pytest.approx(0.01) and cards.loc[2, "defect_rate"] == pytest.approx(0.05)
    # Median of two prices is their mean: supplier 1 pays 10/9.5 and 20/19 of it, supplier 2 9/9.5 and 18/19.
    assert cards.loc[1, "price_index"] == pytest.approx(np.mean([10 / 9.5, 20 / 19]))
    assert cards.loc[2, "price_index"] == pytest.approx(np.mean([9 / 9.5, 18 / 19]))


def test_ranking_follows_the_users_weights_and_reliability_ranks_the_late_supplier_last():
    receipts = pd.DataFrame({"supplier_id": [1, 2], "quantity": [200, 100], "defective": [2, 5]})
    prices = pd.DataFrame({"supplier_id": [1, 2], "part_id": [10, 10], "unit_price": [10.0, 8.0]})
    cards = sup.supplier_scorecards(_orders(), receipts, prices)
    by_price, _ = sup.rank_suppliers(cards, {"price": 1})
    by_delivery, weights = sup.rank_suppliers(cards, {"on_time": 3, "lead_time_variability": 1})
    assert by_price.set_index("supplier_id")["rank"].to_dict() == {2: 1, 1: 2}
    assert by_delivery.set_index("supplier_id")["rank"].to_dict() == {1: 1, 2: 2}
    assert weights["on_time"] == pytest.approx(0.75) and weights["price"] == 0
    assert by_price.set_index("supplier_id").reliability_rank[2] == 2


def test_ranking_rejects_weights_that_are_all_zero():
    with pytest.raises(ValueError):
        sup.normalise_weights({"price": 0, "on_time": 0})


def test_units_bought_only_to_reach_an_moq_are_paid_for_by_the_demand():
    # Part B needs 30. Supplier 3 sells at 2 a unit but only in lots of 50 (100 in all); supplier 1 at 5.
    # Buying the lot of 50 (100) beats 30 × 5 (150), and the 20 units over demand are paid for too:
    # 100 / 30 = 3.33 a unit of demand, not the 2 of the price.
    candidates = pd.DataFrame({"part_id": ["B", "B"], "supplier_id": [1, 3], "cost_per_unit": [5.0, 2.0], "min_order_qty": [1, 50]})
    demand = pd.Series({"B": 30.0})
    result = sup.allocate_demand(candidates, demand)
    assert result.objective == pytest.approx(100.0)
    effective = sup.effective_unit_costs(result, demand)
    assert effective.loc["B", "cost_per_unit"] == pytest.approx(100 / 30)
    assert effective.loc["B", "surplus_units"] == pytest.approx(20)


def test_moq_holds_per_order_when_the_horizon_needs_several_orders():
    # The same part over a horizon that needs two orders (each at least the MOQ of 50): 100 units from
    # supplier 3 cost 200, more than 30 × 5 = 150 from supplier 1, so supplier 1 now wins.
    candidates = pd.DataFrame({"part_id": ["B", "B"], "supplier_id": [1, 3], "cost_per_unit": [5.0, 2.0], "min_order_qty": [1, 50]})
    result = sup.allocate_demand(candidates, pd.Series({"B": 30.0}), min_lots=2)
    units = dict(zip(result.allocation.supplier_id, result.allocation.units))
    assert units[1] == pytest.approx(30) and units[3] == pytest.approx(0)
    assert result.objective == pytest.approx(150.0)


def test_a_binding_capacity_splits_a_part_between_suppliers():
    # 100 units of A; supplier 1 (10 a unit) can deliver 40, supplier 2 (12) the rest: 40 × 10 + 60 × 12 = 1,120.
    candidates = pd.DataFrame({"part_id": ["A", "A"], "supplier_id": [1, 2], "cost_per_unit": [10.0, 12.0], "min_order_qty": [1, 1]})
    result = sup.allocate_demand(candidates, pd.Series({"A": 100.0}), capacity=pd.Series({1: 40.0}))
    units = dict(zip(result.allocation.supplier_id, result.allocation.units))
    assert units == pytest.approx({1: 40.0, 2: 60.0}) and result.objective == pytest.approx(1120.0)
    assert sup.effective_unit_costs(result, pd.Series({"A": 100.0})).loc["A", "cost_per_unit"] == pytest.approx(11.2)


def test_todays_mix_pays_for_its_moq_surplus_as_the_optimum_does():
    # One part, 10 units of demand over two stores, one supplier at £2 a unit with an MOQ of 50: whoever buys
    # it buys 50, so today's mix (the same supplier) costs what the optimum costs — a saving of zero, not −£80.
    terms = pd.DataFrame({"part_id": [1], "supplier_id": [7], "cost_per_unit": [2.0], "min_order_qty": [50]})
    demand = pd.Series({1: 10.0})
    optimum = sup.allocate_demand(terms, demand)
    optimal_cost = float(sup.effective_unit_costs(optimum, demand).cost_per_unit[1] * 10)
    mix = pd.DataFrame({"store_id": [1, 2], "part_id": [1, 1], "supplier_id": [7, 7], "units": [6.0, 4.0]})
    today = sup.todays_mix_costs(mix, terms, min_lots=1)
    assert today.bought.tolist() == pytest.approx([30.0, 20.0])  # the 40 surplus units in proportion to demand
    assert float(today.cost_per_unit_spent.sum()) == pytest.approx(optimal_cost) == pytest.approx(100.0)
    # Two orders over the horizon (min_lots = 2): each at least the MOQ, on both sides alike.
    assert float(sup.todays_mix_costs(mix, terms, min_lots=2).cost_per_unit_spent.sum()) == pytest.approx(200.0)
    # An MOQ of one unit is no minimum for the optimum's (continuous) units, nor for today's.
    single = terms.assign(min_order_qty=1)
    assert sup.todays_mix_costs(mix, single).bought.tolist() == pytest.approx([6.0, 4.0])
    assert float(sup.allocate_demand(single, demand).allocation.units.sum()) == pytest.approx(10.0)
