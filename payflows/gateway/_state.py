"""A purchase answer read for the few fields a bulk charge loop needs, without a full model.

:class:`~payflows.gateway.Purchase` validates every field of the answer (status history,
products, payment, attempts, timestamps...): right for most callers, but in the billing run it
was a tenth of the client's CPU per charge for two fields that matter (``id`` and ``status``)
and three that are recorded (the newest decline, the card brand, the masked PAN). This reads
exactly those (and ``updated_on``, which dates a read-back), as strictly as the model does (a
missing id, an unknown status or a decline without a code is an unreadable answer, which the
client turns into an unknown outcome), and ignores the rest. The hold sweep reads its read-backs
and capture / release answers this way too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payflows.domain.declines import DeclineInfo
from payflows.domain.states import Status
from payflows.gateway._models.wire import to_utc

__all__ = ["PurchaseState"]


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name}: not a string")


def _object(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise ValueError(f"{name}: not an object")


def _cents(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"payment.{name}: not integer cents")
    return value


def _when(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"payment.{name}: not a timestamp")


@dataclass(frozen=True, slots=True)
class PurchaseState:
    """``id``, ``status``, the newest decline and the card shown, as a purchase answer says."""

    id: str
    status: Status
    last_error: DeclineInfo | None = None
    card_brand: str | None = None
    masked_pan: str | None = None
    #: The incoming payment as the answer reports it (None: not paid, or not said): what the
    #: ledger keeps as paid amount, fee and net of the attempt.
    paid_cents: int | None = None
    fee_cents: int | None = None
    net_cents: int | None = None
    paid_at: datetime | None = None
    #: When the gateway last changed the purchase (the hold sweep dates its read-backs by it).
    updated_on: datetime | None = None

    @classmethod
    def from_body(cls, body: Any) -> PurchaseState:
        """Read a decoded purchase answer; ``ValueError`` when it is not one."""
        if not isinstance(body, Mapping):
            raise ValueError("body: not an object")
        purchase_id = _text(body, "id")
        if not purchase_id:
            raise ValueError("id: missing")
        status_text = _text(body, "status")
        if not status_text:
            raise ValueError("status: missing")
        status = Status(status_text)
        data = _object(body, "transaction_data")
        attempts = data.get("attempts")
        attempts = [] if attempts is None else attempts
        if not isinstance(attempts, list):
            raise ValueError("transaction_data.attempts: not a list")
        decline = None
        for attempt in attempts:  # newest first, as the gateway lists them
            if not isinstance(attempt, Mapping):
                raise ValueError("transaction_data.attempts: not an object")
            error = _object(attempt, "error")
            if error and not attempt.get("successful"):
                code = _text(error, "code")
                if not code:
                    raise ValueError("transaction_data.attempts.error.code: missing")
                decline = DeclineInfo(
                    code,
                    _text(error, "message") or "",
                    _text(error, "network_code"),
                    _text(error, "advice_code"),
                )
                break
        extra = _object(data, "extra")
        payment = _object(body, "payment")
        incoming = bool(payment) and not payment.get("is_outgoing")
        return cls(
            purchase_id,
            status,
            decline,
            _text(extra, "card_brand"),
            _text(extra, "masked_pan"),
            _cents(payment, "amount") if incoming else None,
            _cents(payment, "fee_amount") if incoming else None,
            _cents(payment, "net_amount") if incoming else None,
            _when(payment, "paid_on") if incoming else None,
            to_utc(body.get("updated_on")),
        )
