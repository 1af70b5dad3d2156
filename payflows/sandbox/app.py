"""The sandbox as an ASGI app: the routes of docs/gateway-wire.md over the engine.

Handlers stay thin: authenticate, parse, call one engine method, render. The engine is
synchronous and runs on the event loop, so each request's state change is atomic; the only
slow things (RSA key generation, webhook signing and sending, the state file) happen off the
request path: in a thread, in the dispatcher's workers, in the persister's task.

The whole app is wrapped in :class:`~payflows.sandbox.faults.FaultMiddleware`, outermost, so an
injected fault hits a request before anything else sees it (``/_sandbox/`` is never faulted).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from payflows.sandbox import signing
from payflows.sandbox.clock import SandboxClock
from payflows.sandbox.config import SandboxConfig
from payflows.sandbox.control import Control
from payflows.sandbox.engine import Engine, GatewayError
from payflows.sandbox.faults import FaultInjector, FaultMiddleware
from payflows.sandbox.httputil import answer as _answer
from payflows.sandbox.httputil import form as _form
from payflows.sandbox.httputil import json_body as _body
from payflows.sandbox.httputil import json_response as _json
from payflows.sandbox.httputil import origin as _origin
from payflows.sandbox.pages import Pages
from payflows.sandbox.persist import StatePersister
from payflows.sandbox.state import load_state
from payflows.sandbox.webhooks import WebhookDispatcher

__all__ = ["Sandbox", "create_app"]

logger = logging.getLogger(__name__)

_UNAUTHORIZED = {"detail": "Invalid API key"}


class Sandbox:
    """One running sandbox: state, clock, engine, webhook dispatcher, persister, faults."""

    def __init__(
        self, config: SandboxConfig, *, webhook_transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        # A copy: the run-time switches (PUT /_sandbox/config/) must not edit the caller's object.
        self.config = dataclasses.replace(config, faults=list(config.faults))
        self.state = load_state(self.config.state_file)
        self.clock = SandboxClock(self.state.clock_offset)
        self.dispatcher = WebhookDispatcher(
            self.clock.now,
            backoff_base=self.config.webhook_backoff_base,
            transport=webhook_transport,
        )
        self.engine = Engine(self.state, self.clock, self.config, self.dispatcher)
        self.injector = FaultInjector(self.config.faults, seed=self.config.seed)
        self.persister = StatePersister(self.state, self.config.state_file)
        self.started = False

    async def start(self) -> None:
        """Start the background work. Idempotent: the lifespan or the first request calls it."""
        if self.started:
            return
        self.started = True
        await self.dispatcher.start()
        self.persister.start()
        # What fell due while the sandbox was down. The company key is made on first need
        # (GET /public_key/ off the loop, or the first success callback), not here.
        self.engine.run_due()

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.persister.stop()
        await self.dispatcher.stop()


# -- helpers ---------------------------------------------------------------------------------


Handler = Callable[[Request], Awaitable[Response]]


class _Api:
    """The route handlers, bound to one :class:`Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.engine = sandbox.engine
        self.config = sandbox.config

    # -- plumbing ----------------------------------------------------------------------------

    def guard(self, handler: Handler, key: str | None) -> Handler:
        """Check the route's key (``"api"``, ``"s2s"`` or none) and render GatewayError."""
        config = self.config

        async def endpoint(request: Request) -> Response:
            if key is not None:
                expected = config.api_key if key == "api" else config.s2s_api_key
                if request.headers.get("authorization") != f"Bearer {expected}":
                    return _json(_UNAUTHORIZED, 401)
            try:
                return await handler(request)
            except GatewayError as exc:
                return _json(exc.body, exc.status)

        return endpoint

    async def _hold_back(self) -> None:
        """The always-times-out card: the payment is committed, the answer comes too late."""
        await asyncio.sleep(self.config.timeout_seconds)

    # -- clients -----------------------------------------------------------------------------

    async def clients(self, request: Request) -> Response:
        if request.method == "POST":
            return _json(self.engine.create_client(await _body(request)), 201)
        email = request.query_params.get("email")
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1:
            raise GatewayError.field("page", "invalid", "Must be a page number from 1.")
        results, more = self.engine.list_clients(email, page)
        return _json(
            {
                "results": results,
                "next": str(request.url.include_query_params(page=page + 1)) if more else None,
                "previous": (
                    str(request.url.include_query_params(page=page - 1)) if page > 1 else None
                ),
            }
        )

    async def client(self, request: Request) -> Response:
        client_id = request.path_params["client_id"]
        if request.method == "GET":
            return _json(self.engine.get_client(client_id))
        if request.method == "DELETE":
            self.engine.delete_client(client_id)
            return Response(status_code=204)
        body = await _body(request)
        partial = request.method == "PATCH"
        return _json(self.engine.update_client(client_id, body, partial=partial))

    async def client_tokens(self, request: Request) -> Response:
        tokens = self.engine.client_tokens(request.path_params["client_id"])
        return _json({"results": tokens, "next": None, "previous": None})

    # -- purchases ---------------------------------------------------------------------------

    async def create_purchase(self, request: Request) -> Response:
        body = await _body(request)
        origin = _origin(request)
        p = self.engine.create_purchase(body, origin)
        return _json(self.engine.purchase_wire(p, origin), 201)

    async def purchase(self, request: Request) -> Response:
        p = self.engine.get_purchase(request.path_params["purchase_id"])
        return _json(self.engine.purchase_wire(p, _origin(request)))

    async def capture(self, request: Request) -> Response:
        purchase_id = request.path_params["purchase_id"]
        self.engine.get_purchase(purchase_id)
        p = self.engine.capture(purchase_id, await _body(request))
        return _json(self.engine.purchase_wire(p, _origin(request)))

    async def release(self, request: Request) -> Response:
        p = self.engine.release(request.path_params["purchase_id"])
        return _json(self.engine.purchase_wire(p, _origin(request)))

    async def cancel(self, request: Request) -> Response:
        p = self.engine.cancel(request.path_params["purchase_id"])
        return _json(self.engine.purchase_wire(p, _origin(request)))

    async def refund(self, request: Request) -> Response:
        purchase_id = request.path_params["purchase_id"]
        self.engine.get_purchase(purchase_id)
        return _json(self.engine.refund(purchase_id, await _body(request)))

    async def cancel_refund(self, request: Request) -> Response:
        params = request.path_params
        return _json(self.engine.cancel_refund(params["purchase_id"], params["refund_id"]))

    async def charge(self, request: Request) -> Response:
        purchase_id = request.path_params["purchase_id"]
        self.engine.get_purchase(purchase_id)
        answer = self.engine.charge(purchase_id, await _body(request))
        if answer.hold_back:
            await self._hold_back()
        if answer.status_code == 200:  # re-render: the purchase may have moved meanwhile
            p = self.engine.get_purchase(purchase_id)
            return _json(self.engine.purchase_wire(p, _origin(request)))
        return _answer(answer)

    async def delete_recurring_token(self, request: Request) -> Response:
        p = self.engine.delete_recurring_token(request.path_params["purchase_id"])
        return _json(self.engine.purchase_wire(p, _origin(request)))

    async def payment_methods(self, request: Request) -> Response:
        params = request.query_params
        return _json(self.engine.payment_methods(params.get("brand_id"), params.get("currency")))

    async def public_key(self, request: Request) -> Response:
        if not self.engine.has_company_key():
            key = await asyncio.to_thread(signing.generate_key)
            if not self.engine.has_company_key():
                self.engine.set_company_key(key)
        return _json(self.engine.public_key())

    # -- webhooks ----------------------------------------------------------------------------

    async def webhooks(self, request: Request) -> Response:
        if request.method == "GET":
            hooks = [self.engine.webhook_wire(w) for w in self.engine.state.webhooks.values()]
            return _json({"results": hooks, "next": None, "previous": None})
        body = await _body(request)
        self.engine.check_webhook(body)
        key = await asyncio.to_thread(signing.generate_key)  # ~50 ms of CPU: not on the loop
        return _json(self.engine.webhook_wire(self.engine.create_webhook(body, key)), 201)

    async def webhook(self, request: Request) -> Response:
        webhook_id = request.path_params["webhook_id"]
        if request.method == "GET":
            return _json(self.engine.webhook_wire(self.engine.get_webhook(webhook_id)))
        if request.method == "DELETE":
            self.engine.delete_webhook(webhook_id)
            return Response(status_code=204)
        self.engine.get_webhook(webhook_id)
        body = await _body(request)
        partial = request.method == "PATCH"
        return _json(
            self.engine.webhook_wire(self.engine.update_webhook(webhook_id, body, partial=partial))
        )

    # -- S2S and 3-D Secure ------------------------------------------------------------------

    async def direct_post(self, request: Request) -> Response:
        purchase_id = request.path_params["purchase_id"]
        self.engine.get_purchase(purchase_id)
        if request.query_params.get("s2s") != "true":
            raise GatewayError.field("s2s", "required", "Card data is accepted with ?s2s=true.")
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body: dict[str, Any] = dict(await _form(request))
        else:
            body = await _body(request)
        answer = self.engine.submit_card(purchase_id, body, _origin(request))
        if answer.hold_back:
            await self._hold_back()
        return _answer(answer)

    async def callback_3ds(self, request: Request) -> Response:
        md = request.path_params["md"]
        if request.headers.get("content-type", "").startswith("application/json"):
            raw = await _body(request)
            form = {k: v for k, v in raw.items() if isinstance(v, str)}
        else:
            form = await _form(request)
        return _answer(self.engine.complete_3ds(md, form.get("MD"), form.get("PaRes")))


class _LazyStart:
    """Starts the sandbox on its first request when no lifespan ran (httpx.ASGITransport)."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.sandbox.started:
            await self.sandbox.start()
        await self.app(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json({"detail": "No such object"}, 404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    headers = getattr(exc, "headers", None)
    return JSONResponse({"detail": "Method not allowed"}, status_code=405, headers=headers)


def create_app(
    config: SandboxConfig | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> ASGIApp:
    """The sandbox app. ``webhook_transport`` lets a test receive webhooks in-process.

    The returned app carries the running :class:`Sandbox` as ``app.sandbox`` (for tests and
    the CLI; HTTP clients use ``/_sandbox/``).
    """
    sandbox = Sandbox(config or SandboxConfig(), webhook_transport=webhook_transport)
    api = _Api(sandbox)
    control = Control(sandbox)
    pages = Pages(sandbox.engine)
    g = api.guard
    v1 = "/api/v1"
    purchase = v1 + "/purchases/{purchase_id}"
    routes = [
        Route(f"{v1}/clients/", g(api.clients, "api"), methods=["GET", "POST"]),
        Route(
            v1 + "/clients/{client_id}/",
            g(api.client, "api"),
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
        Route(
            v1 + "/clients/{client_id}/recurring_tokens/",
            g(api.client_tokens, "api"),
            methods=["GET"],
        ),
        Route(f"{v1}/purchases/", g(api.create_purchase, "api"), methods=["POST"]),
        Route(purchase + "/", g(api.purchase, "api"), methods=["GET"]),
        Route(purchase + "/capture/", g(api.capture, "api"), methods=["POST"]),
        Route(purchase + "/release/", g(api.release, "api"), methods=["POST"]),
        Route(purchase + "/cancel/", g(api.cancel, "api"), methods=["POST"]),
        Route(purchase + "/refund/", g(api.refund, "api"), methods=["POST"]),
        Route(
            purchase + "/refund/{refund_id}/cancel/", g(api.cancel_refund, "api"), methods=["POST"]
        ),
        Route(purchase + "/charge/", g(api.charge, "api"), methods=["POST"]),
        Route(
            purchase + "/delete_recurring_token/",
            g(api.delete_recurring_token, "api"),
            methods=["POST"],
        ),
        Route(f"{v1}/payment_methods/", g(api.payment_methods, "api"), methods=["GET"]),
        Route(f"{v1}/public_key/", g(api.public_key, "api"), methods=["GET"]),
        Route(f"{v1}/webhooks/", g(api.webhooks, "api"), methods=["GET", "POST"]),
        Route(
            v1 + "/webhooks/{webhook_id}/",
            g(api.webhook, "api"),
            methods=["GET", "PUT", "PATCH", "DELETE"],
        ),
        Route("/p/{purchase_id}/", g(api.direct_post, "s2s"), methods=["POST"]),
        Route("/p/{purchase_id}/", g(pages.checkout, None), methods=["GET"]),
        Route("/3ds/callback/{md}/", g(api.callback_3ds, None), methods=["POST"]),
        Route("/acs/{md}/", g(pages.acs, None), methods=["GET", "POST"]),
        Route("/_sandbox/purchases/", g(control.inspect_purchases, "api"), methods=["GET"]),
        Route("/_sandbox/clock/", g(control.clock, "api"), methods=["GET"]),
        Route("/_sandbox/clock/advance/", g(control.advance, "api"), methods=["POST"]),
        Route("/_sandbox/faults/", g(control.faults, "api"), methods=["GET", "PUT", "DELETE"]),
        Route("/_sandbox/webhooks/deliveries/", g(control.deliveries, "api"), methods=["GET"]),
        Route("/_sandbox/webhooks/flush/", g(control.flush, "api"), methods=["POST"]),
        Route("/_sandbox/config/", g(control.switches, "api"), methods=["GET", "PUT"]),
        Route(
            "/_sandbox/recurring_tokens/{token_id}/",
            g(control.import_token, "api"),
            methods=["PUT"],
        ),
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    app = Starlette(
        routes=routes,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    outer = FaultMiddleware(_LazyStart(app, sandbox), sandbox.injector)
    outer.sandbox = sandbox  # type: ignore[attr-defined]
    return outer
