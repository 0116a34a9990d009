"""Accounts: ending a user's tokens, and the admin-triggered password reset.

`revoke_tokens()` is the one writer of `User.token_version`. `User.save()` calls it when a new password is saved
(the change-password page, the reset link, the admin's password form, `manage.py changepassword`) and when the
account is deactivated; the reset below calls it at once. Sessions need nothing more: Django ends every session
of a user whose password changed, and an inactive user's session finds no user.
"""
from urllib.parse import urlsplit

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from . import audit
from .errors import DomainError
from .models import User


class NoEmailAddress(DomainError):
    code = "no_email_address"


def revoke_tokens(*, user: User, by: User | None = None, reason: str = "credentials changed") -> int:
    """Ends every token issued to `user` so far: raises their token version, which the API checks on every request
    (access tokens), and blacklists every outstanding refresh token. Returns how many refresh tokens it blacklisted."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
        user.token_version = User.objects.values_list("token_version", flat=True).get(pk=user.pk)
        outstanding = list(OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(),
                                                           blacklistedtoken__isnull=True))
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in outstanding],
                                             ignore_conflicts=True)
        audit.record(by, "tokens_revoked", user, changes={"reason": reason, "refresh_tokens": len(outstanding),
                                                          "token_version": user.token_version})
    return len(outstanding)


def send_password_reset(*, user: User, base_url: str, by: User | None = None) -> None:
    """The admin-triggered reset: the user's password stops working and every token and session ends at once (the
    account may be in the wrong hands), and the user is emailed a one-time link (Django's reset token, valid for
    PASSWORD_RESET_TIMEOUT) to choose a new password on Django's reset page. `base_url` is the site's address as
    the user reaches it, e.g. https://repairs.example.co.uk."""
    if not user.email:
        raise NoEmailAddress(f"{user.username} has no email address to send a reset link to.", field="email")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    revoke_tokens(user=user, by=by, reason="password reset by an admin")
    site = urlsplit(base_url)
    context = {
        "email": user.email, "user": user, "domain": site.netloc, "site_name": site.netloc, "protocol": site.scheme,
        # Made after the password was cleared: the token is tied to the password, so it is valid for the new one only.
        "uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user),
    }
    PasswordResetForm().send_mail("registration/password_reset_subject.txt", "registration/password_reset_email.txt",
                                  context, None, user.email)
