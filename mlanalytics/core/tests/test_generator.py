"""The demo data generator: reproducible, and every planted signal is visible in the data with plain pandas."""
import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from scipy.special import hyp2f1

from inventory.models import Part, PurchaseOrderLine, Stock, StockMovement, SupplierPrice
from mlanalytics.demo.calendar import shop_holidays
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


def test_data_ending_on_new_years_day_hold_no_visit_after_the_end():
    """A warranty comeback due on the last day, a day the shop is shut, moves to the next open day: after the end,
    so it is not in the data (it came in with an empty history and broke the seed of 1 January)."""
    generator = DemoGenerator(seed=7, scale="small", end=date(2027, 1, 1))
    data = generator.simulate_store(0)
    assert max(ticket["received"] for ticket in data.tickets) <= generator.end_minute
    assert data.stats["comebacks"] > 0


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
    holidays = shop_holidays(demo.start_date, demo.end_date)
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


def test_the_same_technician_has_far_more_warranty_comebacks(demo):
    frame = tickets_frame()
    firsts = frame[frame.warranty_of_id.isna() & frame.technician__code.notna()]
    comebacks = frame[frame.warranty_of_id.notna()].merge(
        frame[["id", "technician__code"]], left_on="warranty_of_id", right_on="id", suffixes=("", "_of_original"))
    rate = (comebacks.groupby("technician__code_of_original").size() / firsts.groupby("technician__code").size()).fillna(0)
    planted = demo.truth["out_of_control_technician"]
    assert rate.idxmax() == planted["code"]
    assert rate[planted["code"]] > 3 * rate.drop(planted["code"]).median()
    assert rate[planted["code"]] == pytest.approx(planted["planted_comeback_rate"], abs=0.05)
    assert rate.drop(planted["code"]).median() == pytest.approx(planted["baseline_comeback_rate"], abs=0.015)


def test_intake_has_the_planted_summer_wave(demo):
    """Least squares on log daily intake (plain numpy/pandas): weekday levels, a quadratic trend for the
    growing customer base, and one yearly cosine wave; surges, bank holidays and closed days left out."""
    frame = tickets_frame()
    days = pd.date_range(demo.start_date, demo.end_date, freq="D")
    daily = frame[frame.warranty_of_id.isna()].groupby("day").size().reindex(days.date, fill_value=0)
    daily.index = days
    planted = demo.truth["intake"]
    in_surge = np.zeros(len(days), dtype=bool)
    for surge in planted["surges"]:
        (m1, d1), (m2, d2) = (map(int, surge[k].split("-")) for k in ("start", "end"))
        in_surge |= (days.month * 100 + days.day >= m1 * 100 + d1) & (days.month * 100 + days.day <= m2 * 100 + d2)
    holidays = pd.to_datetime(list(shop_holidays(demo.start_date, demo.end_date)))
    kept = daily[(daily > 0).to_numpy() & ~in_surge & ~days.isin(holidays)]
    years = (kept.index - kept.index[0]).days.to_numpy() / 365.25
    angle = 2 * np.pi * kept.index.dayofyear.to_numpy() / 365.25
    design = np.column_stack([pd.get_dummies(kept.index.dayofweek).to_numpy(float), years, years ** 2, np.cos(angle), np.sin(angle)])
    coefficients, *_ = np.linalg.lstsq(design, np.log(kept.to_numpy(float)), rcond=None)
    a, b = coefficients[-2:]
    amplitude, peak_day = np.hypot(a, b), (np.arctan2(b, a) * 365.25 / (2 * np.pi)) % 365.25
    assert amplitude == pytest.approx(planted["yearly"]["amplitude"], abs=0.05)
    assert abs(peak_day - planted["yearly"]["peak_day_of_year"]) < 35  # mid-July, within five weeks


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
    # Every part, including those never consumed (no demand at all: ADI is infinite).
    weekly = weekly.reindex(Part.objects.values_list("sku", flat=True), fill_value=0)
    adi = (1 / (weekly != 0).mean(axis=1).replace(0, np.nan)).fillna(np.inf)  # average inter-demand interval, weeks
    slow = demo.truth["slow_moving_parts"]["skus"]
    dead = demo.truth["dead_stock"]["skus"]
    assert len(slow) >= 10
    assert (adi[slow] > 1.32).mean() >= 0.9  # Syntetos–Boylan intermittent boundary
    others = adi.drop(slow + dead)
    # Discriminating: most other parts are past 1.32 too, but slow movers' demand is far sparser.
    assert adi[slow].median() > 2 * others.median()

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


INTERRUPT_SECOND_STORE = """
import django
django.setup()
from unittest import mock
from django.core.management import call_command
from mlanalytics.demo.generator import DemoGenerator

simulate = DemoGenerator.simulate_store
def stop_at_the_second_store(self, index):
    if index == 1:
        raise KeyboardInterrupt  # as if Ctrl-C during the first `make run`
    return simulate(self, index)

with mock.patch.object(DemoGenerator, "simulate_store", stop_at_the_second_store):
    call_command("seed_demo", "--scale", "small", "--seed", "5", "--end", "2026-03-31", "-v", "0")
"""


@pytest.mark.slow
def test_an_interrupted_seed_is_done_again_by_the_next_seed_demo(tmp_path):
    environment = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                   "DJANGO_SETTINGS_MODULE": "mlanalytics.settings"}
    environment.pop("REDIS_URL", None)

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)

    assert manage("migrate", "-v", "0").returncode == 0
    interrupted = subprocess.run([sys.executable, "-c", INTERRUPT_SECOND_STORE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert interrupted.returncode != 0 and "KeyboardInterrupt" in interrupted.stderr
    import sqlite3

    def count(table):
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    assert count("core_store") == 2 and count("workflow_repairticket") > 0 and count("core_demodataset") == 0  # half-finished

    again = manage("seed_demo", "--if-empty", "--scale", "small", "--seed", "5", "--end", "2026-03-31", "-v", "1")  # as `make run` does
    assert again.returncode == 0, again.stderr[-2000:]
    assert "stopped before it finished" in again.stdout and "Seeded small demo data" in again.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        (row_counts,) = db.execute("SELECT row_counts FROM core_demodataset").fetchone()
    row_counts = json.loads(row_counts)
    for table, label in (("workflow_repairticket", "workflow.RepairTicket"), ("core_store", "core.Store"), ("core_user", "core.User"),
                         ("inventory_part", "inventory.Part"), ("workflow_technician", "workflow.Technician")):
        assert count(table) == row_counts[label], label  # one complete data set, not the half one plus another
        assert f"{label}" in again.stdout
    assert row_counts["core.Store"] == 2 and row_counts["core.User"] == 4

    third = manage("seed_demo", "--if-empty", "--scale", "small", "-v", "0")
    assert third.returncode == 0 and "already seeded; not seeding" in third.stdout


def test_seed_demo_never_wipes_data_it_did_not_write(demo):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from mlanalytics.core.models import DemoDataset, Store

    with pytest.raises(CommandError, match="already holds the demo data set; run seed_demo --reset"):
        call_command("seed_demo", "--scale", "small", "-v", "0")
    DemoDataset.objects.all().delete()  # now: a shop's own data, as far as seed_demo can tell (rolled back after)
    stores, tickets = Store.objects.count(), RepairTicket.objects.count()
    with pytest.raises(CommandError, match="Nothing was changed. Run seed_demo --reset"):
        call_command("seed_demo", "--scale", "small", "-v", "0")
    out = StringIO()
    call_command("seed_demo", "--if-empty", "--scale", "small", "-v", "0", stdout=out)
    assert "not seeding" in out.getvalue()
    assert (Store.objects.count(), RepairTicket.objects.count()) == (stores, tickets)
