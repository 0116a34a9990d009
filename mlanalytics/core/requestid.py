"""A request id for every HTTP request, carried into its log records and into the background jobs it starts.

The middleware takes the caller's X-Request-ID (a proxy or another service may have set it) when it is a
plain token, else makes one, and echoes it in the response. A logging filter stamps it on each record
(`request_id`); mlanalytics.core.jobs hands it to the job's thread, and the Celery signals below carry it in
the task message's headers to the worker, so a job's log lines name the request that queued it.
"""
import contextvars
import logging
import re
import uuid

HEADER = "X-Request-ID"
_current = contextvars.ContextVar("request_id", default=None)
# What we accept from outside: no spaces, quotes or newlines that could forge log lines.
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def get():
    return _current.get()


def set(value):  # noqa: A001  (module-level API: requestid.set / requestid.reset)
    """Make `value` the current request id; returns the token for reset()."""
    return _current.set(value)


def reset(token):
    _current.reset(token)


def new():
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so every later middleware, the view and their log records see the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if _SAFE.match(incoming) else new()
        request.request_id = request_id
        # Left set until the request is finished (request_finished below), so that Django's own "Not Found" /
        # "Unauthorized" records, written after the middleware returns, carry it too.
        _current.set(request_id)
        response = self.get_response(request)
        response.headers[HEADER] = request_id
        return response


def _request_finished(**kwargs):
    _current.set(None)


def connect_request_signals():
    from django.core.signals import request_finished

    request_finished.connect(_request_finished, dispatch_uid="mlanalytics-request-id")


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record (None outside a request or job) for the text and JSON formats."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = _current.get()
        return True


def connect_celery_signals():
    """The sending process puts the current id in the task message's headers; the worker sets it around the
    task, so everything the task logs carries it."""
    from celery import signals

    @signals.before_task_publish.connect(weak=False)
    def _add_header(headers=None, **kwargs):
        request_id = _current.get()
        if request_id and headers is not None:
            headers.setdefault("request_id", request_id)

    tokens = {}

    @signals.task_prerun.connect(weak=False)
    def _enter(task_id=None, task=None, **kwargs):
        request = getattr(task, "request", None)
        request_id = getattr(request, "request_id", None) or (getattr(request, "headers", None) or {}).get("request_id")
        if request_id:
            tokens[task_id] = _current.set(request_id)

    @signals.task_postrun.connect(weak=False)
    def _leave(task_id=None, **kwargs):
        token = tokens.pop(task_id, None)
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:  # set in another context (eager apply from a different thread): clear instead
                _current.set(None)
