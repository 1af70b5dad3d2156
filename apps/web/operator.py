"""Operator endpoints of the web app: find a payment and act on it.

- ``GET /operator/payments?q=<order id | email | last four | purchase id>``: the payments that
  match (:func:`payflows.lookup.find_payments`): status, decline reason, amounts, refunds, hold
  and the actions each still allows. A card number as the query is refused (422) and never
  echoed.
- ``POST /operator/payments/{purchase_id}/{action}``, action ``capture`` | ``void`` | ``refund``
  | ``cancel``, JSON body ``{"amount": "100.00"}`` (capture and refund: a part, in the currency's
  units; default all) and ``{"refund_ref": "R-7"}`` (refund: the operator's reference, the
  business key that makes a double click refund once). Runs the same flow a Custom run of the
  deployment would, in this process: its run shows in the Prefect UI with the state named after
  the outcome. Answers ``{"state": "Refunded", "result": {...}}``; 409 when the payment allows no
  such action, 422 for a bad body.

Same token rule as ``/holds``: ``Authorization: Bearer <PAYFLOWS_OPERATOR_TOKEN>``, 503 until the
token is set, 401 without it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apps.web.holds import _authorised, _error
from payflows.ledger import UnitOfWork
from payflows.lookup import LookupRefused, PaymentView, find_payments
from payflows.settings import Settings

__all__ = ["ACTIONS", "ActionRefused", "lookup", "operator_routes", "perform_action"]

ACTIONS = ("capture", "void", "refund", "cancel")
_NO_STORE = {"Cache-Control": "no-store"}
_MAX_BODY = 2048


async def _run_action(view: PaymentView, action: str, body: dict[str, Any]) -> tuple[str, Any]:
    """Run the action's flow in-process; its state's name and result."""
    import flows as f
    from flows._tags import run_tags
    from payflows.payments import OperationRejected

    purchase_id = view.purchase_id or ""
    amount = body.get("amount")
    cents = None
    if amount not in (None, ""):
        # The flows' own check (plain digits, no commas, the currency's decimals, the forms'
        # 11-digit limit), before any run: a refusal here changes nothing.
        try:
            cents = f.cents(str(amount), view.currency)
        except OperationRejected as exc:
            raise ValueError(f"{exc} (in {view.currency}, e.g. 100.00)") from None
    # The flows' forms take the amount as text in the purchase's currency.
    money = {"amount": f.units(cents, view.currency), "currency": view.currency} if cents else {}
    flow: Any
    form: dict[str, Any] = {"purchase_id": purchase_id}
    if action == "capture":
        flow, form = f.capture_hold, {**form, **money}
    elif action == "void":
        flow = f.void_hold
    elif action == "refund":
        ref = body.get("refund_ref")
        if not isinstance(ref, str) or not ref:
            raise ValueError("refund_ref is required: your reference of this refund")
        flow, form = f.refund, {**form, "refund_ref": ref, **money}
    else:
        flow = f.cancel_purchase
    # Under the flow's run tags, as its deployment's runs: the automations match it.
    with run_tags(flow.name):
        state = await flow(**form, return_state=True)
    data = await state.aresult(raise_on_failure=False)
    if isinstance(data, BaseException):
        raise data
    return str(state.name), data


class ActionRefused(Exception):
    """An operator action that was not run: ``status`` is the HTTP answer, nothing changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def lookup(engine: Engine, query: str, limit: int = 50) -> list[PaymentView]:
    """The payments ``query`` matches (LookupRefused for a card number), off the event loop."""

    def read() -> list[PaymentView]:
        with UnitOfWork(engine) as uow:
            return find_payments(uow, query, limit=limit)

    return await asyncio.to_thread(read)


async def perform_action(
    engine: Engine, purchase_id: str, action: str, body: dict[str, Any]
) -> tuple[str, Any]:
    """Run ``action`` on the payment ``purchase_id``: the run's state name and result.

    The one way both the JSON API and the HTML pages act: the payment is read from the ledger
    first, the action must be one it allows now, then the action's flow runs. ActionRefused
    (with its HTTP status) when nothing was sent: unknown payment or action, an action the
    payment does not allow, a bad amount or reference, or a refusal by the core.
    """
    from payflows.payments import OperationRejected

    if action not in ACTIONS:
        raise ActionRefused(404, f"no action {action!r}: one of {', '.join(ACTIONS)}")
    try:
        found = await lookup(engine, purchase_id, 1)
    except LookupRefused as exc:
        raise ActionRefused(422, str(exc)) from None
    if not found or found[0].purchase_id != purchase_id:
        raise ActionRefused(404, "no such purchase in the ledger")
    view = found[0]
    if action not in view.actions:
        allowed = ", ".join(view.actions) or "nothing"
        raise ActionRefused(409, f"this payment allows {allowed} now, not {action}")
    try:
        return await _run_action(view, action, body)
    except ValueError as exc:  # a bad amount or reference: nothing was sent
        raise ActionRefused(422, str(exc).splitlines()[0]) from None
    except OperationRejected as exc:
        raise ActionRefused(409, f"refused, nothing changed: {exc}") from None


def operator_routes(settings: Settings, engine: Engine) -> list[Route]:
    """The payment-lookup routes, bound to the app's settings and ledger engine."""

    async def payments(request: Request) -> JSONResponse:
        refusal = _authorised(settings, request)
        if refusal is not None:
            return refusal
        try:
            found = await lookup(engine, request.query_params.get("q", ""))
        except LookupRefused as exc:
            return _error(422, str(exc))
        return JSONResponse(
            {"results": [v.model_dump(mode="json") for v in found]}, headers=_NO_STORE
        )

    async def act(request: Request) -> JSONResponse:
        refusal = _authorised(settings, request)
        if refusal is not None:
            return refusal
        action = request.path_params["action"]
        purchase_id = request.path_params["purchase_id"]
        if action not in ACTIONS:
            return _error(404, f"no action {action!r}: one of {', '.join(ACTIONS)}")
        raw = await request.body()
        if len(raw) > _MAX_BODY:
            return _error(413, "body too large")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _error(422, "the body must be JSON")
        if not isinstance(body, dict) or set(body) - {"amount", "refund_ref"}:
            return _error(422, "the body takes amount and refund_ref only")
        try:
            name, result = await perform_action(engine, purchase_id, action, body)
        except ActionRefused as exc:
            return _error(exc.status, str(exc))
        return JSONResponse(
            {"state": name, "result": result.model_dump(mode="json")}, headers=_NO_STORE
        )

    return [
        Route("/operator/payments", payments, methods=["GET"]),
        Route("/operator/payments/{purchase_id}/{action}", act, methods=["POST"]),
    ]
