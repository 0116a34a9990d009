"""Reading today's ordering back from purchase orders, and the out-of-sample forecast, on hand-made
cases whose answers are worked out by hand (no database)."""
import numpy as np
import pandas as pd
import pytest

from inventory.ml import today


def test_cumulative_sums_count_each_items_own_events_up_to_the_day():
    # Item 0: +2 on day 1, +3 on day 4; item 1: +5 on day 0.
    events = dict(event_item=[0, 1, 0], event_day=[1, 0, 4], event_value=[2, 5, 3])
    up_to = today.cumulative_at(**events, query_item=[0, 0, 0, 1, 1], query_day=[0, 1, 4, 0, 9])
    assert up_to.tolist() == [0, 2, 5, 5, 5]
    before = today.cumulative_at(**events, query_item=[0, 0, 1], query_day=[1, 5, 0], strictly_before=True)
    assert before.tolist() == [0, 5, 0]


def test_position_before_an_order_is_on_hand_plus_on_order_minus_back_orders():
    # One item, opening 4. Day 0: 3 needed and consumed (on hand 1). Day 1: order 6 (arrives day 3).
    # Day 2: 2 needed, 1 consumed (1 waits: back-order). Day 3: delivery of 6 (+6), the waiting unit consumed.
    # Day 4: order again. Positions at close of the order days, before ordering:
    #   day 1: on hand 1 + on order 0 − back-orders 0 = 1;  day 4: on hand 0 + 6 − 1 = 5, + 0 − 0 = 5.
    days = pd.DataFrame({"item": [0, 0, 0], "day": [0, 2, 3], "net": [-3, -1, 5], "needed": [3, 2, 0], "consumed": [3, 1, 1]})
    lines = pd.DataFrame({"item": [0, 0], "day": [1, 4], "quantity": [6, 6]})
    receipts = pd.DataFrame({"item": [0], "day": [3], "quantity": [6]})
    orders = pd.DataFrame({"item": [0, 0], "day": [1, 4]})
    assert today.positions_before_orders(orders, np.array([4]), days, lines, receipts).tolist() == [1, 5]
    # Asked on day 2 instead: on hand 0, the day-1 order of 6 on its way, 1 unit owed: 0 + 6 − 1 = 5.
    day2 = today.positions_before_orders(pd.DataFrame({"item": [0], "day": [2]}), np.array([4]), days, lines, receipts)
    assert day2.tolist() == [5]


def test_order_up_to_levels_are_the_rounded_up_medians_of_the_positions_at_ordering():
    orders = pd.DataFrame({"item": [0, 0, 0, 1], "position": [2, 1, 3, 0], "quantity": [8, 9, 6, 5]})
    levels = today.infer_order_up_to_levels(orders, n_items=3, min_orders=3)
    # Item 0: before 1, 2, 3 -> s = 2; after 10, 10, 9 -> S = 10. Item 1: one order, too few. Item 2: none.
    assert levels.loc[0, ["orders", "reorder_level", "order_up_to"]].tolist() == [3, 2, 10]
    assert levels.inferred.tolist() == [True, False, False]
    half = today.infer_order_up_to_levels(pd.DataFrame({"item": [0, 0], "position": [1, 2], "quantity": [4, 4]}), 1, 2)
    assert half.loc[0, "reorder_level"] == 2  # median 1.5: the position at an order is at or below s


def test_review_weekdays_are_those_with_a_real_share_of_the_order_days():
    mondays = pd.date_range("2026-01-05", periods=20, freq="7D")  # 20 Mondays
    thursdays = pd.date_range("2026-01-08", periods=19, freq="7D")
    one_saturday = [pd.Timestamp("2026-02-07")]
    dates = list(mondays) + list(thursdays) + one_saturday + list(mondays[:3])  # repeated dates count once
    assert today.infer_review_weekdays(dates, 0.05) == {0, 3}  # the odd Saturday (1 of 40 days) is not a habit
    assert today.infer_review_weekdays(dates, 0.0) == {0, 3, 5}
    assert today.infer_review_weekdays([], 0.05) == set()


def test_holdout_forecast_is_the_moving_average_with_its_own_one_step_errors():
    # Item 0: 7 units every week -> 1 a day, no error. Item 1: weeks alternate 0 and 14; with a 2-week average
    # every forecast is 7 and every error ±7 -> weekly RMSE 7, daily SD 7/√7. Item 2: never any demand.
    weekly = np.array([[7.0] * 8, [0.0, 14.0] * 4, [0.0] * 8])
    forecast = today.holdout_forecast(weekly, average_weeks=2)
    assert forecast.daily_mean.tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert forecast.daily_sd.tolist() == pytest.approx([0.0, 7 / np.sqrt(7), 0.0])
    # Syntetos–Boylan: item 0 demands every week with one size (smooth); item 1 every other week (ADI 2:
    # intermittent); item 2 nothing.
    assert forecast.demand_class.tolist() == ["smooth", "intermittent", "none"]


def test_vectorised_demand_profiles_match_the_parts_models_own():
    """The holdout forecast classifies with the parts-demand model's vectorised profile (one method, not a copy)."""
    from predictive.ml.parts import classify_demand, classify_demands, demand_profile, demand_profiles

    assert today.demand_profiles is demand_profiles and today.classify_demands is classify_demands
    rng = np.random.default_rng(11)
    weekly = rng.poisson(rng.gamma(0.6, 1.0, size=(300, 1)), size=(300, 52)) * rng.integers(1, 4, size=(300, 52))
    weekly[:5] = 0
    adi, cv2 = demand_profiles(weekly)
    expected = [demand_profile(row) for row in weekly]
    assert adi.tolist() == pytest.approx([e[0] for e in expected])
    assert cv2.tolist() == pytest.approx([e[1] for e in expected])
    assert classify_demands(adi, cv2).tolist() == [classify_demand(a, c) for a, c in expected]
