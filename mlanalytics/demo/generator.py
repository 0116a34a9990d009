"""The demo data generator: a seeded simulation of a repair business with known (planted) truth.

What is planted, and where (the truth dictionary written beside the data names each one):
- Intake: new customers arrive per store by a daily intensity = trend × weekly pattern × yearly wave
  × January and September surges × the shop's public holidays (short hours; closed at Christmas/New Year).
- Repeat visits follow the BG/NBD process (Fader, Hardie & Lee 2005) with known r, alpha, a, b, run
  in "operational time" (the same intensity, normalised to mean 1) so repeat visits carry the
  seasonality too. Warranty comebacks are extra visits outside that process.
- Repair work is a real queue: each store's technicians (with skills and days off) take jobs in
  the order they become ready, during opening hours; one technician fails QA and comes back far
  more often; one repair type's labour time varies far more than the others.
- Stock per part per store is simulated day by day under the shop's habitual min/max rule; a
  ticket whose part is out waits in awaiting_parts until a delivery; one supplier is
  systematically late; one store habitually buys from an overpriced supplier; rare models give
  slow movers with intermittent demand; models nobody brings in any more leave dead stock.
Everything here is numpy/pandas; writing to the database is mlanalytics.demo.writer's job.
"""
import heapq
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from .calendar import WorkCalendar, shop_holidays
from .catalogue import (
    CATEGORY_SHARE, OPENING_HOURS, HIGH_VARIANCE_REPAIR_TYPE, LATE_SUPPLIER, PREMIUM_SUPPLIER, SCALES, build_catalogue,
)

WEEKLY = np.array([1.10, 1.00, 0.95, 1.00, 1.10, 1.35, 0.50])  # Monday..Sunday
YEARLY_AMPLITUDE, YEARLY_PEAK_DAY = 0.10, 196  # a gentle summer high (mid-July)
SURGES = [
    {"name": "January", "start": (1, 2), "end": (1, 21), "factor": 1.40},
    {"name": "September", "start": (9, 1), "end": (9, 21), "factor": 1.30},
]
BANK_HOLIDAY_FACTOR = 0.35
TREND_PER_YEAR = 0.08
BGNBD = {"r": 0.75, "alpha": 13.0, "a": 0.85, "b": 2.6}  # time unit: weeks
LABOUR_SIGMA, HIGH_VARIANCE_SIGMA = 0.15, 0.60
# Stage durations in working minutes (shop open time): (gamma shape, mean).
STAGE_WORKING_MINUTES = {
    "wait_for_diagnosis": (1.0, 45.0),
    "diagnosing": (2.0, 50.0),
    "awaiting_approval": (1.5, 420.0),
    "quality_check": (2.0, 40.0),
    "ready_to_collected": (1.3, 700.0),
}
APPROVAL_SHARE_HIGH_QUOTE, APPROVAL_SHARE_LOW_QUOTE, APPROVAL_THRESHOLD = 0.60, 0.15, 120.0
DECLINE_AT_APPROVAL, UNREPAIRABLE_AT_DIAGNOSIS = 0.12, 0.012
COMEBACK_MEAN_DAYS, COMEBACK_WINDOW_DAYS = 30.0, 90
REWORK_SHARE = 0.35
RECEIPT_MINUTE = 8 * 60 + 30  # deliveries arrive before opening
ORDER_MINUTE = 17 * 60 + 30
QA_DEFECTS = ["touch dead zone", "Face ID / biometrics not working", "battery health mismatch", "port loose",
              "camera focus fault", "speaker muffled", "housing gap", "keyboard keys sticking"]
PRIORITIES, PRIORITY_P = ["low", "normal", "high", "urgent"], [0.05, 0.80, 0.12, 0.03]
SSD_SKUS, SSD_P = ["STO-SSD-256", "STO-SSD-512", "STO-SSD-1TB", "STO-SSD-2TB"], [0.2, 0.45, 0.3, 0.05]
OVERPAYING_SHARE = 0.5


def gamma(rng, shape_mean, size=None):
    shape, mean = shape_mean
    return rng.gamma(shape, mean / shape, size)


@dataclass
class Timeline:
    """The shared time axis: days, calendar factors and the operational-time warp."""

    start: date
    n_days: int
    holidays: dict
    intensity: np.ndarray  # seasonal factor per day, mean 1 over the open days
    trend: np.ndarray
    warp: np.ndarray  # cumulative intensity, length n_days + 1 (operational days)

    @property
    def end(self):
        return self.start + timedelta(days=self.n_days - 1)


def build_timeline(start, end, extra_days):
    """Seasonal intensity per day over the history plus a tail for work that finishes after the end."""
    n_history = (end - start).days + 1
    n_days = n_history + extra_days
    holidays = shop_holidays(start, start + timedelta(days=n_days))
    factors = np.zeros(n_days)
    trend = np.zeros(n_days)
    for i in range(n_days):
        day = start + timedelta(days=i)
        f = WEEKLY[day.weekday()] * (1 + YEARLY_AMPLITUDE * np.cos(2 * np.pi * (day.timetuple().tm_yday - YEARLY_PEAK_DAY) / 365.25))
        for surge in SURGES:
            if date(day.year, *surge["start"]) <= day <= date(day.year, *surge["end"]):
                f *= surge["factor"]
        name = holidays.get(day)
        if name in ("Christmas Day", "Boxing Day", "New Year's Day"):
            f = 0.0
        elif name:
            f *= BANK_HOLIDAY_FACTOR
        factors[i] = f
        trend[i] = (1 + TREND_PER_YEAR) ** (i / 365.25)
    factors /= factors[:n_history][factors[:n_history] > 0].mean()
    warp = np.concatenate([[0.0], np.cumsum(factors)])
    return Timeline(start, n_days, holidays, factors, trend, warp), n_history


@dataclass
class StoreData:
    """Everything generated for one store, as column lists ready for the writer (local minutes)."""

    customers: list = field(default_factory=list)
    tickets: list = field(default_factory=list)
    events: list = field(default_factory=list)
    qa: list = field(default_factory=list)
    purchase_orders: list = field(default_factory=list)
    po_lines: list = field(default_factory=list)
    receipts: list = field(default_factory=list)
    movements: list = field(default_factory=list)
    stock: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)


class DemoGenerator:
    """Builds the catalogue once, then simulates one store at a time (bounded memory at any scale)."""

    def __init__(self, seed=42, scale="demo", end=None):
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}")
        self.seed, self.scale = seed, scale
        self.cfg = SCALES[scale]
        self.end = end or (date.today() - timedelta(days=1))
        self.start = self.end - timedelta(days=int(round(365.25 * self.cfg["years"])) - 1)
        rng = np.random.default_rng([seed, 0])
        self.catalogue = build_catalogue(rng, scale, self.start, self.end)
        self.timeline, self.n_history = build_timeline(self.start, self.end, extra_days=150)
        self.end_minute = self.n_history * 1440 - 1  # 23:59 on the last day, local minutes
        self._prepare_model_choice()
        weights = np.array([s["weight"] for s in self.catalogue.stores])
        exposure = (self.timeline.trend[: self.n_history] * self.timeline.intensity[: self.n_history]).sum()
        self.new_customers_per_day = self.cfg["customers"] * weights / weights.sum() / exposure
        self.customer_id_offset = 0
        self.overpaying_store = len(self.catalogue.stores) - 1
        self.repair_types = {rt[0]: rt for rt in self.catalogue.repair_types}
        self.types_by_category = {}
        for rt in self.catalogue.repair_types:
            self.types_by_category.setdefault(rt[2], []).append(rt)

    # -- device model choice: popularity × lifecycle, per month ------------------------------------
    def _prepare_model_choice(self):
        months = self.n_history // 30 + 6
        self.model_probs = {}
        for category, indices in self.catalogue.category_model_index.items():
            table = np.zeros((months, len(indices)))
            for m in range(months):
                day = self.start + timedelta(days=30 * m + 15)
                for j, idx in enumerate(indices):
                    model = self.catalogue.device_models[idx]
                    age = (day - model.released_on).days
                    if age < 0 or (model.dead_after and day > model.dead_after):
                        continue
                    ramp = min(1.0, age / 90)
                    decay = 0.5 ** (max(0, age - 900) / 365)
                    table[m, j] = model.popularity * ramp * decay
                total = table[m].sum()
                table[m] = table[m] / total if total > 0 else 1.0 / len(indices)
            self.model_probs[category] = (np.array(indices), table)

    def expected_part_demand(self, daily_tickets, first_day, last_day):
        """Planted expected units per part over [first_day, last_day] given the ticket volume per day:
        volume × category share × model probability (popularity × lifecycle) × repair mix × bill of parts."""
        cat = self.catalogue
        demand = np.zeros(len(cat.parts))
        days = np.arange(first_day, last_day + 1)
        n_months = len(next(iter(self.model_probs.values()))[1])
        volume_by_month = np.bincount(np.minimum(days // 30, n_months - 1), weights=daily_tickets[days], minlength=n_months)
        total = volume_by_month.sum()
        for category, share in CATEGORY_SHARE.items():
            indices, table = self.model_probs[category]
            per_model = share * (volume_by_month @ table)
            types = self.types_by_category[category]
            mix_total = sum(t[7] for t in types)
            for rt in types:
                mix = rt[7] / mix_total
                for kind in rt[8]:
                    for j, idx in enumerate(indices):
                        part = cat.part_for.get((int(idx), kind))
                        if part is not None:
                            demand[part] += mix * per_model[j]
                for sku in rt[9]:
                    if sku == "SSD":
                        for s, p in zip(SSD_SKUS, SSD_P):
                            demand[cat.consumable_index[s]] += total * share * mix * p
                    else:
                        demand[cat.consumable_index[sku]] += total * share * mix
        return demand

    # -- one store ---------------------------------------------------------------------------------
    def simulate_store(self, store_index):
        rng = np.random.default_rng([self.seed, 1, store_index])
        cat = self.catalogue
        opening = OPENING_HOURS
        tl = self.timeline
        calendar = WorkCalendar.build(self.start, tl.n_days, opening, tl.holidays)
        techs = [t for t in cat.technicians if t.store == store_index]
        tech_calendars = [WorkCalendar.build(self.start, tl.n_days, opening, tl.holidays, works_on=t.works_on) for t in techs]
        out = StoreData()

        # 1. New customers (first visits) and their BG/NBD repeat visits, in operational time.
        births = rng.poisson(self.new_customers_per_day[store_index] * tl.trend[: self.n_history] * tl.intensity[: self.n_history])
        visit_customer, visit_op = [], []
        params = BGNBD
        horizon_op = tl.warp[self.n_history]
        cust_local = 0
        for day in np.nonzero(births)[0]:
            for _ in range(births[day]):
                op0 = tl.warp[day] + rng.random() * tl.intensity[day]
                lam = rng.gamma(params["r"], 1.0 / params["alpha"])  # visits per operational week
                p = rng.beta(params["a"], params["b"])
                visit_customer.append(cust_local)
                visit_op.append(op0)
                t = op0
                while True:
                    t += 7.0 * rng.exponential(1.0 / lam)
                    if t >= horizon_op:
                        break
                    visit_customer.append(cust_local)
                    visit_op.append(t)
                    if rng.random() < p:
                        break
                cust_local += 1
        visit_customer = np.array(visit_customer, dtype=np.int64)
        visit_op = np.array(visit_op)
        day_of = np.searchsorted(tl.warp, visit_op, side="right") - 1
        frac = (visit_op - tl.warp[day_of]) / np.maximum(tl.intensity[day_of], 1e-12)
        received = day_of * 1440 + calendar.open_from[day_of] + (frac * calendar.open_minutes[day_of]).astype(np.int64)
        order = np.argsort(received, kind="stable")
        visit_customer, received = visit_customer[order], received[order]
        n_customers = cust_local

        # 2. What each visit is: category, model, repair type, priority, price.
        n = len(received)
        categories = np.array(list(CATEGORY_SHARE))
        cat_idx = rng.choice(len(categories), size=n, p=np.array(list(CATEGORY_SHARE.values())))
        model = np.zeros(n, dtype=np.int64)
        month = np.minimum(received // 1440 // 30, len(next(iter(self.model_probs.values()))[1]) - 1)
        for c, category in enumerate(categories):
            indices, table = self.model_probs[category]
            for m in np.unique(month[cat_idx == c]):
                mask = (cat_idx == c) & (month == m)
                model[mask] = indices[rng.choice(len(indices), size=mask.sum(), p=table[m])]
        rtype = np.empty(n, dtype=object)
        for c, category in enumerate(categories):
            types = self.types_by_category[category]
            mix = np.array([t[7] for t in types])
            mask = cat_idx == c
            rtype[mask] = [types[k][0] for k in rng.choice(len(types), size=mask.sum(), p=mix / mix.sum())]
        priority = rng.choice(len(PRIORITIES), size=n, p=PRIORITY_P)
        tier = np.array([cat.device_models[m].tier for m in model])
        list_price = np.array([self.repair_types[t][4] for t in rtype], dtype=float)
        quote = np.round(list_price * np.where(tier > 1.2, 1.25, np.where(tier < 0.8, 0.85, 1.0))) - 0.01

        # 3. Before the part is needed: diagnosis, maybe approval; some are cancelled.
        recv_wm = calendar.to_working(received)
        diag_start_wm = recv_wm + np.rint(gamma(rng, STAGE_WORKING_MINUTES["wait_for_diagnosis"], n)).astype(np.int64)
        diag_end_wm = diag_start_wm + np.rint(gamma(rng, STAGE_WORKING_MINUTES["diagnosing"], n)).astype(np.int64) + 5
        unrepairable = rng.random(n) < UNREPAIRABLE_AT_DIAGNOSIS
        needs_approval = rng.random(n) < np.where(quote >= APPROVAL_THRESHOLD, APPROVAL_SHARE_HIGH_QUOTE, APPROVAL_SHARE_LOW_QUOTE)
        needs_approval &= ~unrepairable
        approval_end_wm = diag_end_wm + np.where(needs_approval, np.rint(gamma(rng, STAGE_WORKING_MINUTES["awaiting_approval"], n)).astype(np.int64) + 10, 0)
        declined = needs_approval & (rng.random(n) < DECLINE_AT_APPROVAL)
        need_wm = approval_end_wm
        need_wall = calendar.to_wall(need_wm)
        proceeds = ~unrepairable & ~declined

        # Parts each proceeding ticket needs (unit list: ticket, part).
        unit_ticket, unit_part = [], []
        ssd_choice = rng.choice(len(SSD_SKUS), size=n, p=SSD_P)
        for i in np.nonzero(proceeds)[0]:
            rt = self.repair_types[rtype[i]]
            for kind in rt[8]:
                part = cat.part_for.get((int(model[i]), kind))
                if part is not None:
                    unit_ticket.append(i)
                    unit_part.append(part)
            for sku in rt[9]:
                unit_ticket.append(i)
                unit_part.append(cat.consumable_index[SSD_SKUS[ssd_choice[i]] if sku == "SSD" else sku])
        unit_ticket = np.array(unit_ticket, dtype=np.int64)
        unit_part = np.array(unit_part, dtype=np.int64)
        unit_need_day = need_wall[unit_ticket] // 1440 if len(unit_ticket) else np.array([], dtype=np.int64)

        # 4. Stock, day by day, under the shop's habitual min/max rule.
        fulfil_day = self._simulate_stock(rng, store_index, calendar, unit_part, unit_need_day, need_wall[unit_ticket] if len(unit_ticket) else np.array([]), out)

        ticket_parts_ready = need_wall.copy()
        parts_missing = np.zeros(n, dtype=bool)
        unit_fulfil_wall = np.full(len(unit_ticket), -1, dtype=np.int64)
        if len(unit_ticket):
            fulfilled = fulfil_day >= 0
            late = fulfilled & (fulfil_day > unit_need_day)
            unit_fulfil_wall = np.where(
                late, fulfil_day * 1440 + calendar.open_from[np.maximum(fulfil_day, 0)] + rng.integers(5, 40, len(unit_ticket)),
                need_wall[unit_ticket],
            )
            unit_fulfil_wall[~fulfilled] = -1
            np.maximum.at(ticket_parts_ready, unit_ticket[fulfilled], unit_fulfil_wall[fulfilled])
            parts_missing[unit_ticket[~fulfilled]] = True

        # 5. The repair queue: jobs in order of readiness, each to the skilled technician who finishes first.
        tech_free = [0] * len(techs)
        tech_skills = [set(t.skills) for t in techs]
        qa_rows = []
        events = [[] for _ in range(n)]
        comeback_of = {}
        # Extra per-ticket arrays that comebacks append to.
        received = list(received)
        model, rtype, priority, quote = list(model), list(rtype), list(priority), list(quote)
        visit_customer = list(visit_customer)
        recv_wm, diag_start_wm, diag_end_wm = list(recv_wm), list(diag_start_wm), list(diag_end_wm)
        needs_approval, unrepairable, declined = list(needs_approval), list(unrepairable), list(declined)
        need_wall, ticket_parts_ready, parts_missing = list(need_wall), list(ticket_parts_ready), list(parts_missing)
        assigned = [None] * n
        labour_total = [0] * n
        repair_start = [None] * n
        ready_at = [None] * n
        collected_at = [None] * n
        cancelled_at = [None] * n

        heap = []
        for i in range(n):
            if unrepairable[i]:
                cancelled_at[i] = int(calendar.to_wall_scalar(diag_end_wm[i]))
            elif declined[i]:
                cancelled_at[i] = int(calendar.to_wall_scalar(need_wm[i]))
            elif not parts_missing[i]:
                heapq.heappush(heap, (int(ticket_parts_ready[i]), i, 0))

        def required_skills(code):
            return set(self.repair_types[code][6])

        def add_ticket_like(original, at_wall):
            """A warranty comeback: same customer, device and repair, no parts, back through the queue."""
            j = len(received)
            day = at_wall // 1440
            while day < tl.n_days - 1 and calendar.open_minutes[day] == 0:
                day += 1
            at_wall = day * 1440 + int(calendar.open_from[day]) + int(rng.integers(0, max(1, calendar.open_minutes[day] - 30)))
            if at_wall > self.end_minute:
                # Due on a closed last day (Christmas, New Year's Day): it would come in after the data end.
                return
            received.append(at_wall)
            model.append(model[original]); rtype.append(rtype[original]); priority.append(2)
            quote.append(0.0); visit_customer.append(visit_customer[original])
            rw = calendar.to_working_scalar(at_wall)
            ds = rw + int(gamma(rng, STAGE_WORKING_MINUTES["wait_for_diagnosis"]) * 0.5)
            de = ds + int(gamma(rng, STAGE_WORKING_MINUTES["diagnosing"]) * 0.5) + 5
            recv_wm.append(rw); diag_start_wm.append(ds); diag_end_wm.append(de)
            needs_approval.append(False); unrepairable.append(False); declined.append(False)
            ready_wall = calendar.to_wall_scalar(de)
            need_wall.append(ready_wall); ticket_parts_ready.append(ready_wall); parts_missing.append(False)
            assigned.append(None); labour_total.append(0); repair_start.append(None); ready_at.append(None)
            collected_at.append(None); cancelled_at.append(None); events.append([])
            comeback_of[j] = original
            heapq.heappush(heap, (int(ready_wall), j, 0))

        while heap:
            ready_wall, i, attempt = heapq.heappop(heap)
            code = rtype[i]
            rt = self.repair_types[code]
            noise = rng.standard_normal()
            sigma = HIGH_VARIANCE_SIGMA if code == HIGH_VARIANCE_REPAIR_TYPE else LABOUR_SIGMA
            if attempt == 0:
                candidates = [k for k in range(len(techs)) if required_skills(code) <= tech_skills[k]] or list(range(len(techs)))
            else:
                candidates = [assigned[i]]
            best = None
            for k in candidates:
                minutes = rt[3] * techs[k].efficiency * np.exp(sigma * noise - sigma * sigma / 2)
                if attempt:
                    minutes *= REWORK_SHARE
                if i in comeback_of and attempt == 0:
                    minutes *= 0.6
                minutes = max(5, int(round(minutes)))
                tcal = tech_calendars[k]
                start_wm = max(tcal.to_working_scalar(ready_wall), tech_free[k])
                end_wm = start_wm + minutes
                end_wall = tcal.to_wall_scalar(end_wm)
                if best is None or end_wall < best[0]:
                    best = (end_wall, k, start_wm, end_wm, minutes)
            end_wall, k, start_wm, end_wm, minutes = best
            tech_free[k] = end_wm
            if attempt == 0:
                assigned[i] = k
                repair_start[i] = tech_calendars[k].to_wall_scalar(start_wm)
            labour_total[i] += minutes
            qc_wm = calendar.to_working_scalar(end_wall) + int(gamma(rng, STAGE_WORKING_MINUTES["quality_check"])) + 3
            qc_wall = calendar.to_wall_scalar(qc_wm)
            tech = techs[k]
            failed = attempt == 0 and rng.random() < tech.qa_fail_rate
            events[i].append(("quality_check", int(end_wall)))
            defects = [QA_DEFECTS[int(rng.integers(len(QA_DEFECTS)))]] if failed else []
            qa_rows.append((i, int(qc_wall), not failed, defects))
            if failed:
                events[i].append(("in_repair", int(qc_wall)))
                heapq.heappush(heap, (int(qc_wall), i, 1))
                continue
            ready_at[i] = int(qc_wall)
            events[i].append(("ready", int(qc_wall)))
            collect_wm = qc_wm + int(gamma(rng, STAGE_WORKING_MINUTES["ready_to_collected"])) + 10
            collected_at[i] = int(calendar.to_wall_scalar(collect_wm))
            if i not in comeback_of and rng.random() < tech.comeback_rate:
                gap = int(rng.exponential(COMEBACK_MEAN_DAYS) * 1440)
                if gap <= COMEBACK_WINDOW_DAYS * 1440 and qc_wall + gap <= self.end_minute:
                    add_ticket_like(i, int(qc_wall) + gap)

        # 6. Status histories, truncated at the end of the data (open tickets stay open).
        total = len(received)
        for i in range(total):
            timeline = [("received", int(received[i]))]
            timeline.append(("diagnosing", int(calendar.to_wall_scalar(diag_start_wm[i]))))
            if unrepairable[i]:
                timeline.append(("cancelled", cancelled_at[i]))
            else:
                if needs_approval[i]:
                    timeline.append(("awaiting_approval", int(calendar.to_wall_scalar(diag_end_wm[i]))))
                if declined[i]:
                    timeline.append(("cancelled", cancelled_at[i]))
                else:
                    if parts_missing[i] or ticket_parts_ready[i] > need_wall[i]:
                        timeline.append(("awaiting_parts", int(need_wall[i])))
                    if not parts_missing[i]:
                        timeline.append(("in_repair", int(ticket_parts_ready[i])))
                        timeline.extend(events[i])
                        if collected_at[i] is not None:
                            timeline.append(("collected", collected_at[i]))
            # Same-minute steps keep their order; times never go backwards.
            fixed, last = [], -1
            for status, at in timeline:
                at = max(at, last)
                fixed.append((status, at))
                last = at
            timeline = [(s, at) for s, at in fixed if at <= self.end_minute]
            events[i] = timeline

        stats = {"tickets": total, "customers": n_customers, "comebacks": len(comeback_of)}
        out.stats = stats
        out.customers = self._customer_rows(rng, store_index, n_customers, visit_customer, received)
        self._ticket_rows(rng, store_index, total, received, model, rtype, priority, quote, visit_customer, events,
                          assigned, repair_start, labour_total, ready_at, collected_at, comeback_of, techs, out)
        for i, at, passed, defects in qa_rows:
            if at <= self.end_minute:
                out.qa.append((i, at, passed, defects))
        self._movement_rows(unit_ticket, unit_part, unit_fulfil_wall, out)
        return out

    # -- stock simulation ---------------------------------------------------------------------------
    def _simulate_stock(self, rng, store_index, calendar, unit_part, unit_need_day, unit_need_wall, out):
        """Day-by-day stock of every part at the store; returns the day each demanded unit is served (-1: never).

        Policy the shop follows today (the baseline the recommended policy must beat): review Monday and Thursday;
        when on hand + on order − backorders ≤ s, order up to S, where s = trailing 8-week daily demand
        × (quoted lead time + 7 days) and S = s + 4 weeks of demand, in whole packs (rates re-estimated at each review).
        """
        cat = self.catalogue
        n_parts, days = len(cat.parts), self.n_history
        demand = np.zeros((days, n_parts), dtype=np.int64)
        if len(unit_part):
            in_history = unit_need_day < days
            np.add.at(demand, (unit_need_day[in_history], unit_part[in_history]), 1)
        pack = np.array([p.pack_size for p in cat.parts])
        moq = np.array([p.min_order_qty for p in cat.parts])
        # Qualified suppliers and the store's habitual choice per part.
        qualified = [[] for _ in range(n_parts)]
        price_of = {}
        for s_idx, p_idx, price, _moq, _pack, lead in cat.prices:
            qualified[p_idx].append(s_idx)
            price_of[(s_idx, p_idx)] = price
        codes = [s.code for s in cat.suppliers]
        premium = codes.index(PREMIUM_SUPPLIER)
        late = codes.index(LATE_SUPPLIER)
        habitual = np.zeros(n_parts, dtype=np.int64)
        for p in range(n_parts):
            options = [s for s in qualified[p] if s != premium]
            cheapest = min([s for s in options if s != late] or options, key=lambda s: price_of[(s, p)])
            if late in options and rng.random() < 0.25:
                habitual[p] = late
            elif rng.random() < 0.6:
                habitual[p] = cheapest
            else:
                habitual[p] = options[int(rng.integers(len(options)))]
        quoted_lead = np.array([cat.suppliers[s].quoted_lead_time_days for s in habitual])

        # Opening stock and the first estimate of demand: the first 8 weeks' actual rate.
        rate = demand[:56].sum(axis=0) / 56.0
        s_level = np.ceil(rate * (quoted_lead + 7)).astype(np.int64)
        S_level = s_level + np.maximum(pack, np.ceil(rate * 28).astype(np.int64))
        S_level[rate == 0] = 0
        on_hand = S_level.copy()
        opening = on_hand.copy()
        on_order = np.zeros(n_parts, dtype=np.int64)
        backlog = np.zeros(n_parts, dtype=np.int64)
        horizon = days + 60
        arrive_good = np.zeros((horizon, n_parts), dtype=np.int64)
        arrive_ordered = np.zeros((horizon, n_parts), dtype=np.int64)
        served = np.zeros((days, n_parts), dtype=np.int64)
        orders = []  # (day, supplier, [(part, qty, defective)], lead_days, arrival_day)
        for d in range(days):
            on_hand += arrive_good[d]
            on_order -= arrive_ordered[d]
            need = backlog + demand[d]
            take = np.minimum(on_hand, need)
            on_hand -= take
            backlog = need - take
            served[d] = take
            # The shop reviews stock and orders twice a week (Monday and Thursday).
            if calendar.open_minutes[d] == 0 or (self.start + timedelta(days=d)).weekday() not in (0, 3):
                continue
            if d >= 56:
                rate = demand[d - 56 : d].sum(axis=0) / 56.0
                s_level = np.ceil(rate * (quoted_lead + 7)).astype(np.int64)
                S_level = s_level + np.maximum(pack, np.ceil(rate * 28).astype(np.int64))
                S_level[rate == 0] = 0
            position = on_hand + on_order - backlog
            want = (position <= s_level) & (S_level > 0)
            if not want.any():
                continue
            parts = np.nonzero(want)[0]
            qty = np.maximum(S_level[parts] - position[parts], 1)
            qty = np.maximum(np.ceil(qty / pack[parts]).astype(np.int64) * pack[parts], moq[parts])
            chosen = habitual[parts].copy()
            if store_index == self.overpaying_store:
                switch = rng.random(len(parts)) < OVERPAYING_SHARE
                for j in np.nonzero(switch)[0]:
                    if premium in qualified[parts[j]]:
                        chosen[j] = premium
            for supplier in np.unique(chosen):
                sup = cat.suppliers[supplier]
                extra = rng.gamma(2.0, sup.late_mean_days / 2.0) if sup.late_mean_days > 0 else 0.0
                lead = sup.quoted_lead_time_days + int(round(extra))
                arrival = d + lead
                while arrival < horizon - 1 and arrival < len(calendar.open_minutes) and calendar.open_minutes[arrival] == 0:
                    arrival += 1
                lines = []
                for j in np.nonzero(chosen == supplier)[0]:
                    p = parts[j]
                    q = int(qty[j])
                    defective = int(rng.binomial(q, sup.defect_rate))
                    lines.append((int(p), q, defective))
                    on_order[p] += q
                    if arrival < horizon:
                        arrive_good[arrival, p] += q - defective
                        arrive_ordered[arrival, p] += q
                orders.append((d, int(supplier), lines, lead, arrival))

        # Which day serves each demanded unit: FIFO by need time within each part.
        fulfil_day = np.full(len(unit_part), -1, dtype=np.int64)
        if len(unit_part):
            order = np.lexsort((unit_need_wall, unit_part))
            sorted_parts = unit_part[order]
            boundaries = np.searchsorted(sorted_parts, np.arange(n_parts + 1))
            cumulative = np.cumsum(served, axis=0)
            for p in range(n_parts):
                lo, hi = boundaries[p], boundaries[p + 1]
                if lo == hi:
                    continue
                k = np.arange(1, hi - lo + 1)
                day = np.searchsorted(cumulative[:, p], k, side="left")
                day[day >= days] = -1
                fulfil_day[order[lo:hi]] = day
        self._po_rows(store_index, orders, price_of, habitual, opening, on_hand, out)
        out.stats["late_supplier_index"] = late
        return fulfil_day

    # -- rows ----------------------------------------------------------------------------------------
    def _customer_rows(self, rng, store_index, n_customers, visit_customer, received):
        first_visit = np.full(n_customers, -1, dtype=np.int64)
        for c, at in zip(visit_customer, received):
            if first_visit[c] < 0 or at < first_visit[c]:
                first_visit[c] = at
        rows = []
        from .catalogue import FIRST_NAMES, LAST_NAMES

        for c in range(n_customers):
            first = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
            last = LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]
            number = self.customer_id_offset + c + 1
            rows.append(dict(
                local=c, ref=f"DEMO-C{number:07d}", name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}{number}@example.com" if rng.random() < 0.93 else "",
                phone=f"+44 7700 9{int(rng.integers(0, 100000)):05d}" if rng.random() < 0.9 else "",
                consent_email_service=bool(rng.random() < 0.92), consent_sms_service=bool(rng.random() < 0.85),
                consent_email_marketing=bool(rng.random() < 0.35), consent_sms_marketing=bool(rng.random() < 0.2),
                created_at=int(first_visit[c]),
            ))
        self.customer_id_offset += n_customers
        return rows

    def _ticket_rows(self, rng, store_index, total, received, model, rtype, priority, quote, customer, events,
                     assigned, repair_start, labour_total, ready_at, collected_at, comeback_of, techs, out):
        store = self.catalogue.stores[store_index]
        order = sorted(range(total), key=lambda i: received[i])
        rank = {i: r for r, i in enumerate(order)}
        for i in order:
            history = events[i]
            status = history[-1][0]
            rt = self.repair_types[rtype[i]]
            ready = ready_at[i] if ready_at[i] is not None and ready_at[i] <= self.end_minute else None
            cancelled = next((at for s, at in history if s == "cancelled"), None)
            collected = collected_at[i] if collected_at[i] is not None and collected_at[i] <= self.end_minute else None
            started = repair_start[i] is not None and repair_start[i] <= self.end_minute
            tech = techs[assigned[i]] if assigned[i] is not None and started else None
            sla_hours = rt[5] * (0.5 if PRIORITIES[priority[i]] == "urgent" else 1.0)
            final = None
            if ready is not None:
                final = 0.0 if i in comeback_of else (round(quote[i] * 0.9, 2) if rng.random() < 0.08 else quote[i])
            out.tickets.append(dict(
                local=i, reference=f"{store['code']}-{rank[i] + 1:07d}", customer=int(customer[i]), model=int(model[i]),
                repair_type=rtype[i], priority=PRIORITIES[priority[i]], technician=tech.index if tech else None,
                status=status, outcome="fixed" if ready is not None else ("end_of_life" if cancelled is not None and history[-2][0] == "diagnosing" else ""),
                received=int(received[i]), promised=int(received[i] + sla_hours * 60), completed=ready if ready is not None else cancelled,
                collected=collected, quoted=None if i in comeback_of else float(quote[i]), final=final,
                labour=int(labour_total[i]) if ready is not None else None, warranty_of=comeback_of.get(i),
            ))
            for s_idx, (status_name, at) in enumerate(history):
                out.events.append((i, history[s_idx - 1][0] if s_idx else "", status_name, at))

    def _po_rows(self, store_index, orders, price_of, habitual, opening, closing, out):
        cat = self.catalogue
        store = cat.stores[store_index]
        for p in np.nonzero(opening)[0]:
            out.movements.append(dict(part=int(p), kind="adjustment", quantity=int(opening[p]), at=8 * 60, ticket=None, line=None,
                                      supplier=int(habitual[p]), cost=cat.parts[p].unit_cost, reason="Opening stock count"))
        for n_po, (day, supplier, lines, lead, arrival) in enumerate(orders):
            sup = cat.suppliers[supplier]
            received = arrival < self.n_history
            po = dict(local=n_po, number=f"PO-{store['code']}-{n_po + 1:06d}", supplier=supplier,
                      ordered=day * 1440 + ORDER_MINUTE, expected=(day + sup.quoted_lead_time_days) * 1440 + ORDER_MINUTE,
                      received=arrival * 1440 + RECEIPT_MINUTE if received else None,
                      status="received" if received else "ordered")
            out.purchase_orders.append(po)
            for part, qty, defective in lines:
                price = price_of[(supplier, part)]
                line_local = len(out.po_lines)
                out.po_lines.append(dict(local=line_local, po=n_po, part=part, quantity=qty, price=price,
                                         received=qty if received else 0, defective=defective if received else 0))
                if received:
                    out.receipts.append(dict(line=line_local, at=arrival * 1440 + RECEIPT_MINUTE, quantity=qty, defective=defective))
                    if qty - defective > 0:
                        out.movements.append(dict(part=part, kind="receipt", quantity=qty - defective, at=arrival * 1440 + RECEIPT_MINUTE,
                                                  ticket=None, line=line_local, supplier=supplier, cost=price, reason=""))
        out.stock = [(int(p), int(closing[p])) for p in range(len(cat.parts))]

    def _movement_rows(self, unit_ticket, unit_part, unit_fulfil_wall, out):
        for t, p, at in zip(unit_ticket, unit_part, unit_fulfil_wall):
            if 0 <= at <= self.end_minute:
                out.movements.append(dict(part=int(p), kind="consumption", quantity=-1, at=int(at), ticket=int(t), line=None,
                                          supplier=None, cost=self.catalogue.parts[p].unit_cost, reason=""))
