"""The set-based reads behind the stock positions and the inventory value history give what the plain
definitions give: an outer join of stock and policies, the policy read in two steps, and each month-end
value rebuilt from the ledger itself."""
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.db.models import F, Sum
from django.utils import timezone

from inventory import selectors
from inventory.models import Stock, StockMovement


def test_items_are_outer_joined_as_pandas_joins_them():
    stock = pd.DataFrame({"store_id": [1, 1, 2, 3], "part_id": [5, 9, 5, 1], "on_hand": [3, 0, 7, 2], "min_qty": [None, 4, None, None]})
    policies = pd.DataFrame({"store_id": [1, 2, 2, 4], "part_id": [9, 5, 6, 2], "daily_mean": [0.5, 0.25, 1.0, 2.0],
                             "supplier_id": pd.array([3, None, 4, 5], dtype="Int64"), "demand_class": ["smooth", "lumpy", None, "none"]})
    joined = selectors.outer_join_items(stock, policies)
    expected = stock.merge(policies, on=["store_id", "part_id"], how="outer")
    pd.testing.assert_frame_equal(joined[expected.columns].reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)
    assert str(joined.supplier_id.dtype) == "Int64"


def test_a_position_read_in_two_steps_equals_the_position_read_at_once(stores):
    store_ids = [s.pk for s in stores]
    whole = selectors.stock_positions(store_ids).sort_values(["store_id", "part_id"]).reset_index(drop=True)
    lean = selectors.stock_positions(store_ids, detail=False)
    assert {"safety_stock", "supplier_id", "demand_class", "forecast_method"}.isdisjoint(lean.columns)
    lean = lean.sort_values(["store_id", "part_id"]).reset_index(drop=True)
    # The status-related columns are the same for every row ...
    for column in ("on_hand", "reserved", "available", "position", "on_order", "reorder_point", "max_level", "days_to_stockout",
                   "status", "lead_time_source"):
        pd.testing.assert_series_equal(lean[column], whole[column], check_dtype=False)
    # ... and the rows an answer lists get the rest, as the full read has it.
    some = lean.iloc[np.r_[0:40, len(lean) - 40:len(lean)]]
    detailed = selectors.with_policy_details(some)
    pd.testing.assert_frame_equal(detailed[whole.columns].reset_index(drop=True),
                                  whole.iloc[np.r_[0:40, len(whole) - 40:len(whole)]].reset_index(drop=True), check_dtype=False)


def test_month_end_values_are_rebuilt_from_the_ledger(stores):
    from inventory.services import move_stock

    store_ids = [s.pk for s in stores]
    stock = Stock.objects.filter(store__in=stores, on_hand__gt=0).select_related("part", "store").first()
    move_stock(stock.part, stock.store, "consumption", 1)  # newer than the daily summary: read from the ledger
    start = timezone.localdate() - timedelta(days=200)
    history = selectors.inventory_value_history(store_ids, start)
    now = {row["store_id"]: float(row["v"]) for row in Stock.objects.filter(store__in=stores).values("store_id")
           .annotate(v=Sum(F("on_hand") * F("part__unit_cost")))}
    boundaries = [c for c in history.columns if c != "now"]
    assert len(boundaries) >= 6
    for boundary in boundaries:
        moved = {row["store_id"]: float(row["v"]) for row in StockMovement.objects.filter(
            store__in=stores, at__gte=selectors.local_day_start(pd.Timestamp(boundary).date()))
            .values("store_id").annotate(v=Sum(F("quantity") * F("part__unit_cost")))}
        for store_id in store_ids:
            assert history.loc[store_id, boundary] == pytest.approx(now[store_id] - moved.get(store_id, 0.0), abs=1e-6)


def test_the_out_of_sample_replay_reads_stock_parts_and_prices_once_not_at_every_re_estimate(stores, monkeypatch):
    reads = {"stock_frame": 0, "parts_frame": 0, "price_list": 0}
    for name in reads:
        original = getattr(selectors, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            reads[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(selectors, name, counted)
    replay = selectors.policy_replay([s.pk for s in stores], 365)
    assert len(replay.holdout["origins"]) >= 12  # re-estimated about monthly ...
    assert max(reads.values()) <= 3, reads  # ... from inputs read once (plus the replay's own reads)
