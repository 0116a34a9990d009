"""Login, logout and token endpoints, the health check, and the error answers (JSON on API paths)."""
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.core.exceptions import BadRequest
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import defaults as error_views
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt import views as jwt_views

from .middleware import is_api_request


class LoginRateLimit:
    """Counts login POSTs per client address in the cache; over the limit answers 429 + Retry-After."""

    def __init__(self, rate):
        count, _, period = rate.partition("/")
        self.limit = int(count)
        self.window = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}.get(period, 60)

    def check(self, request):
        # REMOTE_ADDR, never X-Forwarded-For: the client writes that header, so keying on it lets anyone
        # reset their count. Behind the TLS proxy, daphne --proxy-headers sets REMOTE_ADDR from the
        # proxy's X-Forwarded-For (Caddy replaces whatever the client sent with the client's address).
        address = request.META.get("REMOTE_ADDR", "")
        key = f"login-attempts:{address}"
        attempts = cache.get_or_set(key, 0, timeout=self.window)
        if attempts >= self.limit:
            return self.window
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=self.window)
        return None


@method_decorator(never_cache, name="dispatch")
class LoginView(auth_views.LoginView):
    """Session login for the dashboards, stricter rate limit than the API."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        retry_after = LoginRateLimit(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"]).check(request)
        if retry_after:
            response = HttpResponse("Too many login attempts. Try again in a minute.", status=429, content_type="text/plain")
            response["Retry-After"] = str(retry_after)
            return response
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    pass


@extend_schema(tags=["auth"], summary="Obtain an access and refresh token pair with username and password")
class TokenObtainView(jwt_views.TokenObtainPairView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


@extend_schema(tags=["auth"], summary="Exchange a refresh token for a new pair (the old refresh token is blacklisted)")
class TokenRefreshView(jwt_views.TokenRefreshView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


@extend_schema(tags=["auth"], summary="Log out: blacklist the refresh token")
class TokenLogoutView(jwt_views.TokenBlacklistView):
    pass


def healthz(request):
    """Liveness and dependency check for the load balancer: database and cache reachable."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # report, do not raise: this endpoint exists to say what is wrong
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("healthz", 1, 5)
        checks["cache"] = "ok" if cache.get("healthz") == 1 else "error"
    except Exception as exc:
        checks["cache"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503)


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
