"""Shared REST resources: alerts, the ticket-intake endpoint and the home figures."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from . import alerts_api, api_views

app_name = "core-api"

router = SimpleRouter()
router.register("alerts", alerts_api.AlertViewSet, basename="alert")

urlpatterns = [
    path("ticket-intake/", api_views.TicketIntakeView.as_view(), name="ticket-intake"),
    path("home/", api_views.HomeFiguresView.as_view(), name="home"),
    *router.urls,
]
