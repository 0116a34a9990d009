"""The importer refuses, never guesses, never crashes: every file of the corpus of bad files
(fixtures/bad_imports, written by its make_corpus.py) ends in a report naming the row, column and reason
of each problem, the command exits with an error, and the database is exactly as it was."""
import csv
import hashlib
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from workflow.models import Customer, DeviceModel, RepairTicket

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).resolve().parent / "fixtures" / "bad_imports"
NOT_UTF8 = "is not valid UTF-8"
TOO_BIG = "is more than the database can hold (at most 2,147,483,647)"

# file, entity, expected problems as (row, column, reason); row "" is the file as a whole (as in --report).
CASES = [
    ("ords_stray_ff.csv", "ords", [("4", "group_identifier", f"byte 0xFF at byte offset 489 {NOT_UTF8}")]),
    ("parts_bad_byte_in_header.csv", "parts", [("1", "", f"byte 0xE9 at byte offset 5 {NOT_UTF8} (header cell 2)")]),
    ("parts_truncated_utf8.csv", "parts", [("2", "name", f"byte 0xE2 at byte offset 78 {NOT_UTF8}"),
                                           ("2", "name", f"byte 0x82 at byte offset 79 {NOT_UTF8}")]),
    ("suppliers_utf16.csv", "suppliers", [("", "", "the file is UTF-16 (it starts with a UTF-16 byte-order mark), "
                                                   "which the import does not read: save it as “CSV UTF-8” and "
                                                   "import that")]),
    ("customers_nul.csv", "customers", [("2", "name", "contains a NUL character (byte 0x00): is the file UTF-16 or "
                                                      "not a CSV file?")]),
    ("parts_long_cell.csv", "parts", [("3", "", "a cell is longer than 131,072 characters, the most one cell may hold "
                                                "(often a quote that is never closed)")]),
    ("parts_unterminated_quote.csv", "parts", [("3", "", 'a quoted cell that starts on this row is never closed '
                                                         '(a " is missing): the rest of the file was read into it')]),
    ("parts_text_after_quote.csv", "parts", [("2", "", "a closing quote is followed by more text in the same cell "
                                                       '(write a quote inside a quoted cell as "")')]),
    ("stock_on_hand_too_large.csv", "stock", [("2", "on_hand", f"99,999,999,999 {TOO_BIG}")]),
    ("parts_unit_cost_1e20.csv", "parts", [("2", "unit_cost", "100,000,000,000,000,000,000.00 is more than the "
                                                              "database can hold (at most 9,999,999.99)")]),
    ("parts_unit_cost_1e26.csv", "parts", [("2", "unit_cost", "'1e26' is far larger than the database can hold")]),
    ("purchase_orders_quantity_5e9.csv", "purchase_orders", [("2", "quantity", f"5,000,000,000 {TOO_BIG}")]),
    ("tickets_labour_minutes_too_large.csv", "tickets", [("2", "labour_minutes", f"99,999,999,999 {TOO_BIG}")]),
    ("parts_not_finite.csv", "parts", [("2", "min_order_qty", "'1e999999999' is far larger than the database can hold"),
                                       ("2", "price", "'Infinity' is not an amount"),
                                       ("2", "service_level", "'nan' is not a number"),
                                       ("2", "unit_cost", "'NaN' is not an amount")]),
    ("parts_too_many_places.csv", "parts", [("2", "service_level", "0.9555 has more than 3 decimal places")]),
    ("customers_year_one.csv", "customers", [("2", "created_at", "'0001-01-01' is outside 1900–2099")]),
    ("ords_year_one.csv", "ords", [("2", "event_date", "'0001-01-01' is outside 1900–2099")]),
    ("tickets_far_future.csv", "tickets", [("2", "received_at", "'9999-12-31T23:00-05:00' is outside 1900–2099")]),
    ("suppliers_missing_column.csv", "suppliers", [("", "quoted_lead_time_days",
                                                    "required column is missing from the header")]),
    ("parts_column_twice.csv", "parts", [("", "price", "the header names this column 2 times")]),
    ("empty.csv", "parts", [("", "", "the file is empty")]),
]


# Every model an import writes, directly or through the services it calls (ledger, reservations, audit, alerts).
WRITTEN = ("core.Store", "core.AuditLogEntry", "core.Alert", "workflow.Customer", "workflow.DeviceModel",
           "workflow.RepairType", "workflow.RepairTicket", "workflow.TicketStatusEvent", "inventory.Part",
           "inventory.Supplier", "inventory.SupplierPrice", "inventory.Stock", "inventory.StockMovement",
           "inventory.StockReservation", "inventory.PurchaseOrder", "inventory.PurchaseOrderLine")


def db_fingerprint():
    """Every row of every table an import writes, hashed per table (raw rows: no model conversions, so it is quick)."""
    prints = {}
    with connection.cursor() as cursor:
        for label in WRITTEN:
            meta = apps.get_model(label)._meta
            table, pk = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(meta.pk.column)
            cursor.execute(f"SELECT * FROM {table} ORDER BY {pk}")  # noqa: S608 (names from the models)
            rows = cursor.fetchall()
            prints[label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return prints


@pytest.fixture(scope="module")
def pristine(django_db_setup, django_db_blocker):
    """The fingerprint of the seeded database (each test starts from it: its writes are rolled back)."""
    with django_db_blocker.unblock():
        return db_fingerprint()


def refused(path, entity, tmp_path, *options):
    """Run import_csv on `path`; it must fail. Returns (message, the --report rows, stdout)."""
    report, out = tmp_path / "report.csv", StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_csv", entity, str(path), "--report", str(report), *options, stdout=out, stderr=StringIO())
    with report.open(newline="", encoding="utf-8") as handle:
        return str(failure.value), [tuple(r.values()) for r in csv.DictReader(handle)], out.getvalue()


def test_the_corpus_has_a_case_for_every_file():
    assert sorted(name for name, _, _ in CASES) == sorted(p.name for p in CORPUS.glob("*.csv"))


@pytest.mark.parametrize("name,entity,expected", CASES, ids=[c[0] for c in CASES])
def test_a_bad_file_is_reported_and_changes_nothing(name, entity, expected, tmp_path, pristine):
    message, problems, _ = refused(CORPUS / name, entity, tmp_path)
    assert problems == expected
    assert message.endswith("nothing was imported. Every problem is listed in " + str(tmp_path / "report.csv") + ".")
    assert db_fingerprint() == pristine
    # The dry run reports the same problems.
    assert refused(CORPUS / name, entity, tmp_path, "--dry-run")[1] == expected


def test_a_stray_byte_in_an_ords_file_leaves_imported_tickets_alone(tmp_path):
    """The incident: one 0xFF in a UTF-8 Open Repair Data file was decoded as Windows-1252, the import exited 0
    and rewrote every ticket of the file with mojibake. Now the file is refused and the tickets stay as they were."""
    bad = (CORPUS / "ords_stray_ff.csv").read_bytes()
    good = tmp_path / "ords-good.csv"
    good.write_bytes(bad.replace(b"\xff", "é".encode()))
    call_command("import_csv", "ords", str(good), stdout=StringIO())
    tickets = RepairTicket.objects.filter(reference__startswith="ORDS-corpus_")
    stored = list(tickets.order_by("reference").values())
    assert len(stored) == 3 and tickets.get(reference="ORDS-corpus_3").source_group == "Café Two"
    before = db_fingerprint()
    message, problems, out = refused(CORPUS / "ords_stray_ff.csv", "ords", tmp_path)
    assert problems == [("4", "group_identifier", f"byte 0xFF at byte offset 489 {NOT_UTF8}")]
    assert "choosing that encoding (--encoding, or Encoding on the import page)" in out
    assert db_fingerprint() == before and list(tickets.order_by("reference").values()) == stored
    assert not DeviceModel.objects.filter(brand__contains="Ã").exists()


def test_a_file_in_another_encoding_imports_when_its_encoding_is_given(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("external_ref,name\nCORPUS-C9,Zoë Brontë\n".encode("cp1252"))
    message, problems, _ = refused(path, "customers", tmp_path)
    assert problems == [("2", "name", f"byte 0xEB at byte offset 30 {NOT_UTF8}"),
                        ("2", "name", f"byte 0xEB at byte offset 37 {NOT_UTF8}")]
    call_command("import_csv", "customers", str(path), "--encoding", "cp1252", stdout=StringIO())
    assert Customer.objects.get(external_ref="CORPUS-C9").name == "Zoë Brontë"


def test_a_database_refusal_at_apply_time_is_a_report_not_a_traceback(tmp_path, monkeypatch):
    """The last net: should the checks let through a value the database refuses, the transaction rolls back
    and the refusal is a problem of the file."""
    from django.db import IntegrityError

    from mlanalytics.imports.entities import PartsImporter

    def refuse(self, rows):
        from inventory.models import Part

        Part.objects.filter(sku="CON-ADH-PH").update(name="changed before the refusal")
        raise IntegrityError("CHECK constraint failed: price_not_negative")

    monkeypatch.setattr(PartsImporter, "apply", refuse)
    path = tmp_path / "parts.csv"
    path.write_text("sku,name,category,unit_cost,price\nCORPUS-1,Screen,screen,10,20\n")
    before = db_fingerprint()
    message, problems, _ = refused(path, "parts", tmp_path)
    assert problems == [("", "", "the database refused the file, so nothing was imported "
                                 "(CHECK constraint failed: price_not_negative)")]
    assert db_fingerprint() == before


def test_a_dry_run_counts_what_the_import_would_do_and_writes_nothing(tmp_path):
    path = tmp_path / "parts.csv"
    path.write_text('sku,name,category,unit_cost,price\nCORPUS-1,Screen,screen,10,20\n'
                    'CON-ADH-PH,"Display adhesive, phone",consumable,0.60,1.20\n')
    before = db_fingerprint()
    out = StringIO()
    call_command("import_csv", "parts", str(path), "--dry-run", stdout=out)
    assert "dry run, nothing written — parts: 2 row(s) read — 1 created, 1 updated, 0 unchanged." in out.getvalue()
    assert db_fingerprint() == before


NASTY_CELLS = ["", " ", "0", "-1", "1e20", "1e26", "-1e26", "1e-30", "NaN", "inf", "-Infinity", "9" * 40, "1,000",
               "£12.5", "0001-01-01", "9999-12-31T23:59-12:00", "2025-02-30", "2025-05-01 10:00", "yes", "maybe",
               "x" * 5000, "\x00", "é", "LON1", "screen", "phone", "phone-screen", "collected", "ordered", "Fixed",
               '"', "a\nb", "1.23456789", "-0", "2147483648", "0.9555"]


def test_random_files_always_end_in_a_report(pristine):
    """Seeded random files of nasty cells (and a random byte flipped in some) through every importer: each
    run returns a result whose report prints, never an exception; dry runs write nothing."""
    import random

    from mlanalytics.imports import IMPORTERS

    chance = random.Random(20261207)
    for entity, importer in IMPORTERS.items():
        names = [c.name for c in importer.columns]
        for _ in range(25):
            columns = chance.sample(names, k=chance.randint(1, len(names)))
            lines = [",".join(columns)]
            for _ in range(chance.randint(0, 4)):
                cells = [chance.choice(NASTY_CELLS) for _ in columns]
                lines.append(",".join('"' + c.replace('"', '""') + '"' if chance.random() < .5 else c for c in cells))
            raw = bytearray("\n".join(lines).encode())
            if raw and chance.random() < .2:
                raw[chance.randrange(len(raw))] = chance.randrange(256)
            result = importer({"encoding": chance.choice(["utf-8", "cp1252"])}).run(bytes(raw), dry_run=True)
            assert result.summary() and all(str(e) for e in result.errors)
    assert db_fingerprint() == pristine
