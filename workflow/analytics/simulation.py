"""What-if discrete-event simulation of a store's repair queue (SimPy).

Trace-driven DES (Law, *Simulation Modeling and Analysis*, 5th ed., §5.2): the tickets of a
period are replayed with what the data says about each one — when it became ready for repair,
how much work it needed, how long its quality check took and whether it failed QA — while the
part that depends on capacity, the technicians' queue, is simulated. Changing the capacity (one
more technician on Saturdays, someone off) and re-running gives cycle time and SLA compliance
before and after on the very same work.

How the shop's queue works (the dispatch rule the simulation follows): jobs are taken in the
order they become ready; a job goes to the technician holding the skills its repair type needs
who would finish it first (their queue and speed considered) — with nobody skilled it waits and
is reported as unserved; work advances only in the technician's shift inside opening hours; a QA
failure goes back to the same technician for rework.

Work per job is technician-independent "standard work" (`size`); technician k needs
size × efficiency_k minutes. Times are local minutes; calendars convert to working time.
"""
from dataclasses import dataclass, field

import numpy as np
import simpy


@dataclass
class SimJob:
    id: object
    queue_entry: float  # local minute the job became ready for repair
    size: float  # standard work minutes
    skills: frozenset
    qc_working_minutes: float
    rework_size: float = 0.0  # standard minutes of rework after a failed QA (0: passed first time)
    rework_qc_working_minutes: float = 0.0


@dataclass
class SimTechnician:
    id: object
    skills: frozenset
    efficiency: float
    calendar: object  # WorkCalendar of this technician (shift days and hours)
    free_working: float = 0.0  # working minute (own calendar) at which the queue is clear


@dataclass
class SimResult:
    ready: dict = field(default_factory=dict)  # job id -> local minute it became ready for collection
    technician: dict = field(default_factory=dict)  # job id -> technician id
    busy_minutes: dict = field(default_factory=dict)  # technician id -> minutes of work done
    unserved: dict = field(default_factory=dict)  # job id -> the skills nobody on the roster has (it waits forever)


def simulate_repair_queue(jobs, technicians, store_calendar):
    """Run the queue; returns SimResult with each job's ready time and technician, and the jobs nobody
    on the roster is skilled for (unserved)."""
    env = simpy.Environment(initial_time=min((j.queue_entry for j in jobs), default=0.0))
    result = SimResult(busy_minutes={t.id: 0.0 for t in technicians})
    if not technicians:
        result.unserved = {j.id: sorted(j.skills) for j in jobs}
        return result
    for tech in technicians:
        tech.free_working = 0.0

    def book(tech, at_wall, size):
        minutes = max(5.0, round(size * tech.efficiency))
        cal = tech.calendar
        start = max(float(cal.to_working_scalar(int(np.ceil(at_wall)))), tech.free_working)
        end_working = start + minutes
        return float(cal.to_wall_scalar(int(round(end_working)))), end_working, minutes

    def dispatch(job, now):
        # Only a technician with every skill the repair needs may take it. With nobody skilled on the
        # roster the job waits (unserved) and is reported, as it would in the shop; it is never given to
        # someone who cannot do it.
        candidates = [t for t in technicians if job.skills <= t.skills]
        if not candidates:
            return None, None
        best = None
        for tech in candidates:
            end_wall, end_working, minutes = book(tech, now, job.size)
            if best is None or end_wall < best[0]:
                best = (end_wall, tech, end_working, minutes)
        end_wall, tech, end_working, minutes = best
        tech.free_working = end_working
        result.busy_minutes[tech.id] += minutes
        return tech, end_wall

    def quality_check(at_wall, working_minutes):
        start = store_calendar.to_working_scalar(int(np.ceil(at_wall)))
        return float(store_calendar.to_wall_scalar(int(round(start + working_minutes))))

    def job_process(job):
        yield env.timeout(max(0.0, job.queue_entry - env.now))
        tech, end_wall = dispatch(job, env.now)
        if tech is None:
            result.unserved[job.id] = sorted(job.skills)
            return
        result.technician[job.id] = tech.id
        # The quality check needs no technician, so its end is known once the repair's end is.
        yield env.timeout(max(0.0, quality_check(end_wall, job.qc_working_minutes) - env.now))
        if job.rework_size > 0:
            end_wall, end_working, minutes = book(tech, env.now, job.rework_size)
            tech.free_working = end_working
            result.busy_minutes[tech.id] += minutes
            qc_end = quality_check(end_wall, job.rework_qc_working_minutes or job.qc_working_minutes)
            yield env.timeout(max(0.0, qc_end - env.now))
        result.ready[job.id] = env.now

    # Processes start in order of readiness, so ties at the same minute are served FIFO.
    for job in sorted(jobs, key=lambda j: j.queue_entry):
        env.process(job_process(job))
    env.run()
    return result


def cycle_metrics(received, ready, promised):
    """Cycle time (hours, received → ready) median/mean/p90 of the tickets that became ready, and SLA
    compliance (ready ≤ promised). A ticket never ready (NaN: unserved) counts as `not_ready` and as a
    missed promise."""
    received, ready, promised = (np.asarray(a, dtype=float) for a in (received, ready, promised))
    done = ~np.isnan(ready)
    hours = (ready[done] - received[done]) / 60.0
    has_promise = ~np.isnan(promised)
    kept = done & has_promise & (ready <= promised)  # NaN compares false: never ready is a missed promise
    compliance = round(float(kept.sum() / has_promise.sum()), 4) if has_promise.any() else None
    if not done.any():
        return {"tickets": 0, "not_ready": int(len(ready)), "median_hours": None, "mean_hours": None, "p90_hours": None,
                "sla_compliance": compliance if len(ready) else None}
    return {
        "tickets": int(done.sum()),
        "not_ready": int((~done).sum()),
        "median_hours": round(float(np.median(hours)), 2),
        "mean_hours": round(float(hours.mean()), 2),
        "p90_hours": round(float(np.quantile(hours, 0.9)), 2),
        "sla_compliance": compliance,
    }


def baseline_verdict(simulated_mean, measured_mean, unserved, tolerance):
    """Whether a what-if can be trusted: (error %, within tolerance, trusted, reasons).

    The baseline run (today's roster) must reproduce the measured mean cycle time within `tolerance`
    (a share, e.g. 0.05), and every ticket must have found a skilled technician: a baseline that
    cannot replay what happened says nothing reliable about a change."""
    error = round(100 * (simulated_mean - measured_mean) / measured_mean, 2) if simulated_mean is not None and measured_mean else None
    within = error is not None and abs(error) <= 100 * tolerance
    reasons = []
    if error is None:
        reasons.append("no tickets to compare")
    elif not within:
        reasons.append(f"the baseline's mean cycle time is {error:+.1f} % off the measured one (tolerance ±{100 * tolerance:g} %)")
    if unserved:
        reasons.append(f"{unserved} ticket(s) need skills no technician of the store has, yet were repaired")
    return error, within, within and not unserved, reasons
