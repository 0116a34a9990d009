"""Security headers Django does not set by itself."""


class SecurityHeadersMiddleware:
    """Adds a Content-Security-Policy (self-hosted scripts only; Plotly needs inline styles) and a
    Permissions-Policy that switches off device APIs the app never uses."""

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/") or request.path.startswith("/admin/ml-analytics/"):
            response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response
