"""Login, logout and token endpoints, and the health check."""
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt import views as jwt_views


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


@never_cache
def healthz(request):
    """Liveness: the process answers HTTP. It asks no database, cache or broker (a dead dependency must not
    get a healthy process restarted); /readyz (mlanalytics.core.health) checks those."""
    return JsonResponse({"status": "ok"})


def root_redirect(request):
    from django.shortcuts import redirect

    return redirect("dashboard-home")
