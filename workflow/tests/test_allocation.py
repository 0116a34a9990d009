"""Technician allocation: the integer programme finds the known optimum and never breaks a skill
or a shift; on the demo data every planned assignment is one the technician is skilled for."""
import dataclasses
import itertools

import numpy as np
import pytest

from workflow.analytics.allocation import Bucket, Job, ValueParameters, allocate, job_value

# The objective's terms as a test chooses them (the app reads them from settings).
VALUES = ValueParameters(day_discount=0.1, late_penalty=0.5, minute_cost=0.001, floor_share=0.05)


def brute_force(jobs, buckets):
    """Best objective over every assignment of each job to a bucket or to nobody (tiny instances only)."""
    best = 0.0
    options = [None] + list(range(len(buckets)))
    for choice in itertools.product(options, repeat=len(jobs)):
        load = [0.0] * len(buckets)
        value = 0.0
        feasible = True
        for job, b in zip(jobs, choice):
            if b is None:
                continue
            bucket = buckets[b]
            if not job.skills <= bucket.skills or bucket.technician not in job.minutes:
                feasible = False
                break
            load[b] += job.minutes[bucket.technician]
            value += job_value(job, bucket, job.minutes[bucket.technician], VALUES)
        if feasible and all(l <= b.capacity + 1e-9 for l, b in zip(load, buckets)):
            best = max(best, value)
    return best


def test_textbook_knapsack_instance_reaches_its_known_optimum():
    # One technician, 100 minutes: jobs (minutes, weight) 60/6, 50/5, 50/5, 40/3.
    # Greedy by weight takes 60 + (nothing else fits but 40) = 9; the optimum is 50 + 50 = 10.
    tech = Bucket(technician="t", day=0, capacity=100, skills=frozenset({"phone"}))
    jobs = [Job(i, w, frozenset({"phone"}), {"t": m}) for i, (m, w) in enumerate([(60, 6), (50, 5), (50, 5), (40, 3)])]
    result = allocate(jobs, [tech], dataclasses.replace(VALUES, minute_cost=0.0))
    assert result.status == "optimal"
    assert sorted(j for j, _ in result.assignments) == [1, 2]
    assert result.objective == pytest.approx(10.0)
    assert [code for _, code, _ in result.unassigned] == ["capacity_used_by_higher_value_work"] * 2


@pytest.mark.parametrize("seed", range(8))
def test_milp_objective_equals_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    skills = ["phone", "laptop", "solder"]
    techs = [frozenset(rng.choice(skills, size=rng.integers(1, 3), replace=False)) | {"phone"} for _ in range(2)]
    buckets = [Bucket(technician=k, day=d, capacity=float(rng.integers(40, 140)), skills=techs[k], end_day=d + 0.75)
               for k in range(2) for d in range(2)]
    jobs = []
    for j in range(5):
        need = frozenset({str(rng.choice(skills))})
        jobs.append(Job(j, float(rng.choice([1, 2, 4, 8])), need, {k: float(rng.integers(20, 90)) for k in range(2)},
                        due_day=float(rng.uniform(0, 2))))
    result = allocate(jobs, buckets, VALUES)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(brute_force(jobs, buckets), abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_skills_and_shift_minutes_are_never_violated(seed):
    rng = np.random.default_rng(100 + seed)
    skills = ["phone", "tablet", "laptop", "console", "watch", "microsoldering"]
    techs = [frozenset(rng.choice(skills, size=rng.integers(1, 4), replace=False)) for _ in range(5)]
    buckets = [Bucket(technician=k, day=d, capacity=float(rng.integers(0, 480)), skills=techs[k], end_day=d + 0.75)
               for k in range(5) for d in range(3)]
    jobs = [Job(j, float(rng.choice([1, 2, 4, 8])), frozenset(rng.choice(skills, size=rng.integers(1, 3), replace=False)),
                {k: float(rng.integers(15, 180)) for k in range(5)}, due_day=float(rng.uniform(0, 3))) for j in range(40)]
    result = allocate(jobs, buckets, VALUES)
    by_id = {job.id: job for job in jobs}
    load = [0.0] * len(buckets)
    for job_id, b in result.assignments:
        assert by_id[job_id].skills <= buckets[b].skills
        load[b] += by_id[job_id].minutes[buckets[b].technician]
    assert all(l <= b.capacity + 1e-6 for l, b in zip(load, buckets))
    assigned = {j for j, _ in result.assignments}
    assert len(assigned) == len(result.assignments)  # nobody twice
    for job_id, code, _ in result.unassigned:
        assert job_id not in assigned
        if code == "no_skilled_technician":
            assert not any(by_id[job_id].skills <= t for t in techs)
    assert assigned | {j for j, _, _ in result.unassigned} == set(by_id)


def test_urgent_work_takes_the_scarce_capacity():
    bucket = Bucket(technician="t", day=0, capacity=60, skills=frozenset({"phone"}))
    normal = Job("normal", 2.0, frozenset({"phone"}), {"t": 60})
    urgent = Job("urgent", 8.0, frozenset({"phone"}), {"t": 60})
    result = allocate([normal, urgent], [bucket], VALUES)
    assert result.assignments == [("urgent", 0)]


@pytest.mark.django_db
def test_demo_allocation_respects_skills_and_capacity(models_ready, store_codes):
    from workflow import selectors
    from workflow.models import RepairType, Technician
    from mlanalytics.core.models import Store

    stores = list(Store.objects.all())
    plan = selectors.allocation_plan(stores, horizon_days=3)
    plan.pop("_apply")
    assert plan["summary"]["all_optimal"]
    assert plan["summary"]["assigned"] > 0
    required = {rt.code: set(rt.required_skills.values_list("code", flat=True)) for rt in RepairType.objects.all()}
    tech_skills = {t.code: set(t.skills.values_list("code", flat=True)) for t in Technician.objects.all()}
    for store in plan["stores"]:
        assert store["objective"] >= store["greedy_objective"] - 1e-6  # never worse than the obvious rule
    for a in plan["assignments"]:
        assert required[a["repair_type"]] <= tech_skills[a["technician"]]
        assert a["expected_completion"] > a["expected_start"]
    for t in plan["technicians"]:
        assert t["planned_minutes"] <= t["available_minutes"] - t["committed_minutes"] + 1
