"""Process measures and the queue simulation: working time, Little's law on a textbook system, a
single-server queue with known answers, and the demo data's measured cycle time reproduced."""
from datetime import date

import numpy as np
import pandas as pd
import pytest

from workflow.analytics import process
from workflow.analytics.simulation import SimJob, SimTechnician, simulate_repair_queue
from workflow.analytics.worktime import WorkCalendar

WEEKDAYS = {str(d): ["09:00", "17:00"] for d in range(1, 6)}  # Mon-Fri 09-17, closed weekends


def calendar(**kwargs):
    return WorkCalendar.build(date(2024, 1, 1), 28, WEEKDAYS, **kwargs)  # 1 Jan 2024 is a Monday


def test_working_time_counts_only_opening_hours():
    cal = calendar()
    friday_1630 = 4 * 1440 + 16 * 60 + 30
    monday_0930 = 7 * 1440 + 9 * 60 + 30
    assert cal.working_between(friday_1630, monday_0930) == 60  # 30 min on Friday + 30 min on Monday
    assert cal.to_wall_scalar(cal.to_working_scalar(friday_1630) + 45) == 7 * 1440 + 9 * 60 + 15
    closed = calendar(holidays={date(2024, 1, 1): "New Year's Day"}, closed_holidays={"New Year's Day"})
    assert closed.open_minutes[0] == 0 and closed.open_minutes[1] == 480


def test_littles_law_holds_for_a_deterministic_system():
    # One arrival an hour, each stays 3 hours: L = λW = 3 in steady state.
    arrivals = np.arange(0, 1440 * 10, 60, dtype=float)
    check = process.littles_law(arrivals, arrivals + 180, 1440, 1440 * 9)
    assert check["wip"] == pytest.approx(3.0, abs=0.01)
    assert check["throughput_per_day"] == pytest.approx(24.0, abs=0.01)
    assert check["ratio"] == pytest.approx(1.0, abs=0.01)


def test_stage_times_and_bottleneck_from_events():
    events = pd.DataFrame({
        "ticket": [1, 1, 1, 2, 2, 2],
        "status": ["received", "in_repair", "ready", "received", "in_repair", "ready"],
        "wall": [0, 30, 150, 60, 70, 250],
        "work": [0, 30, 150, 60, 70, 250],
    })
    stages = process.stage_times(events)
    summary = {row["stage"]: row for row in process.stage_summary(stages)}
    assert summary["received"]["median_hours"] == pytest.approx(20 / 60, abs=0.01)
    assert summary["in_repair"]["median_hours"] == pytest.approx(150 / 60, abs=0.01)
    assert process.bottleneck(list(summary.values()))["stage"] == "in_repair"


def test_single_technician_fifo_queue_gives_textbook_completion_times():
    cal = calendar()
    tech = SimTechnician("t", frozenset({"phone"}), 1.0, cal)
    monday_9 = 9 * 60
    jobs = [SimJob(i, monday_9 + 10 * i, 60, frozenset({"phone"}), qc_working_minutes=0) for i in range(3)]
    result = simulate_repair_queue(jobs, [tech], cal)
    # Jobs arrive at 09:00, 09:10, 09:20 and each takes an hour: they finish at 10:00, 11:00, 12:00.
    assert [result.ready[i] - monday_9 for i in range(3)] == [60, 120, 180]


def test_work_waits_for_the_technicians_next_shift():
    cal = calendar()
    tech = SimTechnician("t", frozenset(), 1.0, calendar(shift_minutes={"1": 480, "3": 480}))  # Mondays and Wednesdays
    job = SimJob("j", 16 * 60, 120, frozenset(), qc_working_minutes=0)  # Monday 16:00, two hours of work
    result = simulate_repair_queue([job], [tech], cal)
    assert result.ready["j"] == 2 * 1440 + 10 * 60  # one hour Monday, the other Wednesday 09:00-10:00


def test_a_second_technician_shortens_an_overloaded_queue():
    cal = calendar()
    jobs = [SimJob(i, 9 * 60, 60, frozenset({"phone"}), qc_working_minutes=10) for i in range(8)]
    one = simulate_repair_queue(jobs, [SimTechnician("a", frozenset({"phone"}), 1.0, cal)], cal)
    two = simulate_repair_queue(jobs, [SimTechnician("a", frozenset({"phone"}), 1.0, cal),
                                       SimTechnician("b", frozenset({"phone"}), 1.0, cal)], cal)
    assert np.mean(list(two.ready.values())) < np.mean(list(one.ready.values()))
    unskilled = simulate_repair_queue(jobs, [SimTechnician("a", frozenset({"phone"}), 1.0, cal),
                                             SimTechnician("c", frozenset({"laptop"}), 1.0, cal)], cal)
    assert set(unskilled.technician.values()) == {"a"}  # the unskilled one never gets a phone job


@pytest.mark.django_db
def test_simulation_reproduces_the_measured_cycle_time_of_each_demo_store(models_ready):
    """Tolerance: the baseline run's mean cycle time within 5 % of the measured one, and the part the
    simulation actually generates (in repair -> ready) within 10 %."""
    from mlanalytics.core.models import Store
    from workflow import selectors

    body = selectors.process_performance(list(Store.objects.all()), window_days=56)
    assert body["simulation"]["stores"]
    for store in body["simulation"]["stores"]:
        measured, simulated = store["measured"], store["simulated_baseline"]
        assert measured["tickets"] > 200
        assert simulated["mean_hours"] == pytest.approx(measured["mean_hours"], rel=0.05)
        repair = store["in_repair_to_ready_hours"]
        assert repair["simulated_baseline"]["mean"] == pytest.approx(repair["measured"]["mean"], rel=0.10)
        assert simulated["sla_compliance"] == pytest.approx(measured["sla_compliance"], abs=0.02)
    assert body["littles_law"]["ratio"] == pytest.approx(1.0, abs=0.1)


@pytest.mark.django_db
def test_stage_durations_match_the_planted_process(demo):
    """Median working time of the stages the generator draws from known gamma distributions."""
    from scipy import stats

    from mlanalytics.core.models import Store
    from workflow import selectors

    body = selectors.process_performance(list(Store.objects.all()), window_days=120, scenario={})
    stages = {row["stage"]: row for row in body["stages"]}
    planted = demo.truth["process"]["stage_working_minutes"]
    # received -> diagnosing is the "wait_for_diagnosis" draw; quality_check adds 3 minutes to its draw.
    for stage, key, shift in (("received", "wait_for_diagnosis", 0), ("quality_check", "quality_check", 3)):
        shape, mean = planted[key]["gamma_shape"], planted[key]["mean"]
        median = stats.gamma(shape, scale=mean / shape).median() + shift
        assert stages[stage]["median_working_hours"] * 60 == pytest.approx(median, rel=0.15)
