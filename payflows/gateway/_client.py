"""The async Precium client: one method per gateway call, typed models in and out.

Design choices, and why:

* **No retries here.** Precium has no idempotency key, so whether a call may be repeated depends
  on what the caller knows (a lost ``/charge/`` answer must be settled by reading the purchase
  back). The client classifies every failure (see ``_translate``) and the Prefect task decides.
* **One translation boundary, card data never at rest, several small pools:** the HTTP plumbing
  underneath, in ``_http``; the light calls that read back a :class:`PurchaseState` only, in
  ``_light_calls``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.gateway._http import positive_cents, route
from payflows.gateway._light_calls import LightCalls
from payflows.gateway._models import (
    CardSubmission,
    Client,
    ClientDetails,
    Page,
    PaymentMethods,
    Purchase,
    PurchaseRequest,
    RecurringToken,
    Refund,
    ThreeDSResult,
    Webhook,
)

if TYPE_CHECKING:
    from payflows.settings import Settings

__all__ = ["PreciumClient"]

_PURCHASE_IN_PATH = re.compile(r"/(?:purchases|p)/([^/]+)/")


def _nothing(_body: Any) -> None:
    return None


def _pem(body: Any) -> str:
    if isinstance(body, Mapping):
        body = body.get("public_key")
    if not isinstance(body, str) or "BEGIN PUBLIC KEY" not in body:
        raise ValueError("not a PEM public key")
    return body


def _submission(purchase_id: str | None, body: Any) -> CardSubmission:
    submission = CardSubmission.model_validate(body)
    if submission.purchase_id is None and purchase_id is not None:
        submission = submission.model_copy(update={"purchase_id": purchase_id})
    return submission


def _s2s_body(
    card: CardData | None, remote_ip: str, remember_card: bool, browser: BrowserFingerprint | None
) -> dict[str, Any]:
    body: dict[str, Any] = card.s2s_fields() if card is not None else {}
    body["remember_card"] = "on" if remember_card else "off"
    body["remote_ip"] = remote_ip
    if browser is not None:
        body.update(browser.as_fields())
    return body


class PreciumClient(LightCalls):
    """Precium's S2S gateway over httpx. Use as ``async with PreciumClient(...) as gateway:``.

    Two keys: ``api_key`` for every ``/api/v1/`` route, ``s2s_api_key`` for the card submission
    to a purchase's ``direct_post_url``. Pass ``transport`` to talk to an in-process app or a
    ``httpx.MockTransport`` (then a single pool is used: the transport owns its connections).
    """

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = LightCalls.DEFAULT_CONNECTIONS,
    ) -> PreciumClient:
        """A client for ``PRECIUM_*`` settings (keys held in Prefect blocks are resolved by the
        caller, which passes them to the constructor instead: the core does not import Prefect).
        """
        return cls(
            settings.precium_base_url,
            settings.precium_api_key,
            settings.precium_s2s_api_key,
            settings.precium_brand_id,
            transport=transport,
            timeout=settings.precium_timeout_seconds,
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        return (
            f"PreciumClient(base_url={self.base_url!r}, brand_id={self.brand_id!r}, "
            f"pools={len(self._pools)})"
        )

    # -- clients -------------------------------------------------------------------------------

    async def create_client(self, details: ClientDetails) -> Client:
        body = details.model_dump(exclude_none=True)
        return await self._call("POST", "clients/", Client.model_validate, json=body)

    async def get_client(self, client_id: str) -> Client:
        return await self._call("GET", route("clients", client_id), Client.model_validate)

    async def list_clients(
        self, *, email: str | None = None, page: int | None = None
    ) -> Page[Client]:
        params = {k: v for k, v in {"email": email, "page": page}.items() if v is not None}
        return await self._call("GET", "clients/", Page[Client].model_validate, params=params)

    async def update_client(
        self, client_id: str, details: ClientDetails, *, partial: bool = True
    ) -> Client:
        """PATCH the fields set on ``details`` (or PUT them all with ``partial=False``)."""
        method = "PATCH" if partial else "PUT"
        body = (
            details.model_dump(exclude_unset=True)
            if partial
            else details.model_dump(exclude_none=True)
        )
        return await self._call(
            method, route("clients", client_id), Client.model_validate, json=body
        )

    async def delete_client(self, client_id: str) -> None:
        await self._call("DELETE", route("clients", client_id), _nothing)

    async def list_recurring_tokens(self, client_id: str) -> Page[RecurringToken]:
        return await self._call(
            "GET",
            route("clients", client_id, "recurring_tokens"),
            Page[RecurringToken].model_validate,
        )

    # -- purchases -----------------------------------------------------------------------------

    async def create_purchase(self, request: PurchaseRequest) -> Purchase:
        if request.brand_id is None:
            request = request.with_brand(self.brand_id)
        return await self._call(
            "POST", "purchases/", Purchase.model_validate, json=request.to_body()
        )

    async def get_purchase(self, purchase_id: str) -> Purchase:
        return await self._purchase("GET", purchase_id)

    async def capture(self, purchase_id: str, amount: int | None = None) -> Purchase:
        """Capture a hold, in full or (``amount`` cents) in part; the rest is released."""
        body = None if positive_cents(amount) is None else {"amount": amount}
        return await self._purchase("POST", purchase_id, "capture", json=body)

    async def release(self, purchase_id: str) -> Purchase:
        return await self._purchase("POST", purchase_id, "release")

    async def cancel(self, purchase_id: str) -> Purchase:
        return await self._purchase("POST", purchase_id, "cancel")

    async def refund(self, purchase_id: str, amount: int | None = None) -> Refund:
        """Refund all or ``amount`` cents of a paid purchase.

        The platform answers with the refund's payment object (its ``id`` is the refund's); the
        guide shows ``{id, status, refund_amount, refunded_on, refund_id}``. Both are read, the
        refund id taken from whichever is present.
        """
        body = None if positive_cents(amount) is None else {"amount": amount}
        return await self._call(
            "POST",
            route("purchases", purchase_id, "refund"),
            partial(Refund.of_purchase, purchase_id),
            json=body,
            purchase_id=purchase_id,
        )

    async def cancel_refund(self, purchase_id: str, refund_id: str) -> Refund:
        return await self._call(
            "POST",
            route("purchases", purchase_id, "refund", refund_id, "cancel"),
            partial(Refund.of_purchase, purchase_id),
            purchase_id=purchase_id,
        )

    async def charge(self, purchase_id: str, recurring_token: str) -> Purchase:
        """Merchant-initiated charge of ``purchase_id`` on a stored card.

        Returns the purchase (``paid`` or ``pending_charge``); a decline is raised as
        :class:`CardDeclinedError`, whether the gateway answers it with a 400 or, CHIP-style,
        with the purchase in ``error`` and the failed attempt.
        """
        purchase = await self._purchase(
            "POST",
            purchase_id,
            "charge",
            json={"recurring_token": recurring_token},
            expect_decline=True,
        )
        return self._not_declined(purchase_id, purchase)

    async def delete_recurring_token(self, purchase_id: str) -> Purchase:
        """Delete the stored card that ``purchase_id`` (the purchase that saved it) is.

        The platform answers with the purchase (``is_recurring_token`` false, a
        ``delete_recurring_token`` attempt first) and sends
        ``purchase.pending_recurring_token_delete`` then ``purchase.recurring_token_deleted``.
        """
        return await self._purchase("POST", purchase_id, "delete_recurring_token")

    async def _purchase(
        self, method: str, purchase_id: str, action: str | None = None, **kwargs: Any
    ) -> Purchase:
        parts = ("purchases", purchase_id) + ((action,) if action else ())
        return await self._call(
            method, route(*parts), Purchase.model_validate, purchase_id=purchase_id, **kwargs
        )

    # -- S2S card submission and 3-D Secure ----------------------------------------------------

    async def submit_card(
        self,
        direct_post_url: str,
        card: CardData | None,
        *,
        remote_ip: str,
        remember_card: bool = False,
        browser: BrowserFingerprint | None = None,
    ) -> CardSubmission:
        """Send the card to the purchase's ``direct_post_url`` with the S2S key.

        ``card`` is None for a network-token purchase (the token stands in for the card).
        Without ``browser`` the gateway treats it as a non-3DS payment. A decline or a card
        validation failure raises :class:`CardDeclinedError`.
        """
        url = httpx.URL(direct_post_url).copy_merge_params({"s2s": "true"})
        match = _PURCHASE_IN_PATH.search(url.path)
        purchase_id = match[1] if match else None
        return await self._call(
            "POST",
            url,
            partial(_submission, purchase_id),
            json=_s2s_body(card, remote_ip, remember_card, browser),
            auth="s2s",
            purchase_id=purchase_id,
            expect_decline=True,
        )

    async def complete_3ds(self, callback_url: str, md: str, pares: str) -> ThreeDSResult:
        """Hand the ACS's answer to the gateway and get the final status of the payment."""
        return await self._call(
            "POST",
            httpx.URL(callback_url),
            ThreeDSResult.model_validate,
            data={"MD": md, "PaRes": pares},
            auth="none",
            expect_decline=True,
        )

    # -- brand -----------------------------------------------------------------------------------

    async def list_payment_methods(self, currency: str | None = None) -> PaymentMethods:
        """The payment methods this client's brand can take (in ``currency``, if given)."""
        params = {"brand_id": self.brand_id}
        if currency is not None:
            params["currency"] = currency
        return await self._call(
            "GET", "payment_methods/", PaymentMethods.model_validate, params=params
        )

    # -- keys and webhooks ---------------------------------------------------------------------

    async def get_public_key(self) -> str:
        """PEM of the company key that signs success callbacks."""
        return await self._call("GET", "public_key/", _pem)

    async def create_webhook(
        self,
        title: str,
        callback: str,
        *,
        events: list[str] | None = None,
        all_events: bool = False,
    ) -> Webhook:
        body = {
            "title": title,
            "callback": callback,
            "events": events or [],
            "all_events": all_events,
        }
        return await self._call("POST", "webhooks/", Webhook.model_validate, json=body)

    async def list_webhooks(self) -> Page[Webhook]:
        return await self._call("GET", "webhooks/", Page[Webhook].model_validate)

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return await self._call("GET", route("webhooks", webhook_id), Webhook.model_validate)

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        title: str | None = None,
        callback: str | None = None,
        events: list[str] | None = None,
        all_events: bool | None = None,
        partial: bool = True,
    ) -> Webhook:
        """PATCH the given fields (or PUT them with ``partial=False``)."""
        given = {"title": title, "callback": callback, "events": events, "all_events": all_events}
        body = {k: v for k, v in given.items() if v is not None}
        return await self._call(
            "PATCH" if partial else "PUT",
            route("webhooks", webhook_id),
            Webhook.model_validate,
            json=body,
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._call("DELETE", route("webhooks", webhook_id), _nothing)
