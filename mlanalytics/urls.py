"""Top-level URLs: dashboards under /admin/ml-analytics/, the Django admin, the three APIs, auth."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from mlanalytics.core import health
from mlanalytics.core import views as core_views
from mlanalytics.core.openapi import api_not_found

api_auth = [
    path("token/", core_views.TokenObtainView.as_view(), name="token_obtain"),
    path("token/refresh/", core_views.TokenRefreshView.as_view(), name="token_refresh"),
    path("logout/", core_views.TokenLogoutView.as_view(), name="token_logout"),
]

urlpatterns = [
    path("admin/ml-analytics/", include("mlanalytics.dashboard_urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", core_views.LogoutView.as_view(), name="logout"),
    # Django's own pages: a user changes their password; a reset link (sent by an admin) sets a new one. Either ends
    # every token and other session of the user (core.accounts).
    path("accounts/password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("api/auth/", include(api_auth)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/predictive-analytics/", include("predictive.api.urls")),
    path("api/inventory-management/", include("inventory.api.urls")),
    path("api/workflow-automation/", include("workflow.api.urls")),
    path("api/core/", include("mlanalytics.core.api_urls")),
    re_path(r"^api/", api_not_found),  # e.g. /api/core/alerts/0.5/: the documented JSON 404, not an HTML page
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # /metrics is answered by mlanalytics.core.metrics.MetricsMiddleware (before the Host check).
    path("", core_views.root_redirect),
]

# An API path answers JSON even when Django itself answers (unknown path, malformed request, crash).
handler400 = core_views.bad_request
handler403 = core_views.permission_denied
handler404 = core_views.page_not_found
handler500 = core_views.server_error
