"""Customer contact data (e-mail addresses, phone numbers) is shown in full only to people whose role may
message customers (`send_messages`: staff, managers, admins). Everyone else — stakeholders — sees it
masked, on every surface: the API, the pages (which call the API), their PDF and Excel exports, and the
alerts rules raise (those are shown to every role, so their text always gets masked values).

Two ways in, one rule:
- templates render with a masked customer (`masked_customer`), so no filter can undo the mask;
- answers are walked (`mask_payload`) and every recipient field (`to`, `to_address`, `email`,
  `phone`) that holds an address is masked.
"""
import re

from mlanalytics.core.roles import SEND_MESSAGES, has_capability

CONTACT_KEYS = frozenset({"to", "to_address", "email", "phone"})
_PHONE_LIKE = re.compile(r"\+?[\d\s().-]{6,}")  # digits and the usual separators only (a date or time is not)


def shows_contacts(user):
    """Whether `user` may see customers' full e-mail addresses and phone numbers."""
    return has_capability(user, SEND_MESSAGES)


def mask_email(address):
    """"ada.lovelace@example.com" -> "a***@example.com"."""
    if not address:
        return address
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}"


def mask_phone(number):
    """"+44 7700 900173" -> "+44***73"."""
    if not number:
        return number
    return f"{number[:3]}***{number[-2:]}"


def mask_address(address):
    """An e-mail address or a phone number, masked (whichever it is)."""
    if not address:
        return address
    return mask_email(address) if "@" in address else mask_phone(address)


def masked_customer(values):
    """A template's `customer` values with the e-mail address and phone number masked."""
    return {**values, "email": mask_email(values.get("email")), "phone": mask_phone(values.get("phone"))}


def _looks_like_address(value):
    return isinstance(value, str) and "***" not in value and ("@" in value or bool(_PHONE_LIKE.fullmatch(value)))


def mask_payload(value):
    """A copy of a JSON-like answer with every address under a recipient key masked."""
    if isinstance(value, dict):
        return {k: mask_address(v) if k in CONTACT_KEYS and _looks_like_address(v) else mask_payload(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_payload(v) for v in value]
    return value
