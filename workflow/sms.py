"""SMS provider adapters. SMS_PROVIDER selects one:

- "outbox" (default): records each message in memory (`OutboxProvider.sent`) and sends nothing —
  the development setting and the test double. Its messages are marked `recorded`, not `sent`, and
  `manage.py check --deploy` warns when production runs with it.
- "http": POSTs JSON {"to", "from", "text", "reference"} to SMS_API_URL with
  "Authorization: Bearer SMS_API_KEY"; a 2xx answer with {"id": ...} (or {"message_id": ...}) is
  a success, anything else raises SMSDeliveryError and the outbox retries with backoff. Most SMS
  gateways (or a small relay in front of them) accept this shape.
"""
import json
import threading
import urllib.error
import urllib.request
import uuid

from django.conf import settings


class SMSDeliveryError(Exception):
    pass


class OutboxProvider:
    """Records what would have been sent. `sent` is shared by all instances in the process."""

    delivers_externally = False
    sent = []
    _lock = threading.Lock()

    def send(self, *, to, text, sender, reference=""):
        provider_id = f"outbox-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.sent.append({"id": provider_id, "to": to, "text": text, "from": sender, "reference": reference})
        return provider_id

    @classmethod
    def clear(cls):
        with cls._lock:
            cls.sent.clear()


class HttpProvider:
    """A JSON-over-HTTPS SMS gateway."""

    delivers_externally = True

    def __init__(self, url, api_key, timeout=10):
        if not url:
            raise SMSDeliveryError("SMS_PROVIDER is http but SMS_API_URL is not set")
        self.url, self.api_key, self.timeout = url, api_key, timeout

    def send(self, *, to, text, sender, reference=""):
        payload = json.dumps({"to": to, "from": sender, "text": text, "reference": reference}).encode()
        request = urllib.request.Request(self.url, data=payload, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}",
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read().decode() or "{}"
        except urllib.error.HTTPError as exc:
            raise SMSDeliveryError(f"gateway answered {exc.code}: {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SMSDeliveryError(f"gateway unreachable: {exc}") from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise SMSDeliveryError(f"gateway answered something that is not JSON: {body[:200]!r}") from exc
        provider_id = data.get("id") or data.get("message_id")
        if not provider_id:
            raise SMSDeliveryError(f"gateway gave no message id: {body[:200]!r}")
        return str(provider_id)


PROVIDERS = {"outbox": OutboxProvider, "http": HttpProvider}


def provider_class():
    """The adapter class SMS_PROVIDER names (None when it names none)."""
    return PROVIDERS.get(settings.SMS_PROVIDER)


def get_provider():
    if settings.SMS_PROVIDER == "http":
        return HttpProvider(settings.SMS_API_URL, settings.SMS_API_KEY)
    if settings.SMS_PROVIDER == "outbox":
        return OutboxProvider()
    raise SMSDeliveryError(f"unknown SMS_PROVIDER '{settings.SMS_PROVIDER}' (use outbox or http)")
