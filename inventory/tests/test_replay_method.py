"""The day-by-day replay on hand-made demand series whose costs are worked out by hand (no database)."""
import numpy as np
import pytest

from inventory.ml import replay as rp

# Holding rate 1.0 on a unit cost of 365 makes one unit held for one day cost exactly £1.
HOLDING_RATE, UNIT_COST, STOCKOUT_COST, ORDER_COST = 1.0, 365.0, 10.0, 5.0


def _one_item(opening, lead_times):
    items = rp.ReplayItems(store_index=np.array([0]), unit_cost=np.array([UNIT_COST]), opening_on_hand=np.array([opening]))
    suppliers = rp.Suppliers(order_cost=np.array([ORDER_COST]), lead_times=[np.array(lead_times)], quoted_lead=np.array([1]))
    return items, suppliers


def test_reorder_point_policy_replay_matches_hand_calculation():
    # s = 1, Q = 3, daily review, lead time 2 days, opening stock 3, demand 1,1,1,1,0,3.
    # Day 0: 3→2.  Day 1: 2→1, position 1 ≤ s: order 3 (arrives day 3).  Day 2: 1→0.
    # Day 3: +3, 3→2.  Day 4: 2.  Day 5: demand 3, only 2 on the shelf: 1 short (back-ordered), order 3.
    # Held at close: 2+1+0+2+2+0 = 7 unit-days = £7; 2 orders = £10; 1 unit short = £10; fill 6/7.
    items, suppliers = _one_item(3, [2])
    demand = np.array([[1], [1], [1], [1], [0], [3]])
    policy = rp.ReorderPointPolicy(supplier=np.array([0]), unit_price=np.array([2.0]), reorder_point=np.array([1]),
                                   order_qty=np.array([3]), review_days=np.ones(6, dtype=bool))
    result = rp.replay_policy(demand, 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    assert result.holding_cost == pytest.approx(7.0)
    assert result.ordering_cost == pytest.approx(10.0) and result.purchase_orders == 2
    assert result.stockout_cost == pytest.approx(10.0) and result.units_short == 1
    assert result.fill_rate == pytest.approx(6 / 7)
    assert result.purchase_cost == pytest.approx(6 * 2.0) and result.units_ordered == 6
    # Cycles: the delivery on day 3 closes a cycle without a stockout; the open one since has one.
    assert (result.cycles, result.cycles_with_stockout) == (2, 1)
    assert result.total_cost == pytest.approx(27.0)


def test_back_orders_are_served_first_from_the_next_delivery():
    # Nothing on hand, demand 2 on day 0, an order of 2 arrives on day 2, no demand after:
    # the back-order takes the delivery, so nothing is left on the shelf.
    items, suppliers = _one_item(0, [2])
    demand = np.array([[2], [0], [0], [0]])
    policy = rp.ReorderPointPolicy(supplier=np.array([0]), unit_price=np.array([1.0]), reorder_point=np.array([-1]),
                                   order_qty=np.array([2]), review_days=np.ones(4, dtype=bool))
    result = rp.replay_policy(demand, 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    # Position after day 0 is −2 ≤ s = −1: order 2, which arrives on day 2 and clears the back-order.
    assert result.units_short == 2 and result.holding_cost == 0 and result.purchase_orders == 1
    assert result.item_stock_days[0] == 0


def test_rate_based_order_up_to_rule_replay_matches_hand_calculation():
    # Run-up of 2 days at 1 a day; rate window 2 days, buffer 1 day, cover 2 days, quoted lead 1:
    # s = ceil(1 × (1 + 1)) = 2, S = s + max(pack 1, 2) = 4. Reviews on days 0 and 2; real lead time 1.
    # Day 0: 3→2, position 2 ≤ 2: order 2 (day 1).  Day 1: +2 → 4 → 3.  Day 2: 3→2, order 2 (day 3).  Day 3: +2 → 4 → 3.
    # Held: 2+3+2+3 = 10 unit-days = £10; 2 orders = £10; no stockout.
    items, suppliers = _one_item(3, [1])
    demand = np.array([[1], [1], [1], [1], [1], [1]])
    rule = rp.OrderUpToPolicy(supplier=np.array([0]), unit_price=np.array([1.0]), quoted_lead=np.array([1]), pack_size=np.array([1]),
                              min_order_qty=np.array([1]), review_days=np.array([True, False, True, False]),
                              rate_window_days=2, buffer_days=1, cover_days=2)
    result = rp.replay_policy(demand, 2, items, rule, suppliers, HOLDING_RATE, STOCKOUT_COST)
    assert result.days == 4
    assert result.holding_cost == pytest.approx(10.0)
    assert result.purchase_orders == 2 and result.units_ordered == 4
    assert result.units_short == 0 and result.fill_rate == 1.0


def test_rate_based_rule_orders_nothing_for_a_part_with_no_recent_demand():
    # The shop's rule sets S = 0 when the trailing rate is 0, so a slow mover that sold nothing lately
    # is not restocked and its next demand is short.
    items, suppliers = _one_item(0, [1])
    demand = np.array([[0], [0], [0], [1]])
    rule = rp.OrderUpToPolicy(supplier=np.array([0]), unit_price=np.array([1.0]), quoted_lead=np.array([1]), pack_size=np.array([1]),
                              min_order_qty=np.array([1]), review_days=np.array([True, True]), rate_window_days=2)
    result = rp.replay_policy(demand, 2, items, rule, suppliers, HOLDING_RATE, STOCKOUT_COST)
    assert result.purchase_orders == 0 and result.units_short == 1


def test_one_purchase_order_per_store_and_supplier_each_day_with_its_next_historical_lead_time():
    # Two items at the same store and supplier order on day 0 (one PO, lead 1); on day 1 the second PO
    # takes the next historical lead time (3).
    items = rp.ReplayItems(store_index=np.array([0, 0]), unit_cost=np.array([UNIT_COST, UNIT_COST]), opening_on_hand=np.array([1, 1]))
    suppliers = rp.Suppliers(order_cost=np.array([ORDER_COST]), lead_times=[np.array([1, 3])], quoted_lead=np.array([1]))
    demand = np.array([[1, 1], [1, 1], [0, 0], [0, 0], [0, 0], [0, 0]])
    policy = rp.ReorderPointPolicy(supplier=np.array([0, 0]), unit_price=np.array([1.0, 1.0]), reorder_point=np.array([0, 0]),
                                   order_qty=np.array([1, 1]), review_days=np.ones(6, dtype=bool))
    result = rp.replay_policy(demand, 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    # Day 0: both 1→0, both order 1 on one PO arriving day 1. Day 1: +1 each → 0 after demand, one PO again (lead 3, day 4).
    assert result.purchase_orders == 2 and result.order_lines == 4
    assert result.units_short == 0
    assert result.item_stock_days.tolist() == [2, 2]  # 1 unit each on days 4 and 5


def test_replaying_stores_in_chunks_adds_up_to_replaying_them_together():
    rng = np.random.default_rng(3)
    demand = rng.poisson(0.6, size=(60, 4))
    suppliers = rp.Suppliers(order_cost=np.array([ORDER_COST]), lead_times=[np.array([2, 3, 1])], quoted_lead=np.array([2]))

    def run(columns, stores):
        items = rp.ReplayItems(store_index=np.array(stores), unit_cost=np.full(len(columns), UNIT_COST),
                               opening_on_hand=np.full(len(columns), 2))
        policy = rp.ReorderPointPolicy(supplier=np.zeros(len(columns), dtype=int), unit_price=np.ones(len(columns)),
                                       reorder_point=np.full(len(columns), 1), order_qty=np.full(len(columns), 3),
                                       review_days=np.ones(60, dtype=bool))
        return rp.replay_policy(demand[:, columns], 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)

    # One item per store: each store's orders are its own, so splitting by store changes nothing.
    together = run([0, 1, 2, 3], [0, 1, 2, 3])
    combined = rp.combine_results([run([0, 1], [0, 1]), run([2, 3], [2, 3])])
    assert combined.units_short == together.units_short
    assert combined.holding_cost == pytest.approx(together.holding_cost)
    assert combined.fill_rate == pytest.approx(together.fill_rate)
    assert combined.item_short.tolist() == together.item_short.tolist()


def test_fixed_order_up_to_levels_replay_on_each_stores_own_review_days():
    # Two stores, one item each, the same demand (1 a day, opening 2), s = 1, S = 4, lead time 1.
    # Store 0 reviews every day: day 0 2→1, position 1 ≤ s: order 3 (day 1: +3 → 4 → 3); day 2: 2; day 3: 1, order 3.
    # Store 1 reviews on day 2 only: day 0 1, day 1 0, day 2 nothing left, 1 short, position −1: order 5;
    # day 3: +5, the waiting unit first, then the day's: 3 left.
    items = rp.ReplayItems(store_index=np.array([0, 1]), unit_cost=np.array([UNIT_COST] * 2), opening_on_hand=np.array([2, 2]))
    suppliers = rp.Suppliers(order_cost=np.array([ORDER_COST]), lead_times=[np.array([1])], quoted_lead=np.array([1]))
    review = np.array([[True, False], [True, False], [True, True], [True, False]])
    policy = rp.OrderUpToPolicy(supplier=np.array([0, 0]), unit_price=np.array([1.0, 1.0]), pack_size=np.array([1, 1]),
                                min_order_qty=np.array([1, 1]), review_days=review, reorder_level=np.array([1, 1]),
                                order_up_to=np.array([4, 4]), rate_based=np.array([False, False]))
    demand = np.ones((4, 2), dtype=int)
    result = rp.replay_policy(demand, 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    # Store 0 closes 1, 3, 2, 1 with orders on days 0 and 3; store 1 closes 1, 0, 0, 3 with one order of 5.
    assert result.item_units_ordered.tolist() == [6, 5]
    assert result.item_short.tolist() == [0, 1]
    assert result.store_purchase_orders.tolist() == [2, 1]
    assert result.item_stock_days.tolist() == [1 + 3 + 2 + 1, 1 + 0 + 0 + 3]


def test_a_re_estimated_policy_takes_over_on_its_first_day():
    # Period 0 (days 0-1): s = −1, nothing ordered; period 1 (from day 2): s = 5, Q = 10 -> orders on day 2.
    items, suppliers = _one_item(3, [1])
    policy = rp.ReorderPointPolicy(supplier=np.array([[0], [0]]), unit_price=np.array([[1.0], [2.0]]),
                                   reorder_point=np.array([[-1], [5]]), order_qty=np.array([[10], [10]]),
                                   review_days=np.ones(4, dtype=bool), period_starts=np.array([0, 2]))
    result = rp.replay_policy(np.ones((4, 1), dtype=int), 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    assert result.purchase_orders == 1 and result.units_ordered == 10
    assert result.purchase_cost == pytest.approx(20.0)  # at the price of the period it was ordered in


def test_per_store_totals_add_up_to_the_whole_replay():
    rng = np.random.default_rng(5)
    demand = rng.poisson(0.8, size=(40, 6))
    items = rp.ReplayItems(store_index=np.array([0, 0, 1, 1, 2, 2]), unit_cost=np.full(6, UNIT_COST), opening_on_hand=np.full(6, 2))
    suppliers = rp.Suppliers(order_cost=np.array([ORDER_COST]), lead_times=[np.array([2, 1, 3])], quoted_lead=np.array([2]))
    policy = rp.ReorderPointPolicy(supplier=np.zeros(6, dtype=int), unit_price=np.ones(6), reorder_point=np.full(6, 1),
                                   order_qty=np.full(6, 3), review_days=np.ones(40, dtype=bool))
    result = rp.replay_policy(demand, 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    per_store = [result.totals(items.store_index == s) for s in range(3)]
    whole = rp.summarize(rp.add_totals(per_store))
    assert whole == result.summary()
    assert whole["purchase_orders"] == result.purchase_orders and whole["total_cost"] == pytest.approx(result.total_cost, abs=0.01)


def test_a_policy_whose_first_period_starts_after_the_first_review_orders_from_the_first_review():
    # Periods start on day 2 and day 3; reviews from day 0. Before day 2 the first period's policy is in force
    # (the window's first re-estimate), so the replay neither fails nor goes without a policy.
    items, suppliers = _one_item(0, [1])
    policy = rp.ReorderPointPolicy(supplier=np.array([[0], [0]]), unit_price=np.array([[1.0], [2.0]]),
                                   reorder_point=np.array([[0], [-5]]), order_qty=np.array([[4], [4]]),
                                   review_days=np.ones(4, dtype=bool), period_starts=np.array([2, 3]))
    result = rp.replay_policy(np.zeros((4, 1), dtype=int), 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    # Day 0: position 0 ≤ s = 0: order 4 at the first period's price; nothing more is needed after it.
    assert result.purchase_orders == 1 and result.units_ordered == 4 and result.purchase_cost == pytest.approx(4.0)


def test_purchase_orders_are_a_stores_figure_and_are_not_given_for_part_of_a_store():
    demand = np.array([[1, 1, 1], [1, 1, 1], [1, 1, 1]])
    items = rp.ReplayItems(store_index=np.array([0, 0, 1]), unit_cost=np.full(3, UNIT_COST), opening_on_hand=np.zeros(3, dtype=int))
    suppliers = rp.Suppliers(order_cost=np.array([ORDER_COST]), lead_times=[np.array([1])], quoted_lead=np.array([1]))
    policy = rp.ReorderPointPolicy(supplier=np.zeros(3, dtype=int), unit_price=np.ones(3), reorder_point=np.zeros(3, dtype=int),
                                   order_qty=np.full(3, 5), review_days=np.ones(3, dtype=bool))
    result = rp.replay_policy(demand, 0, items, policy, suppliers, HOLDING_RATE, STOCKOUT_COST)
    whole_store = result.totals(items.store_index == 0)
    one_item_of_it = result.totals(np.array([True, False, False]))
    # Store 0's items share its purchase orders: the store has a figure, one of its items has none ...
    assert whole_store["purchase_orders"] == result.store_purchase_orders[0] > 0
    assert one_item_of_it["purchase_orders"] is None and one_item_of_it["ordering_cost"] is None
    assert one_item_of_it["units_demanded"] == 3 and one_item_of_it["order_lines"] > 0
    # ... and a sum that includes such a part has none either, while whole stores still add up.
    assert rp.add_totals([one_item_of_it, result.totals(items.store_index == 1)])["ordering_cost"] is None
    assert rp.add_totals([whole_store, result.totals(items.store_index == 1)])["ordering_cost"] == pytest.approx(result.ordering_cost)
