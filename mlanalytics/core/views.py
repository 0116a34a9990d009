"""Login, logout and token endpoints, the health check, and the error answers (JSON on API paths)."""
from django.contrib.auth import views as auth_views
from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import defaults as error_views
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework_simplejwt import views as jwt_views

from .middleware import is_api_request


@method_decorator(never_cache, name="dispatch")
class LoginView(auth_views.LoginView):
    """Session login for the dashboards. Failed logins count against the budget of django-axes (core.logins),
    shared with the admin's login and the token endpoint."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@extend_schema(tags=["auth"], summary="Obtain an access and refresh token pair with username and password")
class TokenObtainView(jwt_views.TokenObtainPairView):
    """Failed attempts count against the login budget of django-axes (core.logins); once it is spent the answer
    is 429 with Retry-After, right password or not."""

    def finalize_response(self, request, response, *args, **kwargs):
        # Axes marks the request that authenticate() was given: here DRF's wrapper. Its middleware, which turns
        # the mark into the lock-out answer, reads Django's request underneath.
        if getattr(request, "axes_locked_out", False):
            request._request.axes_locked_out = True
        return super().finalize_response(request, response, *args, **kwargs)


@extend_schema(tags=["auth"], summary="Exchange a refresh token for a new pair (the old refresh token is blacklisted)")
class TokenRefreshView(jwt_views.TokenRefreshView):
    pass


@extend_schema(tags=["auth"], summary="Log out: blacklist the refresh token")
class TokenLogoutView(jwt_views.TokenBlacklistView):
    pass


@never_cache
def healthz(request):
    """Liveness: the process answers HTTP. It asks no database, cache or broker (a dead dependency must not
    get a healthy process restarted); /readyz (mlanalytics.core.health) checks those."""
    return JsonResponse({"status": "ok"})


# --- Error answers: JSON on API paths, the HTML pages elsewhere (mlanalytics.urls names them handler400 etc.) ---


def _api_error(status, detail, code):
    return JsonResponse({"detail": detail, "code": code}, status=status)


def bad_request(request, exception):
    if not is_api_request(request):
        return error_views.bad_request(request, exception)
    # Our own refusals (BadRequest) say what is wrong; Django's SuspiciousOperation messages stay in the log.
    detail = str(exception) if isinstance(exception, BadRequest) and str(exception) else "The request is malformed."
    return _api_error(400, detail, "bad_request")


def permission_denied(request, exception):
    if not is_api_request(request):
        return error_views.permission_denied(request, exception)
    return _api_error(403, "You do not have permission to perform this action.", "permission_denied")


def page_not_found(request, exception):
    if not is_api_request(request):
        return error_views.page_not_found(request, exception)
    return _api_error(404, "Not found.", "not_found")


def server_error(request):
    if not is_api_request(request):
        return error_views.server_error(request)
    return _api_error(500, "A server error occurred. It has been logged.", "server_error")


def root_redirect(request):
    from django.shortcuts import redirect

    return redirect("dashboard-home")
