"""Technician allocation as a 0-1 integer programme (a generalised assignment problem over
time buckets), solved with scipy.optimize.milp (HiGHS branch and bound).

Decision x[j, b] = 1 when job j is done in bucket b, a bucket being one technician's remaining
shift on one day of the horizon. Only buckets of technicians holding every skill the job's repair
type requires exist as variables, so a skill can never be violated.

    maximise   Σ value[j, b] · x[j, b]
    subject to Σ_b x[j, b] ≤ 1                      (a job is done at most once)
               Σ_j minutes[j, tech(b)] · x[j, b] ≤ capacity[b]   (shift minutes left)
               x binary

value[j, b] = weight_j · (1 − day_discount · day_b) − late_penalty · weight_j · days_late[j, b]
− minute_cost · minutes[j, tech(b)], floored at floor_share · weight_j (a late repair is still better
than none). The four terms are ValueParameters, set by the caller (the app: settings). Weights come from the ticket's priority and triage score, so urgent
work and work close to its promise is placed first and earliest; the minute cost prefers the faster
technician when otherwise equal.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix


@dataclass
class Job:
    id: object
    weight: float
    skills: frozenset
    minutes: dict  # technician id -> minutes this technician needs
    due_day: float | None = None  # due date as a fractional day index of the horizon (None: no due date)


@dataclass
class Bucket:
    technician: object
    day: int
    capacity: float  # minutes left
    skills: frozenset = frozenset()
    end_day: float | None = None  # when the bucket's work is done, as a fractional day index (for lateness)


@dataclass
class AllocationResult:
    status: str
    objective: float
    assignments: list  # (job id, bucket index)
    unassigned: list  # (job id, reason code, detail)
    load: list  # minutes used per bucket
    mip_gap: float | None = None
    variables: int = 0
    values: dict = field(default_factory=dict)  # (job id, bucket index) -> objective coefficient


@dataclass(frozen=True)
class ValueParameters:
    """The hand-set terms of the objective (settings WORKFLOW_ALLOCATION_*; chosen, not learned):
    day_discount per day of delay, late_penalty per day past the promise (× weight), minute_cost per
    minute of work, and floor_share, the least share of its weight a job is still worth (late or not)."""

    day_discount: float
    late_penalty: float
    minute_cost: float
    floor_share: float

    def as_dict(self):
        return {"day_discount": self.day_discount, "late_penalty": self.late_penalty, "minute_cost": self.minute_cost,
                "floor_share": self.floor_share}


def job_value(job, bucket, minutes, parameters):
    value = job.weight * (1 - parameters.day_discount * bucket.day)
    if job.due_day is not None and bucket.end_day is not None and bucket.end_day > job.due_day:
        value -= parameters.late_penalty * job.weight * (bucket.end_day - job.due_day)
    value -= parameters.minute_cost * minutes
    return max(value, parameters.floor_share * job.weight)


def allocate(jobs, buckets, parameters, *, time_limit=10.0):
    """Solve the allocation. Jobs no bucket can take are reported with the reason."""
    variables = []  # (job index, bucket index, minutes, value)
    unassigned = []
    for j, job in enumerate(jobs):
        skilled = [b for b, bucket in enumerate(buckets) if job.skills <= bucket.skills and bucket.technician in job.minutes]
        if not skilled:
            unassigned.append((job.id, "no_skilled_technician", sorted(job.skills)))
            continue
        fitting = [b for b in skilled if job.minutes[buckets[b].technician] <= buckets[b].capacity + 1e-9]
        if not fitting:
            need = min(job.minutes[buckets[b].technician] for b in skilled)
            most = max(buckets[b].capacity for b in skilled)
            unassigned.append((job.id, "no_capacity", {"needs_minutes": round(need), "largest_remaining_minutes": round(most)}))
            continue
        for b in fitting:
            minutes = job.minutes[buckets[b].technician]
            variables.append((j, b, minutes, job_value(job, buckets[b], minutes, parameters)))
    load = [0.0] * len(buckets)
    if not variables:
        return AllocationResult("optimal", 0.0, [], unassigned, load, 0.0, 0)
    n = len(variables)
    job_index = np.array([v[0] for v in variables])
    bucket_index = np.array([v[1] for v in variables])
    minutes = np.array([v[2] for v in variables], dtype=float)
    values = np.array([v[3] for v in variables], dtype=float)
    used_jobs = np.unique(job_index)
    used_buckets = np.unique(bucket_index)
    job_row = {j: r for r, j in enumerate(used_jobs)}
    bucket_row = {b: r for r, b in enumerate(used_buckets)}
    a_jobs = coo_matrix((np.ones(n), ([job_row[j] for j in job_index], np.arange(n))), shape=(len(used_jobs), n))
    a_cap = coo_matrix((minutes, ([bucket_row[b] for b in bucket_index], np.arange(n))), shape=(len(used_buckets), n))
    capacity = np.array([buckets[b].capacity for b in used_buckets], dtype=float)
    constraints = [
        LinearConstraint(a_jobs.tocsr(), -np.inf, np.ones(len(used_jobs))),
        LinearConstraint(a_cap.tocsr(), -np.inf, capacity),
    ]
    result = milp(-values, constraints=constraints, integrality=np.ones(n), bounds=Bounds(0, 1),
                  options={"time_limit": time_limit, "disp": False})
    if result.x is None:
        return AllocationResult(f"failed: {result.message}", 0.0, [], unassigned + [
            (jobs[j].id, "solver_failed", result.message) for j in used_jobs], load, None, n)
    chosen = result.x > 0.5
    assignments = []
    assigned_jobs = set()
    for k in np.nonzero(chosen)[0]:
        j, b = int(job_index[k]), int(bucket_index[k])
        assignments.append((jobs[j].id, b))
        assigned_jobs.add(j)
        load[b] += minutes[k]
    for j in used_jobs:
        if int(j) not in assigned_jobs:
            unassigned.append((jobs[int(j)].id, "capacity_used_by_higher_value_work", None))
    status = "optimal" if result.status == 0 else ("time_limit" if result.status == 1 else str(result.message))
    return AllocationResult(
        status=status, objective=float(values[chosen].sum()), assignments=assignments, unassigned=unassigned, load=load,
        mip_gap=getattr(result, "mip_gap", None), variables=n,
        values={(jobs[int(job_index[k])].id, int(bucket_index[k])): float(values[k]) for k in range(n)},
    )


def sequence_bucket(jobs_in_bucket):
    """Order of work within one technician-day: highest weight first, then earliest due."""
    return sorted(jobs_in_bucket, key=lambda job: (-job.weight, job.due_day if job.due_day is not None else float("inf")))
