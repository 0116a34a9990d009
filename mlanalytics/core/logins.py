"""The login policy around django-axes: whose failures count together, and what a locked-out client gets.

Axes counts failed logins in the database (it works the same with or without Redis) for every surface that
authenticates through Django — the dashboards' login page, the Django admin's login and the token endpoint —
and locks out an address, or a username, once either has spent `LOGIN_FAILURE_LIMIT` failures, until
`LOGIN_LOCKOUT_MINUTES` pass without another. Settings: mlanalytics/settings.py, "Logins".
"""
from axes.helpers import get_cool_off
from django.http import JsonResponse
from django.shortcuts import render

from .middleware import is_api_request

LOCKED_OUT = "Too many failed logins from this address or for this username."


def client_address(request):
    """REMOTE_ADDR, never X-Forwarded-For: the client writes that header, so keying on it lets anyone open a new
    budget per attempt. Behind the TLS proxy, daphne --proxy-headers sets REMOTE_ADDR from the proxy's
    X-Forwarded-For (Caddy replaces whatever the client sent with the client's address)."""
    return request.META.get("REMOTE_ADDR") or None


def lockout_response(request, *args, **kwargs):
    """429 with Retry-After: JSON on API paths, the login page's look elsewhere. Axes calls this with
    (request, original_response, credentials), and in async mode with (request, credentials); neither is used."""
    seconds = int(get_cool_off(request).total_seconds())
    minutes = max(1, round(seconds / 60))
    message = f"{LOCKED_OUT} Try again in {minutes} minutes."
    if is_api_request(request):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
