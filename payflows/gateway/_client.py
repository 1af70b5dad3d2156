"""The async Precium client: one method per gateway call, typed models in and out.

Design choices, and why:

* **No retries here.** Precium has no idempotency key, so whether a call may be repeated depends
  on what the caller knows (a lost ``/charge/`` answer must be settled by reading the purchase
  back). The client classifies every failure (see ``_errors``) and the Prefect task decides.
* **One translation boundary.** Every request goes through :meth:`PreciumClient._call`, the only
  place that catches httpx exceptions or looks at status codes.
* **Card data passes through, never rests.** The S2S body is built as an argument expression,
  handed to httpx, and dropped; transport errors are raised outside the ``except`` block with a
  request-less copy as their cause, so neither the exception chain nor the traceback's frames
  lead back to the body or the ``Authorization`` header. Logs carry method, path and status only.
* **Several small pools.** One httpx pool spends O(connections) per request on bookkeeping and
  scales badly past ~8 connections (``PERFORMANCE-NOTES.md``), so ``max_connections`` is spread
  over ``ceil(max_connections / 8)`` clients picked round-robin.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar
from urllib.parse import quote

import httpx
import orjson
import pydantic
from pydantic import SecretStr

from payflows import __version__
from payflows.domain.cards import BrowserFingerprint, CardData
from payflows.domain.states import Status
from payflows.gateway import _errors
from payflows.gateway._errors import PreciumError
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
from payflows.gateway._state import PurchaseState

if TYPE_CHECKING:
    from types import TracebackType

    from payflows.settings import Settings

__all__ = ["PreciumClient"]

logger = logging.getLogger("payflows.gateway")

R = TypeVar("R")
P = TypeVar("P", Purchase, PurchaseState)
_Auth = Literal["standard", "s2s", "none"]

#: httpcore's pool bookkeeping is O(connections) per request; stay at or under this per pool.
CONNECTIONS_PER_POOL = 8
CONNECT_TIMEOUT = 5.0
_PURCHASE_IN_PATH = re.compile(r"/(?:purchases|p)/([^/]+)/")


def _route(*parts: str) -> str:
    """A relative route with every id quoted, so an id can never add a path segment."""
    return "".join(f"{quote(str(p), safe='')}/" for p in parts)


def _cents(amount: int | None) -> int | None:
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise TypeError(f"amount must be integer cents, got {type(amount).__name__}")
    if amount is not None and amount <= 0:
        raise ValueError("amount must be positive")
    return amount


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


def _decode(content: bytes) -> tuple[Any, bool]:
    """The JSON of an answer (None when empty) and whether it could be read."""
    if not content:
        return None, True
    try:
        return orjson.loads(content), True
    except ValueError:
        return None, False


def _pool_sizes(max_connections: int) -> list[int]:
    pools = math.ceil(max_connections / CONNECTIONS_PER_POOL)
    size, extra = divmod(max_connections, pools)
    return [size + 1 if i < extra else size for i in range(pools)]


class PreciumClient:
    """Precium's S2S gateway over httpx. Use as ``async with PreciumClient(...) as gateway:``.

    Two keys: ``api_key`` for every ``/api/v1/`` route, ``s2s_api_key`` for the card submission
    to a purchase's ``direct_post_url``. Pass ``transport`` to talk to an in-process app or a
    ``httpx.MockTransport`` (then a single pool is used: the transport owns its connections).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        s2s_api_key: str | SecretStr,
        brand_id: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        max_connections: int = 16,
        user_agent: str | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._base_url = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._s2s_api_key = (
            s2s_api_key if isinstance(s2s_api_key, SecretStr) else SecretStr(s2s_api_key)
        )
        self.brand_id = brand_id
        headers = {
            "User-Agent": user_agent or f"payflows/{__version__} httpx/{httpx.__version__}",
            "Accept": "application/json",
        }
        timeouts = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
        sizes = [max_connections] if transport is not None else _pool_sizes(max_connections)
        self._pools = tuple(
            httpx.AsyncClient(
                transport=transport,
                headers=headers,
                timeout=timeouts,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in sizes
        )
        self._rotation = itertools.cycle(self._pools)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 16,
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

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    def __repr__(self) -> str:
        return (
            f"PreciumClient(base_url={self.base_url!r}, brand_id={self.brand_id!r}, "
            f"pools={len(self._pools)})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    # -- clients -------------------------------------------------------------------------------

    async def create_client(self, details: ClientDetails) -> Client:
        body = details.model_dump(exclude_none=True)
        return await self._call("POST", "clients/", Client.model_validate, json=body)

    async def get_client(self, client_id: str) -> Client:
        return await self._call("GET", _route("clients", client_id), Client.model_validate)

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
            method, _route("clients", client_id), Client.model_validate, json=body
        )

    async def delete_client(self, client_id: str) -> None:
        await self._call("DELETE", _route("clients", client_id), _nothing)

    async def list_recurring_tokens(self, client_id: str) -> Page[RecurringToken]:
        return await self._call(
            "GET",
            _route("clients", client_id, "recurring_tokens"),
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
        body = None if _cents(amount) is None else {"amount": amount}
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
        body = None if _cents(amount) is None else {"amount": amount}
        return await self._call(
            "POST",
            _route("purchases", purchase_id, "refund"),
            partial(Refund.of_purchase, purchase_id),
            json=body,
            purchase_id=purchase_id,
        )

    async def cancel_refund(self, purchase_id: str, refund_id: str) -> Refund:
        return await self._call(
            "POST",
            _route("purchases", purchase_id, "refund", refund_id, "cancel"),
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

    def _not_declined(self, purchase_id: str, purchase: P) -> P:
        decline = purchase.last_error
        if purchase.status in {Status.ERROR, Status.BLOCKED} and decline is not None:
            path = self._base_url.join(_route("purchases", purchase_id, "charge")).path
            raise _errors.declined("POST", path, 200, decline, purchase_id=purchase_id)
        return purchase

    # -- the same, lighter, for bulk charge loops ----------------------------------------------

    def purchase_body(self, request: PurchaseRequest) -> dict[str, Any]:
        """The wire body of ``request`` (validated, with this client's brand), for
        :meth:`create_purchase_state`: build it once, send it many times (a loop changes only
        ``reference``). Treat it as read-only."""
        if request.brand_id is None:
            request = request.with_brand(self.brand_id)
        return request.to_body()

    async def create_purchase_state(self, body: Mapping[str, Any]) -> PurchaseState:
        """:meth:`create_purchase` for a body from :meth:`purchase_body`; reads back only a
        :class:`PurchaseState`. Same errors as :meth:`create_purchase`."""
        return await self._call(
            "POST", "purchases/", PurchaseState.from_body, content=orjson.dumps(body)
        )

    async def charge_state(self, purchase_id: str, recurring_token: str) -> PurchaseState:
        """:meth:`charge`, reading back only a :class:`PurchaseState` (declines raised alike)."""
        state = await self._call(
            "POST",
            _route("purchases", purchase_id, "charge"),
            PurchaseState.from_body,
            content=orjson.dumps({"recurring_token": recurring_token}),
            purchase_id=purchase_id,
            expect_decline=True,
        )
        return self._not_declined(purchase_id, state)

    async def get_purchase_state(self, purchase_id: str) -> PurchaseState:
        """:meth:`get_purchase`, reading only a :class:`PurchaseState`."""
        return await self._call(
            "GET",
            _route("purchases", purchase_id),
            PurchaseState.from_body,
            purchase_id=purchase_id,
        )

    async def capture_state(self, purchase_id: str, amount: int | None = None) -> PurchaseState:
        """:meth:`capture`, reading back only a :class:`PurchaseState` (the hold sweep)."""
        body = None if _cents(amount) is None else {"amount": amount}
        return await self._call(
            "POST",
            _route("purchases", purchase_id, "capture"),
            PurchaseState.from_body,
            content=None if body is None else orjson.dumps(body),
            purchase_id=purchase_id,
        )

    async def release_state(self, purchase_id: str) -> PurchaseState:
        """:meth:`release`, reading back only a :class:`PurchaseState` (the hold sweep)."""
        return await self._call(
            "POST",
            _route("purchases", purchase_id, "release"),
            PurchaseState.from_body,
            purchase_id=purchase_id,
        )

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
            method, _route(*parts), Purchase.model_validate, purchase_id=purchase_id, **kwargs
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
        return await self._call("GET", _route("webhooks", webhook_id), Webhook.model_validate)

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
            _route("webhooks", webhook_id),
            Webhook.model_validate,
            json=body,
        )

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._call("DELETE", _route("webhooks", webhook_id), _nothing)

    # -- the one boundary ----------------------------------------------------------------------

    def _headers(self, auth: _Auth) -> dict[str, str]:
        if auth == "none":
            return {}
        key = self._api_key if auth == "standard" else self._s2s_api_key
        return {"Authorization": f"Bearer {key.get_secret_value()}"}

    async def _call(
        self,
        method: str,
        target: str | httpx.URL,
        into: Callable[[Any], R],
        *,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        auth: _Auth = "standard",
        purchase_id: str | None = None,
        expect_decline: bool = False,
    ) -> R:
        """Send one request, classify the outcome, parse the answer with ``into``.

        Every failure leaves as a :class:`PreciumError`; nothing else escapes but programming
        errors (a closed client, say).
        """
        url = target if isinstance(target, httpx.URL) else self._base_url.join(target)
        path = url.path
        pool = next(self._rotation)
        headers = self._headers(auth)
        if content is not None:
            headers["Content-Type"] = "application/json"  # encoded JSON (orjson, compact)
        request = pool.build_request(
            method, url, json=json, content=content, data=data, params=params, headers=headers
        )
        # The request holds the body and the key now; keep no second reference to either.
        del json, data, content, headers
        error: PreciumError | None = None
        try:
            response = await pool.send(request)
        except httpx.HTTPError as exc:
            logger.debug("%s %s -> %s", method, path, type(exc).__name__)
            error = _errors.from_transport_error(exc, method, path, purchase_id=purchase_id)
        finally:
            del request
        if error is not None:
            # Raised outside the except block, so no __context__ leads back to httpx's exception
            # (which holds the request), and from a frame that no longer holds the body.
            raise error from error.__cause__
        logger.debug("%s %s -> %s", method, path, response.status_code)
        outcome = _interpret(response, into, method, path, purchase_id, expect_decline)
        del response  # response.request is the request, body included
        if isinstance(outcome, PreciumError):
            raise outcome
        return outcome


def _interpret(
    response: httpx.Response,
    into: Callable[[Any], R],
    method: str,
    path: str,
    purchase_id: str | None,
    expect_decline: bool,
) -> R | PreciumError:
    """The parsed answer, or the error to raise. Returns rather than raises the error, so that
    this frame (which holds the answer, possibly echoing what we sent) is not in its traceback.
    """
    status = response.status_code
    body, readable = _decode(response.content)
    if not 200 <= status < 300 or (expect_decline and _errors.is_s2s_error(body)):
        return _errors.from_response(
            method,
            path,
            status,
            response.headers,
            body,
            purchase_id=purchase_id,
            expect_decline=expect_decline,
        )
    if not readable:
        return _errors.unreadable_answer(
            method, path, status, purchase_id=purchase_id, detail="not JSON"
        )
    try:
        return into(body)
    except pydantic.ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]
        )
    except (ValueError, TypeError) as exc:
        detail = str(exc)
    # Returned after the except blocks: the parse error quotes the answer, so it is not chained.
    return _errors.unreadable_answer(method, path, status, purchase_id=purchase_id, detail=detail)
