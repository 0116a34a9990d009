"""New parts get a policy from pooled information (`ml.today.pool_new_items`), planted truth, no database:
parts launched at a chain a few weeks before the re-estimate, selling at each store in proportion to its
volume. The moving average of the store's own weeks has nothing (or a few weeks diluted over 26) to go on;
the part's chain rate shared out by store volume has the planted rate."""
import numpy as np
import pytest

from inventory.ml import policy as pol
from inventory.ml import replay as rp
from inventory.ml import today as today_ml

STORE_SHARE = np.array([0.4, 0.3, 0.2, 0.1])  # the stores' shares of the chain's volume
N_OLD, N_NEW, WEEKS, LAUNCHED_WEEKS_AGO, TEST_DAYS = 60, 80, 52, 6, 240
RATES = pol.CostRates(holding_rate=0.25, stockout_cost=25.0, review_days=1.0, max_cover_days=None)


def _chain(seed=5):
    """Daily Poisson demand per item (store × part): established parts over the whole year, new parts from
    their launch; each part's chain rate split by store share. Returns the weekly history (items × weeks), the
    demand after the cut-off (days × items), the planted daily rate per item, store, part and new flag."""
    rng = np.random.default_rng(seed)
    chain_rate = np.concatenate([np.exp(rng.uniform(np.log(0.2), np.log(2.0), N_OLD)),
                                 np.exp(rng.uniform(np.log(0.1), np.log(0.8), N_NEW))])
    n_parts = N_OLD + N_NEW
    store = np.repeat(np.arange(len(STORE_SHARE)), n_parts)
    part = np.tile(np.arange(n_parts), len(STORE_SHARE))
    rate = chain_rate[part] * STORE_SHARE[store]
    new = part >= N_OLD
    daily = rng.poisson(rate, (WEEKS * 7, len(rate)))
    daily[: (WEEKS - LAUNCHED_WEEKS_AGO) * 7, new] = 0  # not on sale before its launch
    weekly = daily.reshape(WEEKS, 7, len(rate)).sum(axis=1).T
    return weekly, rng.poisson(rate, (TEST_DAYS, len(rate))), rate, store, part, new


def _policy(forecast, store, price, service_level):
    costs = pol.sourcing_costs(forecast.daily_mean, forecast.daily_sd, forecast.demand_class, service_level, price, 0.0,
                               15.0, 3.0, 1.0, 1, 1, RATES)
    quantity = costs["order_qty"]
    cycles = np.where(quantity > 0, 365 * forecast.daily_mean.to_numpy() / np.where(quantity > 0, quantity, 1) + 1, 0)
    points, _ = pol.allocate_reorder_points(costs["protection_demand"], costs["protection_sd"], costs["policy_method"],
                                            costs["reorder_point"], cycles, RATES.holding_rate * price, service_level, store)
    return points.astype(np.int64), quantity.astype(np.int64)


def _replay(test, store, price, reorder_point, order_qty, new):
    # New parts start with nothing on the shelf (the policy's first order stocks them); the rest at s + Q.
    items = rp.ReplayItems(store_index=store, unit_cost=price, opening_on_hand=np.where(new, 0, reorder_point + order_qty))
    suppliers = rp.Suppliers(order_cost=np.array([15.0]), lead_times=[np.array([2, 3, 4, 3, 2, 5])], quoted_lead=np.array([3]))
    policy = rp.ReorderPointPolicy(supplier=np.zeros(len(store), dtype=np.int64), unit_price=price, reorder_point=reorder_point,
                                   order_qty=order_qty, review_days=np.ones(len(test), dtype=bool))
    return rp.replay_policy(test, 0, items, policy, suppliers, RATES.holding_rate, RATES.stockout_cost)


def test_pooled_rate_of_a_new_part_is_its_chain_rate_shared_out_by_store_volume():
    weekly, _, rate, store, part, new = _chain()
    fitted = today_ml.holdout_forecast(weekly, average_weeks=26)
    pooled = today_ml.pool_new_items(fitted, weekly, store, part, average_weeks=26)
    assert set(pooled.pooled[new]) == {today_ml.POOLED} and pooled.pooled[~new].isna().all()
    # The own moving average divides six weeks of sales by 26 (and has nothing where the store has not sold it
    # yet); pooled, the planted rate — also at the smallest store.
    assert fitted.daily_mean[new].sum() / rate[new].sum() < 0.3
    assert pooled.daily_mean[new].sum() / rate[new].sum() == pytest.approx(1.0, abs=0.1)
    small = new & (store == 3)
    assert pooled.daily_mean[small].sum() / rate[small].sum() == pytest.approx(1.0, abs=0.15)
    assert (fitted.daily_mean[small] == 0).sum() > 5 and (pooled.daily_mean[small] > 0).all()
    # Established parts keep their own forecast.
    assert np.array_equal(pooled.daily_mean[~new], fitted.daily_mean[~new])


@pytest.mark.parametrize("target", [0.90, 0.95])
def test_new_parts_cycles_are_served_at_the_target_only_with_the_pooled_rule(target):
    weekly, test, rate, store, part, new = _chain()
    price = np.exp(np.random.default_rng(9).uniform(np.log(5), np.log(80), len(rate)))
    fitted = today_ml.holdout_forecast(weekly, average_weeks=26)
    results = {}
    for name, forecast in (("own", fitted), ("pooled", today_ml.pool_new_items(fitted, weekly, store, part))):
        result = _replay(test, store, price, *_policy(forecast, store, price, target), new)
        cycles, short = result.item_cycles[new].sum(), result.item_cycles_short[new].sum()
        results[name] = 1 - short / cycles
    assert results["own"] < target - 0.05, results  # unstocked and diluted: far below
    assert results["pooled"] == pytest.approx(target, abs=0.03), results


def test_a_never_sold_part_of_a_released_model_gets_its_familys_typical_rate():
    # Family "phone/screen": three young parts (first sold 4 weeks ago) selling 1, 2 and 6 a week at the chain;
    # a fourth never sold, its model released a week ago; a fifth released next week (not yet on sale).
    weekly = np.zeros((10, 20))
    store = np.array([0, 1] * 5)
    part = np.repeat(np.arange(5), 2)
    for p, per_week in enumerate([1.0, 2.0, 6.0]):
        weekly[2 * p, -4:] = per_week / 2
        weekly[2 * p + 1, -4:] = per_week / 2
    family = np.array(["phone/screen"] * 10, dtype=object)
    released = np.array([5, 5, 5, 5, 5, 5, 1, 1, -1, -1], dtype=float)
    fitted = today_ml.holdout_forecast(weekly, average_weeks=26)
    pooled = today_ml.pool_new_items(fitted, weekly, store, part, family, released, average_weeks=26)
    # Median family rate 2 a week, shared out by the stores' volume (equal here).
    assert pooled.daily_mean[6:8].tolist() == pytest.approx([1 / 7, 1 / 7])
    assert list(pooled.pooled[6:8]) == [today_ml.POOLED_SIBLINGS] * 2
    assert pooled.daily_mean[8:].tolist() == [0.0, 0.0] and pooled.pooled[8:].isna().all()
