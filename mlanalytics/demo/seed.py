"""Load the generated demo data into the database and record the planted truth beside it."""
import json
import time
from datetime import timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from mlanalytics.core.models import DemoDataset, Store, User
from mlanalytics.core.roles import assign_role

from .catalogue import HIGH_VARIANCE_REPAIR_TYPE, LATE_SUPPLIER, OPENING_HOURS, PREMIUM_SUPPLIER, SCALES
from .generator import (
    BANK_HOLIDAY_FACTOR, BGNBD, HIGH_VARIANCE_SIGMA, LABOUR_SIGMA, STAGE_WORKING_MINUTES, SURGES, TREND_PER_YEAR,
    WEEKLY, YEARLY_AMPLITUDE, YEARLY_PEAK_DAY, DemoGenerator,
)
from .writer import BulkWriter

DEMO_USERS = {
    # username: (role, password, store access)
    "admin": ("admin", "admin-demo", "all"),
    "manager": ("manager", "manager-demo", "all"),
    "staff": ("staff", "staff-demo", "first"),
    "stakeholder": ("stakeholder", "stakeholder-demo", "all"),
}
SLOW_MOVER_WEEKLY_UNITS = 0.5  # expected units a week across all stores, below which a part is a slow mover


class AlreadySeeded(Exception):
    pass


class OtherData(AlreadySeeded):
    """The database holds data that no finished or interrupted seed_demo wrote."""


EMPTY, SEEDED, INTERRUPTED, OTHER_DATA = "empty", "seeded", "interrupted", "other data"


def database_state():
    """What the database holds, as seed_demo sees it.

    SEEDED: a finished demo data set (its DemoDataset row is written last, with the users, in one
    transaction). INTERRUPTED: the catalogue and maybe some stores of a seed that stopped before that
    (demo technicians, nothing but demo tickets, and no user at all: only seed_demo writes such a
    database). OTHER_DATA: anything else, e.g. a shop's own records; seed_demo never wipes it unasked.
    """
    from inventory.models import Part, Supplier
    from workflow.models import Customer, RepairTicket, Technician

    if DemoDataset.objects.exists():
        return SEEDED
    if not any(model.objects.exists() for model in (Store, User, Part, Supplier, Customer, RepairTicket, Technician)):
        return EMPTY
    if Technician.objects.exists() and not User.objects.exists() and not RepairTicket.objects.exclude(source="demo").exists():
        return INTERRUPTED
    return OTHER_DATA


def seed_demo(seed=42, scale="demo", end=None, reset=False, progress=None):
    """Generate and load the demo data set; returns the DemoDataset row holding the planted truth.

    `progress(step_name, advance)` is called as work completes (the command drives a bar with it).
    An interrupted earlier seed is wiped and done again; other data is replaced only with `reset`.
    """
    progress = progress or (lambda *_: None)
    state = database_state()
    if state == SEEDED and not reset:
        raise AlreadySeeded("The database already holds the demo data set; run seed_demo --reset to replace it.")
    if state == OTHER_DATA and not reset:
        raise OtherData("The database holds data that seed_demo did not write (no demo data set is recorded). "
                        "Nothing was changed. Run seed_demo --reset to wipe ALL of it, users included, and seed the demo data.")
    if state != EMPTY:
        call_command("flush", interactive=False, verbosity=0)
    started = time.monotonic()
    # The data end yesterday in the shop's time zone, the day the app's "yesterday" means (not the machine's).
    generator = DemoGenerator(seed=seed, scale=scale, end=end or timezone.localdate() - timedelta(days=1))
    writer = BulkWriter(generator.start)
    ids = _write_catalogue(generator, writer)
    progress("catalogue", 1)
    cat = generator.catalogue
    daily_tickets = np.zeros(generator.n_history)
    realized = {"tickets": 0, "customers": 0, "comebacks": 0}
    po_frames, line_frames, ticket_frames, qa_frames = [], [], [], []
    for store_index, store in enumerate(cat.stores):
        data = generator.simulate_store(store_index)
        with transaction.atomic():
            frames = _write_store(generator, writer, ids, store_index, data)
        po_frames.append(frames["po"])
        line_frames.append(frames["lines"])
        ticket_frames.append(frames["tickets"])
        qa_frames.append(frames["qa"])
        first_visits = frames["tickets"][frames["tickets"].warranty_of.isna()]
        np.add.at(daily_tickets, (first_visits.received.to_numpy() // 1440).astype(int), 1)
        for key in realized:
            realized[key] += data.stats[key]
        progress(f"store {store['code']}", 1)
    writer.reset_sequences()
    from workflow.defaults import install_defaults  # message templates and automation rules to start from

    # Users, defaults and the DemoDataset row land together: a database with the row is a finished seed,
    # and one with demo data but no users is an interrupted one (database_state()).
    with transaction.atomic():
        _create_users(ids, generator)
        progress("users", 1)
        truth = _truth(generator, ids, daily_tickets, pd.concat(po_frames), pd.concat(line_frames), pd.concat(ticket_frames),
                       pd.concat(qa_frames))
        install_defaults()
        dataset = DemoDataset.objects.create(
            seed=seed, scale=scale, start_date=generator.start, end_date=generator.end, row_counts=_row_counts(writer),
            truth=truth, duration_seconds=round(time.monotonic() - started, 2),
        )
    (settings.DATA_DIR / "demo_truth.json").write_text(json.dumps(truth, indent=1, default=str))
    progress("truth", 1)
    if connection.vendor == "postgresql":  # fresh planner statistics after the bulk load, or joins go nested-loop
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    from inventory.services import rebuild_reservations  # parts held for the tickets still open at the end

    rebuild_reservations()
    return dataset


def _row_counts(writer):
    """Rows of every table the seed wrote: the bulk writer's tables and the catalogue and users (ORM)."""
    from inventory.models import Part, Supplier, SupplierPrice
    from workflow.models import DeviceModel, RepairType, RepairTypePart, Skill, Technician

    counts = dict(writer.written)
    for model in (Store, User, Part, Supplier, SupplierPrice, Technician, DeviceModel, RepairType, RepairTypePart, Skill):
        counts[model._meta.label] = model.objects.count()  # the database was empty before the seed
    return dict(sorted(counts.items()))


def progress_steps(scale):
    return SCALES[scale]["stores"] + 3


# -- catalogue ---------------------------------------------------------------------------------------
def _write_catalogue(generator, writer):
    from inventory.models import Part, Supplier, SupplierPrice
    from workflow.models import DeviceModel, RepairType, RepairTypePart, Skill, Technician

    cat = generator.catalogue
    ids = {}
    with transaction.atomic():
        stores = Store.objects.bulk_create([
            Store(code=s["code"], name=s["name"], city=s["city"], opening_hours=OPENING_HOURS, opened_on=generator.start)
            for s in cat.stores
        ])
        ids["store"] = [s.pk for s in stores]
        ids["store_code"] = [s.code for s in stores]
        skills = {code: Skill.objects.create(code=code, name=name) for code, name in cat.skills}
        models = DeviceModel.objects.bulk_create([
            DeviceModel(category=m.category, brand=m.brand, model_name=m.model_name, released_on=m.released_on)
            for m in cat.device_models
        ])
        ids["model"] = [m.pk for m in models]
        repair_types = {}
        for code, name, category, minutes, price, sla, skill_codes, *_ in cat.repair_types:
            rt = RepairType.objects.create(code=code, name=name, device_category=category, standard_labour_minutes=minutes,
                                           list_price=price, sla_hours=sla)
            rt.required_skills.set([skills[s] for s in skill_codes])
            repair_types[code] = rt
        ids["repair_type"] = {code: rt.pk for code, rt in repair_types.items()}
        parts = Part.objects.bulk_create([
            Part(sku=p.sku, name=p.name, category=p.category,
                 device_model_id=ids["model"][p.device_model] if p.device_model is not None else None,
                 unit_cost=round(p.unit_cost, 2), price=round(p.price, 2), min_order_qty=p.min_order_qty, pack_size=p.pack_size)
            for p in cat.parts
        ], batch_size=2000)
        ids["part"] = [p.pk for p in parts]
        bill = []
        from .generator import SSD_SKUS

        for code, _name, category, *_rest, kinds, consumables in cat.repair_types:
            for idx in cat.category_model_index[category]:
                for kind in kinds:
                    part = cat.part_for.get((idx, kind))
                    if part is not None:
                        bill.append(RepairTypePart(repair_type=repair_types[code], device_model_id=ids["model"][idx], part_id=ids["part"][part]))
            for sku in consumables:
                for s in (SSD_SKUS if sku == "SSD" else [sku]):
                    bill.append(RepairTypePart(repair_type=repair_types[code], device_model=None, part_id=ids["part"][cat.consumable_index[s]]))
        RepairTypePart.objects.bulk_create(bill, batch_size=2000)
        suppliers = Supplier.objects.bulk_create([
            Supplier(code=s.code, name=s.name, email=f"orders@{s.code}.example.com", quoted_lead_time_days=s.quoted_lead_time_days,
                     order_cost=s.order_cost, monthly_capacity_units=20000 * max(1, len(cat.stores) // 5))
            for s in cat.suppliers
        ])
        ids["supplier"] = [s.pk for s in suppliers]
        SupplierPrice.objects.bulk_create([
            SupplierPrice(supplier_id=ids["supplier"][s], part_id=ids["part"][p], unit_price=round(price, 2), min_order_qty=moq,
                          pack_size=pack, lead_time_days=lead, valid_from=generator.start)
            for s, p, price, moq, pack, lead in cat.prices
        ], batch_size=2000)
        technicians = []
        for t in cat.technicians:
            technicians.append(Technician(
                code=t.code, name=t.name, store_id=ids["store"][t.store], hourly_cost=t.hourly_cost,
                shift_minutes={str(d): (_open_minutes(d) if d in t.works_on else 0) for d in range(1, 8)},
                hired_on=generator.start,
            ))
        technicians = Technician.objects.bulk_create(technicians)
        through = Technician.skills.through
        through.objects.bulk_create([
            through(technician_id=tech.pk, skill_id=skills[code].pk)
            for tech, spec in zip(technicians, cat.technicians) for code in spec.skills
        ])
        ids["technician"] = [t.pk for t in technicians]
        ids["technician_code"] = [t.code for t in technicians]
    return ids


def _open_minutes(weekday):
    opens, closes = OPENING_HOURS[str(weekday)]
    return (int(closes[:2]) * 60 + int(closes[3:])) - (int(opens[:2]) * 60 + int(opens[3:]))


# -- one store ---------------------------------------------------------------------------------------
def _write_store(generator, writer, ids, store_index, data):
    from inventory.models import POReceipt, PurchaseOrder, PurchaseOrderLine, Stock, StockMovement
    from workflow.models import Customer, QAInspection, RepairTicket, TicketStatusEvent

    store_id = ids["store"][store_index]
    to_db = writer.local_minutes_to_db

    customer_ids = writer.allocate_ids(Customer, len(data.customers))
    created = to_db([c["created_at"] for c in data.customers])
    writer.insert(Customer, [
        dict(id=customer_ids[c["local"]], external_ref=c["ref"], name=c["name"], email=c["email"], phone=c["phone"],
             home_store_id=store_id, consent_email_service=c["consent_email_service"], consent_sms_service=c["consent_sms_service"],
             consent_email_marketing=c["consent_email_marketing"], consent_sms_marketing=c["consent_sms_marketing"], created_at=created[k])
        for k, c in enumerate(data.customers)
    ])

    tickets = data.tickets
    max_local = max(t["local"] for t in tickets) + 1
    ticket_ids = np.zeros(max_local, dtype=np.int64)
    allocated = writer.allocate_ids(RepairTicket, len(tickets))
    for k, t in enumerate(tickets):
        ticket_ids[t["local"]] = allocated[k]
    received = to_db([t["received"] for t in tickets])
    promised = to_db([t["promised"] for t in tickets])
    completed = to_db([t["completed"] for t in tickets])
    collected = to_db([t["collected"] for t in tickets])
    rows = []
    for k, t in enumerate(tickets):
        parts_cost = 0.0
        rows.append(dict(
            id=ticket_ids[t["local"]], reference=t["reference"], store_id=store_id, customer_id=customer_ids[t["customer"]],
            device_model_id=ids["model"][t["model"]], repair_type_id=ids["repair_type"][t["repair_type"]], priority=t["priority"],
            technician_id=ids["technician"][t["technician"]] if t["technician"] is not None else None, status=t["status"],
            outcome=t["outcome"], received_at=received[k], promised_at=promised[k], completed_at=completed[k],
            collected_at=collected[k], quoted_price=t["quoted"], final_price=t["final"], labour_minutes=t["labour"],
            parts_cost=parts_cost, warranty_of_id=ticket_ids[t["warranty_of"]] if t["warranty_of"] is not None else None,
            source="demo", created_at=received[k], updated_at=completed[k] or received[k],
        ))
    # Parts cost of each ticket: the standard cost of the parts its repair consumed.
    cost_by_ticket = {}
    for m in data.movements:
        if m["kind"] == "consumption":
            cost_by_ticket[m["ticket"]] = cost_by_ticket.get(m["ticket"], 0.0) + m["cost"]
    for row, t in zip(rows, tickets):
        row["parts_cost"] = round(cost_by_ticket.get(t["local"], 0.0), 2)
    # Comebacks point at earlier tickets: insert originals first so the foreign key always resolves.
    rows.sort(key=lambda r: r["warranty_of_id"] is not None)
    writer.insert(RepairTicket, rows)

    event_at = to_db([e[3] for e in data.events])
    event_ids = writer.allocate_ids(TicketStatusEvent, len(data.events))
    writer.insert(TicketStatusEvent, [
        dict(id=event_ids[k], ticket_id=ticket_ids[e[0]], from_status=e[1], to_status=e[2], at=event_at[k])
        for k, e in enumerate(data.events)
    ])

    qa_at = to_db([q[1] for q in data.qa])
    checklist_items = ["power_on", "display_touch", "charging", "cameras", "audio", "seal_and_fit"]
    qa_ids = writer.allocate_ids(QAInspection, len(data.qa))
    writer.insert(QAInspection, [
        dict(id=qa_ids[k], ticket_id=ticket_ids[q[0]], inspected_at=qa_at[k], passed=q[2],
             checklist={item: (q[2] or i != k % len(checklist_items)) for i, item in enumerate(checklist_items)}, defects=q[3], notes="")
        for k, q in enumerate(data.qa)
    ])

    po_ids = writer.allocate_ids(PurchaseOrder, len(data.purchase_orders))
    ordered = to_db([p["ordered"] for p in data.purchase_orders])
    expected = to_db([p["expected"] for p in data.purchase_orders])
    po_received = to_db([p["received"] for p in data.purchase_orders])
    writer.insert(PurchaseOrder, [
        dict(id=po_ids[k], number=p["number"], supplier_id=ids["supplier"][p["supplier"]], store_id=store_id, status=p["status"],
             ordered_at=ordered[k], expected_at=expected[k], received_at=po_received[k], created_at=ordered[k], source="demo")
        for k, p in enumerate(data.purchase_orders)
    ])
    line_ids = writer.allocate_ids(PurchaseOrderLine, len(data.po_lines))
    writer.insert(PurchaseOrderLine, [
        dict(id=line_ids[k], po_id=po_ids[l["po"]], part_id=ids["part"][l["part"]], quantity=l["quantity"], unit_price=l["price"],
             quantity_received=l["received"], quantity_defective=l["defective"])
        for k, l in enumerate(data.po_lines)
    ])
    receipt_at = to_db([r["at"] for r in data.receipts])
    writer.insert(POReceipt, [
        dict(id=i, line_id=line_ids[r["line"]], received_at=receipt_at[k], quantity=r["quantity"], defective=r["defective"])
        for k, (i, r) in enumerate(zip(writer.allocate_ids(POReceipt, len(data.receipts)), data.receipts))
    ])

    # The ledger: in time order per part, receipts before consumption within a minute; running balance;
    # consumption carries the supplier of the last receipt (the lot in use).
    kind_order = {"adjustment": 0, "receipt": 1, "consumption": 2}
    moves = sorted(data.movements, key=lambda m: (m["part"], m["at"], kind_order[m["kind"]]))
    balance, last_supplier, previous_part = 0, None, None
    for m in moves:
        if m["part"] != previous_part:
            balance, last_supplier, previous_part = 0, None, m["part"]
        balance += m["quantity"]
        m["balance"] = balance
        if m["supplier"] is not None:
            last_supplier = m["supplier"]
        elif m["kind"] == "consumption":
            m["supplier"] = last_supplier
        if balance < 0:
            raise AssertionError(f"demo ledger went negative for part {m['part']} at store {store_index}")
    moved_at = to_db([m["at"] for m in moves])
    movement_ids = writer.allocate_ids(StockMovement, len(moves))
    writer.insert(StockMovement, [
        dict(id=movement_ids[k], part_id=ids["part"][m["part"]], store_id=store_id, kind=m["kind"], quantity=m["quantity"],
             balance_after=m["balance"], unit_cost=round(m["cost"], 2), at=moved_at[k],
             ticket_id=ticket_ids[m["ticket"]] if m["ticket"] is not None else None,
             po_line_id=line_ids[m["line"]] if m["line"] is not None else None,
             supplier_id=ids["supplier"][m["supplier"]] if m["supplier"] is not None else None, reason=m["reason"])
        for k, m in enumerate(moves)
    ])
    closing = {}
    for m in moves:
        closing[m["part"]] = m["balance"]
    for part, on_hand in data.stock:
        if closing.get(part, 0) != on_hand:
            raise AssertionError(f"demo stock for part {part} disagrees with its ledger at store {store_index}")
    stock_ids = writer.allocate_ids(Stock, len(data.stock))
    writer.insert(Stock, [
        dict(id=stock_ids[k], part_id=ids["part"][p], store_id=store_id, on_hand=q, reserved=0)
        for k, (p, q) in enumerate(data.stock)
    ])

    frames = {
        "po": pd.DataFrame([
            dict(store=store_index, supplier=p["supplier"], ordered=p["ordered"], expected=p["expected"], received=p["received"])
            for p in data.purchase_orders
        ]),
        "tickets": pd.DataFrame([
            dict(store=store_index, local=t["local"], technician=t["technician"], repair_type=t["repair_type"], labour=t["labour"],
                 received=t["received"], warranty_of=t["warranty_of"])
            for t in tickets
        ]),
        "qa": pd.DataFrame([dict(store=store_index, local=q[0], passed=q[2]) for q in data.qa]),
    }
    lines = pd.DataFrame(data.po_lines, columns=["local", "po", "part", "quantity", "price", "received", "defective"])
    po_supplier = np.array([p["supplier"] for p in data.purchase_orders], dtype=np.int64)
    lines["supplier"] = po_supplier[lines.po.to_numpy(dtype=np.int64)] if len(lines) else []
    lines["store"] = store_index
    frames["lines"] = lines
    return frames


# -- users -------------------------------------------------------------------------------------------
def _create_users(ids, generator):
    from workflow.models import Technician

    for username, (role, password, access) in DEMO_USERS.items():
        user = User.objects.create_user(username=username, password=password, email=f"{username}@example.co.uk",
                                        first_name=username.capitalize(), last_name="Demo")
        if role == "admin":
            user.is_staff = user.is_superuser = True
            user.all_stores = True
            user.save()
        assign_role(user, role)
        if access == "all":
            user.stores.set(ids["store"])
        else:
            user.stores.set(ids["store"][:1])
            Technician.objects.filter(pk=ids["technician"][0]).update(user=user)


# -- truth ------------------------------------------------------------------------------------------
def _truth(generator, ids, daily_tickets, pos, lines, tickets, qa):
    cat = generator.catalogue
    codes = [s.code for s in cat.suppliers]
    end = generator.end
    last_year_first = generator.n_history - 364
    expected_year = generator.expected_part_demand(daily_tickets, last_year_first, generator.n_history - 1)
    weekly_expected = expected_year / 52.0
    dead_models = {m.index for m in cat.device_models if m.dead_after}
    dead_parts = [p for p in cat.parts if p.device_model in dead_models]
    slow = [p.sku for p in cat.parts
            if p.device_model not in dead_models and 0 < weekly_expected[p.index] < SLOW_MOVER_WEEKLY_UNITS]

    received_pos = pos[pos.received.notna()].copy()
    received_pos["on_time"] = received_pos.received <= received_pos.expected
    received_pos["lead_days"] = (received_pos.received - received_pos.ordered) / 1440
    by_supplier = received_pos.groupby("supplier").agg(on_time=("on_time", "mean"), lead=("lead_days", "mean"), n=("on_time", "size"))
    supplier_stats = {codes[int(s)]: {"on_time_rate": round(float(r.on_time), 4), "mean_lead_days": round(float(r.lead), 2), "orders": int(r.n)}
                      for s, r in by_supplier.iterrows()}

    # Planted overpaying: what the overpaying store paid the premium supplier above the cheapest qualified price.
    premium = codes.index(PREMIUM_SUPPLIER)
    cheapest = {}
    for s, p, price, *_ in cat.prices:
        if s != premium:
            cheapest[p] = min(cheapest.get(p, float("inf")), price)
    premium_lines = lines[(lines.supplier == premium) & (lines.store == generator.overpaying_store)]
    overpaid = float(((premium_lines.price - premium_lines.part.map(cheapest)) * premium_lines.quantity).sum())

    tech_codes = ids["technician_code"]
    done = tickets[tickets.technician.notna()]
    qa = qa.merge(tickets[["store", "local", "technician"]], on=["store", "local"], how="left")
    qa_by_tech = qa.groupby("technician").passed.agg(lambda x: 1 - x.mean())
    comebacks = tickets[tickets.warranty_of.notna()]
    originals = done[done.warranty_of.isna()]
    cb = comebacks.merge(tickets[["store", "local", "technician"]], left_on=["store", "warranty_of"], right_on=["store", "local"],
                         suffixes=("", "_original"))
    comeback_rate = (cb.groupby("technician_original").size() / originals.groupby("technician").size()).fillna(0)
    labour = tickets[tickets.labour.notna() & tickets.warranty_of.isna()]
    labour_cv = labour.groupby("repair_type").labour.agg(lambda x: float(x.std() / x.mean()))

    weekly = WEEKLY / WEEKLY.mean()
    return {
        "seed": generator.seed,
        "scale": generator.scale,
        "start": generator.start.isoformat(),
        "end": end.isoformat(),
        "time_zone": settings.TIME_ZONE,
        "intake": {
            "weekly_multipliers": dict(zip(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], [round(float(x), 4) for x in weekly])),
            "yearly": {"amplitude": YEARLY_AMPLITUDE, "peak_day_of_year": YEARLY_PEAK_DAY, "form": "1 + A cos(2π(doy − peak)/365.25)"},
            "surges": [{"name": s["name"], "start": "%02d-%02d" % s["start"], "end": "%02d-%02d" % s["end"], "factor": s["factor"]} for s in SURGES],
            "bank_holiday_factor": BANK_HOLIDAY_FACTOR,
            "closed_days": ["Christmas Day", "Boxing Day", "New Year's Day"],
            "trend_per_year": TREND_PER_YEAR,
            "new_customers_per_day_at_start": {ids["store_code"][i]: round(float(v), 3) for i, v in enumerate(generator.new_customers_per_day)},
        },
        "customers": {
            "model": "BG/NBD", "time_unit": "weeks", **BGNBD,
            "mean_visit_rate_per_week": round(BGNBD["r"] / BGNBD["alpha"], 5),
            "mean_dropout_probability": round(BGNBD["a"] / (BGNBD["a"] + BGNBD["b"]), 5),
            "note": "Repeat visits follow BG/NBD in operational time; warranty comebacks (final price 0) are not part of it.",
        },
        "suppliers": supplier_stats,
        "late_supplier": {"code": LATE_SUPPLIER, "quoted_lead_time_days": next(s.quoted_lead_time_days for s in cat.suppliers if s.code == LATE_SUPPLIER),
                          "planted_mean_extra_days": next(s.late_mean_days for s in cat.suppliers if s.code == LATE_SUPPLIER),
                          **supplier_stats.get(LATE_SUPPLIER, {})},
        "overpriced_purchasing": {
            "supplier": PREMIUM_SUPPLIER, "store": ids["store_code"][generator.overpaying_store],
            "planted_price_premium": 0.32, "share_of_orders_switched": 0.5,
            "premium_lines": int(len(premium_lines)), "overpaid_gbp": round(overpaid, 2),
            "other_stores_premium_lines": int(((lines.supplier == premium) & (lines.store != generator.overpaying_store)).sum()),
        },
        "out_of_control_technician": {
            "code": cat.out_of_control_technician, "planted_qa_fail_rate": 0.18, "planted_comeback_rate": 0.15,
            "baseline_qa_fail_rate": 0.04, "baseline_comeback_rate": 0.03,
            "realized_qa_fail_rate": {tech_codes[int(k)]: round(float(v), 4) for k, v in qa_by_tech.items()},
            "realized_comeback_rate": {tech_codes[int(k)]: round(float(v), 4) for k, v in comeback_rate.items()},
        },
        "high_variance_repair_type": {
            "code": HIGH_VARIANCE_REPAIR_TYPE, "planted_log_sigma": HIGH_VARIANCE_SIGMA, "baseline_log_sigma": LABOUR_SIGMA,
            "realized_labour_cv": {k: round(v, 4) for k, v in labour_cv.items()},
        },
        "slow_moving_parts": {"threshold_units_per_week": SLOW_MOVER_WEEKLY_UNITS, "skus": slow},
        "expected_weekly_demand_last_year": {p.sku: round(float(weekly_expected[p.index]), 4) for p in cat.parts},
        "dead_stock": {
            "no_demand_after": min(m.dead_after for m in cat.device_models if m.dead_after).isoformat(),
            "skus": [p.sku for p in dead_parts],
        },
        "process": {
            "stage_working_minutes": {k: {"gamma_shape": v[0], "mean": v[1]} for k, v in STAGE_WORKING_MINUTES.items()},
            "repair": "FIFO queue per store; a job goes to the skilled technician who would finish it first; work advances only in opening hours",
            "baseline_stock_policy": "review Monday and Thursday; order up to S when position <= s; s = 8-week demand rate × (quoted lead + 7 d); S = s + 4 weeks",
        },
    }
