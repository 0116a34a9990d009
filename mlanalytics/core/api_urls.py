"""Shared REST resources (alerts, stores, current user)."""
app_name = "core-api"

urlpatterns = []
