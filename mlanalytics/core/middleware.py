"""Response headers Django does not set by itself: security headers, and Server-Timing on the dashboards
and the API (how long the server took, read by scripts/bench_pages.py and the browser's dev tools)."""
import time


class SecurityHeadersMiddleware:
    """Adds a Content-Security-Policy (self-hosted scripts only; Plotly needs inline styles), a
    Permissions-Policy that switches off device APIs the app never uses, and Server-Timing."""

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if request.path.startswith(("/admin/ml-analytics/", "/api/")):
            # Everything inside this middleware: the view, the endpoint's compute and the template rendering.
            app = f'app;dur={(time.perf_counter() - started) * 1000:.1f};desc="server"'
            existing = response.headers.get("Server-Timing")
            response.headers["Server-Timing"] = f"{app}, {existing}" if existing else app
        if not request.path.startswith("/admin/") or request.path.startswith("/admin/ml-analytics/"):
            response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response
