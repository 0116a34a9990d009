"""Process measures from the tickets' status history (pure pandas/numpy).

Times are local minutes (wall clock) and working minutes (open time only, from a WorkCalendar).
- Time in stage: from entering a status to entering the next one; a stage still running at the end
  of the data is censored and left out of the durations.
- Bottleneck: the stage holding the most ticket-time inside the cycle (received → ready), i.e. where
  work in progress piles up; by Little's law that is the stage with the largest mean WIP.
- Little's law (Little 1961): over a window in steady state, average work in progress L equals
  throughput λ times mean time in the system W. We measure L by integrating the number of tickets
  between received and ready over the window, λ as tickets completed per day and W as the mean
  cycle time of those tickets, and report L / (λW) (≈ 1 in a stable process).
"""
import numpy as np
import pandas as pd

CYCLE_STAGES = ("received", "diagnosing", "awaiting_approval", "awaiting_parts", "in_repair", "quality_check")
ALL_STAGES = CYCLE_STAGES + ("ready",)


def stage_times(events: pd.DataFrame):
    """events: ticket, status, wall, work (sorted or not) -> one row per completed stage visit:
    ticket, stage, next_status, start_wall, end_wall, wall_hours, working_hours."""
    ev = events.sort_values(["ticket", "wall"], kind="stable").reset_index(drop=True)
    nxt = ev.groupby("ticket").shift(-1)
    out = pd.DataFrame({
        "ticket": ev.ticket, "stage": ev.status, "next_status": nxt.status,
        "start_wall": ev.wall, "end_wall": nxt.wall,
        "wall_hours": (nxt.wall - ev.wall) / 60.0, "working_hours": (nxt.work - ev.work) / 60.0,
    })
    return out[out.end_wall.notna()].reset_index(drop=True)


def stage_summary(stages: pd.DataFrame, order=ALL_STAGES):
    """Median and p90 of time in each stage (wall and working hours), visits, and share of cycle time."""
    rows = []
    in_cycle = stages[stages.stage.isin(CYCLE_STAGES)]
    total_cycle = float(in_cycle.working_hours.sum()) or 1.0
    for stage in order:
        s = stages[stages.stage == stage]
        if s.empty:
            continue
        rows.append({
            "stage": stage, "visits": int(len(s)),
            "median_hours": round(float(s.wall_hours.median()), 2), "p90_hours": round(float(s.wall_hours.quantile(0.9)), 2),
            "mean_hours": round(float(s.wall_hours.mean()), 2),
            "median_working_hours": round(float(s.working_hours.median()), 2),
            "p90_working_hours": round(float(s.working_hours.quantile(0.9)), 2),
            "mean_working_hours": round(float(s.working_hours.mean()), 2),
            "share_of_cycle_time": round(float(s.working_hours.sum()) / total_cycle, 4) if stage in CYCLE_STAGES else None,
        })
    return rows


def bottleneck(summary_rows):
    """The cycle stage holding the largest share of ticket-time (working hours)."""
    cycle = [r for r in summary_rows if r["share_of_cycle_time"] is not None]
    if not cycle:
        return None
    top = max(cycle, key=lambda r: r["share_of_cycle_time"])
    return {"stage": top["stage"], "share_of_cycle_time": top["share_of_cycle_time"],
            "median_working_hours": top["median_working_hours"], "p90_working_hours": top["p90_working_hours"]}


def littles_law(start, end, window_start, window_end):
    """Little's-law check for items in the system from `start` to `end` (local minutes, NaN end = still in).

    Returns L (time-average WIP), λ (completions per day), W (mean days in system of the completions
    in the window), λW and the ratio L / λW.
    """
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    length = float(window_end - window_start)
    if length <= 0:
        return None
    open_end = np.where(np.isnan(end), window_end, end)
    overlap = np.clip(np.minimum(open_end, window_end) - np.maximum(start, window_start), 0, None)
    wip = float(overlap.sum() / length)
    done = ~np.isnan(end) & (end >= window_start) & (end < window_end)
    days = length / 1440.0
    throughput = float(done.sum() / days)
    mean_days = float(((end[done] - start[done]) / 1440.0).mean()) if done.any() else float("nan")
    lam_w = throughput * mean_days
    # Over a finite window L = λW only in steady state. Exactly, L = λW + (carried out − carried in) / T: the time
    # items still in the system at the window's end spent inside it, less the time the window's completions spent
    # before it. A backlog that builds in the window (a January surge) puts L above λW; the edge term says how much.
    still_in = (start < window_end) & (np.isnan(end) | (end >= window_end))
    carried_out = float((window_end - np.maximum(start[still_in], window_start)).sum())
    carried_in = float(np.clip(window_start - start[done], 0, None).sum())
    edge = (carried_out - carried_in) / length
    return {
        "wip": round(wip, 2), "throughput_per_day": round(throughput, 3), "cycle_time_days": round(mean_days, 3),
        "throughput_x_cycle_time": round(lam_w, 2), "ratio": round(wip / lam_w, 3) if lam_w > 0 else None,
        "completed": int(done.sum()), "window_days": round(days, 2),
        "in_system_at_start": int(((start < window_start) & (np.isnan(end) | (end >= window_start))).sum()),
        "in_system_at_end": int(still_in.sum()), "edge_wip": round(edge, 2),
    }


def describe_hours(values):
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        return {"n": 0, "median": None, "p90": None, "mean": None}
    return {"n": int(len(values)), "median": round(float(values.median()), 2), "p90": round(float(values.quantile(0.9)), 2),
            "mean": round(float(values.mean()), 2)}
