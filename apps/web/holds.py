"""Operator endpoints of the web app: the merchant's decisions on pre-authorisation holds.

- ``POST /holds/{purchase_id}/decision`` with JSON ``{"decision": "capture" | "void" | "none",
  "amount_cents": 1234}`` (``fulfilled`` / ``cancelled`` / ``clear`` are accepted too; the amount
  only with a capture, default all authorised). The next sweep acts on it.
- ``GET /holds``: open holds with deadline, act-by time, decision and policy.

Both need ``Authorization: Bearer <PAYFLOWS_OPERATOR_TOKEN>``, compared in constant time. With no
token configured they answer 503 and say so: an operator endpoint is never open by default.
Answers: 200 recorded (or already so), 401 no or wrong token, 404 no such hold, 409 the hold is
no longer open (or an action on it is in flight), 413 body too large, 422 invalid decision or
amount, 400 a body that is not JSON or nested too deeply. The body's size is checked (declared
and streamed) before it is read whole. A refused request records nothing. The token never
appears in logs or answers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps.web.forms import BadForm, TooLarge, read_body
from payflows.domain.money import MAX_CENTS
from payflows.ledger import UnitOfWork
from payflows.settings import Settings
from payflows.sweep import DecisionRefused, decide, hold_view, open_holds, windows_from_settings

__all__ = ["MAX_DECISION_BYTES", "hold_routes", "open_hold_views", "record_decision"]

MAX_DECISION_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**_NO_STORE, **headers})


def _authorised(settings: Settings, request: Request) -> JSONResponse | None:
    """None when the request carries the operator token, else the refusal to send."""
    token = settings.operator_token.get_secret_value() if settings.operator_token else ""
    if not token:
        return _error(
            503,
            "operator endpoints are disabled: set PAYFLOWS_OPERATOR_TOKEN to enable them",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if not ok:
        return _error(
            401,
            "a valid operator bearer token is required",
            **{"WWW-Authenticate": 'Bearer realm="payflows-operator"'},
        )
    return None


async def record_decision(
    settings: Settings,
    engine: Engine,
    purchase_id: str,
    decision: str,
    amount_cents: int | None,
) -> tuple[dict[str, Any], bool]:
    """Record an operator's decision on an open hold: its view (JSON-ready) and whether it
    changed. The one way both ``POST /holds/{id}/decision`` and the HTML holds page decide;
    DecisionRefused (with its HTTP status) when nothing was recorded."""
    windows = windows_from_settings(settings)

    def write() -> tuple[dict[str, Any], bool]:
        with UnitOfWork(engine) as uow:
            hold, changed = decide(uow, purchase_id, decision, amount_cents)
            uow.commit()
            view = hold_view(hold, windows, settings.hold_default_policy)
            return view.model_dump(mode="json"), changed

    return await asyncio.to_thread(write)


async def open_hold_views(
    settings: Settings, engine: Engine, limit: int = 100
) -> list[dict[str, Any]]:
    """Open holds, soonest deadline first, as the listing shows them (JSON-ready)."""
    windows = windows_from_settings(settings)

    def read() -> list[dict[str, Any]]:
        with UnitOfWork(engine) as uow:
            return [
                hold_view(h, windows, settings.hold_default_policy).model_dump(mode="json")
                for h in open_holds(uow, limit=limit)
            ]

    return await asyncio.to_thread(read)


def hold_routes(settings: Settings, engine: Engine) -> list[Route]:
    """The operator routes, bound to the app's settings and ledger engine."""
    windows_from_settings(settings)  # a bad PAYFLOWS_HOLD_WINDOWS_DAYS stops the app at start

    async def decision(request: Request) -> JSONResponse:
        refusal = _authorised(settings, request)
        if refusal is not None:
            return refusal
        try:
            body = await read_body(request, MAX_DECISION_BYTES)
        except TooLarge:
            return _error(413, "body too large")
        except BadForm:
            return _error(400, "bad Content-Length")
        try:
            data: Any = json.loads(body or b"null")
        except RecursionError:
            return _error(400, "the body is nested too deeply")
        except ValueError:
            return _error(422, "the body must be JSON: {decision, amount_cents?}")
        if not isinstance(data, dict) or not isinstance(data.get("decision"), str):
            return _error(422, "decision is required: capture, void or none")
        unknown = sorted(set(data) - {"decision", "amount_cents"})
        if unknown:
            return _error(422, f"unknown field(s): {', '.join(unknown)}")
        amount = data.get("amount_cents")
        if amount is not None and (
            isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_CENTS
        ):
            return _error(422, f"amount_cents must be a whole number of cents, 1 to {MAX_CENTS}")
        if len(request.path_params["purchase_id"]) > 64:
            return _error(404, "no such hold")
        purchase_id = request.path_params["purchase_id"]
        try:
            view, changed = await record_decision(
                settings, engine, purchase_id, data["decision"], amount
            )
        except DecisionRefused as exc:
            return _error(exc.http_status, str(exc))
        return JSONResponse({"changed": changed, "hold": view}, headers=_NO_STORE)

    async def listing(request: Request) -> JSONResponse:
        refusal = _authorised(settings, request)
        if refusal is not None:
            return refusal
        try:
            limit = min(max(int(request.query_params.get("limit", "100")), 1), 1000)
        except ValueError:
            return _error(422, "limit must be a number")

        views = await open_hold_views(settings, engine, limit)
        return JSONResponse({"results": views}, headers=_NO_STORE)

    return [
        Route("/holds/{purchase_id}/decision", decision, methods=["POST"]),
        Route("/holds", listing, methods=["GET"]),
    ]
