"""Which event each change publishes, to whom, signed with which key.

The engine never talks to the webhook dispatcher directly: it hands a purchase and an event name
to :class:`EventBus`, which finds the subscribed webhooks (cached per event), adds the purchase's
``success_callback`` for ``purchase.paid``, builds the body only when someone listens (the
costly part) and enqueues it on the :class:`Publisher`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payflows.domain.states import Op, Result, Status
from payflows.sandbox import signing
from payflows.sandbox.state import Purchase, SandboxState, Webhook

__all__ = ["EVENTS", "EventBus", "Publisher", "Target", "event_for"]

Target = tuple[str, str, RSAPrivateKey]

_PAYER_OPS: Final = (Op.PAY, Op.AUTHORIZE, Op.VERIFY)

#: The webhook event of each finished operation (STARTED ones are ``purchase.pending_*``).
EVENTS: Final[dict[tuple[Op, Result], str]] = {
    (Op.VIEW, Result.APPROVED): "purchase.viewed",
    (Op.PAY, Result.APPROVED): "purchase.paid",
    (Op.AUTHORIZE, Result.APPROVED): "purchase.hold",
    (Op.VERIFY, Result.APPROVED): "purchase.preauthorized",
    **{
        (op, r): "purchase.payment_failure"
        for op in _PAYER_OPS
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


def event_for(op: Op, result: Result, new_status: Status) -> str | None:
    """The event a transition publishes; ``None`` for the silent ones (expiry, clearing)."""
    if result is Result.STARTED:
        return f"purchase.{new_status.value}" if new_status.value.startswith("pending_") else None
    return EVENTS.get((op, result))


class Publisher(Protocol):
    """What the engine needs of the webhook dispatcher: an enqueue that never blocks."""

    def publish(
        self,
        *,
        targets: list[Target],
        event_type: str,
        body: dict[str, Any],
        purchase_id: str,
    ) -> None: ...


class EventBus:
    """Subscriptions, signing keys and the company key, over the state's webhook records."""

    def __init__(self, state: SandboxState, publisher: Publisher) -> None:
        self.state = state
        self.publisher = publisher
        self._keys: dict[str, RSAPrivateKey] = {}
        self._company_key: RSAPrivateKey | None = None
        self._subscriptions: dict[str, list[Target]] | None = None

    def forget(self, webhook_id: str | None = None) -> None:
        """Drop cached subscriptions (a webhook was added, changed or deleted)."""
        self._subscriptions = None
        if webhook_id is not None:
            self._keys.pop(webhook_id, None)

    def remember_key(self, webhook_id: str, key: RSAPrivateKey) -> None:
        self._keys[webhook_id] = key

    def _key(self, webhook: Webhook) -> RSAPrivateKey:
        key = self._keys.get(webhook.id)
        if key is None:
            key = self._keys[webhook.id] = signing.load_private_pem(webhook.private_key_pem)
        return key

    def targets(self, event: str) -> list[Target]:
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

    # -- the company key (success callbacks, GET /public_key/) -----------------------------------

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

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, p: Purchase, event: str, body_factory: Callable[[], dict[str, Any]]) -> None:
        targets = self.targets(event)
        callback = event == "purchase.paid" and bool(p.success_callback)
        if not targets and not callback:
            return  # nobody listens: skip building the body, the costly part
        body = body_factory()
        body["event_type"] = event
        if callback:
            targets = [*targets, ("success_callback", p.success_callback, self.company_key())]
        self.publisher.publish(targets=targets, event_type=event, body=body, purchase_id=p.id)
