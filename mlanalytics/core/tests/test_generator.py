"""The demo data generator: reproducible, and every planted signal is visible in the data with plain pandas."""
import hashlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from scipy.special import hyp2f1

from inventory.models import PurchaseOrderLine, Stock, StockMovement, SupplierPrice
from mlanalytics.demo.calendar import uk_bank_holidays
from mlanalytics.demo.generator import DemoGenerator
from workflow.models import QAInspection, RepairTicket

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def tickets_frame():
    rows = RepairTicket.objects.values(
        "id", "store__code", "customer_id", "received_at", "repair_type__code", "technician__code", "labour_minutes",
        "warranty_of_id", "final_price",
    )
    frame = pd.DataFrame(rows)
    frame["local"] = pd.to_datetime(frame.received_at, utc=True).dt.tz_convert("Europe/London")
    frame["day"] = frame.local.dt.date
    return frame


@pytest.fixture(scope="module")
def daily(django_db_blocker, demo):
    with django_db_blocker.unblock():
        frame = tickets_frame()
    days = pd.date_range(demo.start_date, demo.end_date, freq="D").date
    return frame.groupby("day").size().reindex(days, fill_value=0)


def test_same_seed_same_data_and_another_seed_differs():
    end = date(2026, 6, 30)
    first = DemoGenerator(seed=11, scale="small", end=end).simulate_store(0)
    again = DemoGenerator(seed=11, scale="small", end=end).simulate_store(0)
    other = DemoGenerator(seed=12, scale="small", end=end).simulate_store(0)
    assert first.tickets == again.tickets and first.events == again.events and first.movements == again.movements
    assert first.tickets != other.tickets


@pytest.mark.slow
def test_seed_demo_command_writes_identical_databases_for_the_same_seed(tmp_path):
    """End to end through the management command: two fresh databases, same seed and end date."""
    digests = []
    for run in ("a", "b"):
        data_dir = tmp_path / run
        environment = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}"}
        environment.pop("REDIS_URL", None)
        for command in (["migrate", "-v", "0"], ["seed_demo", "--scale", "small", "--seed", "5", "--end", "2026-03-31", "-v", "0"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=environment, check=True, capture_output=True)
        import sqlite3

        with sqlite3.connect(data_dir / "db.sqlite3") as db:
            digest = hashlib.sha256()
            for table, order in (("workflow_repairticket", "reference"), ("workflow_ticketstatusevent", "id"),
                                 ("inventory_stockmovement", "id"), ("workflow_customer", "external_ref")):
                for row in db.execute(f"SELECT * FROM {table} ORDER BY {order}"):
                    digest.update(repr(row[1:]).encode())  # skip the surrogate id; dates and values must match
            digests.append(digest.hexdigest())
    assert digests[0] == digests[1]


def test_weekly_pattern_saturday_busiest_sunday_quietest(daily, demo):
    open_days = daily[daily > 0]
    by_weekday = open_days.groupby(pd.to_datetime(open_days.index).dayofweek).mean()
    assert by_weekday.idxmax() == 5 and by_weekday.idxmin() == 6
    planted = demo.truth["intake"]["weekly_multipliers"]
    assert by_weekday[5] / by_weekday[2] == pytest.approx(planted["Sat"] / planted["Wed"], rel=0.15)


def test_january_and_september_surges(daily):
    frame = daily.to_frame("n")
    index = pd.to_datetime(frame.index)
    frame["month"], frame["dom"] = index.month, index.day
    open_frame = frame[frame.n > 0]

    def mean(mask):
        return open_frame[mask].n.mean()

    january = mean((open_frame.month == 1) & open_frame.dom.between(2, 21))
    after_january = mean(((open_frame.month == 1) & (open_frame.dom > 21)) | (open_frame.month == 2))
    september = mean((open_frame.month == 9) & open_frame.dom.between(1, 21))
    after_september = mean(((open_frame.month == 9) & (open_frame.dom > 21)) | (open_frame.month == 10))
    assert january > 1.2 * after_january
    assert september > 1.12 * after_september


def test_bank_holidays_are_quiet_and_christmas_is_closed(daily, demo):
    holidays = uk_bank_holidays(demo.start_date, demo.end_date)
    for day, name in holidays.items():
        if name in ("Christmas Day", "Boxing Day", "New Year's Day"):
            assert daily[day] == 0, name
    open_holidays = [d for d, n in holidays.items() if n not in ("Christmas Day", "Boxing Day", "New Year's Day")]
    same_weekday_mean = np.mean([daily[pd.to_datetime(daily.index).dayofweek == d.weekday()].mean() for d in open_holidays])
    assert np.mean([daily[d] for d in open_holidays]) < 0.6 * same_weekday_mean


def test_repeat_visits_match_the_planted_bgnbd_process(demo):
    """Expected repeat visits under the planted BG/NBD parameters (Fader, Hardie & Lee 2005, eq. 7)
    summed over customers, against the repeat visits actually in the data."""
    frame = tickets_frame()
    purchases = frame[frame.warranty_of_id.isna() & frame.customer_id.notna()]
    end = pd.Timestamp(demo.end_date, tz="Europe/London") + pd.Timedelta(days=1)
    per_customer = purchases.groupby("customer_id").local.agg(["min", "count"])
    T = ((end - per_customer["min"]).dt.total_seconds() / (7 * 86400)).to_numpy()
    p = demo.truth["customers"]
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    z = T / (alpha + T)
    expected = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + T)) ** r * hyp2f1(r, b, a + b - 1, z))
    actual = (per_customer["count"] - 1).sum()
    assert actual == pytest.approx(expected.sum(), rel=0.10)


def test_late_supplier_is_the_one_that_misses_its_dates(demo):
    lines = pd.DataFrame(PurchaseOrderLine.objects.filter(po__received_at__isnull=False).values(
        "po_id", "po__supplier__code", "po__expected_at", "po__received_at")).drop_duplicates("po_id")
    lines["on_time"] = lines.po__received_at <= lines.po__expected_at
    on_time = lines.groupby("po__supplier__code").on_time.mean()
    late = demo.truth["late_supplier"]["code"]
    assert on_time.idxmin() == late
    assert on_time[late] < 0.3
    assert on_time.drop(late).min() > 0.7


def test_one_technician_fails_qa_far_more_than_the_rest(demo):
    qa = pd.DataFrame(QAInspection.objects.values("passed", "ticket__technician__code"))
    fail_rate = 1 - qa.groupby("ticket__technician__code").passed.mean()
    planted = demo.truth["out_of_control_technician"]["code"]
    assert fail_rate.idxmax() == planted
    assert fail_rate[planted] > 2 * fail_rate.drop(planted).median()


def test_one_repair_type_has_far_more_variable_labour(demo):
    frame = tickets_frame()
    done = frame[frame.labour_minutes.notna() & frame.warranty_of_id.isna()]
    cv = done.groupby("repair_type__code").labour_minutes.agg(lambda x: x.std() / x.mean())
    planted = demo.truth["high_variance_repair_type"]["code"]
    assert cv.idxmax() == planted
    assert cv[planted] > 2 * cv.drop(planted).median()


def test_slow_movers_have_intermittent_weekly_demand_and_dead_stock_sits_still(demo):
    moves = pd.DataFrame(StockMovement.objects.filter(kind="consumption").values("part__sku", "at", "quantity"))
    moves = moves.rename(columns={"at": "moved_at"})
    moves["week"] = pd.to_datetime(moves.moved_at, utc=True).dt.tz_convert("Europe/London").dt.tz_localize(None).dt.to_period("W")
    weeks = pd.period_range(demo.start_date, demo.end_date, freq="W")
    weekly = moves.groupby(["part__sku", "week"]).quantity.sum().unstack(fill_value=0).reindex(columns=weeks, fill_value=0)
    slow = [s for s in demo.truth["slow_moving_parts"]["skus"] if s in weekly.index]
    share_of_weeks_with_demand = (weekly.loc[slow] != 0).mean(axis=1)
    adi = 1 / share_of_weeks_with_demand.replace(0, np.nan)
    assert (adi.fillna(np.inf) > 1.32).mean() >= 0.9  # Syntetos–Boylan intermittent boundary

    dead = demo.truth["dead_stock"]["skus"]
    cutoff = pd.Timestamp(demo.end_date, tz="Europe/London") - pd.Timedelta(days=365)
    recent = moves[pd.to_datetime(moves.moved_at, utc=True) > cutoff]
    assert not set(dead) & set(recent.part__sku)
    assert Stock.objects.filter(part__sku__in=dead, on_hand__gt=0).exists()


def test_one_store_overpays_by_buying_from_the_premium_supplier(demo):
    planted = demo.truth["overpriced_purchasing"]
    cheapest = pd.DataFrame(SupplierPrice.objects.exclude(supplier__code=planted["supplier"]).values("part_id", "unit_price"))
    cheapest = cheapest.groupby("part_id").unit_price.min().astype(float)
    lines = pd.DataFrame(PurchaseOrderLine.objects.values("part_id", "unit_price", "quantity", "po__store__code"))
    lines["ratio"] = lines.unit_price.astype(float) / lines.part_id.map(cheapest)
    by_store = lines.groupby("po__store__code").ratio.mean()
    assert by_store.idxmax() == planted["store"]
    assert by_store[planted["store"]] > by_store.drop(planted["store"]).max() + 0.08
