"""The import page (admins): choose what the file holds, upload it, read the dry run's report (the same report
as `manage.py import_csv`, downloadable as CSV), then import exactly the file that was checked.

The upload is kept as an ImportJob and every later step names it by its token; a file whose check found
problems cannot be imported. Big files are checked and imported in the background while the page polls
the job's status for its progress bar (mlanalytics/imports/services.py).
"""
import io
import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from mlanalytics.core.models import ImportJob, Store
from mlanalytics.core.roles import IMPORT_DATA, has_capability

from . import IMPORTERS, services
from .base import DEFAULT_ENCODING, ENCODINGS, ImportResult, write_report

RECENT_JOBS = 10


def _require_import(request):
    if not has_capability(request.user, IMPORT_DATA):
        raise PermissionDenied("Only admins can import data.")


def _megabytes(size):
    return f"{size / 1024 / 1024:,.1f} MB"


class ImportForm(forms.Form):
    entity = forms.ChoiceField(label="What the file holds")
    file = forms.FileField(label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}))
    encoding = forms.ChoiceField(label="Encoding", choices=list(ENCODINGS.items()), initial=DEFAULT_ENCODING,
                                 help_text="UTF-8 unless you know the file was saved in another encoding.")
    store = forms.ChoiceField(label="Store (Open Repair Data only)", required=False,
                              help_text="Empty: a store per data provider.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = [(name, importer.title) for name, importer in IMPORTERS.items()]
        self.fields["store"].choices = [("", "A store per data provider")] + [
            (s.code, f"{s.code} · {s.name}") for s in Store.objects.filter(is_active=True).order_by("code")]
        limit = settings.IMPORT_MAX_UPLOAD_MB
        self.fields["file"].help_text = f"Comma, semicolon or tab separated, with a header row; at most {limit:g} MB."

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {_megabytes(upload.size)}; this page takes files up to {_megabytes(limit)}. "
                "Split it, or import it with manage.py import_csv.")
        return upload


@login_required
def import_page(request):
    _require_import(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = {"store": data["store"]} if data["entity"] == "ords" and data["store"] else {}
        job = services.create_job(user=request.user, entity=data["entity"], upload=data["file"],
                                  encoding=data["encoding"], options=options)
        return redirect("dashboard-import-job", token=job.token)
    importers = [{"name": name, "title": importer.title, "description_html": _with_code(importer.description),
                  "required": [c.name for c in importer.columns if c.required]} for name, importer in IMPORTERS.items()]
    recent = ImportJob.objects.select_related("user").defer("content")[:RECENT_JOBS]
    return render(request, "imports/upload.html", {
        "form": form, "importers": importers, "recent": [_job_row(job) for job in recent],
    }, status=400 if form.is_bound and not form.is_valid() else 200)


def _with_code(markdown):
    """A description written for docs/import.md, with its `code` spans as <code>."""
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(markdown)))  # escaped first


def _job_row(job):
    report = job.apply_report or job.check_report
    return {"job": job, "title": IMPORTERS[job.entity].title if job.entity in IMPORTERS else job.entity,
            "summary": ImportResult.from_dict(report).page_summary if report else job.failure or ""}


def _job(request, token):
    _require_import(request)
    return get_object_or_404(ImportJob.objects.select_related("user").defer("content"), token=token)


def _records_url(job):
    importer = IMPORTERS.get(job.entity)
    try:
        url = reverse(admin_urlname(importer.model._meta, "changelist")) if importer and importer.model else ""
    except NoReverseMatch:
        return ""
    return f"{url}?{importer.records_filter}" if url and importer.records_filter else url


@login_required
@require_GET
def import_job(request, token):
    job = _job(request, token)
    check = ImportResult.from_dict(job.check_report) if job.check_report else None
    applied = ImportResult.from_dict(job.apply_report) if job.apply_report else None
    shown = applied or check
    running = job.status in (ImportJob.Status.CHECKING, ImportJob.Status.APPLYING)
    return render(request, "imports/job.html", {
        "job": job, "title": IMPORTERS[job.entity].title, "check": check, "applied": applied, "shown": shown,
        "encoding_label": ENCODINGS.get(job.encoding, job.encoding), "running": running,
        "progress": _progress(job),
        "can_apply": job.status == ImportJob.Status.CHECKED and check is not None and check.ok,
        "records_url": _records_url(job) if job.status == ImportJob.Status.APPLIED else "",
        "file_problems": [e for e in shown.errors if e.row is None] if shown else [],
        "row_problems": [e for e in shown.errors if e.row is not None] if shown else [],
    })


def _progress(job):
    progress = services.progress_of(job)
    done, total = progress.get("done", 0), progress.get("total", 0)
    phase = {"reading": "Reading the rows", "checking": "Checking against the database",
             "applying": "Checking what would change" if job.status == ImportJob.Status.CHECKING else "Importing"}
    return {"phase": phase.get(progress.get("phase"), "Waiting to start"), "done": done, "total": total,
            "percent": round(100 * done / total) if total else 0}


@login_required
@require_GET
def import_status(request, token):
    """Polled by the job page while a check or an import runs."""
    job = _job(request, token)
    return JsonResponse({"status": job.status, "status_label": job.get_status_display(),
                         "running": job.status in (ImportJob.Status.CHECKING, ImportJob.Status.APPLYING),
                         **_progress(job)})


@login_required
@require_GET
def import_report(request, token):
    """The problems of the latest run (the import's, else the check's) as CSV: row, column, reason."""
    job = _job(request, token)
    report = job.apply_report or job.check_report
    result = ImportResult.from_dict(report) if report else ImportResult(entity=job.entity)
    out = io.StringIO()
    write_report(out, result.errors)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.entity}-{str(job.token)[:8]}-report.csv"'
    return response


@login_required
@require_POST
def import_apply(request, token):
    job = _job(request, token)
    try:
        services.start_apply(job, user=request.user)
    except services.ImportRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("dashboard-import-job", token=job.token)
    job.refresh_from_db(fields=["status"])
    if job.status == ImportJob.Status.APPLYING:
        messages.info(request, "Importing in the background: the bar below follows it; you may leave this page.")
    return redirect("dashboard-import-job", token=job.token)

