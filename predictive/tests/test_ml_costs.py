"""The cost model, labour-time analysis, purchasing excess and bootstrap savings on synthetic data with a
known answer (no database)."""
import numpy as np
import pandas as pd
import pytest

from predictive.ml import costs


def _jobs(n=4000, seed=0, noisy_type="board", noisy_sigma=0.6):
    rng = np.random.default_rng(seed)
    types = rng.choice(["screen", "battery", "port", "board"], n)
    base = pd.Series(types).map({"screen": 55, "battery": 35, "port": 45, "board": 150}).to_numpy(float)
    sigma = np.where(types == noisy_type, noisy_sigma, 0.15)
    technician = rng.choice(["t1", "t2", "t3", "slow"], n)
    speed = np.where(technician == "slow", 1.3, 1.0)
    minutes = np.round(base * speed * np.exp(sigma * rng.standard_normal(n) - sigma ** 2 / 2))
    return pd.DataFrame({
        "repair_type": types, "technician": technician, "store": "S1", "labour_minutes": minutes,
        "hourly_cost": 20.0, "received_at": pd.date_range("2024-01-01", periods=n, freq="h"),
    })


def test_labour_variability_flags_the_repair_type_whose_time_varies_most():
    table = costs.labour_variability(_jobs())
    flagged = table[table.high_variance].repair_type.tolist()
    assert flagged == ["board"]
    assert table.iloc[0].repair_type == "board"
    assert table.iloc[0].log_spread == pytest.approx(0.6, rel=0.15)


def test_technician_gaps_find_the_slow_technician_and_price_the_saving():
    jobs = _jobs(noisy_sigma=0.15)
    cells = costs.technician_labour_gaps(jobs)
    assert {c["technician"] for c in cells} == {"slow"}
    opportunities = [o for o in costs.labour_opportunities(jobs, months=6) if o["kind"] == "labour_time_technician"]
    screen = next(o for o in opportunities if o["repair_type"] == "screen")
    slow = jobs[(jobs.technician == "slow") & (jobs.repair_type == "screen")]
    norm = jobs[jobs.repair_type == "screen"].labour_minutes.median()
    expected = (slow.labour_minutes * 20 / 60 * (1 - norm / slow.labour_minutes.median())).sum() / 6
    assert screen["monthly_saving"] == pytest.approx(expected)
    low, high = screen["saving_interval_90"]
    assert low < screen["monthly_saving"] < high
    assert screen["achievable_monthly_cost"] == pytest.approx(screen["current_monthly_cost"] - screen["monthly_saving"])


def offers_frame(rows):
    return pd.DataFrame(rows, columns=["part", "supplier", "price", "min_order_qty", "pack_size", "valid_from"]).assign(
        valid_from=lambda f: pd.to_datetime(f.valid_from))


def test_overpriced_purchases_are_priced_against_the_cheapest_qualified_supplier():
    lines = pd.DataFrame({"part": [1, 1, 2, 3], "supplier": ["a", "b", "b", "b"], "store": ["S1"] * 4,
                          "quantity": [10, 5, 2, 4], "unit_price": [10.0, 13.0, 7.0, 2.0],
                          "ordered_at": pd.to_datetime(["2025-03-01"] * 4)})
    offers = offers_frame([(1, "a", 10.0, 1, 1, None), (1, "c", 11.0, 1, 1, None), (2, "c", 6.0, 1, 1, None)])
    over = costs.overpriced_purchases(lines, offers)
    assert over.excess.tolist() == [15.0, 2.0]  # (13 − 10) × 5 and (7 − 6) × 2; part 3 has no qualified offer
    assert over.cheapest_supplier.tolist() == ["a", "c"]
    opportunities = costs.purchasing_opportunities(lines, offers, months=1, min_monthly=0)
    assert [(o["supplier"], o["monthly_saving"]) for o in opportunities] == [("b", 17.0)]


def test_an_offer_counts_only_from_its_valid_date_and_for_whole_packs_above_its_minimum_order():
    lines = pd.DataFrame({"part": [1, 1, 2], "supplier": ["b", "b", "b"], "store": ["S1"] * 3, "quantity": [3, 3, 10],
                          "unit_price": [10.0, 10.0, 5.0], "ordered_at": pd.to_datetime(["2025-01-10", "2025-03-10", "2025-03-10"])})
    offers = offers_frame([
        (1, "c", 8.0, 1, 1, "2025-02-01"),  # a cheaper line that only starts in February
        (2, "c", 4.0, 1, 4, None),          # sold in packs of 4: 10 units need 12 (£48 against £50 paid)
        (2, "d", 3.0, 20, 1, None),         # cheapest per unit, but a minimum order of 20 (£60): dearer for this line
    ])
    chosen = costs.cheapest_offers(lines, offers)
    assert chosen.cheapest_supplier.tolist() == ["c", "c"]  # the January line had no valid offer
    assert chosen.cheapest_units.tolist() == [3, 12]
    assert chosen.cheapest_cost.tolist() == [24.0, 48.0]
    over = costs.overpriced_purchases(lines, offers)
    assert over.excess.tolist() == [6.0, 2.0]


def test_a_supplier_qualifies_only_on_a_delivery_record_that_meets_every_threshold():
    records = pd.DataFrame({"deliveries": [40, 40, 40, 3, 0], "on_time_rate": [0.9, 0.2, 0.9, 1.0, np.nan],
                            "defect_rate": [0.01, 0.01, 0.08, 0.0, np.nan]}, index=["good", "late", "faulty", "new", "unused"])
    qualified = costs.qualified_suppliers(records, min_on_time=0.75, max_defect=0.05, min_deliveries=5)
    assert qualified[qualified].index.tolist() == ["good"]


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small = rng.exponential(10, 30)
    large = rng.exponential(10, 3000)
    estimate, (low, high) = costs.bootstrap_total(small, months=1)
    assert estimate == pytest.approx(small.sum()) and low < estimate < high
    _, (low_l, high_l) = costs.bootstrap_total(large, months=100)
    assert (high_l - low_l) / large.sum() * 100 < (high - low) / small.sum()


def test_cost_model_beats_the_repair_type_mean_when_the_device_matters():
    rng = np.random.default_rng(2)
    n = 5000
    frame = pd.DataFrame({
        "repair_type": rng.choice(["screen", "battery"], n), "device_category": "phone", "brand": rng.choice(["A", "B"], n),
        "store": rng.choice(["S1", "S2"], n), "priority": "normal", "bill_parts_cost": rng.choice([20.0, 40.0, 80.0], n),
        "device_age_years": rng.uniform(0, 4, n), "month": rng.integers(1, 13, n),
        "received_at": pd.date_range("2024-01-01", periods=n, freq="h"),
    })
    frame["total_cost"] = frame.bill_parts_cost * 1.1 + np.where(frame.repair_type == "screen", 25, 12) + rng.normal(0, 2, n)
    model, metrics, holdout = costs.fit_cost_model(frame)
    assert metrics["r2"] > 0.95
    assert metrics["mae"] < 0.5 * metrics["baseline_mae"]
    assert metrics["beats_baseline"]
    assert len(holdout) == metrics["holdout_tickets"]
    assert np.abs(model.predict(frame.head(100)) - frame.total_cost.head(100)).mean() < 4
