"""CSV import through the management command: good files apply wholly, bad files change nothing and
say what is wrong, re-imports change nothing, and real Open Repair Data imports."""
import csv
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Sum
from django.utils import timezone

from inventory.models import Part, PurchaseOrder, PurchaseOrderLine, Stock, StockMovement, Supplier
from mlanalytics.core.models import Store
from mlanalytics.imports import IMPORTERS, describe
from workflow.models import Customer, RepairTicket, TicketStatusEvent

pytestmark = pytest.mark.django_db
ORDS_NAME = "OpenRepairData_v0.3_RestartProject_202204.csv"
# The sample lives beside the repository in ../shared (this machine keeps it at /work/shared too).
ORDS_SAMPLE = next(
    (p for p in (Path(settings.BASE_DIR).parent / "shared" / "data" / "openrepair" / ORDS_NAME,
                 Path("/work/shared/data/openrepair") / ORDS_NAME) if p.is_file()),
    Path(settings.BASE_DIR).parent / "shared" / "data" / "openrepair" / ORDS_NAME,
)


def run_import(tmp_path, entity, content, *options, encoding="utf-8"):
    path = tmp_path / f"{entity}.csv"
    path.write_bytes(content.encode(encoding))
    out, err = StringIO(), StringIO()
    call_command("import_csv", entity, str(path), *options, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing_import(tmp_path, entity, content):
    path = tmp_path / f"{entity}-bad.csv"
    path.write_text(content)
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_csv", entity, str(path), stdout=StringIO(), stderr=err)
    return str(failure.value), err.getvalue()


PARTS = """sku,name,category,unit_cost,price,service_level,min_order_qty,pack_size,device_category,device_brand,device_model
IMP-SCR-1,Test screen,screen,42.50,89.00,0.95,1,1,phone,Testco,T1
IMP-BAT-1,Test battery,battery,£9.80,24,,2,5,,,
"""


def test_a_good_parts_file_applies_and_a_second_import_changes_nothing(tmp_path):
    out, _ = run_import(tmp_path, "parts", PARTS)
    assert "2 created" in out
    screen = Part.objects.get(sku="IMP-SCR-1")
    assert (float(screen.unit_cost), screen.device_model.model_name) == (42.5, "T1")
    battery = Part.objects.get(sku="IMP-BAT-1")
    assert (float(battery.unit_cost), battery.min_order_qty, battery.pack_size, float(battery.service_level)) == (9.8, 2, 5, 0.95)
    before = list(Part.objects.filter(sku__startswith="IMP-").values())
    out, _ = run_import(tmp_path, "parts", PARTS)
    assert "0 created, 0 updated, 2 unchanged" in out
    assert list(Part.objects.filter(sku__startswith="IMP-").values()) == before


def test_a_changed_row_updates_only_that_record(tmp_path):
    run_import(tmp_path, "parts", PARTS)
    out, _ = run_import(tmp_path, "parts", PARTS.replace("42.50,89.00", "40.00,89.00"))
    assert "1 updated, 1 unchanged" in out
    assert float(Part.objects.get(sku="IMP-SCR-1").unit_cost) == 40.0


def test_a_bad_file_reports_every_problem_and_changes_nothing(tmp_path):
    bad = """sku,name,category,unit_cost,price,min_order_qty
OK-1,Fine part,screen,10,20,1
BAD-1,Negative,screen,-3,20,1
BAD-2,Wrong category,gizmo,10,20,1
BAD-3,Not a number,battery,ten,20,0
OK-1,Duplicate,screen,10,20,1
"""
    count = Part.objects.count()
    message, errors = failing_import(tmp_path, "parts", bad)
    assert "nothing was imported" in message
    assert "row 3, column unit_cost: must not be negative" in errors
    assert "row 4, column category: 'gizmo' is not one of" in errors
    assert "row 5, column unit_cost: 'ten' is not an amount" in errors
    assert "row 5, column min_order_qty: must be at least 1" in errors
    assert "row 6, column sku: 'OK-1' appears again (first on row 2)" in errors
    assert Part.objects.count() == count and not Part.objects.filter(sku="OK-1").exists()


def test_a_missing_required_column_is_a_problem_of_the_file(tmp_path):
    message, errors = failing_import(tmp_path, "suppliers", "code,name\nacme,Acme\n")
    assert "file, column quoted_lead_time_days: required column is missing" in errors
    assert "suppliers: 1 problem(s) with the file as a whole; nothing was imported." in message


def test_semicolon_windows_files_with_a_bom_import(tmp_path):
    content = "\ufeffcode;name;quoted_lead_time_days;order_cost\r\nzürich-parts;Zürich Parts;4;12,50\r\n".replace("12,50", "12.50")
    out, _ = run_import(tmp_path, "suppliers", content, encoding="utf-8")
    supplier = Supplier.objects.get(code="zürich-parts")
    assert (supplier.name, supplier.quoted_lead_time_days, float(supplier.order_cost)) == ("Zürich Parts", 4, 12.5)
    content = "code,name,quoted_lead_time_days\r\ncafe-parts,Café Parts,2\r\n"
    run_import(tmp_path, "suppliers", content, "--encoding", "cp1252", encoding="cp1252")
    assert Supplier.objects.get(code="cafe-parts").name == "Café Parts"


def test_a_windows_1252_file_is_refused_unless_its_encoding_is_given(tmp_path):
    path = tmp_path / "suppliers.csv"
    path.write_bytes("code,name,quoted_lead_time_days\r\nwin-parts,Café Parts,2\r\n".encode("cp1252"))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_csv", "suppliers", str(path), stdout=StringIO(), stderr=err)
    # "Café" in Windows-1252: é is the single byte 0xE9, at byte offset 46 (the header is 33 bytes with CRLF).
    assert err.getvalue().splitlines() == ["row 2, column name: byte 0xE9 at byte offset 46 is not valid UTF-8"]
    assert not Supplier.objects.filter(code="win-parts").exists()


def test_stock_counts_go_through_the_ledger(tmp_path, store_codes):
    part = Part.objects.order_by("sku").first()
    store = Store.objects.get(code=store_codes[0])
    on_hand = Stock.objects.get(part=part, store=store).on_hand
    content = f"sku,store,on_hand,min_qty,max_qty\n{part.sku},{store.code},{on_hand + 3},2,9\n"
    run_import(tmp_path, "stock", content)
    stock = Stock.objects.get(part=part, store=store)
    assert (stock.on_hand, stock.min_qty, stock.max_qty) == (on_hand + 3, 2, 9)
    ledger = StockMovement.objects.filter(part=part, store=store)
    assert ledger.aggregate(t=Sum("quantity"))["t"] == stock.on_hand
    assert ledger.order_by("-id").first().reason == "CSV stock count"
    movements = ledger.count()
    out, _ = run_import(tmp_path, "stock", content)
    assert "1 unchanged" in out and ledger.count() == movements


def test_customers_suppliers_prices_and_purchase_orders(tmp_path, store_codes):
    store = store_codes[0]
    run_import(tmp_path, "customers", f"external_ref,name,email,home_store,consent_sms_service\nX-1,Ada Test,ada@example.com,{store},no\n")
    ada = Customer.objects.get(external_ref="X-1")
    assert (ada.home_store.code, ada.consent_sms_service, ada.consent_email_service) == (store, False, True)
    run_import(tmp_path, "suppliers", "code,name,quoted_lead_time_days\nnew-supplier,New Supplier,5\n")
    run_import(tmp_path, "parts", PARTS)
    run_import(tmp_path, "supplier_prices", "supplier,sku,unit_price,pack_size\nnew-supplier,IMP-SCR-1,39.90,1\n")
    assert float(Part.objects.get(sku="IMP-SCR-1").supplier_prices.get().unit_price) == 39.9
    po_file = (
        "po_number,supplier,store,status,ordered_at,expected_at,received_at,sku,quantity,unit_price,quantity_received,quantity_defective\n"
        f"PO-IMP-1,new-supplier,{store},received,2025-02-03 17:30,2025-02-06 17:30,2025-02-08 08:30,IMP-SCR-1,10,39.90,10,1\n"
        f"PO-IMP-1,new-supplier,{store},received,2025-02-03 17:30,2025-02-06 17:30,2025-02-08 08:30,IMP-BAT-1,20,9.50,20,0\n"
    )
    out, _ = run_import(tmp_path, "purchase_orders", po_file)
    assert "2 created" in out
    po = PurchaseOrder.objects.get(number="PO-IMP-1")
    assert po.lines.count() == 2 and po.received_at > po.expected_at
    assert "2 unchanged" in run_import(tmp_path, "purchase_orders", po_file)[0]
    message, errors = failing_import(tmp_path, "purchase_orders", po_file.replace("received,2025-02-03 17:30,2025-02-06", "ordered,2025-02-03 17:30,2025-02-06", 1))
    assert "PO columns differ from its line on row 2" in errors
    assert PurchaseOrderLine.objects.filter(po__number="PO-IMP-1").count() == 2


TICKETS = """reference,store,customer_ref,device_category,brand,model,repair_type,repair_type_name,status,received_at,completed_at,collected_at,quoted_price,final_price,labour_minutes,warranty_of
IMP-T-2,{store},,phone,Testco,T9,phone-screen,,,2025-05-20 11:00,2025-05-21 15:00,,129,0,30,IMP-T-1
IMP-T-1,{store},,phone,Testco,T9,phone-screen,,collected,2025-05-01 10:00,2025-05-02 16:00,2025-05-03 12:00,129,129,55,
IMP-T-3,{store},,tablet,Testco,Tab 1,tablet-pencil,Stylus tip repair,,2025-06-01 10:00,,,35,,,
"""


def test_tickets_import_with_history_comebacks_and_new_repair_types(tmp_path, store_codes):
    content = TICKETS.format(store=store_codes[0])
    out, _ = run_import(tmp_path, "tickets", content)
    assert "3 created" in out and "added repair type 'tablet-pencil'" in out
    first, comeback, open_ticket = (RepairTicket.objects.get(reference=r) for r in ("IMP-T-1", "IMP-T-2", "IMP-T-3"))
    assert comeback.warranty_of_id == first.id
    assert (first.status, comeback.status, open_ticket.status) == ("collected", "ready", "received")
    assert list(first.status_events.order_by("at").values_list("to_status", flat=True)) == ["received", "ready", "collected"]
    events = TicketStatusEvent.objects.count()
    assert "3 unchanged" in run_import(tmp_path, "tickets", content)[0]
    assert TicketStatusEvent.objects.count() == events


def test_ticket_dates_out_of_order_are_reported(tmp_path, store_codes):
    content = TICKETS.format(store=store_codes[0]).replace("2025-05-02 16:00", "2025-04-30 16:00")
    message, errors = failing_import(tmp_path, "tickets", content)
    assert "row 3, column completed_at: is before received_at" in errors
    assert not RepairTicket.objects.filter(reference__startswith="IMP-T-").exists()


def test_unknown_store_is_reported(tmp_path):
    _, errors = failing_import(tmp_path, "customers", "external_ref,name,home_store\nX-9,Bo,NOPE\n")
    assert "row 2, column home_store: unknown store 'NOPE'" in errors


@pytest.mark.slow
def test_the_open_repair_data_sample_imports_whole_and_only_once(tmp_path):
    expected = pd.read_csv(ORDS_SAMPLE, dtype=str, keep_default_na=False)
    out, err = StringIO(), StringIO()
    call_command("import_csv", "ords", str(ORDS_SAMPLE), stdout=out, stderr=err)
    assert f"{len(expected)} created" in out.getvalue()
    imported = RepairTicket.objects.filter(source="ords")
    assert imported.count() == len(expected)
    outcomes = dict(imported.values_list("outcome").annotate(n=Count("id")))
    counts = expected.repair_status.value_counts()
    assert outcomes["fixed"] == counts["Fixed"] and outcomes["end_of_life"] == counts["End of life"]
    assert outcomes["repairable"] == counts["Repairable"] and outcomes["unknown"] == counts["Unknown"]
    phones = imported.filter(device_model__category="phone").count()
    assert phones == (expected.product_category == "Mobile").sum()
    sample = expected.iloc[0]
    ticket = RepairTicket.objects.get(reference=f"ORDS-{sample.id}")
    assert ticket.received_at.date().isoformat() == sample.event_date and ticket.source_group == sample.group_identifier
    again = StringIO()
    call_command("import_csv", "ords", str(ORDS_SAMPLE), stdout=again, stderr=StringIO())
    assert f"0 created, 0 updated, {len(expected)} unchanged" in again.getvalue()


LONG_PROVIDER = ("Welsh Association of Community Repair Cafés, Fixing Factories and Tool Libraries "
                 "for a Circular Economy in Wales and the Borders")  # 125 characters; Store.name holds 100
LONG_ID = "repaircymru_community_repair_events_2024_0000123"  # 48 characters; the reference field holds 40
ORDS_OTHER_PROVIDER = (
    "\ufeffid;data_provider;country;partner_product_category;product_category;product_category_id;brand;"
    "year_of_manufacture;product_age;repair_status;repair_barrier_if_end_of_life;group_identifier;event_date;problem;extra_column\r\n"
    'rcdenmark_101;Repair Café Denmark;DNK;Husholdningsapparater ~ Kaffemaskine;Coffee maker;36;Melitta;"";"";Fixed;"";Grønt Værksted;2025-04-01;"";x\r\n'
    'rcdenmark_102;Repair Café Denmark;DNK;Mobil/smartphone ~ Mobil;Mobile;19;Iphone;2019;4.5;end of life;Item too worn out;Albertslund;2023-11-20;"Skærm ""knust""";x\r\n'
    "fixitclinic-7;Fixit Clinic;USA;tablet;Tablet;30;Apple;;;Unknown;;Fixit Clinic;2019-01-10;needed new battery. . .;\r\n"
    # Values ORDS v0.3 allows (tableschema.json sets no range or length on them):
    "rcint-501;Repair Café International;NLD;Telefoon;;19;Samsung;;200;Fixed;;Repair Café Utrecht;2024-02-03;Scherm vervangen;\r\n"
    "rconnects-9;Repair Connects;GBR;Laptop ~ Laptop;Laptop;16;Dell;2015;8;Repairable;;Leeds;2024-03-04;Hinge loose;\r\n"
    f"{LONG_ID};{LONG_PROVIDER};GBR;Tablet;Tablet;30;Lenovo;;3;Fixed;;Caerdydd;2024-05-06;Charging port;\r\n"
)


def test_ords_files_from_other_providers_import(tmp_path):
    out, _ = run_import(tmp_path, "ords", ORDS_OTHER_PROVIDER)
    assert "6 created" in out and "ignored columns: extra_column" in out
    phone = RepairTicket.objects.get(reference="ORDS-rcdenmark_102")
    assert (phone.status, phone.outcome, phone.device_model.category) == ("cancelled", "end_of_life", "phone")
    assert 'Skærm "knust"' in phone.fault_description and "Item too worn out" in phone.fault_description
    assert "4.5 years; made 2019" in phone.fault_description
    assert phone.store.code.startswith("ORDS-") and phone.store != RepairTicket.objects.get(reference="ORDS-fixitclinic-7").store
    assert RepairTicket.objects.get(reference="ORDS-rcdenmark_101").device_model.category == "other"

    # A blank product_category takes its name from product_category_id (19 = Mobile).
    blank_category = RepairTicket.objects.get(reference="ORDS-rcint-501")
    assert (blank_category.device_model.category, blank_category.repair_type.code) == ("phone", "ords-mobile")
    # An implausible product_age (200 years) is imported as unknown, and the output says so.
    assert "product_age outside 0–150 years on 1 row(s), imported with the age unknown: row 5" in out
    assert "Product age" not in blank_category.fault_description and blank_category.outcome == "fixed"
    # Providers sharing a prefix get a store each (a 12-character prefix once merged them).
    international, connects = blank_category.store, RepairTicket.objects.get(reference="ORDS-rconnects-9").store
    assert international != connects
    assert (international.name, connects.name) == ("Repair Café International (Open Repair Data)", "Repair Connects (Open Repair Data)")
    # A provider name too long for Store.name and an id too long for the reference still fit (PostgreSQL enforces both).
    long_one = RepairTicket.objects.get(source="ords", store__name__startswith=LONG_PROVIDER[:60])
    assert len(long_one.store.name) <= Store._meta.get_field("name").max_length and long_one.store.name.endswith("(Open Repair Data)")
    assert len(long_one.reference) <= RepairTicket._meta.get_field("reference").max_length
    assert long_one.reference.startswith("ORDS-repaircymru_") and f"ORDS id: {LONG_ID}" in long_one.fault_description
    assert all(len(s.code) <= 12 for s in Store.objects.filter(code__startswith="ORDS-"))

    again, _ = run_import(tmp_path, "ords", ORDS_OTHER_PROVIDER)
    assert "0 created, 0 updated, 6 unchanged" in again


def test_a_bad_ords_row_is_reported_with_its_column(tmp_path):
    bad = ORDS_OTHER_PROVIDER.replace("2023-11-20", "20th Nov").replace("fixitclinic-7", "bad id!")
    _, errors = failing_import(tmp_path, "ords", bad)
    assert "row 3, column event_date: '20th Nov' is not a date" in errors
    assert "row 4, column id: 'bad id!' is not an ORDS id" in errors
    assert not RepairTicket.objects.filter(reference__startswith="ORDS-rcdenmark").exists()


def test_docs_describe_every_column_of_every_importer():
    text = (Path(settings.BASE_DIR) / "docs" / "import.md").read_text()
    for entity in IMPORTERS:
        assert describe(entity) in text, f"docs/import.md is out of date for {entity}: run scripts/write_import_docs.py"


def test_every_problem_is_listed_and_written_to_the_report_file(tmp_path):
    rows = "".join(f"BAD-{n},Part {n},screen,-1,20\n" for n in range(600))
    path, report = tmp_path / "parts.csv", tmp_path / "problems.csv"
    path.write_text("sku,name,category,unit_cost,price\n" + rows)
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_csv", "parts", str(path), "--report", str(report), stdout=StringIO(), stderr=err)
    assert "600 problem(s) in 600 row(s); nothing was imported" in str(failure.value) and str(report) in str(failure.value)
    printed = err.getvalue().splitlines()
    assert len(printed) == 600 and printed[-1] == "row 601, column unit_cost: must not be negative"
    with report.open(newline="") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 600
    assert written[0] == {"row": "2", "column": "unit_cost", "reason": "must not be negative"}
    assert not Part.objects.filter(sku__startswith="BAD-").exists()


def ticket_row(ticket, **changes):
    """A tickets-import row repeating what is stored for `ticket` (London time, to the minute)."""
    local = lambda moment: timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""  # noqa: E731
    row = {"reference": ticket.reference, "store": ticket.store.code, "device_category": ticket.device_model.category,
           "brand": ticket.device_model.brand, "model": ticket.device_model.model_name, "repair_type": ticket.repair_type.code,
           "status": ticket.status, "received_at": local(ticket.received_at), "completed_at": local(ticket.completed_at),
           "collected_at": local(ticket.collected_at), "final_price": ""}
    row.update(changes)
    out = StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue()


def test_a_ticket_import_never_changes_a_status_the_app_recorded(tmp_path, store_codes, make_user):
    from workflow.models import DeviceModel, RepairType
    from workflow.services import change_status, create_ticket

    user = make_user("staff")
    store = Store.objects.get(code=store_codes[0])
    booked = create_ticket(store=store, device_model=DeviceModel.objects.filter(category="phone").first(),
                           repair_type=RepairType.objects.filter(device_category="phone").first(), user=user)
    # Refused: the app's ticket would jump to collected without the process (and its history would be rewritten).
    _, errors = failing_import(tmp_path, "tickets", ticket_row(booked, status="collected", completed_at="2030-01-02 10:00",
                                                                collected_at="2030-01-03 10:00"))
    assert f"row 2, column status: ticket {booked.reference} was booked in the app; its status history is the app's" in errors
    assert "row 2, column completed_at: ticket" in errors
    booked.refresh_from_db()
    assert booked.status == "received" and list(booked.status_events.values_list("to_status", flat=True)) == ["received"]
    # Allowed: the same status and dates, other columns changed.
    out, _ = run_import(tmp_path, "tickets", ticket_row(booked, final_price="49.00"))
    assert "1 updated" in out
    booked.refresh_from_db()
    assert (booked.status, float(booked.final_price), booked.source, booked.status_events.count()) == ("received", 49.0, "app", 1)

    # An imported ticket the app has since moved on: its history is now the app's too.
    content = TICKETS.format(store=store.code)
    run_import(tmp_path, "tickets", content)
    imported = RepairTicket.objects.get(reference="IMP-T-3")
    change_status(imported, "diagnosing", user=user)
    _, errors = failing_import(tmp_path, "tickets", content)  # the file as imported: IMP-T-3 "received"
    assert "row 4, column status: ticket IMP-T-3 was moved on in the app after its import" in errors
    assert "column received_at" not in errors and "row 2" not in errors and "row 3" not in errors
    history = [("received", None), ("diagnosing", user.id)]
    assert list(imported.status_events.order_by("at", "id").values_list("to_status", "user")) == history
    # A file that repeats the app's status is fine, and rewrites no history.
    out, _ = run_import(tmp_path, "tickets", content.replace("Stylus tip repair,,2025-06-01", "Stylus tip repair,diagnosing,2025-06-01"))
    assert "0 created, 0 updated, 3 unchanged" in out
    imported.refresh_from_db()
    assert imported.status == "diagnosing"
    assert list(imported.status_events.order_by("at", "id").values_list("to_status", "user")) == history
