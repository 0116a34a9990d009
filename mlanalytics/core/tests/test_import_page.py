"""The import page: admins only, CSRF-protected, a size limit; upload → the dry run's report (downloadable as
CSV, the command's report) → import exactly the stored file; a file with problems is never imported; big files
run as a background job whose progress the status endpoint reports; the result is in the audit log."""
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from inventory.models import Part
from mlanalytics.core.models import AuditLogEntry, ImportJob

pytestmark = pytest.mark.django_db
GOOD = b"sku,name,category,unit_cost,price\nPAGE-1,Page screen,screen,10,20\nPAGE-2,Page battery,battery,5,12\n"
BAD = b"sku,name,category,unit_cost,price\nPAGE-3,Fine,screen,10,20\nPAGE-4,Huge,screen,1e20,20\nPAGE-5,Odd,gizmo,1,2\n"


@pytest.fixture
def admin_client(make_user):
    client = Client()
    client.force_login(make_user("admin"))
    return client


def upload(client, content, entity="parts", name="parts.csv", **fields):
    return client.post(reverse("dashboard-import"), {
        "entity": entity, "encoding": "utf-8", "file": SimpleUploadedFile(name, content, "text/csv"), **fields})


def job_urls(job):
    return {name: reverse(f"dashboard-import-{name}", args=[job.token])
            for name in ("job", "status", "report", "apply")}


def test_a_good_file_is_checked_then_imported_exactly_once(admin_client):
    response = upload(admin_client, GOOD)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_urls(job)["job"]
    assert job.status == "checked" and not Part.objects.filter(sku__startswith="PAGE-").exists()  # a dry run
    page = admin_client.get(job_urls(job)["job"]).content.decode()
    assert "The file is ready to import." in page
    assert "If imported now: 2 row(s) read — 2 created, 0 updated, 0 unchanged." in page
    report = admin_client.get(job_urls(job)["report"])
    assert report["Content-Type"].startswith("text/csv")
    assert report.content.decode().splitlines() == ["row,column,reason"]

    response = admin_client.post(job_urls(job)["apply"])
    job.refresh_from_db()
    assert response.status_code == 302 and job.status == "applied"
    assert set(Part.objects.filter(sku__startswith="PAGE-").values_list("sku", flat=True)) == {"PAGE-1", "PAGE-2"}
    entry = AuditLogEntry.objects.get(action="import.apply", object_id=str(job.pk))
    assert (entry.changes["created"], entry.changes["file"], entry.changes["sha256"]) == (2, "parts.csv", job.sha256)
    assert "See the records" in admin_client.get(job_urls(job)["job"]).content.decode()

    # A second press (another tab, a double click) imports nothing more.
    admin_client.post(job_urls(job)["apply"])
    assert AuditLogEntry.objects.filter(action="import.apply", object_id=str(job.pk)).count() == 1


def test_a_bad_file_shows_every_problem_and_cannot_be_imported(admin_client):
    upload(admin_client, BAD)
    job = ImportJob.objects.get()
    page = admin_client.get(job_urls(job)["job"]).content.decode()
    assert "This file cannot be imported." in page and "data-import-apply" not in page
    assert "100,000,000,000,000,000,000.00 is more than the database can hold (at most 9,999,999.99)" in page
    rows = list(csv.reader(io.StringIO(admin_client.get(job_urls(job)["report"]).content.decode())))
    assert rows == [["row", "column", "reason"],
                    ["3", "unit_cost", "100,000,000,000,000,000,000.00 is more than the database can hold (at most "
                                       "9,999,999.99)"],
                    ["4", "category", "'gizmo' is not one of: screen, battery, port, camera, back_glass, keyboard, "
                                      "storage, board, drive, consumable, other"]]
    # Forcing the apply anyway is refused, and nothing is written.
    response = admin_client.post(job_urls(job)["apply"], follow=True)
    assert "its check found problems" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "checked" and not Part.objects.filter(sku__startswith="PAGE-").exists()
    assert not AuditLogEntry.objects.filter(action__startswith="import.").exists()


def test_a_file_in_another_encoding_needs_its_encoding_chosen(admin_client):
    content = "sku,name,category,unit_cost,price\nPAGE-6,Câble,port,1,2\n".encode("cp1252")
    upload(admin_client, content)
    refused = ImportJob.objects.get()
    assert refused.check_report["errors"] == [[2, "name", "byte 0xE2 at byte offset 42 is not valid UTF-8"]]
    upload(admin_client, content, encoding="cp1252")
    job = ImportJob.objects.exclude(pk=refused.pk).get()
    admin_client.post(job_urls(job)["apply"])
    assert Part.objects.get(sku="PAGE-6").name == "Câble"


def test_big_files_run_in_the_background_with_progress(admin_client, settings, django_capture_on_commit_callbacks):
    settings.IMPORT_INLINE_MAX_KB = 0
    settings.BACKGROUND_JOBS = "eager"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        upload(admin_client, GOOD)
    job = ImportJob.objects.get()
    status = admin_client.get(job_urls(job)["status"]).json()
    assert (status["status"], status["running"], status["phase"]) == ("checking", True, "Waiting to start")
    assert "data-import-status" in admin_client.get(job_urls(job)["job"]).content.decode()  # the progress bar
    for callback in queued:
        callback()
    assert admin_client.get(job_urls(job)["status"]).json()["status"] == "checked"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(job_urls(job)["apply"])
    job.refresh_from_db()
    assert job.status == "applied" and Part.objects.filter(sku__startswith="PAGE-").count() == 2


def test_progress_is_reported_while_a_job_runs(admin_client, settings):
    from mlanalytics.imports import services

    seen = []
    job = ImportJob.objects.create(entity="parts", file_name="p.csv", size=len(GOOD), sha256="x", content=GOOD)
    writer = services._progress_writer(job)

    def spy(phase, done, total):
        writer(phase, done, total)
        seen.append(admin_client.get(job_urls(job)["status"]).json())

    from mlanalytics.imports import IMPORTERS

    IMPORTERS["parts"]({"progress": spy}).run(GOOD, dry_run=True)
    assert [(s["phase"], s["done"], s["total"]) for s in seen][-1] == ("Checking what would change", 2, 2)
    assert {s["phase"] for s in seen} >= {"Reading the rows", "Checking against the database"}


def test_the_file_imported_is_the_file_checked(admin_client):
    upload(admin_client, GOOD)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(content=GOOD.replace(b"PAGE-2", b"EVIL-2"))
    admin_client.post(job_urls(job)["apply"])
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.apply_report["errors"] == [[None, "", "the stored file is not the file that was checked"]]
    assert not Part.objects.filter(sku__in=["PAGE-1", "EVIL-2"]).exists()
    assert AuditLogEntry.objects.get(action="import.refused").changes["problems"] == 1


def test_the_size_limit_is_a_setting(admin_client, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0.00005  # 52 bytes
    response = upload(admin_client, GOOD)
    assert response.status_code == 400 and "this page takes files up to" in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("role", ["manager", "staff", "stakeholder"])
def test_only_admins_may_import(role, make_user, admin_client):
    upload(admin_client, GOOD)
    job = ImportJob.objects.get()
    client = Client()
    client.force_login(make_user(role))
    assert client.get(reverse("dashboard-import")).status_code == 403
    assert upload(client, GOOD).status_code == 403
    for name, url in job_urls(job).items():
        response = client.post(url) if name == "apply" else client.get(url)
        assert response.status_code == 403, name
    job.refresh_from_db()
    assert job.status == "checked" and ImportJob.objects.count() == 1
    assert "Import data" not in client.get(reverse("dashboard-home")).content.decode()


def test_uploads_and_imports_need_the_csrf_token(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    assert upload(client, GOOD).status_code == 403 and not ImportJob.objects.exists()
    trusted = Client()
    trusted.force_login(make_user("admin"))
    upload(trusted, GOOD)
    job = ImportJob.objects.get()
    assert client.post(job_urls(job)["apply"]).status_code == 403
    job.refresh_from_db()
    assert job.status == "checked" and not Part.objects.filter(sku__startswith="PAGE-").exists()
