"""Shared analytics endpoints of the core app: ticket intake (the example page's endpoint) and the
home page's figures. Thin: validate -> selector -> response."""
from datetime import date

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .api import AnalyticsAPIView, StoreScopedRequest
from .roles import VIEW_WORKFLOW
from .scoping import resolve_stores


@extend_schema_field({"type": "string", "format": "date", "pattern": r"^20\d\d-\d\d-\d\d$"})
class RecentDateField(serializers.DateField):
    """A date of the years 2000 to 2099, stated in the schema as a pattern (JSON Schema has no date minimum)."""


class TicketIntakeRequest(StoreScopedRequest):
    days = serializers.IntegerField(min_value=7, max_value=365, default=56,
                                    help_text="How many days to show, 7 to 365.")
    end = RecentDateField(required=False, help_text="Last day to show (default: yesterday), not in the future.")
    category = serializers.ChoiceField(
        choices=[("phone", "Phone"), ("tablet", "Tablet"), ("laptop", "Laptop"), ("console", "Console"),
                 ("watch", "Watch"), ("other", "Other")],
        required=False, allow_blank=True, help_text="Only devices of this category.",
    )

    def validate_end(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError("The last day cannot be in the future.")
        if not date(2000, 1, 1) <= value <= date(2099, 12, 31):
            raise serializers.ValidationError("The last day must be in the years 2000 to 2099.")
        return value


@extend_schema(tags=["core"], summary="Tickets received per day with the same-weekday baseline, by store, category and hour",
               parameters=[TicketIntakeRequest], responses={200: OpenApiTypes.OBJECT})
class TicketIntakeView(AnalyticsAPIView):
    """GET /api/core/ticket-intake/ — daily intake against the same-weekday baseline (see selectors)."""

    capability = VIEW_WORKFLOW
    request_serializer = TicketIntakeRequest
    cache_domains = ("tickets",)
    http_method_names = ["get", "head", "options"]

    def compute(self, params, stores, request):
        return selectors.ticket_intake(stores, days=params["days"], end=params.get("end"),
                                       category=params.get("category") or None)


class HomeRequest(StoreScopedRequest):
    pass


@extend_schema(tags=["core"], summary="The dashboard home figures: tickets by status, intake today, stock value, open alerts",
               parameters=[HomeRequest], responses={200: OpenApiTypes.OBJECT})
class HomeFiguresView(APIView):
    """GET /api/core/home/ — not cached: it is small and must move with every ticket and alert."""

    permission_classes = [permissions.IsAuthenticated]

    def get(self, request):
        serializer = HomeRequest(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        stores = resolve_stores(request.user, serializer.validated_data.get("store"))
        return Response(selectors.home_kpis(request.user, stores))
