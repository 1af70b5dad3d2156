"""The patterns the flows' text fields are held to, in the schema and in Python.

Prefect's server checks a deployment's parameters against the schema before it stores a run, so
these patterns are what keeps a card number typed in the wrong field out of Prefect's database:
every one refuses a run of :data:`CARD_LIKE_DIGITS` digits or more (:data:`NO_CARD_NUMBER`),
as JSON schema cannot test Luhn. :mod:`flows._fields` puts them on the fields.
"""

from __future__ import annotations

from payflows.domain.money import FORM_AMOUNT_DIGITS, FORM_MAX_CENTS, check_form_amount
from payflows.vault import REFERENCE_PATTERN

__all__ = [
    "AMOUNT_DIGITS",
    "AMOUNT_PATTERN",
    "CARD_LIKE_DIGITS",
    "CARD_REF_PATTERN",
    "FORM_MAX_CENTS",
    "GATEWAY_ID_PATTERN",
    "ID_PATTERN",
    "IP_PATTERN",
    "NO_CARD_NUMBER",
    "TEXT_PATTERN",
    "UUID_PATTERN",
    "WORKER_ID_PATTERN",
    "amount_text",
    "optional",
]

#: The shortest digit run the schema refuses in text fields (the shortest card number).
CARD_LIKE_DIGITS = 12

#: A look-ahead that fails on 12+ digits joined by at most three of ``space . / _ -`` each
#: (``[\s\S]``, not ``.``: a newline must not hide a card number from the browser's check).
NO_CARD_NUMBER = rf"(?![\s\S]*\d(?:[ ./_\-]{{0,3}}\d){{{CARD_LIKE_DIGITS - 1}}})"

_ID_BODY = r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}"
#: A business id: letters, digits and ``._:/-``, no card-like digit run.
ID_PATTERN = rf"^{NO_CARD_NUMBER}{_ID_BODY}$"
#: A gateway's id (purchase, refund, recurring token): a UUID (which may hold 12 digits in a
#: row by chance, and is never a card number), or a business-id-like id without a digit run.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
GATEWAY_ID_PATTERN = rf"^(?:{_UUID}|{NO_CARD_NUMBER}{_ID_BODY})$"
#: A claims owner (``worker_id``): ``:``-separated parts, each a UUID (a sharded run's shards
#: are named after their parent's run id) or printable text without a card-like digit run.
_OWNER_PART = (
    rf"(?:{_UUID}|(?![^:]*\d(?:[ ./_\-]{{0,3}}\d){{{CARD_LIKE_DIGITS - 1}}})[^:\x00-\x1f\x7f]*)"
)
WORKER_ID_PATTERN = rf"^{_OWNER_PART}(?::{_OWNER_PART})*$"
UUID_PATTERN = _UUID
#: Free text (names, products): anything printable without a card-like digit run.
TEXT_PATTERN = rf"^{NO_CARD_NUMBER}[^\x00-\x1f\x7f]*$"
#: The vault's reference, and no card-like digit run inside it either.
CARD_REF_PATTERN = rf"^{NO_CARD_NUMBER}{REFERENCE_PATTERN.removeprefix('^')}"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: An IPv4 dotted quad, or an IPv6 address (it has a colon; hex digits, colons and dots only).
IP_PATTERN = rf"^(?:{_OCTET}(?:\.{_OCTET}){{3}}|(?=[^:]*:)[0-9A-Fa-f:.]{{2,45}})$"
#: The most digits an amount has: :data:`~payflows.domain.money.FORM_MAX_CENTS`, 11, fewer than
#: the shortest card number (:data:`CARD_LIKE_DIGITS`). That is 99999999999 in a currency without
#: decimals (VND, JPY); :func:`flows._forms.cents` holds a currency with decimals to fewer before
#: the point (999999999.99 ZAR, 99999999.999 BHD).
AMOUNT_DIGITS = FORM_AMOUNT_DIGITS
#: An amount in the currency's units: plain digits, at most three decimals (the most any
#: currency has; :func:`flows._forms.cents` holds each currency to its own), no sign, commas or
#: spaces (``1,500`` is 1.5 to a decimal-comma reader, 1500 to the form). Like every text field
#: it has no run of 12 digits or more, the point included: no amount the form takes can be a card
#: number typed in the wrong field.
AMOUNT_PATTERN = rf"^\s*{NO_CARD_NUMBER}\d{{1,{AMOUNT_DIGITS}}}(?:\.\d{{1,3}})?\s*$"


def optional(pattern: str) -> str:
    """``pattern`` (anchored ``^...$``) or the empty text: an optional field left empty."""
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})?$"


def amount_text(value: str | None) -> str | None:
    """An amount's shape (the schema's pattern): empty only where the amount is optional.

    :func:`payflows.domain.money.check_form_amount` without a currency (any currency's decimals):
    the reason of a refusal, never quoting the value. :func:`flows._forms.cents` then holds the
    amount to its currency."""
    if value == "":
        return value
    check_form_amount(value or "")
    return value
