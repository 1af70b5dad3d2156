"""Refusals the HTTP layer sends as they are, and the small parsers every request body goes through.

CHIP answers a bad body with one 400 naming every bad field (``{"<field>": [{"message",
"code"}]}``); :class:`FieldErrors` collects them so a handler can report all at once. The parsers
never raise on odd input: they return ``None`` (or record a field error) so that no body, however
malformed, can turn into a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = [
    "MAX_CENTS",
    "Answer",
    "FieldErrors",
    "GatewayError",
    "NotFound",
    "cents",
    "flag",
    "quantity",
    "state_error",
    "text",
]

#: The largest amount the sandbox keeps: a signed 64-bit integer, as a real gateway's database
#: column would be. Anything larger is refused with 400 instead of breaking a later listing.
MAX_CENTS: Final = 2**63 - 1
#: A quantity with more digits than this is nonsense, and Decimal arithmetic on it is slow.
_MAX_QUANTITY_DIGITS: Final = 18


class GatewayError(Exception):
    """A refusal the HTTP layer sends as is: ``status`` and a field-keyed ``body``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body

    @classmethod
    def field(cls, field: str, code: str, message: str) -> GatewayError:
        return cls(400, {field: [{"message": message, "code": code}]})

    @classmethod
    def fields(cls, errors: dict[str, list[dict[str, str]]]) -> GatewayError:
        return cls(400, errors)


class NotFound(GatewayError):
    def __init__(self) -> None:
        super().__init__(404, {"detail": "No such object"})


def state_error(code: str, message: str) -> GatewayError:
    """An operation the purchase's status does not allow: ``400 {"__all__": [...]}``."""
    return GatewayError.field("__all__", code, message)


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer whose HTTP status is part of the outcome (S2S, 3DS callback, charge)."""

    status_code: int
    body: dict[str, Any]
    #: The always-times-out card: committed, but the HTTP layer holds the answer back.
    hold_back: bool = False


class FieldErrors:
    """Collects field errors so one 400 names every bad field, as CHIP does."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, str]]] = {}

    def add(self, field: str, code: str, message: str) -> None:
        self.items.setdefault(field, []).append({"message": message, "code": code})

    def raise_if_any(self) -> None:
        if self.items:
            raise GatewayError.fields(self.items)


def text(body: dict[str, Any], key: str, errors: FieldErrors, *, limit: int | None = None) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(key, "invalid", "Must be a string.")
        return ""
    if limit is not None and len(value) > limit:
        errors.add(key, "max_length", f"At most {limit} characters.")
    return value


def flag(body: dict[str, Any], key: str, errors: FieldErrors) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        errors.add(key, "invalid", "Must be true or false.")
        return False
    return value


def cents(value: Any) -> int | None:
    """An amount in cents: an int, or a string of ASCII digits (the guide sends ``"10000"``).

    ``None`` for anything else, negative, or past :data:`MAX_CENTS`.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip()
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
            return None
        value = int(digits)
    if isinstance(value, int):
        return value if 0 <= value <= MAX_CENTS else None
    return None


def quantity(value: Any) -> Decimal | None:
    """A product quantity > 0 (int, float or decimal string); ``None`` when it is not one."""
    if value is None:
        return Decimal(1)
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number <= 0 or number.adjusted() >= _MAX_QUANTITY_DIGITS:
        return None
    return number
