"""Imports from the dashboards' import page: an uploaded file is stored as an ImportJob, checked by a dry run,
then applied — the stored bytes, never a second upload — by the same importers as `manage.py import_csv`.

Files up to IMPORT_INLINE_MAX_KB run within the request; larger ones through `mlanalytics.core.jobs` (a thread
of the web process in the embedded default, a Celery worker with a broker), reporting their progress to the
cache, where the page's status endpoint reads it. An import's result is written to the audit log.
"""
import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from mlanalytics.core import audit, jobs
from mlanalytics.core.models import ImportJob

from . import IMPORTERS
from .base import ImportResult, RowError

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 3600


class ImportRefused(Exception):
    """The job cannot be applied (its check found problems, or it was applied or started already)."""


def progress_key(job):
    return f"import-progress:{job.token}"


def progress_of(job):
    """{phase, done, total} of a running job, as its importer last reported it (empty before it starts)."""
    return cache.get(progress_key(job)) or {}


def _progress_writer(job):
    key = progress_key(job)

    def write(phase, done, total):
        cache.set(key, {"phase": phase, "done": done, "total": total}, PROGRESS_SECONDS)

    return write


def create_job(*, user, entity: str, upload, encoding: str, options: dict) -> ImportJob:
    """Store the uploaded file and start its dry run (in the request when it is small)."""
    content = upload.read()
    job = ImportJob.objects.create(
        user=user, entity=entity, encoding=encoding, options=options, file_name=upload.name[:255], size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), content=content,
    )
    _start(job, "mlanalytics.imports.services.run_check")
    return job


def start_apply(job: ImportJob, *, user) -> ImportJob:
    """Import the file that was checked. Refused unless its dry run was clean and it was not imported yet;
    the status moves in one conditional update, so two clicks cannot import it twice."""
    if job.status != ImportJob.Status.CHECKED or not job.check_report or job.check_report["errors"]:
        raise ImportRefused("This file cannot be imported: " + (
            "its check found problems. Correct the file and upload it again." if job.check_report and
            job.check_report["errors"] else f"it is {job.get_status_display().lower()}."))
    checked = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKED)
    claimed = checked.update(status=ImportJob.Status.APPLYING)
    if not claimed:
        raise ImportRefused("This file is already being imported.")
    job.refresh_from_db()
    audit.record(user, "import.start", object_type="core.importjob", object_id=str(job.pk),
                 changes={"entity": job.entity, "file": job.file_name, "sha256": job.sha256})
    _start(job, "mlanalytics.imports.services.run_apply")
    return job


def _start(job, path):
    if job.size <= settings.IMPORT_INLINE_MAX_KB * 1024:
        jobs.call(path, job.pk)
    else:
        # After the commit: a worker must find the job (and its file) when it starts.
        transaction.on_commit(lambda: jobs.enqueue(path, job.pk))


def _importer(job):
    options = {**job.options, "encoding": job.encoding, "user": job.user, "progress": _progress_writer(job)}
    return IMPORTERS[job.entity](options)


def run_check(job_id: int) -> None:
    """The dry run: every problem, note and count the import would have; nothing written."""
    job = ImportJob.objects.get(pk=job_id)
    try:
        result = _importer(job).run(bytes(job.content), dry_run=True)
    except Exception as exc:  # the page shows a failed check; the log has the traceback
        log.exception("import check %s failed", job.pk)
        job.status, job.failure = ImportJob.Status.FAILED, f"The check stopped with an unexpected error: {exc}"
    else:
        job.status, job.check_report = ImportJob.Status.CHECKED, result.as_dict()
    job.checked_at = timezone.now()
    job.save(update_fields=["status", "check_report", "failure", "checked_at"])
    cache.delete(progress_key(job))


def run_apply(job_id: int) -> None:
    """Import the stored file in one transaction; its result goes to the job and the audit log."""
    job = ImportJob.objects.get(pk=job_id)
    content = bytes(job.content)
    if hashlib.sha256(content).hexdigest() != job.sha256:
        result = ImportResult(entity=job.entity)
        result.errors.append(_file_problem("the stored file is not the file that was checked"))
    else:
        try:
            result = _importer(job).run(content)
        except Exception as exc:  # the transaction rolled back; say so rather than leave the job "importing"
            log.exception("import %s failed", job.pk)
            result = ImportResult(entity=job.entity)
            result.errors.append(_file_problem(
                f"the import stopped with an unexpected error; nothing was imported ({exc})"))
    job.apply_report = result.as_dict()
    job.status = ImportJob.Status.APPLIED if result.ok else ImportJob.Status.FAILED
    job.applied_at = timezone.now()
    job.save(update_fields=["apply_report", "status", "applied_at"])
    cache.delete(progress_key(job))
    audit.record(job.user, "import.apply" if result.ok else "import.refused", object_type="core.importjob",
                 object_id=str(job.pk), changes={
                     "entity": job.entity, "file": job.file_name, "sha256": job.sha256, "rows": result.rows,
                     "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                     "problems": len(result.errors), "summary": result.summary()})


def _file_problem(reason):
    return RowError(None, "", reason)
