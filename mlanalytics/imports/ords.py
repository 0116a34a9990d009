"""Import Open Repair Data Standard (ORDS v0.3) files as repair tickets.

ORDS (Open Repair Alliance, openrepair.org) publishes community repair records from many providers
with the same columns. Each record becomes one ticket in a store standing for the provider (or the
store given with --store): the product category maps to our device categories, the repair status to
the ticket's outcome (Fixed → collected and fixed; Repairable → collected, repairable; End of life →
cancelled, end of life; Unknown → collected, unknown), the event date to its dates. Written in bulk,
in one transaction; records already imported (by ORDS id) are compared and left alone when equal.
"""
import re
from datetime import datetime, time

from django.utils.text import slugify

from mlanalytics.core.models import Store
from workflow.models import DeviceCategory, DeviceModel, RepairOutcome, RepairTicket, RepairType, TicketStatus, TicketStatusEvent

from .base import LONDON, Column, CSVImporter, CellError, a_date, choice, integer, text

# ORDS product categories (product_category_id) that are devices we repair; all others are "other".
ORDS_CATEGORY = {19: DeviceCategory.PHONE, 30: DeviceCategory.TABLET, 16: DeviceCategory.LAPTOP,
                 38: DeviceCategory.CONSOLE, 10: DeviceCategory.CONSOLE, 35: DeviceCategory.WATCH}
ORDS_CATEGORY_BY_NAME = {"mobile": DeviceCategory.PHONE, "tablet": DeviceCategory.TABLET, "laptop": DeviceCategory.LAPTOP,
                         "games console": DeviceCategory.CONSOLE, "handheld entertainment device": DeviceCategory.CONSOLE,
                         "watch/clock": DeviceCategory.WATCH}
REPAIR_STATUSES = ["Fixed", "Repairable", "End of life", "Unknown"]
ID_PATTERN = re.compile(r"^[A-Za-z0-9]+[-_.A-Za-z0-9]*$")
EVENT_TIME, CLOSE_TIME = time(10, 0), time(13, 0)


def ords_id(value):
    value = (value or "").strip()
    if not value:
        raise CellError("must not be empty")
    if len(value) > 34 or not ID_PATTERN.match(value):
        raise CellError(f"'{value}' is not an ORDS id (letters, digits, '-' or '_', e.g. restart_3781)")
    return value


def country(value):
    value = (value or "").strip().upper()
    if value and not re.fullmatch(r"[A-Z]{3}", value):
        raise CellError(f"'{value}' is not a 3-letter ISO country code")
    return value


def product_age(value):
    value = (value or "").strip()
    if not value:
        return None
    try:
        age = float(value)
    except ValueError:
        raise CellError(f"'{value}' is not a number of years") from None
    if not 0 <= age <= 150:
        raise CellError("must be between 0 and 150 years")
    return age


def year(value):
    value = (value or "").strip()
    if not value or value in ("????", "Unknown"):
        return ""
    if not re.fullmatch(r"\d{4}", value):
        raise CellError(f"'{value}' is not a four-digit year")
    return value


class OrdsImporter(CSVImporter):
    entity = "ords"
    description = ("Open Repair Data Standard v0.3 files, from any provider, as repair tickets (see the module "
                   "docstring of mlanalytics/imports/ords.py for the mapping). Option --store CODE puts every "
                   "record in that store; by default a store per data provider is created (code ORDS-<PROVIDER>).")
    columns = [
        Column("id", ords_id, True, "ORDS unique identifier (kept as the ticket's external id).", "restart_3781"),
        Column("data_provider", text(120, blank=False), True, "Organisation that collected the record.", "The Restart Project"),
        Column("country", country, False, "3-letter ISO country code.", "GBR"),
        Column("partner_product_category", text(200), False, "Provider's own product type.", "Mobile ~ Smartphone"),
        Column("product_category", text(80, blank=False), True, "ORDS product category.", "Mobile"),
        Column("product_category_id", integer(1, 99, blank=True), False, "ORDS category id.", "19"),
        Column("brand", text(120), False, "Brand ('Unknown' when not known).", "Samsung"),
        Column("year_of_manufacture", year, False, "Four-digit year, optional.", "2017"),
        Column("product_age", product_age, False, "Age in years, optional.", "5"),
        Column("repair_status", choice(REPAIR_STATUSES, blank=True, default="Unknown"), True, "Fixed, Repairable, End of life or Unknown.", "Fixed"),
        Column("repair_barrier_if_end_of_life", text(200), False, "Why it could not be repaired.", "Spare parts not available"),
        Column("group_identifier", text(200), False, "Group or event that held the repair.", "Club de Reparadores"),
        Column("event_date", a_date(), True, "Date of the repair event.", "2016-11-19"),
        Column("problem", text(10000), False, "Fault and solution, free text.", "Screen cracked; replaced"),
    ]

    def prepare(self, rows):
        self.unique_in_file(rows, lambda r: r["id"], "id")
        store_code = self.options.get("store")
        if store_code:
            self.store = Store.objects.filter(code__iexact=store_code).first()
            if self.store is None:
                self.error(1, "", f"unknown store '{store_code}' given with --store")

    def store_for(self, provider, country_code):
        if self.options.get("store"):
            return self.store
        code = ("ORDS-" + re.sub(r"[^A-Z0-9]", "", provider.upper().replace("THE ", "")))[:12]
        store, _ = Store.objects.get_or_create(code=code, defaults={"name": f"{provider} (Open Repair Data)", "city": country_code})
        return store

    def apply(self, rows):
        repair_types, devices, stores = {}, {}, {}
        existing = {t.reference: t for t in RepairTicket.objects.filter(reference__in=[f"ORDS-{r['id']}" for r in rows])}
        new_tickets, new_events = [], []
        for row in rows:
            provider = row["data_provider"]
            if provider not in stores:
                stores[provider] = self.store_for(provider, row["country"])
            category = ORDS_CATEGORY.get(row["product_category_id"]) or ORDS_CATEGORY_BY_NAME.get(row["product_category"].lower(), DeviceCategory.OTHER)
            rt_code = f"ords-{slugify(row['product_category'])}"[:60]
            if rt_code not in repair_types:
                repair_types[rt_code], _ = RepairType.objects.get_or_create(
                    code=rt_code, defaults={"name": f"{row['product_category']} repair (community)", "device_category": category,
                                            "standard_labour_minutes": 60, "list_price": 0},
                )
            brand = row["brand"] if row["brand"] and row["brand"].lower() != "unknown" else "Unknown"
            model_name = row["partner_product_category"].split("~")[-1].strip() or row["product_category"]
            device_key = (category, brand[:60], model_name[:120])
            if device_key not in devices:
                devices[device_key], _ = DeviceModel.objects.get_or_create(category=category, brand=device_key[1], model_name=device_key[2])
            received = datetime.combine(row["event_date"], EVENT_TIME, tzinfo=LONDON)
            closed = datetime.combine(row["event_date"], CLOSE_TIME, tzinfo=LONDON)
            outcome = {"Fixed": RepairOutcome.FIXED, "Repairable": RepairOutcome.REPAIRABLE,
                       "End of life": RepairOutcome.END_OF_LIFE}.get(row["repair_status"], RepairOutcome.UNKNOWN)
            status = TicketStatus.CANCELLED if outcome == RepairOutcome.END_OF_LIFE else TicketStatus.COLLECTED
            details = [row["problem"]]
            if row["repair_barrier_if_end_of_life"]:
                details.append(f"Barrier to repair: {row['repair_barrier_if_end_of_life']}")
            if row["product_age"] is not None or row["year_of_manufacture"]:
                details.append("Product age: " + (f"{row['product_age']:g} years" if row["product_age"] is not None else "unknown")
                               + (f"; made {row['year_of_manufacture']}" if row["year_of_manufacture"] else ""))
            values = dict(
                store=stores[provider], device_model=devices[device_key], repair_type=repair_types[rt_code], status=status,
                outcome=outcome, received_at=received, completed_at=closed,
                collected_at=closed if status == TicketStatus.COLLECTED else None,
                fault_description="\n".join(d for d in details if d), source=RepairTicket.Source.ORDS,
                source_group=row["group_identifier"][:120],
            )
            reference = f"ORDS-{row['id']}"
            ticket = existing.get(reference)
            if ticket is None:
                new_tickets.append(RepairTicket(reference=reference, **values))
                self.result.created += 1
                continue
            changed = [k for k, v in values.items() if getattr(ticket, f"{k}_id" if hasattr(v, "_meta") else k) != (v.pk if hasattr(v, "_meta") else v)]
            if changed:
                for k in changed:
                    setattr(ticket, k, values[k])
                ticket.save(update_fields=changed)
                TicketStatusEvent.objects.filter(ticket=ticket).delete()
                new_events.extend(self.history(ticket))
                self.result.updated += 1
            else:
                self.result.unchanged += 1
        # run() holds the transaction: all of this lands together or not at all.
        created = RepairTicket.objects.bulk_create(new_tickets, batch_size=2000)
        for ticket in created:
            new_events.extend(self.history(ticket))
        TicketStatusEvent.objects.bulk_create(new_events, batch_size=5000)

    @staticmethod
    def history(ticket):
        events = [TicketStatusEvent(ticket=ticket, from_status="", to_status=TicketStatus.RECEIVED, at=ticket.received_at, note="ORDS import")]
        if ticket.status == TicketStatus.CANCELLED:
            events.append(TicketStatusEvent(ticket=ticket, from_status=TicketStatus.RECEIVED, to_status=TicketStatus.CANCELLED,
                                            at=ticket.completed_at, note="ORDS: end of life"))
        else:
            events.append(TicketStatusEvent(ticket=ticket, from_status=TicketStatus.RECEIVED, to_status=TicketStatus.READY,
                                            at=ticket.completed_at, note="ORDS import"))
            events.append(TicketStatusEvent(ticket=ticket, from_status=TicketStatus.READY, to_status=TicketStatus.COLLECTED,
                                            at=ticket.collected_at, note="ORDS import"))
        return events
