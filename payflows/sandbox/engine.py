"""The gateway's behaviour, without HTTP: purchases, cards, 3-D Secure, money movements, time.

Every status change goes through :func:`payflows.domain.states.next_status`, the one table the
ledger also uses, inside :meth:`Engine._move`. That one method appends to ``status_history``,
and publishes the webhook event of the transition, so no path can change a status and forget
the history or the event. Methods are synchronous and run on the event loop; each one is
therefore atomic with respect to every other request.

Fees: the sandbox charges a flat 2.5 % of the amount moved, rounded half-up in integer
arithmetic (``(amount * 25 + 500) // 1000``), so ``payment.fee_amount`` and ``net_amount`` are
deterministic and reproducible by a test or a report.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payflows.domain.money import format_amount, validate_currency
from payflows.domain.states import InvalidTransition, Op, Result, Status, next_status
from payflows.sandbox import signing
from payflows.sandbox.cards import (
    CardRefusal,
    Decline,
    MaskedCard,
    Outcome,
    card_by_key,
    check_card,
    expiry_passed,
    network_token_card,
)
from payflows.sandbox.clock import SandboxClock
from payflows.sandbox.config import SandboxConfig
from payflows.sandbox.state import (
    Purchase,
    RecurringToken,
    Refund,
    SandboxState,
    ThreeDSSession,
    Webhook,
)

__all__ = [
    "CLIENT_FIELDS",
    "FINGERPRINT_FIELDS",
    "Answer",
    "Engine",
    "GatewayError",
    "NotFound",
    "Publisher",
    "event_for",
    "fee_for",
]

DAY: Final = 86_400
#: How long a 3-D Secure challenge waits for the shopper (sandbox time) before it fails.
CHALLENGE_WINDOW: Final = 30 * 60
CLIENT_FIELDS: Final = (
    "email",
    "phone",
    "full_name",
    "street_address",
    "city",
    "state",
    "zip_code",
    "country",
)
FINGERPRINT_FIELDS: Final = (
    "user_agent",
    "accept_header",
    "language",
    "java_enabled",
    "javascript_enabled",
    "color_depth",
    "utc_offset",
    "screen_width",
    "screen_height",
)
PAYABLE: Final = frozenset({Status.CREATED, Status.VIEWED, Status.ERROR})
PAID_LIKE: Final = frozenset({Status.PAID, Status.CLEARED, Status.SETTLED})
_PAGE_SIZE: Final = 50
_ATTEMPT_TYPE: Final = {Op.PAY: "execute", Op.AUTHORIZE: "authorize", Op.VERIFY: "verify"}

#: The webhook event of each finished operation (STARTED ones are ``purchase.pending_*``).
_EVENTS: Final[dict[tuple[Op, Result], str]] = {
    (Op.PAY, Result.APPROVED): "purchase.paid",
    (Op.AUTHORIZE, Result.APPROVED): "purchase.hold",
    (Op.VERIFY, Result.APPROVED): "purchase.preauthorized",
    **{
        (op, r): "purchase.payment_failure"
        for op in _ATTEMPT_TYPE
        for r in (Result.DECLINED, Result.BLOCKED)
    },
    (Op.CHARGE, Result.APPROVED): "purchase.paid",
    (Op.CHARGE, Result.DECLINED): "purchase.subscription_charge_failure",
    (Op.CHARGE, Result.BLOCKED): "purchase.subscription_charge_failure",
    (Op.CAPTURE, Result.APPROVED): "purchase.captured",
    (Op.CAPTURE, Result.DECLINED): "purchase.capture_failure",
    (Op.RELEASE, Result.APPROVED): "purchase.released",
    (Op.RELEASE, Result.DECLINED): "purchase.release_failure",
    (Op.CANCEL, Result.APPROVED): "purchase.cancelled",
    (Op.REFUND, Result.APPROVED): "payment.refunded",
    (Op.REFUND, Result.PARTIAL): "payment.refunded",
    (Op.REFUND, Result.DECLINED): "purchase.refund_failure",
    (Op.SETTLE, Result.APPROVED): "purchase.settled",
    (Op.CHARGEBACK, Result.APPROVED): "payment.charged_back",
    (Op.CHARGEBACK_REVERSE, Result.APPROVED): "payment.chargeback_reversed",
}  # fmt: skip

_NON_3DS_REFUSED = Decline("s2s_not_supported", "The brand is not approved for non-3DS payments")
_EXT_3DS_REFUSED = Decline("s2s_not_supported", "The brand is not approved for external 3DS")
_EXT_3DS_INCOMPLETE = Decline(
    "3ds_authentication_failed", "External 3DS needs cavv and eci_raw in payment_method_details"
)
_ACS_FAILED = Decline("3ds_authentication_failed", "3-D Secure authentication failed")
_ACS_ABANDONED = Decline("3ds_authentication_failed", "3-D Secure challenge not completed in time")
_EXPIRED_TOKEN = Decline("expired_card", "Expired card", "54")


def event_for(op: Op, result: Result, new_status: Status) -> str | None:
    """The event a transition publishes; ``None`` for the silent ones (expiry, clearing)."""
    if result is Result.STARTED:
        return f"purchase.{new_status.value}" if new_status.value.startswith("pending_") else None
    return _EVENTS.get((op, result))


def fee_for(amount: int) -> int:
    """2.5 % rounded half-up, in integers (see the module docstring)."""
    return (amount * 25 + 500) // 1000 if amount > 0 else 0


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


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer whose HTTP status is part of the outcome (S2S, 3DS callback, charge)."""

    status_code: int
    body: dict[str, Any]
    #: The always-times-out card: committed, but the HTTP layer holds the answer back.
    hold_back: bool = False


class Publisher(Protocol):
    """What the engine needs of the webhook dispatcher: an enqueue that never blocks."""

    def publish(
        self,
        *,
        targets: list[tuple[str, str, RSAPrivateKey]],
        event_type: str,
        body: dict[str, Any],
        purchase_id: str,
    ) -> None: ...


class _Errors:
    """Collects field errors so one 400 names every bad field, as CHIP does."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, str]]] = {}

    def add(self, field: str, code: str, message: str) -> None:
        self.items.setdefault(field, []).append({"message": message, "code": code})

    def raise_if_any(self) -> None:
        if self.items:
            raise GatewayError.fields(self.items)


def _text(body: dict[str, Any], key: str, errors: _Errors, *, limit: int | None = None) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(key, "invalid", "Must be a string.")
        return ""
    if limit is not None and len(value) > limit:
        errors.add(key, "max_length", f"At most {limit} characters.")
    return value


def _flag(body: dict[str, Any], key: str, errors: _Errors) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        errors.add(key, "invalid", "Must be true or false.")
        return False
    return value


def _cents(value: Any) -> int | None:
    """An amount in cents: an int, or a string of digits (the guide sends ``"10000"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _quantity(value: Any) -> Decimal | None:
    if value is None:
        return Decimal(1)
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        return None
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        return None
    return quantity if quantity.is_finite() and quantity > 0 else None


def _today(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Engine:
    """The sandbox gateway. All state is in ``state``; time is ``clock``; events go out via
    ``publisher``. The HTTP layer translates :class:`GatewayError` and :class:`Answer`."""

    def __init__(
        self,
        state: SandboxState,
        clock: SandboxClock,
        config: SandboxConfig,
        publisher: Publisher,
    ) -> None:
        self.state = state
        self.clock = clock
        self.config = config
        self.publisher = publisher
        self._keys: dict[str, RSAPrivateKey] = {}
        self._company_key: RSAPrivateKey | None = None
        self._subscriptions: dict[str, list[tuple[str, str, RSAPrivateKey]]] | None = None
        self._acs_secret = bytes.fromhex(state.acs_secret)

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now())

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward and apply everything that fell due on the way."""
        self.clock.advance(seconds)
        self.state.clock_offset = self.clock.offset
        self.state.mark_dirty()
        self.run_due()

    def run_due(self) -> None:
        now = self.now()
        for purchase in list(self.state.purchases.values()):
            self._due(purchase, now)
        for refund in self.state.refunds.values():
            self._settle_refund(refund, now)
        for session in list(self.state.sessions.values()):
            self._abandon(session, now)

    def _abandon(self, session: ThreeDSSession, now: int) -> None:
        """A challenge nobody finished fails, as the issuer's ACS times it out.

        Without this a purchase would sit in ``pending_execute`` for ever: the table lets
        nothing else move it.
        """
        if session.result is not None or now < session.created_on + CHALLENGE_WINDOW:
            return
        p = self.state.purchases.get(session.purchase_id)
        if p is None or p.status != Status.PENDING_EXECUTE:
            return
        when = session.created_on + CHALLENGE_WINDOW
        self._decline(p, Op(session.op), when, _ACS_ABANDONED)
        answer = self._s2s_error(p, _ACS_ABANDONED)
        session.result_status, session.result = answer.status_code, answer.body
        self.state.changed("sessions", session.md)

    def _hold_window(self, p: Purchase) -> int:
        brand = p.card.brand if p.card else ""
        card = p.payment_method_details.get("card")
        merchant_initiated = isinstance(card, dict) and bool(card.get("is_recurring"))
        if brand == "visa":
            return (5 if merchant_initiated else 7) * DAY
        if brand == "mastercard":
            return (30 if p.skip_capture else 7) * DAY
        return 7 * DAY

    def _due(self, p: Purchase, now: int) -> None:
        """Apply hold expiry and settlement that fell due for ``p`` by ``now``."""
        status = p.status
        if status in (Status.HOLD, Status.PREAUTHORIZED) and p.authorised_on is not None:
            expires_at = p.authorised_on + self._hold_window(p)
            if now >= expires_at:
                self._move(p, Op.EXPIRE, Result.APPROVED, expires_at)
            return
        if p.paid_on is None:
            return
        if status == Status.PAID and now >= p.paid_on + DAY:
            self._move(p, Op.CLEAR, Result.APPROVED, p.paid_on + DAY)
        if p.status == Status.CLEARED and now >= p.paid_on + 2 * DAY:
            p.settled_on = p.paid_on + 2 * DAY
            self._move(p, Op.SETTLE, Result.APPROVED, p.settled_on)

    def _settle_refund(self, refund: Refund, now: int) -> None:
        if refund.status == "pending" and now >= refund.created_on + DAY:
            refund.status = "settled"
            refund.settled_on = refund.created_on + DAY
            self.state.changed("refunds", refund.id)

    # -- the one way a status changes ----------------------------------------------------------

    def _move(
        self, p: Purchase, op: Op, result: Result, when: int, *, publish: bool = True
    ) -> Status:
        new = next_status(p.status, op, result, previous=p.prior_status)
        if result is Result.STARTED:
            p.prior_status = p.status
        if new != p.status:
            p.status = new.value
            p.status_history.append({"status": new.value, "timestamp": when})
        p.updated_on = max(p.updated_on, when)
        self.state.changed("purchases", p.id)
        if publish:
            event = event_for(op, result, new)
            if event is not None:
                self._publish(p, event)
        return new

    # -- events --------------------------------------------------------------------------------

    def _key(self, webhook: Webhook) -> RSAPrivateKey:
        key = self._keys.get(webhook.id)
        if key is None:
            key = self._keys[webhook.id] = signing.load_private_pem(webhook.private_key_pem)
        return key

    def _targets(self, event: str) -> list[tuple[str, str, RSAPrivateKey]]:
        if self._subscriptions is None:
            self._subscriptions = {}
        targets = self._subscriptions.get(event)
        if targets is None:
            targets = [
                (w.id, w.callback, self._key(w))
                for w in self.state.webhooks.values()
                if w.all_events or event in w.events
            ]
            self._subscriptions[event] = targets
        return targets

    def company_key(self) -> RSAPrivateKey:
        """The key that signs success callbacks, made on first need and then kept."""
        if self._company_key is None:
            if self.state.company_key_pem is None:
                self.set_company_key(signing.generate_key())
            else:
                self._company_key = signing.load_private_pem(self.state.company_key_pem)
        assert self._company_key is not None
        return self._company_key

    def has_company_key(self) -> bool:
        return self._company_key is not None or self.state.company_key_pem is not None

    def set_company_key(self, key: RSAPrivateKey) -> None:
        self._company_key = key
        self.state.company_key_pem = signing.private_pem(key)
        self.state.mark_dirty()

    def public_key(self) -> str:
        return signing.public_pem(self.company_key())

    def _publish(
        self, p: Purchase, event: str, body_factory: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        targets = self._targets(event)
        callback = event == "purchase.paid" and bool(p.success_callback)
        if not targets and not callback:
            return  # nobody listens: skip building the body, the costly part
        body = body_factory() if body_factory is not None else self.purchase_wire(p)
        body["event_type"] = event
        if callback:
            targets = [*targets, ("success_callback", p.success_callback, self.company_key())]
        self.publisher.publish(targets=targets, event_type=event, body=body, purchase_id=p.id)

    # -- rendering -----------------------------------------------------------------------------

    def purchase_wire(self, p: Purchase, origin: str | None = None) -> dict[str, Any]:
        """CHIP's purchase object with the guide's extra fields (docs/gateway-wire.md)."""
        origin = origin or p.origin
        status = p.status
        direct = status in PAYABLE and (
            bool(p.success_redirect and p.failure_redirect)
            or isinstance(p.payment_method_details.get("card"), dict)
        )
        card = p.card
        extra: dict[str, Any] = {}
        if card is not None:
            extra = {
                "card_brand": card.brand,
                "masked_pan": card.masked_pan,
                "expiry_month": card.exp_month,
                "expiry_year": card.exp_year % 100,  # two digits, as CHIP sends it
                "cardholder_name": card.cardholder_name,
                "network_transaction_id": p.network_transaction_id,
            }
        if p.settled_on is not None:
            extra["settlement"] = {"settled_on": p.settled_on}
        return {
            "id": p.id,
            "type": "purchase",
            "status": status,
            "status_history": list(p.status_history),
            "reference": p.reference,
            "client_id": p.client_id,
            "brand_id": p.brand_id,
            "client": dict(p.client),
            "purchase": {
                "total": p.total,
                "currency": p.currency,
                "language": p.language,
                "products": p.products,
                "total_override": p.total_override,
                "payment_method_details": p.payment_method_details,
            },
            "payment": p.payment,
            "transaction_data": {
                "flow": "s2s",
                "payment_method": card.brand if card else "",
                "extra": extra,
                "attempts": list(p.attempts),
            },
            "direct_post_url": f"{origin}/p/{p.id}/" if direct else None,
            "checkout_url": f"{origin}/p/{p.id}/",
            "success_redirect": p.success_redirect,
            "failure_redirect": p.failure_redirect,
            "cancel_redirect": p.cancel_redirect,
            "success_callback": p.success_callback,
            "send_receipt": p.send_receipt,
            "skip_capture": p.skip_capture,
            "force_recurring": p.force_recurring,
            "payment_method_whitelist": p.payment_method_whitelist,
            "is_recurring_token": p.is_recurring_token,
            "recurring_token": p.id if p.is_recurring_token else None,
            "refundable_amount": p.refundable_amount,
            "is_test": True,
            "created_on": p.created_on,
            "updated_on": p.updated_on,
            "cancelled_on": p.cancelled_on,
            "due": p.due,
        }

    def _card_details(self, p: Purchase) -> dict[str, Any]:
        card = p.card
        assert card is not None
        return {
            "card": {
                "brand": card.brand,
                "last_4": card.last_4,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "token": p.id if p.is_recurring_token else None,
                "network_transaction_id": p.network_transaction_id,
            }
        }

    def _payment(self, p: Purchase, amount: int, now: int) -> dict[str, Any]:
        fee = fee_for(amount)
        return {
            "amount": amount,
            "currency": p.currency,
            "net_amount": amount - fee,
            "fee_amount": fee,
            "pending_amount": 0,
            "paid_on": now,
            "payment_type": "purchase",
            "is_outgoing": False,
            "description": "",
        }

    def _attempt(
        self,
        p: Purchase,
        kind: str,
        now: int,
        *,
        decline: Decline | None = None,
        fee: int = 0,
        amount: int | None = None,
    ) -> None:
        p.attempts.insert(
            0,
            {
                "type": kind,
                "flow": "s2s",
                "successful": decline is None,
                "error": decline.as_error() if decline is not None else None,
                "payment_method": p.card.brand if p.card else "",
                "amount": p.total if amount is None else amount,
                "processing_time": now,
                "fee_amount": fee,
            },
        )

    # -- clients -------------------------------------------------------------------------------

    def _client_fields(
        self, body: dict[str, Any], errors: _Errors, *, partial: bool
    ) -> dict[str, str]:
        values: dict[str, str] = {}
        for key in CLIENT_FIELDS:
            if key in body or not partial:
                values[key] = _text(body, key, errors)
        if "email" in values and ("@" not in values["email"]):
            if values["email"]:
                errors.add("email", "invalid", "Enter a valid email address.")
            else:
                errors.add("email", "required", "This field is required.")
        return values

    def create_client(self, body: dict[str, Any]) -> dict[str, Any]:
        errors = _Errors()
        values = self._client_fields(body, errors, partial=False)
        errors.raise_if_any()
        now = self.now()
        client = {"id": str(uuid.uuid4()), **values, "created_on": now, "updated_on": now}
        self.state.clients[client["id"]] = client
        self.state.changed("clients", client["id"])
        return dict(client)

    def get_client(self, client_id: str) -> dict[str, Any]:
        client = self.state.clients.get(client_id)
        if client is None:
            raise NotFound()
        return dict(client)

    def list_clients(self, email: str | None, page: int) -> tuple[list[dict[str, Any]], bool]:
        """One page (1-based) of clients, oldest first, and whether another page follows."""
        matches = [c for c in self.state.clients.values() if email is None or c["email"] == email]
        start = (page - 1) * _PAGE_SIZE
        return [dict(c) for c in matches[start : start + _PAGE_SIZE]], len(
            matches
        ) > start + _PAGE_SIZE

    def update_client(
        self, client_id: str, body: dict[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        client = self.state.clients.get(client_id)
        if client is None:
            raise NotFound()
        errors = _Errors()
        values = self._client_fields(body, errors, partial=partial)
        errors.raise_if_any()
        client.update(values)
        client["updated_on"] = max(self.now(), client["updated_on"])
        self.state.changed("clients", client_id)
        return dict(client)

    def delete_client(self, client_id: str) -> None:
        if self.state.clients.pop(client_id, None) is None:
            raise NotFound()
        self.state.changed("clients", client_id)

    def client_tokens(self, client_id: str) -> list[dict[str, Any]]:
        if client_id not in self.state.clients:
            raise NotFound()
        tokens = [
            t for t in self.state.tokens.values() if t.client_id == client_id and not t.deleted
        ]
        return [
            {
                "id": t.id,
                "recurring_token": t.id,
                "type": "card",
                "card_brand": t.card.brand,
                "masked_pan": t.card.masked_pan,
                "expiry_month": t.card.exp_month,
                "expiry_year": t.card.exp_year,
                "network_transaction_id": t.network_transaction_id,
                "created_on": t.created_on,
            }
            for t in reversed(tokens)
        ]

    # -- purchases -----------------------------------------------------------------------------

    def get_purchase(self, purchase_id: str) -> Purchase:
        p = self.state.purchases.get(purchase_id)
        if p is None:
            raise NotFound()
        return p

    def create_purchase(self, body: dict[str, Any], origin: str) -> Purchase:
        """Accepts the guide's bodies and CHIP's verbatim (docs/gateway-wire.md)."""
        errors = _Errors()
        brand_id = body.get("brand_id")
        if brand_id is None:
            errors.add("brand_id", "required", "This field is required.")
        elif brand_id != self.config.brand_id:
            errors.add("brand_id", "invalid", "No such brand for this API key.")

        client_id, client = self._purchase_client(body, errors)

        details = body.get("purchase")
        if details is None:
            details = body  # the guide's zero-auth example: currency and products at top level
            prefix = ""
        elif not isinstance(details, dict):
            errors.add("purchase", "invalid", "Must be an object.")
            details, prefix = {}, "purchase."
        else:
            prefix = "purchase."
        currency = ""
        raw_currency = details.get("currency")
        with contextlib.suppress(ValueError):
            currency = validate_currency(raw_currency) if isinstance(raw_currency, str) else ""
        if not currency:
            errors.add(prefix + "currency", "invalid", "A 3-letter ISO 4217 currency is required.")
        language = details.get("language") or "en"
        if not isinstance(language, str):
            errors.add(prefix + "language", "invalid", "Must be a string.")
            language = "en"
        products, total = self._products(details.get("products"), prefix, errors)
        total_override: int | None = None
        if details.get("total_override") is not None:
            total_override = _cents(details.get("total_override"))
            if total_override is None:
                errors.add(
                    prefix + "total_override", "invalid", "Must be a whole number of cents >= 0."
                )
        pmd = self._payment_method_details(details.get("payment_method_details"), prefix, errors)

        reference = _text(body, "reference", errors, limit=128)
        flags = {
            k: _flag(body, k, errors) for k in ("send_receipt", "skip_capture", "force_recurring")
        }
        whitelist = body.get("payment_method_whitelist")
        if whitelist is not None and (
            not isinstance(whitelist, list) or not all(isinstance(m, str) for m in whitelist)
        ):
            errors.add("payment_method_whitelist", "invalid", "Must be a list of payment methods.")
            whitelist = None
        urls = {
            k: _text(body, k, errors)
            for k in ("success_redirect", "failure_redirect", "cancel_redirect", "success_callback")
        }
        errors.raise_if_any()

        if client_id is None:  # an inline client becomes a client record, as on CHIP
            client_id = self.create_client(client)["id"]
        now = self.now()
        p = Purchase(
            id=str(uuid.uuid4()),
            created_on=now,
            updated_on=now,
            brand_id=self.config.brand_id,
            client_id=client_id,
            client={k: client.get(k, "") for k in CLIENT_FIELDS},
            currency=currency,
            language=language,
            products=products,
            total=total_override if total_override is not None else total,
            total_override=total_override,
            payment_method_details=pmd,
            reference=reference,
            send_receipt=flags["send_receipt"],
            skip_capture=flags["skip_capture"],
            force_recurring=flags["force_recurring"],
            payment_method_whitelist=[m.lower() for m in whitelist] if whitelist else None,
            origin=origin,
            due=now + 3600,
            status_history=[{"status": Status.CREATED.value, "timestamp": now}],
            **urls,
        )
        self.state.purchases[p.id] = p
        self.state.changed("purchases", p.id)
        self._publish(p, "purchase.created")
        return p

    def _purchase_client(
        self, body: dict[str, Any], errors: _Errors
    ) -> tuple[str | None, dict[str, Any]]:
        client_id = body.get("client_id")
        if client_id is not None:
            stored = self.state.clients.get(client_id) if isinstance(client_id, str) else None
            if stored is None:
                errors.add("client_id", "invalid", "No such client.")
                return "", {}
            return client_id, stored
        inline = body.get("client")
        if not isinstance(inline, dict):
            errors.add("client", "required", "Either client_id or client is required.")
            return "", {}
        client_errors = _Errors()
        self._client_fields(inline, client_errors, partial=False)
        for key, items in client_errors.items.items():
            errors.items.setdefault(f"client.{key}", []).extend(items)
        return None, inline

    def _products(self, raw: Any, prefix: str, errors: _Errors) -> tuple[list[dict[str, Any]], int]:
        field = prefix + "products"
        if not isinstance(raw, list) or not raw:
            errors.add(field, "required", "At least one product is required.")
            return [], 0
        products: list[dict[str, Any]] = []
        total = Decimal(0)
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                errors.add(f"{field}.{index}", "invalid", "Must be an object.")
                continue
            name, price, quantity = (
                item.get("name"),
                _cents(item.get("price")),
                _quantity(item.get("quantity")),
            )
            if not isinstance(name, str) or not name.strip():
                errors.add(f"{field}.{index}.name", "required", "This field is required.")
            if price is None:
                errors.add(
                    f"{field}.{index}.price", "invalid", "Must be a whole number of cents >= 0."
                )
            if quantity is None:
                errors.add(f"{field}.{index}.quantity", "invalid", "Must be a number > 0.")
            if price is None or quantity is None:
                continue
            total += price * quantity
            products.append({**item, "price": price, "quantity": item.get("quantity", 1)})
        return products, int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def _payment_method_details(self, raw: Any, prefix: str, errors: _Errors) -> dict[str, Any]:
        field = prefix + "payment_method_details"
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            errors.add(field, "invalid", "Must be an object.")
            return {}
        details = dict(raw)
        card = details.get("card")
        if card is None:
            return details
        if not isinstance(card, dict):
            errors.add(field + ".card", "invalid", "Must be an object.")
            return details
        card = dict(card)
        if card.get("original_amount_cents") is not None:
            amount = _cents(card["original_amount_cents"])
            if amount is None:
                errors.add(field + ".card.original_amount_cents", "invalid", "Must be cents.")
            else:
                card["original_amount_cents"] = amount
        details["card"] = card
        return details

    # -- S2S card submission --------------------------------------------------------------------

    def _not_payable(self, p: Purchase, what: str) -> Answer:
        decline = Decline("purchase_execute_error", f"Purchase is {p.status}: {what}")
        return self._s2s_error(p, decline)

    def _s2s_error(self, p: Purchase, decline: Decline) -> Answer:
        error = decline.as_error()
        return Answer(
            400,
            {
                "status": "error",
                "id": p.id,
                "purchase_status": p.status,
                "error": error,
                "code": decline.code,
                "message": decline.message,
            },
        )

    def submit_card(
        self, purchase_id: str, body: dict[str, Any], origin: str | None = None
    ) -> Answer:
        """``POST {direct_post_url}?s2s=true``: validate the card, then pay, hold or challenge."""
        p = self.get_purchase(purchase_id)
        now = self.now()
        wire_card = p.payment_method_details.get("card")
        pmd: dict[str, Any] = wire_card if isinstance(wire_card, dict) else {}
        if p.status not in PAYABLE:
            return self._not_payable(p, "it cannot take a card submission")
        if not ((p.success_redirect and p.failure_redirect) or pmd):
            return self._not_payable(p, "it has no direct_post_url")

        op = Op.VERIFY if p.total == 0 else Op.AUTHORIZE if p.skip_capture else Op.PAY
        kind = _ATTEMPT_TYPE[op]
        merchant_initiated = bool(pmd.get("is_recurring"))
        external_3ds = bool(pmd.get("is_external_3DS"))
        network_token = bool(pmd.get("network_token") and pmd.get("network_token_cryptogram"))
        never_challenged = merchant_initiated or external_3ds or network_token
        name = body.get("cardholder_name")

        today = _today(now)
        checked: MaskedCard | CardRefusal
        if network_token and not body.get("card_number"):
            checked = network_token_card(
                str(pmd["network_token"]), name if isinstance(name, str) else "", today
            )
            # Used once: the cryptogram is single-use and the token is card-equivalent, so the
            # purchase keeps (and the state file holds) only the token's masked form.
            pmd["network_token"] = checked.masked_pan if isinstance(checked, MaskedCard) else ""
            pmd.pop("network_token_cryptogram", None)
            self.state.changed("purchases", p.id)
        else:
            checked = check_card(
                body.get("card_number"),
                body.get("expires"),
                body.get("cvc"),
                name,
                today=today,
                placeholder_cvc_ok=never_challenged,
            )
        if isinstance(checked, CardRefusal):
            return self._refuse(p, kind, now, checked.decline)
        card = checked
        if p.payment_method_whitelist and card.brand not in p.payment_method_whitelist:
            return self._refuse(
                p,
                kind,
                now,
                Decline("validation_card_number_invalid", f"{card.brand} is not in the whitelist"),
                card=card,
            )
        fingerprint = any(key in body for key in FINGERPRINT_FIELDS)
        if external_3ds and not self.config.allow_external_3ds:
            return self._refuse(p, kind, now, _EXT_3DS_REFUSED, card=card)
        if not fingerprint and not never_challenged and not self.config.allow_non_3ds:
            return self._refuse(p, kind, now, _NON_3DS_REFUSED, card=card)

        behaviour = card_by_key(card.key)
        outcome = behaviour.mit if merchant_initiated else behaviour.cit
        decline = behaviour.mit_decline if merchant_initiated else behaviour.cit_decline
        if outcome in (Outcome.CHALLENGE, Outcome.FRICTIONLESS, Outcome.ACS_REFUSE) and (
            never_challenged or not fingerprint
        ):
            outcome = Outcome.APPROVE  # no 3-D Secure runs on these flows
        if external_3ds and not (pmd.get("cavv") and pmd.get("eci_raw")):
            outcome, decline = Outcome.DECLINE, _EXT_3DS_INCOMPLETE
        remember = body.get("remember_card") == "on"

        p.card = card
        self._move(p, op, Result.STARTED, now)
        if outcome is Outcome.CHALLENGE:
            return self._challenge(p, op, card, remember, now, origin or p.origin)
        if outcome in (Outcome.DECLINE, Outcome.ACS_REFUSE):
            assert decline is not None
            self._decline(p, op, now, decline)
            return self._s2s_error(p, decline)
        self._approve(p, op, card, remember, now)
        answer = {
            "status": "executed" if op is Op.PAY else "authorized",
            "id": p.id,
            "purchase_status": p.status,
            "transaction_id": p.transaction_id,
            "payment_method_details": self._card_details(p),
        }
        return Answer(200, answer, hold_back=outcome is Outcome.TIMEOUT)

    def _refuse(
        self, p: Purchase, kind: str, now: int, decline: Decline, *, card: MaskedCard | None = None
    ) -> Answer:
        """A refusal before the card network: an attempt is logged, the status stays."""
        if card is not None and p.card is None:
            p.card = card
        self._attempt(p, kind, now, decline=decline)
        p.updated_on = max(p.updated_on, now)
        self.state.changed("purchases", p.id)
        return self._s2s_error(p, decline)

    def _decline(self, p: Purchase, op: Op, now: int, decline: Decline) -> None:
        kind = "charge" if op is Op.CHARGE else _ATTEMPT_TYPE[op]
        self._attempt(p, kind, now, decline=decline)
        self._move(p, op, Result.DECLINED, now)

    def _approve(self, p: Purchase, op: Op, card: MaskedCard, remember: bool, now: int) -> None:
        """Everything an approval changes, then the transition (so its event carries it all)."""
        p.card = card
        p.remember_card = remember
        p.transaction_id = "txn_" + secrets.token_hex(8)
        p.network_transaction_id = str(secrets.randbelow(10**15)).zfill(15)
        fee = 0
        if op in (Op.PAY, Op.CHARGE):
            p.captured = p.total
            p.paid_on = now
            p.payment = self._payment(p, p.total, now)
            fee = fee_for(p.total)
        else:
            p.authorised_amount = p.total
            p.authorised_on = now
        if p.force_recurring or remember:
            p.is_recurring_token = True
            self.state.changed("tokens", p.id)
            self.state.tokens[p.id] = RecurringToken(
                id=p.id,
                client_id=p.client_id,
                card=card,
                network_transaction_id=p.network_transaction_id,
                created_on=now,
            )
        self._attempt(p, "charge" if op is Op.CHARGE else _ATTEMPT_TYPE[op], now, fee=fee)
        self._move(p, op, Result.APPROVED, now)

    # -- 3-D Secure ----------------------------------------------------------------------------

    def _challenge(
        self, p: Purchase, op: Op, card: MaskedCard, remember: bool, now: int, origin: str
    ) -> Answer:
        md = secrets.token_urlsafe(18)
        pareq = _b64(json.dumps({"md": md, "amount": p.total, "currency": p.currency}).encode())
        self.state.changed("sessions", md)
        self.state.sessions[md] = ThreeDSSession(
            md=md,
            purchase_id=p.id,
            pareq=pareq,
            op=op.value,
            card=card,
            remember_card=remember,
            created_on=now,
        )
        return Answer(
            200,
            {
                "status": "3DS_required",
                "id": p.id,
                "Method": "POST",
                "PaReq": pareq,
                "MD": md,
                "md": md,
                "URL": f"{origin}/acs/{md}/",
                "callback_url": f"{origin}/3ds/callback/{md}/",
            },
        )

    def session(self, md: str) -> ThreeDSSession:
        session = self.state.sessions.get(md)
        if session is None:
            raise NotFound()
        return session

    def acs_view(self, md: str) -> dict[str, str]:
        """What the ACS page shows the shopper: merchant, amount, masked PAN."""
        session = self.session(md)
        p = self.get_purchase(session.purchase_id)
        return {
            "merchant": f"Payflows sandbox merchant (brand {p.brand_id})",
            "amount": format_amount(p.total, p.currency),
            "masked_pan": session.card.masked_pan,
            "brand": session.card.brand,
            "pareq": session.pareq,
        }

    def _sign(self, payload: str) -> str:
        return hmac.new(self._acs_secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def acs_decide(self, md: str, pareq: str, approve: bool) -> str:
        """The shopper clicked Approve or Fail: the PaRes that carries the decision, signed."""
        session = self.session(md)
        if not hmac.compare_digest(pareq, session.pareq):
            raise GatewayError.field("PaReq", "invalid", "PaReq does not belong to this MD.")
        payload = _b64(json.dumps({"md": md, "d": "Y" if approve else "N"}).encode())
        return f"{payload}.{self._sign(payload)}"

    def _read_pares(self, md: str, pares: str) -> bool | None:
        """The decision a PaRes carries, or ``None`` when it was not issued for this MD."""
        payload, _, signature = pares.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("md") != md or data.get("d") not in ("Y", "N"):
            return None
        return data["d"] == "Y"

    def complete_3ds(self, md: str, form_md: str | None, pares: str | None) -> Answer:
        """The merchant posts ``MD`` and ``PaRes`` to ``callback_url``: the final answer.

        A session answers once and then repeats that answer: a replayed PaRes never charges
        twice.
        """
        session = self.session(md)
        if form_md is not None and form_md != md:
            raise GatewayError.field("MD", "invalid", "MD does not match the callback URL.")
        if session.result is not None and session.result_status is not None:
            return Answer(session.result_status, session.result)
        if not pares:
            raise GatewayError.field("PaRes", "required", "This field is required.")
        approved = self._read_pares(md, pares)
        if approved is None:
            raise GatewayError.field("PaRes", "invalid", "PaRes does not verify.")
        p = self.get_purchase(session.purchase_id)
        if p.status != Status.PENDING_EXECUTE:
            raise GatewayError.field(
                "__all__", "purchase_execute_error", f"Purchase is {p.status}, not awaiting 3DS."
            )
        op, now = Op(session.op), self.now()
        if approved:
            self._approve(p, op, session.card, session.remember_card, now)
            answer = Answer(
                200,
                {
                    "id": p.id,
                    "status": p.status,
                    "transaction_id": p.transaction_id,
                    "payment_method_details": self._card_details(p),
                },
            )
        else:
            self._decline(p, op, now, _ACS_FAILED)
            answer = self._s2s_error(p, _ACS_FAILED)
        session.result_status, session.result = answer.status_code, answer.body
        self.state.changed("sessions", md)
        return answer

    # -- actions on a purchase -----------------------------------------------------------------

    @staticmethod
    def _amount(body: dict[str, Any], default: int, limit: int, code: str, what: str) -> int:
        raw = body.get("amount")
        if raw is None:
            amount: int | None = default
        else:
            amount = _cents(raw) if not isinstance(raw, str) else None
        if amount is None or amount <= 0 or amount > limit:
            raise GatewayError.field(
                "amount", code, f"Amount must be between 1 and {limit} ({what})."
            )
        return amount

    @staticmethod
    def _state_error(code: str, message: str) -> GatewayError:
        return GatewayError.field("__all__", code, message)

    def capture(self, purchase_id: str, body: dict[str, Any]) -> Purchase:
        p = self.get_purchase(purchase_id)
        now = self.now()
        self._due(p, now)
        if p.status != Status.HOLD:
            raise self._state_error("purchase_capture_error", f"Purchase is {p.status}, not hold.")
        amount = self._amount(
            body, p.authorised_amount, p.authorised_amount, "purchase_capture_error", "authorised"
        )
        self._move(p, Op.CAPTURE, Result.STARTED, now)
        # A partial capture releases the remainder: only `amount` is ever paid.
        p.captured = amount
        p.paid_on = now
        p.payment = self._payment(p, amount, now)
        self._attempt(p, "capture", now, fee=fee_for(amount), amount=amount)
        self._move(p, Op.CAPTURE, Result.APPROVED, now)
        return p

    def release(self, purchase_id: str) -> Purchase:
        p = self.get_purchase(purchase_id)
        now = self.now()
        self._due(p, now)
        if p.status not in (Status.HOLD, Status.PREAUTHORIZED):
            raise self._state_error("purchase_release_error", f"Purchase is {p.status}, not hold.")
        self._move(p, Op.RELEASE, Result.STARTED, now)
        self._attempt(p, "release", now, amount=p.authorised_amount)
        self._move(p, Op.RELEASE, Result.APPROVED, now)
        return p

    def cancel(self, purchase_id: str) -> Purchase:
        p = self.get_purchase(purchase_id)
        now = self.now()
        self._due(p, now)
        try:
            next_status(p.status, Op.CANCEL, Result.APPROVED)
        except InvalidTransition:
            raise self._state_error(
                "purchase_cancel_error", f"Purchase is {p.status} and cannot be cancelled."
            ) from None
        p.cancelled_on = now
        if p.card is not None:
            self._attempt(p, "cancel", now)
        self._move(p, Op.CANCEL, Result.APPROVED, now)
        return p

    def refund(self, purchase_id: str, body: dict[str, Any]) -> dict[str, Any]:
        p = self.get_purchase(purchase_id)
        now = self.now()
        self._due(p, now)
        if p.status not in PAID_LIKE:
            raise self._state_error("purchase_refund_error", f"Purchase is {p.status}, not paid.")
        refundable = p.refundable_amount
        amount = self._amount(body, refundable, refundable, "purchase_refund_error", "refundable")
        self._move(p, Op.REFUND, Result.STARTED, now)
        refund = Refund(
            id=str(uuid.uuid4()),
            purchase_id=p.id,
            amount=amount,
            currency=p.currency,
            created_on=now,
        )
        self.state.refunds[refund.id] = refund
        self.state.changed("refunds", refund.id)
        p.refunded += amount
        p.refund_ids.append(refund.id)
        self._attempt(p, "refund", now, amount=amount)
        final = p.captured - p.refunded == 0
        self._move(p, Op.REFUND, Result.APPROVED if final else Result.PARTIAL, now, publish=False)
        self._publish(p, "payment.refunded", lambda: self._refund_payment(p, refund))
        return self.refund_result(p, refund)

    def cancel_refund(self, purchase_id: str, refund_id: str) -> dict[str, Any]:
        p = self.get_purchase(purchase_id)
        refund = self.state.refunds.get(refund_id)
        if refund is None or refund.purchase_id != p.id:
            raise NotFound()
        now = self.now()
        self._settle_refund(refund, now)
        if refund.status != "pending":
            raise self._state_error("refund_cancel_error", f"Refund is {refund.status}.")
        try:
            next_status(p.status, Op.REFUND_CANCEL, Result.APPROVED, previous=p.prior_status)
        except InvalidTransition:
            raise self._state_error(
                "refund_cancel_error", f"Purchase is {p.status}: the refund cannot be cancelled."
            ) from None
        refund.status = "cancelled"
        refund.cancelled_on = now
        self.state.changed("refunds", refund.id)
        p.refunded -= refund.amount
        self._move(p, Op.REFUND_CANCEL, Result.APPROVED, now)
        return self.refund_result(p, refund)

    def refund_result(self, p: Purchase, refund: Refund) -> dict[str, Any]:
        """The guide's refund answer plus CHIP's payment object (docs/gateway-wire.md)."""
        result: dict[str, Any] = {
            "id": p.id,
            "status": "cancelled" if refund.status == "cancelled" else "refunded",
            "refund_id": refund.id,
            "refund_amount": refund.amount,
            "refunded_on": refund.created_on,
            "type": "payment",
            "payment": {
                "amount": refund.amount,
                "currency": refund.currency,
                "payment_type": "refund",
                "is_outgoing": True,
            },
            "related_to": {"id": p.id, "type": "purchase"},
        }
        if refund.cancelled_on is not None:
            result["cancelled_on"] = refund.cancelled_on
        return result

    def _refund_payment(self, p: Purchase, refund: Refund) -> dict[str, Any]:
        """The body of ``payment.refunded``: CHIP's payment object, related to the purchase."""
        card = p.card
        extra: dict[str, Any] = {"amount": refund.amount}
        if card is not None:
            extra.update(
                card_brand=card.brand,
                masked_pan=card.masked_pan,
                expiry_month=card.exp_month,
                expiry_year=card.exp_year % 100,
                cardholder_name=card.cardholder_name,
            )
        return {
            "id": refund.id,
            "type": "payment",
            "status": "success",
            "is_test": True,
            "brand_id": p.brand_id,
            "client": dict(p.client),
            "reference": p.reference,
            "payment": {
                "amount": refund.amount,
                "currency": refund.currency,
                "net_amount": refund.amount,
                "fee_amount": 0,
                "pending_amount": 0,
                "paid_on": refund.created_on,
                "payment_type": "refund",
                "is_outgoing": True,
                "description": f"Refund: {p.reference}" if p.reference else "Refund",
            },
            "related_to": {"id": p.id, "type": "purchase", "reference": p.reference},
            "transaction_data": {
                "flow": "s2s",
                "payment_method": card.brand if card else "",
                "extra": extra,
            },
            "created_on": refund.created_on,
            "updated_on": refund.created_on,
        }

    def charge(self, purchase_id: str, body: dict[str, Any]) -> Answer:
        """A merchant-initiated charge of ``purchase_id`` on a stored card."""
        p = self.get_purchase(purchase_id)
        token_id = body.get("recurring_token")
        if not isinstance(token_id, str) or not token_id:
            raise GatewayError.field("recurring_token", "required", "This field is required.")
        token = self.state.tokens.get(token_id)
        if token is None or token.deleted:
            raise GatewayError.field(
                "recurring_token", "invalid_recurring_token", "No such recurring token."
            )
        if p.status not in PAYABLE:
            raise self._state_error(
                "purchase_charge_error", f"Purchase is {p.status} and cannot be charged."
            )
        now = self.now()
        card = token.card
        behaviour = card_by_key(card.key)
        outcome, decline = behaviour.mit, behaviour.mit_decline
        if expiry_passed(card.exp_month, card.exp_year, _today(now)):
            outcome, decline = Outcome.DECLINE, _EXPIRED_TOKEN
        p.card = card
        self._move(p, Op.CHARGE, Result.STARTED, now)
        if outcome is Outcome.DECLINE:
            assert decline is not None
            self._decline(p, Op.CHARGE, now, decline)
            charge_error = {"message": "The charge was declined.", "code": "purchase_charge_error"}
            return Answer(400, {"__all__": [charge_error, decline.as_error()]})
        self._approve(p, Op.CHARGE, card, False, now)
        return Answer(200, self.purchase_wire(p), hold_back=outcome is Outcome.TIMEOUT)

    def delete_recurring_token(self, purchase_id: str) -> Purchase:
        p = self.get_purchase(purchase_id)
        token = self.state.tokens.get(p.id)
        if not p.is_recurring_token or token is None or token.deleted:
            raise self._state_error("invalid_recurring_token", "Purchase holds no recurring token.")
        token.deleted = True
        p.is_recurring_token = False
        p.updated_on = max(p.updated_on, self.now())
        self.state.changed("purchases", p.id)
        self.state.changed("tokens", p.id)
        self._publish(p, "purchase.recurring_token_deleted")
        return p

    # -- webhooks ------------------------------------------------------------------------------

    def _webhook_fields(
        self, body: dict[str, Any], errors: _Errors, *, partial: bool
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "title" in body or not partial:
            values["title"] = _text(body, "title", errors)
        if "all_events" in body or not partial:
            values["all_events"] = _flag(body, "all_events", errors)
        if "events" in body or not partial:
            events = body.get("events") or []
            if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                errors.add("events", "invalid", "Must be a list of event names.")
                events = []
            values["events"] = list(events)
        if "callback" in body or not partial:
            callback = body.get("callback")
            if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
                errors.add("callback", "invalid", "An http(s) URL is required.")
            values["callback"] = callback
        return values

    def check_webhook(self, body: dict[str, Any]) -> None:
        """Validate a new webhook before the costly key generation."""
        errors = _Errors()
        self._webhook_fields(body, errors, partial=False)
        errors.raise_if_any()

    def create_webhook(self, body: dict[str, Any], key: RSAPrivateKey) -> Webhook:
        """Register a webhook; ``key`` is its fresh RSA key (made off the event loop)."""
        errors = _Errors()
        values = self._webhook_fields(body, errors, partial=False)
        errors.raise_if_any()
        now = self.now()
        webhook = Webhook(
            id=str(uuid.uuid4()),
            public_key=signing.public_pem(key),
            private_key_pem=signing.private_pem(key),
            created_on=now,
            updated_on=now,
            **values,
        )
        self.state.webhooks[webhook.id] = webhook
        self._keys[webhook.id] = key
        self._subscriptions = None
        self.state.changed("webhooks", webhook.id)
        return webhook

    def get_webhook(self, webhook_id: str) -> Webhook:
        webhook = self.state.webhooks.get(webhook_id)
        if webhook is None:
            raise NotFound()
        return webhook

    def update_webhook(self, webhook_id: str, body: dict[str, Any], *, partial: bool) -> Webhook:
        webhook = self.get_webhook(webhook_id)
        errors = _Errors()
        values = self._webhook_fields(body, errors, partial=partial)
        errors.raise_if_any()
        for key, value in values.items():
            setattr(webhook, key, value)
        webhook.updated_on = max(self.now(), webhook.updated_on)
        self._subscriptions = None
        self.state.changed("webhooks", webhook_id)
        return webhook

    def delete_webhook(self, webhook_id: str) -> None:
        if self.state.webhooks.pop(webhook_id, None) is None:
            raise NotFound()
        self._keys.pop(webhook_id, None)
        self._subscriptions = None
        self.state.changed("webhooks", webhook_id)

    @staticmethod
    def webhook_wire(webhook: Webhook) -> dict[str, Any]:
        return {
            "id": webhook.id,
            "title": webhook.title,
            "all_events": webhook.all_events,
            "events": list(webhook.events),
            "callback": webhook.callback,
            "public_key": webhook.public_key,
            "created_on": webhook.created_on,
            "updated_on": webhook.updated_on,
        }

    # -- migrated tokens (sandbox only) ---------------------------------------------------------

    def import_token(self, token_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A recurring token migrated from another processor, bound to a test card by NAME.

        A merchant moving to Precium brings its customers' stored cards as tokens; the sandbox
        cannot know those, so this lets a test or the demo teach it one, with the test card
        that decides how charges on it behave. A card number is never accepted here.
        """
        errors = _Errors()
        if not token_id or len(token_id) > 64:
            errors.add("recurring_token", "invalid", "1 to 64 characters.")
        key = body.get("card")
        try:
            card = card_by_key(key) if isinstance(key, str) else None
        except KeyError:
            card = None
        if card is None:
            errors.add("card", "invalid", "The name of a sandbox test card is required.")
        client_id = body.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            errors.add("client_id", "invalid", "A client id or null.")
        nti = body.get("network_transaction_id")
        if nti is not None and (not isinstance(nti, str) or len(nti) > 64):
            errors.add("network_transaction_id", "invalid", "Up to 64 characters.")
        errors.raise_if_any()
        assert card is not None
        now = self.now()
        existing = self.state.tokens.get(token_id)
        if existing is None or existing.deleted:
            year = _today(now).year + 3
            self.state.tokens[token_id] = RecurringToken(
                id=token_id,
                client_id=client_id,
                card=MaskedCard(
                    key=card.key,
                    brand=card.brand,
                    masked_pan=card.masked_pan,
                    last_4=card.last_4,
                    exp_month=12,
                    exp_year=year,
                    cardholder_name="",
                ),
                network_transaction_id=nti,
                created_on=now,
            )
            self.state.changed("tokens", token_id)
        token = self.state.tokens[token_id]
        return {
            "recurring_token": token.id,
            "client_id": token.client_id,
            "card_brand": token.card.brand,
            "masked_pan": token.card.masked_pan,
            "created_on": token.created_on,
        }

    # -- inspection ----------------------------------------------------------------------------

    def inspect_purchases(
        self, reference: str | None, status: str | None, origin: str
    ) -> list[dict[str, Any]]:
        results = []
        for p in self.state.purchases.values():
            if reference is not None and p.reference != reference:
                continue
            if status is not None and p.status != status:
                continue
            wire = self.purchase_wire(p, origin)
            wire["refunds"] = [
                {
                    "id": r.id,
                    "amount": r.amount,
                    "status": r.status,
                    "created_on": r.created_on,
                    "settled_on": r.settled_on,
                    "cancelled_on": r.cancelled_on,
                }
                for r in (self.state.refunds[i] for i in p.refund_ids)
            ]
            results.append(wire)
        return results
