"""The gateway's behaviour, without HTTP: one facade over modules of one job each.

The HTTP layer (app.py) calls only :class:`Engine`; each method hands over to the module that
owns the job:

- ``core``: records, clock, the one way a status changes (``Core.move``), the attempt log;
- ``events``: which event each change publishes, to whom, signed with which key;
- ``wire``: the bodies sent (CHIP's purchase and payment objects, field for field);
- ``clients``, ``hooks``: the ``/clients/`` and ``/webhooks/`` resources;
- ``purchases``: creation, the payer viewing, the brand's payment methods;
- ``submission``, ``threeds``, ``payer``: the card, 3-D Secure, and an approval or decline;
- ``actions``: capture, release, cancel, refund; ``tokens``: stored cards and ``/charge/``;
- ``timeline``: sandbox time and what falls due on it.

Fees: a flat 2.5 % of the amount moved, rounded half-up in integers (:func:`fee_for`).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payflows.sandbox import signing, wire
from payflows.sandbox.actions import Actions
from payflows.sandbox.clients import CLIENT_FIELDS, Clients
from payflows.sandbox.clock import SandboxClock
from payflows.sandbox.config import SandboxConfig
from payflows.sandbox.core import Core
from payflows.sandbox.errors import Answer, GatewayError, NotFound
from payflows.sandbox.events import EventBus, Publisher, event_for
from payflows.sandbox.hooks import Webhooks
from payflows.sandbox.payer import Payer
from payflows.sandbox.purchases import Purchases
from payflows.sandbox.state import Purchase, SandboxState, ThreeDSSession, Webhook
from payflows.sandbox.submission import FINGERPRINT_FIELDS, CardSubmission
from payflows.sandbox.threeds import ThreeDS
from payflows.sandbox.timeline import Timeline, hold_window
from payflows.sandbox.tokens import Tokens
from payflows.sandbox.wire import fee_for

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
        self.bus = EventBus(state, publisher)
        core = self.core = Core(state, clock, config, self.bus)
        payer = Payer(core)
        self.threeds = ThreeDS(core, payer)
        self.timeline = Timeline(core, self.threeds.abandon)
        self.clients = Clients(core)
        self.purchases = Purchases(core, self.clients)
        self.submission = CardSubmission(core, payer, self.threeds)
        self.actions = Actions(core, self.timeline)
        self.tokens = Tokens(core, payer)
        self.webhooks = Webhooks(core)

    # -- time ----------------------------------------------------------------------------------
    def now(self) -> int:
        return self.core.now()

    def advance(self, seconds: object) -> None:
        self.timeline.advance(seconds)

    def run_due(self) -> None:
        self.timeline.run_due()

    def _hold_window(self, p: Purchase) -> int:
        return hold_window(p)

    # -- keys ----------------------------------------------------------------------------------
    def company_key(self) -> RSAPrivateKey:
        return self.bus.company_key()

    def has_company_key(self) -> bool:
        return self.bus.has_company_key()

    def set_company_key(self, key: RSAPrivateKey) -> None:
        self.bus.set_company_key(key)

    def public_key(self) -> str:
        return signing.public_pem(self.bus.company_key())

    # -- rendering -----------------------------------------------------------------------------
    @staticmethod
    def purchase_wire(p: Purchase, origin: str | None = None) -> dict[str, Any]:
        return wire.purchase_wire(p, origin)

    @staticmethod
    def webhook_wire(webhook: Webhook) -> dict[str, Any]:
        return wire.webhook_wire(webhook)

    # -- clients -------------------------------------------------------------------------------
    def create_client(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.clients.create(body)

    def get_client(self, client_id: str) -> dict[str, Any]:
        return self.clients.get(client_id)

    def list_clients(self, email: str | None, page: int) -> tuple[list[dict[str, Any]], bool]:
        return self.clients.list(email, page)

    def update_client(
        self, client_id: str, body: dict[str, Any], *, partial: bool
    ) -> dict[str, Any]:
        return self.clients.update(client_id, body, partial=partial)

    def delete_client(self, client_id: str) -> None:
        self.clients.delete(client_id)

    def client_tokens(self, client_id: str) -> list[dict[str, Any]]:
        return self.clients.tokens(client_id)

    # -- purchases -----------------------------------------------------------------------------
    def get_purchase(self, purchase_id: str) -> Purchase:
        return self.core.get_purchase(purchase_id)

    def create_purchase(self, body: dict[str, Any], origin: str) -> Purchase:
        return self.purchases.create(body, origin)

    def view_purchase(self, purchase_id: str) -> Purchase:
        return self.purchases.view(purchase_id)

    def payment_methods(self, brand_id: str | None, currency: str | None) -> dict[str, Any]:
        return self.purchases.payment_methods(brand_id, currency)

    def submit_card(
        self, purchase_id: str, body: dict[str, Any], origin: str | None = None
    ) -> Answer:
        return self.submission.submit(purchase_id, body, origin)

    # -- 3-D Secure ----------------------------------------------------------------------------
    def session(self, md: str) -> ThreeDSSession:
        return self.threeds.session(md)

    def acs_view(self, md: str) -> dict[str, str]:
        return self.threeds.acs_view(md)

    def acs_decide(self, md: str, pareq: str, approve: bool) -> str:
        return self.threeds.acs_decide(md, pareq, approve)

    def complete_3ds(self, md: str, form_md: str | None, pares: str | None) -> Answer:
        return self.threeds.complete(md, form_md, pares)

    # -- actions -------------------------------------------------------------------------------
    def capture(self, purchase_id: str, body: dict[str, Any]) -> Purchase:
        return self.actions.capture(purchase_id, body)

    def release(self, purchase_id: str) -> Purchase:
        return self.actions.release(purchase_id)

    def cancel(self, purchase_id: str) -> Purchase:
        return self.actions.cancel(purchase_id)

    def refund(self, purchase_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.actions.refund(purchase_id, body)

    def cancel_refund(self, purchase_id: str, refund_id: str) -> dict[str, Any]:
        return self.actions.cancel_refund(purchase_id, refund_id)

    def charge(self, purchase_id: str, body: dict[str, Any]) -> Answer:
        return self.tokens.charge(purchase_id, body)

    def delete_recurring_token(self, purchase_id: str) -> Purchase:
        return self.tokens.delete(purchase_id)

    def import_token(self, token_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.tokens.import_token(token_id, body)

    # -- webhooks ------------------------------------------------------------------------------
    def check_webhook(self, body: dict[str, Any]) -> None:
        self.webhooks.check(body)

    def create_webhook(self, body: dict[str, Any], key: RSAPrivateKey) -> Webhook:
        return self.webhooks.create(body, key)

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self.webhooks.get(webhook_id)

    def update_webhook(self, webhook_id: str, body: dict[str, Any], *, partial: bool) -> Webhook:
        return self.webhooks.update(webhook_id, body, partial=partial)

    def delete_webhook(self, webhook_id: str) -> None:
        self.webhooks.delete(webhook_id)

    # -- inspection (sandbox only) -------------------------------------------------------------
    def inspect_purchases(
        self, reference: str | None, status: str | None, origin: str
    ) -> list[dict[str, Any]]:
        results = []
        for p in self.state.purchases.values():
            if reference is not None and p.reference != reference:
                continue
            if status is not None and p.status != status:
                continue
            body = wire.purchase_wire(p, origin)
            body["refunds"] = [
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
            results.append(body)
        return results
