"""Webhooks as received (stored once, card data scrubbed) and 3-D Secure challenges in wait."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from payflows.domain.cards import luhn_valid, mask_pan
from payflows.ledger._common import aware, insert_for, table_of
from payflows.ledger.db import UnitOfWork
from payflows.ledger.models import ThreeDSChallenge, WebhookEvent, utcnow

__all__ = [
    "complete_challenge",
    "get_challenge",
    "mark_webhook_applied",
    "record_challenge",
    "record_webhook_event",
    "webhook_dedupe_key",
]


#: Keys whose values are card data or authentication secrets, dropped from stored payloads.
_CARD_KEYS = frozenset(
    {
        "card_number",
        "cardnumber",
        "pan",
        "cvc",
        "cvv",
        "cvv2",
        "expires",
        "expiry_month",
        "expiry_year",
        "exp_month",
        "exp_year",
        "cavv",
        "xid",
        "network_token",
        "network_token_cryptogram",
        "cryptogram",
    }
)


_DIGITS_ONLY = re.compile(r"^\d{13,19}$")


def _scrub(value: Any) -> Any:
    """A copy of a payload with card fields dropped and any PAN-shaped string masked.

    The receiver should never pass card data here; this is the last line, so that a payload
    shape nobody foresaw cannot write a PAN into the database.
    """
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if str(k).lower() not in _CARD_KEYS}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        digits = re.sub(r"[\s-]", "", value)
        if _DIGITS_ONLY.match(digits) and luhn_valid(digits):
            return mask_pan(digits)
    return value


def webhook_dedupe_key(raw_body: bytes) -> str:
    """The dedupe key of a webhook: the sha256 of its raw body, hex."""
    return hashlib.sha256(raw_body).hexdigest()


def record_webhook_event(
    uow: UnitOfWork,
    dedupe_key: str,
    *,
    event_type: str,
    purchase_id: str | None = None,
    status: str | None = None,
    event_at: datetime | None = None,
    payload: Mapping[str, Any] | None = None,
    received_at: datetime | None = None,
    applied: bool = False,
) -> bool:
    """Store a received webhook once; False when this dedupe key was already stored.

    Safe under concurrency: two receivers racing on one delivery get one True and one False.
    """
    stmt = (
        insert_for(uow, WebhookEvent)
        .values(
            dedupe_key=dedupe_key,
            event_type=event_type,
            purchase_id=purchase_id,
            status=status,
            event_at=aware(event_at, "event_at") if event_at else None,
            received_at=aware(received_at, "received_at") if received_at else utcnow(),
            applied=applied,
            payload=_scrub(payload) if payload is not None else None,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    if not uow.session.get_bind().dialect.insert_returning:  # SQLite before 3.35
        return bool(uow.session.exec(stmt).rowcount == 1)
    # RETURNING rather than rowcount: drivers disagree on rowcount for ON CONFLICT DO NOTHING.
    return uow.session.exec(stmt.returning(table_of(WebhookEvent).c.id)).first() is not None


def mark_webhook_applied(uow: UnitOfWork, dedupe_key: str) -> bool:
    """Flag a stored webhook as applied to the ledger; False when it was already (or unknown)."""
    result = uow.session.exec(
        update(WebhookEvent)
        .where(col(WebhookEvent.dedupe_key) == dedupe_key, col(WebhookEvent.applied).is_(False))
        .values(applied=True)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def record_challenge(
    uow: UnitOfWork,
    *,
    md: str,
    business_key: str,
    purchase_id: str,
    acs_url: str,
    callback_url: str,
) -> ThreeDSChallenge:
    """Remember a challenge until the shopper's bank answers at the TermUrl (stored once)."""
    uow.session.exec(
        insert_for(uow, ThreeDSChallenge)
        .values(
            md=md,
            business_key=business_key,
            purchase_id=purchase_id,
            acs_url=acs_url,
            callback_url=callback_url,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["md"])
    )
    challenge = get_challenge(uow, md)
    assert challenge is not None
    return challenge


def get_challenge(uow: UnitOfWork, md: str) -> ThreeDSChallenge | None:
    return uow.session.exec(
        select(ThreeDSChallenge)
        .where(col(ThreeDSChallenge.md) == md)
        .execution_options(populate_existing=True)
    ).one_or_none()


def complete_challenge(uow: UnitOfWork, md: str) -> bool:
    """Mark the challenge answered; False when it already was (a second PaRes is ignored)."""
    challenge = get_challenge(uow, md)
    if challenge is None or challenge.completed_at is not None:
        return False
    challenge.completed_at = utcnow()
    uow.session.flush()
    return True
