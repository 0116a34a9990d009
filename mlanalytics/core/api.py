"""API plumbing shared by every app: the error handler and the base pieces of analytics responses."""
import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import ProtectedError
from django.utils import timezone
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import cache as result_cache
from .errors import DomainError
from .strict_input import StrictJSONTypes
from .roles import has_capability
from .scoping import resolve_stores

log = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler, plus domain errors (400/409), Django validation errors (400), protected deletes (409) and
    input the database cannot take (400): a number past its integer range (OverflowError on SQLite, DataError on
    PostgreSQL) or text it cannot store, wherever a serializer let it through."""
    if isinstance(exc, DomainError):
        return Response(exc.as_response_data(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        data = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError):
        return Response({"detail": "This record is in use and cannot be deleted."}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, (DataError, OverflowError)):
        request = context.get("request")
        log.warning("Input refused by the database on %s: %s", getattr(request, "path", "?"), exc)
        detail = "A value is out of range or holds characters that cannot be stored."
        return Response({"detail": detail, "code": "invalid_value"}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def analytics_envelope(*, data_window, model=None, **payload):
    """The common frame of every analytics response: generated_at, data_window, optional model block."""
    body = {"generated_at": timezone.now().isoformat(), "data_window": data_window}
    if model is not None:
        body["model"] = model
    body.update(payload)
    return body


# --- The base of every analytics endpoint ---------------------------------------------------------


class HasCapability(permissions.BasePermission):
    """Allows the request when the user's role has the view's `capability` (SPEC §6 matrix)."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        capability = getattr(view, "capability", None)
        if request.method == "POST" and getattr(view, "post_capability", None):
            capability = view.post_capability
        return capability is None or has_capability(request.user, capability)


class StoreScopedRequest(StrictJSONTypes, serializers.Serializer):
    """Request parameters shared by analytics endpoints: an optional store code (default: all of yours)."""

    store = serializers.CharField(required=False, allow_blank=True, help_text="Store code, e.g. LON1. Omit for all your stores.")


class AnalyticsAPIView(APIView):
    """Validate → resolve stores → compute (cached per data version) → respond.

    Subclasses set `capability`, `request_serializer`, `cache_domains` and implement
    `compute(params, stores, request)` returning the response body (a dict, JSON-ready) that holds
    at least `data_window` and, for model output, `model`. `generated_at` is added here.
    """

    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability = None
    request_serializer = StoreScopedRequest
    cache_domains = ()  # empty: never cached (e.g. endpoints with side effects)
    cache_timeout = 6 * 3600

    def get(self, request, *args, **kwargs):
        return self.handle(request, request.query_params)

    def post(self, request, *args, **kwargs):
        return self.handle(request, request.data)

    def validate(self, request, data):
        serializer = self.request_serializer(data=data, context={"request": request, "view": self})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def handle(self, request, data):
        params = self.validate(request, data)
        stores = resolve_stores(request.user, params.get("store"))
        if self.cache_domains and self.is_cacheable(params):
            key_params = {**{k: v for k, v in params.items() if k != "store"}, "stores": sorted(s.pk for s in stores)}
            body, hit = result_cache.cached_with_status(
                self.__class__.__name__, key_params, self.cache_domains,
                lambda: self._stamped(self.compute(params, stores, request)), self.cache_timeout,
            )
            # Lets load tests and operators see the hit rate from outside the process.
            return Response(body, headers={"X-Cache": "hit" if hit else "miss"})
        return Response(self._stamped(self.compute(params, stores, request)), headers={"X-Cache": "none"})

    def is_cacheable(self, params):
        return True

    @staticmethod
    def _stamped(body):
        return {"generated_at": timezone.now().isoformat(), **body}

    def compute(self, params, stores, request):
        raise NotImplementedError
