"""Import Open Repair Data Standard (ORDS v0.3) files as repair tickets.

ORDS (Open Repair Alliance, openrepair.org) publishes community repair records from many providers
with the same columns. Each record becomes one ticket in a store standing for the provider (or the
store given with --store): the product category maps to our device categories, the repair status to
the ticket's outcome (Fixed → collected and fixed; Repairable → collected, repairable; End of life →
cancelled, end of life; Unknown → collected, unknown), the event date to its dates. Written in bulk,
in one transaction; records already imported (by ORDS id) are compared and left alone when equal.
"""
import hashlib
import re
from datetime import datetime, time

from django.utils.text import slugify

from mlanalytics.core.models import Store
from workflow.models import DeviceCategory, DeviceModel, RepairOutcome, RepairTicket, RepairType, TicketStatus, TicketStatusEvent

from .base import Column, CSVImporter, CellError, a_date, choice, in_chunks, integer, shop_zone, text

# The ORDS v0.3 product categories (OpenRepairData_v0.3_Product_Categories.csv): a record whose
# product_category is blank takes its name from its product_category_id.
ORDS_CATEGORIES = {
    1: "Aircon/dehumidifier", 2: "Battery/charger/adapter", 3: "Decorative or safety lights", 4: "Desktop computer",
    5: "Digital compact camera", 6: "DSLR/video camera", 7: "Fan", 8: "Flat screen", 9: "Hair & beauty item",
    10: "Handheld entertainment device", 11: "Headphones", 12: "Hi-Fi integrated", 13: "Hi-Fi separates", 14: "Kettle",
    15: "Lamp", 16: "Laptop", 17: "Large home electrical", 18: "Misc", 19: "Mobile", 20: "Musical instrument",
    21: "Paper shredder", 22: "PC Accessory", 23: "Portable radio", 24: "Power tool", 25: "Printer/scanner",
    26: "Projector", 27: "Sewing machine", 28: "Small home electrical", 29: "Small kitchen item", 30: "Tablet",
    31: "Toaster", 32: "Toy", 33: "TV and gaming-related accessories", 34: "Vacuum", 35: "Watch/clock",
    36: "Coffee maker", 37: "Food processor", 38: "Games console", 39: "Hair dryer", 40: "Iron",
}
# ORDS product categories (product_category_id) that are devices we repair; all others are "other".
ORDS_CATEGORY = {19: DeviceCategory.PHONE, 30: DeviceCategory.TABLET, 16: DeviceCategory.LAPTOP,
                 38: DeviceCategory.CONSOLE, 10: DeviceCategory.CONSOLE, 35: DeviceCategory.WATCH}
ORDS_CATEGORY_BY_NAME = {"mobile": DeviceCategory.PHONE, "tablet": DeviceCategory.TABLET, "laptop": DeviceCategory.LAPTOP,
                         "games console": DeviceCategory.CONSOLE, "handheld entertainment device": DeviceCategory.CONSOLE,
                         "watch/clock": DeviceCategory.WATCH}
REPAIR_STATUSES = ["Fixed", "Repairable", "End of life", "Unknown"]
ID_PATTERN = re.compile(r"^[A-Za-z0-9]+[-_.A-Za-z0-9]*$")
EVENT_TIME, CLOSE_TIME = time(10, 0), time(13, 0)
# ORDS gives product_age as any number; outside this range it is taken as unknown (and said so).
PLAUSIBLE_AGE_YEARS = (0, 150)
STORE_SUFFIX = " (Open Repair Data)"
IMPORT_NOTE_PREFIX = "ORDS"  # the note of every status event this importer writes (and may rewrite)


def _digest(text, length):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length].upper()


def _fit(text, length, key=None):
    """`text` if it fits in `length` characters, else a prefix and a short hash of `key` (default: text),
    so two long values that share a prefix never share the result."""
    if len(text) <= length:
        return text
    return text[:length - 9] + "~" + _digest(key or text, 8)


def ticket_reference(record_id):
    """The ticket reference of an ORDS record: ORDS-<id>, or for ids too long for the field a prefix and
    a hash of the whole id (RepairTicket.reference holds 40 characters; ORDS sets no length)."""
    return _fit(f"ORDS-{record_id}", RepairTicket._meta.get_field("reference").max_length, key=record_id)


def store_code(provider):
    """A short, stable store code per provider: ORDS- and a hash of the full provider name (a prefix of
    the name would merge e.g. "Repair Café International" and "Repair Connects")."""
    return "ORDS-" + _digest(" ".join(provider.casefold().split()), Store._meta.get_field("code").max_length - 5)


def store_name(provider):
    return _fit(provider or "Unknown provider", Store._meta.get_field("name").max_length - len(STORE_SUFFIX)) + STORE_SUFFIX


def ords_id(value):
    value = (value or "").strip()
    if not value:
        raise CellError("must not be empty")
    if not ID_PATTERN.match(value):
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
        return float(value)
    except ValueError:
        raise CellError(f"'{value}' is not a number of years") from None


def year(value):
    value = (value or "").strip()
    if not value or value in ("????", "Unknown"):
        return ""
    if not re.fullmatch(r"\d{4}", value):
        raise CellError(f"'{value}' is not a four-digit year")
    return value


class OrdsImporter(CSVImporter):
    entity = "ords"
    title = "Open Repair Data (ORDS v0.3)"
    model = RepairTicket
    records_filter = "source__exact=ords"
    description = ("Open Repair Data Standard v0.3 files, from any provider: one repair ticket per record. A store "
                   "chosen for the import (--store CODE, or Store on the import page) takes every record; by default a store per data provider is created (code ORDS- and a "
                   "short hash of the provider's name; named after the provider, e.g. \"Repair Café Denmark (Open Repair Data)\"). Values ORDS allows "
                   "but this shop cannot use are kept as unknown and named in the output: a product_age outside "
                   "0–150 years. Ids longer than the ticket reference allows are shortened with a hash of the "
                   "whole id, which is kept in the ticket's fault text.")
    columns = [
        Column("id", ords_id, True, "ORDS unique identifier (kept as the ticket's external id).", "restart_3781"),
        Column("data_provider", text(), True, "Organisation that collected the record.", "The Restart Project"),
        Column("country", country, False, "3-letter ISO country code.", "GBR"),
        Column("partner_product_category", text(), False, "Provider's own product type.", "Mobile ~ Smartphone"),
        Column("product_category", text(), True,
               "ORDS product category; may be blank when product_category_id is an ORDS category id.", "Mobile"),
        Column("product_category_id", integer(0, 99, blank=True), False, "ORDS category id (1–40 in v0.3).", "19"),
        Column("brand", text(), False, "Brand ('Unknown' when not known).", "Samsung"),
        Column("year_of_manufacture", year, False, "Four-digit year, optional.", "2017"),
        Column("product_age", product_age, False, "Age in years, optional (outside 0–150: kept as unknown).", "5"),
        Column("repair_status", choice(REPAIR_STATUSES, blank=True, default="Unknown"), True, "Fixed, Repairable, End of life or Unknown.", "Fixed"),
        Column("repair_barrier_if_end_of_life", text(), False, "Why it could not be repaired.", "Spare parts not available"),
        Column("group_identifier", text(), False, "Group or event that held the repair.", "Club de Reparadores"),
        Column("event_date", a_date(), True, "Date of the repair event.", "2016-11-19"),
        Column("problem", text(), False, "Fault and solution, free text.", "Screen cracked; replaced"),
    ]

    def prepare(self, rows):
        self.unique_in_file(rows, lambda r: r["id"], "id")
        code = self.options.get("store")
        if code:
            self.store = Store.objects.filter(code__iexact=code).first()
            if self.store is None:
                self.error(None, "", f"unknown store '{code}' given with --store")
        implausible = []
        for row in rows:
            row["reference"] = ticket_reference(row["id"])
            if not row["product_category"]:
                name = ORDS_CATEGORIES.get(row["product_category_id"])
                if name is None:
                    self.error(row["_row"], "product_category", "must not be empty unless product_category_id is an ORDS category id (1–40)")
                row["product_category"] = name or ""
            age = row["product_age"]
            if age is not None and not PLAUSIBLE_AGE_YEARS[0] <= age <= PLAUSIBLE_AGE_YEARS[1]:
                implausible.append(row["_row"])
                row["product_age"] = None
        if implausible:
            shown = ", ".join(str(n) for n in implausible[:20]) + (" …" if len(implausible) > 20 else "")
            self.result.notes.append(
                f"product_age outside {PLAUSIBLE_AGE_YEARS[0]}–{PLAUSIBLE_AGE_YEARS[1]} years on {len(implausible)} row(s), "
                f"imported with the age unknown: row {shown}")
        # A reference the app (or another import) already uses is not this importer's to overwrite.
        self.existing = {t.reference: t for t in in_chunks(RepairTicket.objects.all(), "reference", [r["reference"] for r in rows])}
        for row in rows:
            ticket = self.existing.get(row["reference"])
            if ticket is not None and ticket.source != RepairTicket.Source.ORDS:
                self.error(row["_row"], "id", f"ticket {ticket.reference} already exists and was not imported from Open Repair Data")

    def store_for(self, provider, country_code):
        if self.options.get("store"):
            return self.store
        code, name = store_code(provider), store_name(provider)
        store = Store.objects.filter(code=code).first() or self._store_of_earlier_imports(provider)
        if store is None:
            store = Store.objects.create(code=code, name=name, city=country_code)
        return store

    @staticmethod
    def _store_of_earlier_imports(provider):
        """Stores made before codes were hashed: ORDS- and the provider's first letters, with its full name."""
        legacy = ("ORDS-" + re.sub(r"[^A-Z0-9]", "", provider.upper().replace("THE ", "")))[:12]
        return Store.objects.filter(code=legacy, name=f"{provider}{STORE_SUFFIX}").first()

    def apply(self, rows):
        repair_types, devices, stores = {}, {}, {}
        existing = self.existing
        new_tickets, new_events = [], []
        for row in self.track(rows):
            provider = row["data_provider"]
            if provider not in stores:
                stores[provider] = self.store_for(provider, row["country"])
            category = ORDS_CATEGORY.get(row["product_category_id"]) or ORDS_CATEGORY_BY_NAME.get(row["product_category"].lower(), DeviceCategory.OTHER)
            rt_code = repair_type_code(row["product_category"])
            if rt_code not in repair_types:
                repair_types[rt_code], _ = RepairType.objects.get_or_create(
                    code=rt_code, defaults={"name": _fit(f"{row['product_category']} repair (community)", RepairType._meta.get_field("name").max_length),
                                            "device_category": category, "standard_labour_minutes": 60, "list_price": 0},
                )
            brand = row["brand"] if row["brand"] and row["brand"].lower() != "unknown" else "Unknown"
            model_name = row["partner_product_category"].split("~")[-1].strip() or row["product_category"]
            device_key = (category, brand[:60], model_name[:120])
            if device_key not in devices:
                devices[device_key], _ = DeviceModel.objects.get_or_create(category=category, brand=device_key[1], model_name=device_key[2])
            received = datetime.combine(row["event_date"], EVENT_TIME, tzinfo=shop_zone())
            closed = datetime.combine(row["event_date"], CLOSE_TIME, tzinfo=shop_zone())
            outcome = {"Fixed": RepairOutcome.FIXED, "Repairable": RepairOutcome.REPAIRABLE,
                       "End of life": RepairOutcome.END_OF_LIFE}.get(row["repair_status"], RepairOutcome.UNKNOWN)
            status = TicketStatus.CANCELLED if outcome == RepairOutcome.END_OF_LIFE else TicketStatus.COLLECTED
            reference = row["reference"]
            details = [row["problem"]]
            if reference != f"ORDS-{row['id']}":
                details.append(f"ORDS id: {row['id']}")
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
                # Only the history this importer wrote is rewritten; anything recorded in the app stays.
                TicketStatusEvent.objects.filter(ticket=ticket, user__isnull=True, note__startswith=IMPORT_NOTE_PREFIX).delete()
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


def repair_type_code(category_name):
    """The catalogue code of an ORDS product category: ords-<slug>, with a hash when the slug cannot stand
    for the name alone (too long for the field, or a name without Latin letters)."""
    slug = slugify(category_name)
    limit = RepairType._meta.get_field("code").max_length
    if slug and len(f"ords-{slug}") <= limit:
        return f"ords-{slug}"
    return f"ords-{slug[:limit - 14]}-{_digest(category_name, 8).lower()}".replace("--", "-")
