"""Importers for the shop's own records: customers, parts, suppliers, supplier prices, stock,
purchase orders and repair tickets."""
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from inventory.models import Part, PartCategory, PurchaseOrder, PurchaseOrderLine, Stock, Supplier, SupplierPrice
from mlanalytics.core.models import Store
from workflow.models import (
    Customer, DeviceCategory, DeviceModel, Priority, RepairTicket, RepairType, Technician, TicketStatus, TicketStatusEvent,
)

from .base import (
    Column, CSVImporter, a_datetime, boolean, choice, decimal_between, email, in_chunks, integer, model_field, money,
    text,
)

STATUSES = list(TicketStatus.values)
IMPORT_NOTE = "imported"  # the note of every status event the tickets import writes (and may rewrite)
HISTORY_FIELDS = ("status", "received_at", "completed_at", "collected_at")


def store_lookup():
    return {s.code.lower(): s for s in Store.objects.all()}


class StoreColumnMixin:
    def check_store(self, row, column="store"):
        store = self.stores.get(row[column].lower())
        if store is None:
            self.error(row["_row"], column, f"unknown store '{row[column]}' (create it in the admin first)")
        return store


class CustomersImporter(StoreColumnMixin, CSVImporter):
    entity = "customers"
    title = "Customers"
    model = Customer
    description = "One row per customer. `external_ref` is the key: the same ref updates the same customer."
    columns = [
        Column("external_ref", text(64, blank=False), True, "Your system's customer id (unique).", "C-10023",
               stored_in=(model_field(Customer, "external_ref"),)),
        Column("name", text(120, blank=False), True, "Full name.", "Amelia Jones",
               stored_in=(model_field(Customer, "name"),)),
        Column("email", email(), False, "Email address, may be empty.", "amelia@example.com",
               stored_in=(model_field(Customer, "email"),)),
        Column("phone", text(32), False, "Phone number, may be empty.", "+44 7700 900123",
               stored_in=(model_field(Customer, "phone"),)),
        Column("home_store", text(12), False, "Store code the customer usually visits.", "LON1"),
        Column("consent_email_service", boolean(True), False, "May receive service emails (default yes).", "yes"),
        Column("consent_sms_service", boolean(True), False, "May receive service SMS (default yes).", "yes"),
        Column("consent_email_marketing", boolean(False), False, "May receive marketing emails (default no).", "no"),
        Column("consent_sms_marketing", boolean(False), False, "May receive marketing SMS (default no).", "no"),
        Column("created_at", a_datetime(blank=True), False, "First seen (default: now).", "2024-03-01 10:15"),
    ]

    def prepare(self, rows):
        self.stores = store_lookup()
        self.unique_in_file(rows, lambda r: r["external_ref"], "external_ref")
        for row in rows:
            row["store_obj"] = self.check_store(row, "home_store") if row["home_store"] else None

    def apply(self, rows):
        for row in self.track(rows):
            existing = Customer.objects.filter(external_ref=row["external_ref"]).first()
            values = dict(
                name=row["name"], email=row["email"], phone=row["phone"], home_store=row["store_obj"],
                consent_email_service=row["consent_email_service"], consent_sms_service=row["consent_sms_service"],
                consent_email_marketing=row["consent_email_marketing"], consent_sms_marketing=row["consent_sms_marketing"],
            )
            if row["created_at"] or existing is None:
                values["created_at"] = row["created_at"] or timezone.now()
            self.save(Customer, {"external_ref": row["external_ref"]}, values)


class PartsImporter(CSVImporter):
    entity = "parts"
    title = "Parts"
    model = Part
    description = "One row per SKU. `sku` is the key. The compatible device is optional (all three columns or none)."
    columns = [
        Column("sku", text(40, blank=False), True, "Stock-keeping unit (unique).", "PH-APPL-IP13-SCR",
               stored_in=(model_field(Part, "sku"),)),
        Column("name", text(160, blank=False), True, "Description.", "iPhone 13 OLED screen assembly",
               stored_in=(model_field(Part, "name"),)),
        Column("category", choice(PartCategory.values), True, f"One of: {', '.join(PartCategory.values)}.", "screen"),
        Column("unit_cost", money(), True, "Standard cost, in the shop's currency.", "42.50",
               stored_in=(model_field(Part, "unit_cost"),)),
        Column("price", money(), True, "Price charged when sold on, in the shop's currency.", "89.00",
               stored_in=(model_field(Part, "price"),)),
        Column("service_level", decimal_between(0, 1, default=Decimal("0.95")), False, "Target cycle service level, e.g. 0.95 (default).", "0.95",
               stored_in=(model_field(Part, "service_level"),)),
        Column("min_order_qty", integer(1, blank=True, default=1), False, "Minimum order quantity (default 1).", "1",
               stored_in=(model_field(Part, "min_order_qty"),)),
        Column("pack_size", integer(1, blank=True, default=1), False, "Units per pack (default 1).", "5",
               stored_in=(model_field(Part, "pack_size"),)),
        Column("device_category", choice(DeviceCategory.values, blank=True, default=""), False, "Compatible device category.", "phone"),
        Column("device_brand", text(60), False, "Compatible device brand.", "Apple",
               stored_in=(model_field(DeviceModel, "brand"),)),
        Column("device_model", text(120), False, "Compatible device model.", "iPhone 13",
               stored_in=(model_field(DeviceModel, "model_name"),)),
        Column("is_active", boolean(True), False, "Still stocked (default yes).", "yes"),
    ]

    def prepare(self, rows):
        self.unique_in_file(rows, lambda r: r["sku"].upper(), "sku")
        for row in rows:
            device = [row["device_category"], row["device_brand"], row["device_model"]]
            if any(device) and not all(device):
                self.error(row["_row"], "device_model", "give device_category, device_brand and device_model together, or none")

    def apply(self, rows):
        for row in self.track(rows):
            device = None
            if row["device_model"]:
                device, _ = DeviceModel.objects.get_or_create(
                    category=row["device_category"], brand=row["device_brand"], model_name=row["device_model"])
            self.save(Part, {"sku": row["sku"]}, dict(
                name=row["name"], category=row["category"], unit_cost=row["unit_cost"], price=row["price"],
                service_level=row["service_level"], min_order_qty=row["min_order_qty"], pack_size=row["pack_size"],
                device_model=device, is_active=row["is_active"],
            ))


class SuppliersImporter(CSVImporter):
    entity = "suppliers"
    title = "Suppliers"
    model = Supplier
    description = "One row per supplier. `code` is the key."
    columns = [
        Column("code", text(40, blank=False), True, "Short code (letters, digits, hyphens).", "apex-screens",
               stored_in=(model_field(Supplier, "code"),)),
        Column("name", text(120, blank=False), True, "Supplier name.", "Apex Screens",
               stored_in=(model_field(Supplier, "name"),)),
        Column("email", email(), False, "Ordering email.", "orders@apex.example.com",
               stored_in=(model_field(Supplier, "email"),)),
        Column("quoted_lead_time_days", integer(0, 365), True, "Lead time the supplier promises, in days.", "3",
               stored_in=(model_field(Supplier, "quoted_lead_time_days"),)),
        Column("order_cost", money(blank=True), False, "Fixed cost of one order, in the shop's currency (default 15).", "15.00",
               stored_in=(model_field(Supplier, "order_cost"),)),
        Column("monthly_capacity_units", integer(1, blank=True), False, "Units a month they can supply (empty: unlimited).", "5000",
               stored_in=(model_field(Supplier, "monthly_capacity_units"),)),
        Column("is_active", boolean(True), False, "Still used (default yes).", "yes"),
    ]

    def prepare(self, rows):
        self.unique_in_file(rows, lambda r: r["code"].lower(), "code")
        for row in rows:
            if not all(ch.isalnum() or ch in "-_" for ch in row["code"]):
                self.error(row["_row"], "code", "use only letters, digits, hyphens and underscores")

    def apply(self, rows):
        for row in self.track(rows):
            self.save(Supplier, {"code": row["code"].lower()}, dict(
                name=row["name"], email=row["email"], quoted_lead_time_days=row["quoted_lead_time_days"],
                order_cost=row["order_cost"] if row["order_cost"] is not None else Decimal("15.00"),
                monthly_capacity_units=row["monthly_capacity_units"], is_active=row["is_active"],
            ))


class SupplierPricesImporter(CSVImporter):
    entity = "supplier_prices"
    title = "Supplier price lists"
    model = SupplierPrice
    description = "A supplier's price list: one row per supplier and SKU (the pair is the key)."
    columns = [
        Column("supplier", text(40, blank=False), True, "Supplier code.", "apex-screens"),
        Column("sku", text(40, blank=False), True, "Part SKU.", "PH-APPL-IP13-SCR"),
        Column("unit_price", money(), True, "Price per unit, in the shop's currency.", "41.20",
               stored_in=(model_field(SupplierPrice, "unit_price"),)),
        Column("min_order_qty", integer(1, blank=True, default=1), False, "Minimum order quantity (default 1).", "1",
               stored_in=(model_field(SupplierPrice, "min_order_qty"),)),
        Column("pack_size", integer(1, blank=True, default=1), False, "Units per pack (default 1).", "1",
               stored_in=(model_field(SupplierPrice, "pack_size"),)),
        Column("lead_time_days", integer(0, 365, blank=True), False, "Lead time for this part (default: supplier's quote).", "3",
               stored_in=(model_field(SupplierPrice, "lead_time_days"),)),
    ]

    def prepare(self, rows):
        self.suppliers = {s.code.lower(): s for s in Supplier.objects.all()}
        self.parts = {p.sku.upper(): p for p in Part.objects.filter(sku__in=[r["sku"] for r in rows])}
        self.unique_in_file(rows, lambda r: (r["supplier"].lower(), r["sku"].upper()), "sku")
        for row in rows:
            row["supplier_obj"] = self.suppliers.get(row["supplier"].lower())
            row["part_obj"] = self.parts.get(row["sku"].upper())
            if row["supplier_obj"] is None:
                self.error(row["_row"], "supplier", f"unknown supplier '{row['supplier']}' (import suppliers first)")
            if row["part_obj"] is None:
                self.error(row["_row"], "sku", f"unknown SKU '{row['sku']}' (import parts first)")

    def apply(self, rows):
        for row in self.track(rows):
            supplier = row["supplier_obj"]
            self.save(SupplierPrice, {"supplier": supplier, "part": row["part_obj"]}, dict(
                unit_price=row["unit_price"], min_order_qty=row["min_order_qty"], pack_size=row["pack_size"],
                lead_time_days=row["lead_time_days"] if row["lead_time_days"] is not None else supplier.quoted_lead_time_days,
            ))


class StockImporter(StoreColumnMixin, CSVImporter):
    entity = "stock"
    title = "Stock counts"
    model = Stock
    description = ("A stock count: one row per SKU and store. A difference from what is on hand is booked as a "
                   "ledger adjustment (reason 'CSV stock count'), so stock never drifts from its ledger.")
    columns = [
        Column("sku", text(40, blank=False), True, "Part SKU.", "PH-APPL-IP13-SCR"),
        Column("store", text(12, blank=False), True, "Store code.", "LON1"),
        Column("on_hand", integer(0), True, "Units counted on the shelf.", "7",
               stored_in=(model_field(Stock, "on_hand"),)),
        Column("min_qty", integer(0, blank=True), False, "Approved minimum (optional).", "3",
               stored_in=(model_field(Stock, "min_qty"),)),
        Column("max_qty", integer(0, blank=True), False, "Approved maximum (optional).", "12",
               stored_in=(model_field(Stock, "max_qty"),)),
    ]

    def prepare(self, rows):
        self.stores = store_lookup()
        self.parts = {p.sku.upper(): p for p in Part.objects.filter(sku__in=[r["sku"] for r in rows])}
        self.unique_in_file(rows, lambda r: (r["sku"].upper(), r["store"].lower()), "sku")
        for row in rows:
            row["store_obj"] = self.check_store(row)
            row["part_obj"] = self.parts.get(row["sku"].upper())
            if row["part_obj"] is None:
                self.error(row["_row"], "sku", f"unknown SKU '{row['sku']}' (import parts first)")
            if row["min_qty"] is not None and row["max_qty"] is not None and row["min_qty"] > row["max_qty"]:
                self.error(row["_row"], "max_qty", "must not be below min_qty")

    def apply(self, rows):
        from inventory.services import adjust_stock

        user = self.options.get("user")
        for row in self.track(rows):
            movement = adjust_stock(row["part_obj"], row["store_obj"], row["on_hand"], user=user, reason="CSV stock count")
            stock = Stock.objects.get(part=row["part_obj"], store=row["store_obj"])
            limits = {k: row[k] for k in ("min_qty", "max_qty") if row[k] is not None}
            changed = {k: v for k, v in limits.items() if getattr(stock, k) != v}
            if changed:
                Stock.objects.filter(pk=stock.pk).update(**changed)
            if movement is None and not changed:
                self.result.unchanged += 1
            else:
                self.result.updated += 1


class PurchaseOrdersImporter(StoreColumnMixin, CSVImporter):
    entity = "purchase_orders"
    title = "Purchase orders"
    model = PurchaseOrder
    description = ("Purchase-order history: one row per PO line; the PO columns repeat on each of its lines. "
                   "This records what was ordered and received (for supplier scorecards and lead times); it does "
                   "not move stock — import a stock count for that.")
    columns = [
        Column("po_number", text(40, blank=False), True, "PO number (the key, with sku).", "PO-LON1-000123",
               stored_in=(model_field(PurchaseOrder, "number"),)),
        Column("supplier", text(40, blank=False), True, "Supplier code.", "apex-screens"),
        Column("store", text(12, blank=False), True, "Store code.", "LON1"),
        Column("status", choice(PurchaseOrder.Status.values), True, f"One of: {', '.join(PurchaseOrder.Status.values)}.", "received"),
        Column("ordered_at", a_datetime(blank=True), False, "When it was ordered.", "2025-02-03 17:30"),
        Column("expected_at", a_datetime(blank=True), False, "When it was due.", "2025-02-06 17:30"),
        Column("received_at", a_datetime(blank=True), False, "When it arrived in full.", "2025-02-07 08:30"),
        Column("sku", text(40, blank=False), True, "Part SKU of the line.", "PH-APPL-IP13-SCR"),
        Column("quantity", integer(1), True, "Units ordered.", "10",
               stored_in=(model_field(PurchaseOrderLine, "quantity"),)),
        Column("unit_price", money(), True, "Price paid per unit, in the shop's currency.", "41.20",
               stored_in=(model_field(PurchaseOrderLine, "unit_price"),)),
        Column("quantity_received", integer(0, blank=True, default=0), False, "Units delivered (default 0).", "10",
               stored_in=(model_field(PurchaseOrderLine, "quantity_received"),)),
        Column("quantity_defective", integer(0, blank=True, default=0), False, "Delivered units that were faulty.", "0",
               stored_in=(model_field(PurchaseOrderLine, "quantity_defective"),)),
    ]

    def prepare(self, rows):
        self.stores = store_lookup()
        self.suppliers = {s.code.lower(): s for s in Supplier.objects.all()}
        self.parts = {p.sku.upper(): p for p in Part.objects.filter(sku__in=[r["sku"] for r in rows])}
        self.unique_in_file(rows, lambda r: (r["po_number"], r["sku"].upper()), "sku")
        headers = {}
        for row in rows:
            row["store_obj"] = self.check_store(row)
            row["supplier_obj"] = self.suppliers.get(row["supplier"].lower())
            row["part_obj"] = self.parts.get(row["sku"].upper())
            if row["supplier_obj"] is None:
                self.error(row["_row"], "supplier", f"unknown supplier '{row['supplier']}'")
            if row["part_obj"] is None:
                self.error(row["_row"], "sku", f"unknown SKU '{row['sku']}'")
            if row["quantity_defective"] > row["quantity_received"]:
                self.error(row["_row"], "quantity_defective", "cannot exceed quantity_received")
            if row["status"] != "draft" and row["ordered_at"] is None:
                self.error(row["_row"], "ordered_at", "is required unless the PO is a draft")
            header = tuple(row[k] for k in ("supplier", "store", "status", "ordered_at", "expected_at", "received_at"))
            first = headers.setdefault(row["po_number"], (row["_row"], header))
            if first[1] != header:
                self.error(row["_row"], "po_number", f"PO columns differ from its line on row {first[0]}")

    def apply(self, rows):
        orders = {}
        for row in self.track(rows):
            po = orders.get(row["po_number"])
            if po is None:
                po, _ = self.save(PurchaseOrder, {"number": row["po_number"]}, dict(
                    supplier=row["supplier_obj"], store=row["store_obj"], status=row["status"], ordered_at=row["ordered_at"],
                    expected_at=row["expected_at"], received_at=row["received_at"], source="import",
                ), count=False)
                orders[row["po_number"]] = po
            self.save(PurchaseOrderLine, {"po": po, "part": row["part_obj"]}, dict(
                quantity=row["quantity"], unit_price=row["unit_price"], quantity_received=row["quantity_received"],
                quantity_defective=row["quantity_defective"],
            ))
        self.result.notes.append(f"{len(orders)} purchase order(s) in the file (counts above are lines)")


class TicketsImporter(StoreColumnMixin, CSVImporter):
    entity = "tickets"
    title = "Repair tickets"
    model = RepairTicket
    records_filter = "source__exact=import"
    description = ("Repair tickets, one row per ticket; `reference` is the key. Devices are created as needed. "
                   "An unknown repair type is added to the catalogue from the row (name, category, labour minutes, "
                   "price). The status history of an imported ticket is rebuilt from the dates given (received → "
                   "ready → collected, or cancelled). A ticket whose status the app has recorded (booked in the app, "
                   "or moved on in the app after its import) keeps it: a row that would change its status or "
                   "received/completed/collected dates is reported and the file is not applied.")
    columns = [
        Column("reference", text(40, blank=False), True, "Ticket number (unique).", "LON1-0012345",
               stored_in=(model_field(RepairTicket, "reference"),)),
        Column("store", text(12, blank=False), True, "Store code.", "LON1"),
        Column("customer_ref", text(64), False, "external_ref of an imported customer (empty: walk-in).", "C-10023"),
        Column("device_category", choice(DeviceCategory.values), True, f"One of: {', '.join(DeviceCategory.values)}.", "phone"),
        Column("brand", text(60, blank=False), True, "Device brand.", "Apple",
               stored_in=(model_field(DeviceModel, "brand"),)),
        Column("model", text(120, blank=False), True, "Device model.", "iPhone 13",
               stored_in=(model_field(DeviceModel, "model_name"),)),
        Column("repair_type", text(60, blank=False), True, "Repair type code from the catalogue.", "phone-screen",
               stored_in=(model_field(RepairType, "code"),)),
        Column("repair_type_name", text(120), False, "Name, when the repair type is new.", "Phone screen replacement",
               stored_in=(model_field(RepairType, "name"),)),
        Column("priority", choice(Priority.values, blank=True, default="normal"), False, "low, normal (default), high, urgent.", "normal"),
        Column("technician", text(40), False, "Technician code.", "lon1-sam-0"),
        Column("status", choice(STATUSES, blank=True, default=""), False, "Current status (default: from the dates).", "collected"),
        Column("received_at", a_datetime(), True, "Booked in.", "2025-03-01 10:12"),
        Column("promised_at", a_datetime(blank=True), False, "Promised ready time.", "2025-03-03 10:12"),
        Column("completed_at", a_datetime(blank=True), False, "Ready for collection (or cancelled).", "2025-03-02 15:40"),
        Column("collected_at", a_datetime(blank=True), False, "Collected by the customer.", "2025-03-03 11:05"),
        Column("quoted_price", money(blank=True), False, "Quote, in the shop's currency.", "129.00",
               stored_in=(model_field(RepairTicket, "quoted_price"), model_field(RepairType, "list_price"),)),
        Column("final_price", money(blank=True), False, "Charged, in the shop's currency.", "129.00",
               stored_in=(model_field(RepairTicket, "final_price"),)),
        Column("labour_minutes", integer(0, blank=True), False, "Hands-on minutes.", "55",
               stored_in=(model_field(RepairTicket, "labour_minutes"), model_field(RepairType, "standard_labour_minutes"),)),
        Column("parts_cost", money(blank=True), False, "Cost of parts used, in the shop's currency.", "41.20",
               stored_in=(model_field(RepairTicket, "parts_cost"),)),
        Column("warranty_of", text(40), False, "Reference of the earlier ticket this is a comeback of.", "LON1-0012001"),
        Column("fault_description", text(4000), False, "What was wrong.", "Cracked screen, touch works",
               stored_in=(model_field(RepairTicket, "fault_description"),)),
    ]

    def prepare(self, rows):
        self.stores = store_lookup()
        self.customers = {c.external_ref: c for c in Customer.objects.filter(external_ref__in=[r["customer_ref"] for r in rows if r["customer_ref"]])}
        self.technicians = {t.code: t for t in Technician.objects.filter(code__in=[r["technician"] for r in rows if r["technician"]])}
        self.repair_types = {rt.code: rt for rt in RepairType.objects.all()}
        file_refs = {r["reference"] for r in rows}
        stored_refs = set(RepairTicket.objects.filter(reference__in=[r["warranty_of"] for r in rows if r["warranty_of"]]).values_list("reference", flat=True))
        self.unique_in_file(rows, lambda r: r["reference"], "reference")
        for row in rows:
            n = row["_row"]
            row["store_obj"] = self.check_store(row)
            if row["customer_ref"] and row["customer_ref"] not in self.customers:
                self.error(n, "customer_ref", f"unknown customer '{row['customer_ref']}' (import customers first)")
            if row["technician"]:
                tech = self.technicians.get(row["technician"])
                if tech is None:
                    self.error(n, "technician", f"unknown technician '{row['technician']}'")
                elif row["store_obj"] and tech.store_id != row["store_obj"].id:
                    self.error(n, "technician", f"{tech.name} works at another store")
            rt = self.repair_types.get(row["repair_type"])
            if rt is not None and rt.device_category != row["device_category"]:
                self.error(n, "repair_type", f"'{rt.code}' is for {rt.device_category} devices, not {row['device_category']}")
            for later in ("completed_at", "collected_at", "promised_at"):
                if row[later] and row[later] < row["received_at"]:
                    self.error(n, later, "is before received_at")
            if row["collected_at"] and not row["completed_at"]:
                self.error(n, "completed_at", "is needed when collected_at is given")
            if row["warranty_of"] and row["warranty_of"] not in file_refs | stored_refs:
                self.error(n, "warranty_of", f"no ticket '{row['warranty_of']}' in the file or the database")
            if row["warranty_of"] == row["reference"]:
                self.error(n, "warranty_of", "a ticket cannot be its own comeback")
            status = row["status"] or ("collected" if row["collected_at"] else "ready" if row["completed_at"] else "received")
            row["status_final"] = status
            if status in ("ready", "collected", "cancelled") and not row["completed_at"]:
                self.error(n, "completed_at", f"is needed for status {status}")
            if status == "collected" and not row["collected_at"]:
                self.error(n, "collected_at", "is needed for status collected")
        self.check_history_owner(rows)
        self.check_held_parts(rows)

    def check_history_owner(self, rows):
        """Status changes of tickets whose history the app recorded go through workflow.services.change_status,
        never through a file: such a row may repeat the status and dates, not change them."""
        stored = {t.reference: t for t in in_chunks(RepairTicket.objects.all(), "reference", [r["reference"] for r in rows])}
        if not stored:
            return
        app_history = {
            e.ticket_id for e in in_chunks(
                TicketStatusEvent.objects.exclude(user__isnull=True, note=IMPORT_NOTE).only("ticket_id"), "ticket_id",
                [t.id for t in stored.values()])
        }
        for row in rows:
            ticket = stored.get(row["reference"])
            if ticket is None or (ticket.source == RepairTicket.Source.IMPORT and ticket.id not in app_history):
                continue
            where = "booked in the app" if ticket.source == RepairTicket.Source.APP else (
                f"from the {ticket.get_source_display().lower()}" if ticket.source != RepairTicket.Source.IMPORT
                else "moved on in the app after its import")
            file_values = {"status": row["status_final"], **{k: row[k] for k in HISTORY_FIELDS[1:]}}
            for field in HISTORY_FIELDS:
                if not _same(file_values[field], getattr(ticket, field)):
                    shown = getattr(ticket, field)
                    shown = shown.isoformat(" ", "minutes") if hasattr(shown, "isoformat") else (shown or "empty")
                    column = "status" if field == "status" else field
                    self.error(row["_row"], column, f"ticket {ticket.reference} was {where}; its status history is the app's "
                                                    f"(stored {field}: {shown}). Change its status in the app, not by import")
            row["history_owned_by_app"] = True

    def check_held_parts(self, rows):
        """A ticket holding parts (inventory reservations of a committed repair) keeps its store, repair type
        and device: the units are held at that store for that bill of parts. Release them in the app first."""
        from inventory.models import StockReservation

        refs = [r["reference"] for r in rows]
        holding = set(StockReservation.objects.filter(ticket__reference__in=refs).values_list("ticket_id", flat=True)) if refs else set()
        if not holding:
            return
        stored = {t.reference: t for t in RepairTicket.objects.filter(pk__in=holding).select_related("repair_type", "device_model")}
        for row in rows:
            ticket = stored.get(row["reference"])
            if ticket is None:
                continue
            device = ticket.device_model
            changes = {
                "store": row["store_obj"] is not None and row["store_obj"].id != ticket.store_id,
                "repair_type": row["repair_type"] != ticket.repair_type.code,
                "model": (row["device_category"], row["brand"], row["model"]) != (device.category, device.brand, device.model_name),
            }
            for column, changed in changes.items():
                if changed:
                    self.error(row["_row"], column, f"ticket {ticket.reference} holds parts for its repair at its store; its "
                                                    f"{column.replace('_', ' ')} cannot change by import while it does")

    def apply(self, rows):
        from inventory.services import rebuild_reservations

        touched_stores = set()
        devices = {}
        for row in self.track(rows):
            key = (row["device_category"], row["brand"], row["model"])
            if key not in devices:
                devices[key], _ = DeviceModel.objects.get_or_create(category=key[0], brand=key[1], model_name=key[2])
            rt = self.repair_types.get(row["repair_type"])
            if rt is None:
                rt = RepairType.objects.create(
                    code=row["repair_type"], name=row["repair_type_name"] or row["repair_type"], device_category=row["device_category"],
                    standard_labour_minutes=row["labour_minutes"] or 60, list_price=row["quoted_price"] or Decimal("0"),
                )
                self.repair_types[rt.code] = rt
                self.result.notes.append(f"added repair type '{rt.code}' to the catalogue")
            values = dict(
                store=row["store_obj"], customer=self.customers.get(row["customer_ref"]), device_model=devices[key], repair_type=rt,
                priority=row["priority"], technician=self.technicians.get(row["technician"]), status=row["status_final"],
                outcome="fixed" if row["status_final"] in ("ready", "collected") else ("unknown" if row["status_final"] == "cancelled" else ""),
                received_at=row["received_at"], promised_at=row["promised_at"], completed_at=row["completed_at"],
                collected_at=row["collected_at"], quoted_price=row["quoted_price"], final_price=row["final_price"],
                labour_minutes=row["labour_minutes"], parts_cost=row["parts_cost"] or Decimal("0"),
                fault_description=row["fault_description"], source=RepairTicket.Source.IMPORT,
            )
            if row.get("history_owned_by_app"):
                for field in HISTORY_FIELDS:  # equal to what is stored (checked in prepare); never written from a file
                    values.pop(field)
                values.pop("outcome")
                values.pop("source")  # an app ticket stays an app ticket
                _, outcome = self.save(RepairTicket, {"reference": row["reference"]}, values)
                if outcome != "unchanged":
                    touched_stores.add(row["store_obj"].id)
                continue
            ticket, outcome = self.save(RepairTicket, {"reference": row["reference"]}, values)
            if outcome != "unchanged":
                rebuild_history(ticket)
                touched_stores.add(row["store_obj"].id)
        # Comebacks last: their originals may be further down the file.
        refs = {r["reference"]: r["warranty_of"] for r in rows if r["warranty_of"]}
        originals = dict(RepairTicket.objects.filter(reference__in=set(refs.values())).values_list("reference", "id"))
        for reference, original in refs.items():
            RepairTicket.objects.filter(reference=reference).exclude(warranty_of_id=originals[original]).update(warranty_of_id=originals[original])
        # Imported tickets waiting for parts or in repair hold their bill of parts, as tickets moved on in the
        # app do (inventory keeps Stock.reserved the sum of the reservations).
        if touched_stores:
            rebuild_reservations(sorted(touched_stores))


def _same(file_value, stored):
    """Equal, at the precision the file gives: an export to the minute matches the stored seconds."""
    if isinstance(file_value, datetime) and isinstance(stored, datetime):
        if not file_value.microsecond:
            stored = stored.replace(microsecond=0)
            if not file_value.second:
                stored = stored.replace(second=0)
    return file_value == stored


def rebuild_history(ticket):
    """Status events of an imported ticket, from the dates it carries (the source kept no history).
    Only events this import wrote are replaced; an event recorded in the app is never deleted."""
    TicketStatusEvent.objects.filter(ticket=ticket, user__isnull=True, note=IMPORT_NOTE).delete()
    steps = [("", TicketStatus.RECEIVED, ticket.received_at)]
    final = ticket.status
    if final == TicketStatus.CANCELLED:
        steps.append((TicketStatus.RECEIVED, TicketStatus.CANCELLED, ticket.completed_at))
    elif final in (TicketStatus.READY, TicketStatus.COLLECTED):
        steps.append((TicketStatus.RECEIVED, TicketStatus.READY, ticket.completed_at))
        if final == TicketStatus.COLLECTED:
            steps.append((TicketStatus.READY, TicketStatus.COLLECTED, ticket.collected_at))
    elif final != TicketStatus.RECEIVED:
        steps.append((TicketStatus.RECEIVED, final, ticket.received_at))
    TicketStatusEvent.objects.bulk_create([
        TicketStatusEvent(ticket=ticket, from_status=a, to_status=b, at=at, note=IMPORT_NOTE) for a, b, at in steps
    ])
