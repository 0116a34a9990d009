"""Request checks and response headers Django does not do by itself: malformed requests refused before any
view runs, security headers, no caching of what a logged-in user sees, and Server-Timing on the dashboards and
the API (how long the server took, read by scripts/bench_pages.py and the browser's dev tools)."""
import time

from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers

API_PREFIX = "/api/"


def is_api_request(request):
    return request.path.startswith(API_PREFIX)


class MalformedRequestMiddleware:
    """Answers 400 to what no view can use, whatever the view: a NUL character in the path or in a query
    parameter (PostgreSQL refuses it in any query: a 500 from every filter), and on API paths a `limit` or
    `offset` that is not a whole number in range (past 64 bits the databases overflow: a 500; junk used to fall
    back to the default page silently). API paths get JSON; pages get the plain 400 page."""

    PAGE_PARAMETERS = {"limit": 1, "offset": 0}  # name: the least value
    PAGE_PARAMETER_MAX = 1_000_000_000

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = self.problem(request)
        if problem is None:
            return self.get_response(request)
        field, message = problem
        if is_api_request(request):
            return JsonResponse({field: [message]}, status=400)
        raise BadRequest(message)

    def problem(self, request):
        if "\x00" in request.path:
            return "path", "The address holds a NUL character."
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return name.replace("\x00", ""), "A query parameter holds a NUL character."
        if is_api_request(request):
            for name, least in self.PAGE_PARAMETERS.items():
                for value in request.GET.getlist(name):
                    if value == "":  # an empty value means "not given" (the OpenAPI contract says so)
                        continue
                    if not (value.isascii() and value.isdigit() and least <= int(value) <= self.PAGE_PARAMETER_MAX):
                        return name, f"A whole number from {least} to {self.PAGE_PARAMETER_MAX} is required."
        return None


class SecurityHeadersMiddleware:
    """Adds a Content-Security-Policy to every page, the Django admin included (self-hosted scripts only;
    Plotly and the admin need inline styles), a Permissions-Policy that switches off device APIs the app never
    uses, `Cache-Control: no-store` on API answers and on every page a logged-in user gets (a shared or back-button
    cache must not keep shop data), and Server-Timing."""

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if request.path.startswith(("/admin/ml-analytics/", API_PREFIX)):
            # Everything inside this middleware: the view, the endpoint's compute and the template rendering.
            app = f'app;dur={(time.perf_counter() - started) * 1000:.1f};desc="server"'
            existing = response.headers.get("Server-Timing")
            response.headers["Server-Timing"] = f"{app}, {existing}" if existing else app
        user = getattr(request, "user", None)
        if is_api_request(request) or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response
