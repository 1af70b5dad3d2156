"""The operator's HTML pages: find a payment and act on it, decide open holds, in a browser.

- ``GET /operator?q=<order id | email | last four | purchase id>``: the payments found
  (:func:`apps.web.operator.lookup`, the core's :func:`payflows.lookup.find_payments`) with
  status, decline reason, amounts, refunds and hold, and a button for each action the payment
  allows now (capture, void, refund, cancel; amounts in the currency's units).
- ``POST /operator/action``: runs the action through :func:`apps.web.operator.perform_action`,
  the same code as the JSON API (``POST /operator/payments/{id}/{action}``), and shows the
  run's state (``Captured``, ``Refunded``, ``Declined: ...``).
- ``GET /operator/holds``: open holds, soonest deadline first, with deadline and act-by time;
  ``POST /operator/holds/decision`` records a capture / void / no decision for the next sweep
  (:func:`apps.web.holds.record_decision`, as ``POST /holds/{id}/decision``).

Access: the operator token (``PAYFLOWS_OPERATOR_TOKEN``), as a bearer header or as the session
cookie of the sign-in page the settlement reports use (``/reports/login``,
:mod:`apps.web.reports`); with no token configured every page is a 503 that says so. A POST
that rides on the session cookie must also carry the session's CSRF token (an HMAC of the
session under the operator token, in every form) and come from this app's origin
(``Origin``, else ``Referer``); a POST with the bearer header needs neither, since no browser
sends that header by itself. Every refusal is a page that says what to do; bad input never
gives a 5xx (only an unreachable ledger, 503, or a failed gateway run, 502, do).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from apps.web import operator_html as view
from apps.web.forms import BadForm, TooLarge, read_form
from apps.web.guard import same_origin
from apps.web.holds import open_hold_views, record_decision
from apps.web.operator import ACTIONS, ActionRefused, lookup, perform_action
from apps.web.reports import PAGE_HEADERS, operator_refusal, operator_session
from payflows.domain.money import parse_form_amount
from payflows.domain.screening import contains_card_number, redact
from payflows.ledger import UnitOfWork
from payflows.ledger.lookups import hold_of_purchase
from payflows.lookup import LookupRefused
from payflows.settings import Settings
from payflows.sweep import DecisionRefused

__all__ = ["MAX_FORM_BYTES", "csrf_token", "operator_page_routes"]

_log = logging.getLogger("apps.web")

#: An operator's form has a handful of short fields.
MAX_FORM_BYTES = 8192
_PURCHASE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_REFUND_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_DECISIONS = ("capture", "void", "none")
_SIGN_IN = "/reports/login?next=/operator"


def csrf_token(operator_token: str, session: str) -> str:
    """The CSRF token of a session: only someone who can read the page can know it."""
    mac = hmac.new(operator_token.encode(), f"operator-csrf:{session}".encode(), hashlib.sha256)
    return mac.hexdigest()


class _Refused(Exception):
    """A request answered with a message page (status, title, message)."""

    def __init__(self, status: int, title: str, message: str, link: str = "/operator") -> None:
        super().__init__(message)
        self.status, self.title, self.link = status, title, link


class _Pages:
    def __init__(self, settings: Settings, engine: Engine, public_origin: str) -> None:
        self.settings = settings
        self.engine = engine
        self.public_origin = public_origin

    @property
    def token(self) -> str:
        secret = self.settings.operator_token
        return secret.get_secret_value() if secret else ""

    @staticmethod
    def page(content: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(content, status_code=status, headers=PAGE_HEADERS)

    def refused(self, exc: _Refused) -> HTMLResponse:
        label = "Sign in" if exc.link == _SIGN_IN else ""
        page = view.message_page(exc.title, str(exc), link=exc.link, label=label)
        return self.page(page, exc.status)

    def _disabled(self) -> _Refused:
        return _Refused(
            503,
            "Operator pages are disabled",
            "Set PAYFLOWS_OPERATOR_TOKEN to enable them, then restart the web app.",
        )

    def gate(self, request: Request) -> tuple[Response | None, str]:
        """(refusal, CSRF token of the session) for a GET."""
        if not self.token:
            return self.refused(self._disabled()), ""
        refusal = operator_refusal(self.settings, request)
        if refusal is not None:
            return refusal, ""
        session = operator_session(self.settings, request)
        return None, csrf_token(self.token, session) if session else ""

    async def form(self, request: Request) -> dict[str, str]:
        """The form of an authorised POST, checked for origin and CSRF when a cookie carries it."""
        if not self.token:
            raise self._disabled()
        if operator_refusal(self.settings, request) is not None:
            raise _Refused(401, "Please sign in", "Your session has expired.", _SIGN_IN)
        try:
            form = await read_form(request, MAX_FORM_BYTES)
        except TooLarge:
            raise _Refused(413, "Form too large", "The form is too large.") from None
        except BadForm:
            raise _Refused(400, "Malformed form", "Reload the page and try again.") from None
        session = operator_session(self.settings, request)
        if session:
            origin = request.headers.get("origin") or request.headers.get("referer")
            sent = form.get("csrf_token", "")[:128]
            expected = csrf_token(self.token, session)
            if not same_origin(origin, self.public_origin) or not hmac.compare_digest(
                sent.encode(), expected.encode()
            ):
                raise _Refused(
                    403, "Form expired", "This form has expired. Reload the page and try again."
                )
        return form

    # -- GET /operator ------------------------------------------------------------------------
    async def search(self, request: Request) -> Response:
        refusal, csrf = self.gate(request)
        if refusal is not None:
            return refusal
        query = request.query_params.get("q", "")
        zone = self.settings.timezone
        if not query.strip():
            return self.page(view.search_page(query="", views=[], csrf=csrf, zone=zone))
        try:
            found = await lookup(self.engine, query)
        except LookupRefused as exc:
            page = view.search_page(query="", views=[], csrf=csrf, zone=zone, error=str(exc))
            return self.page(page, 422)
        except SQLAlchemyError:
            _log.exception("the operator search could not read the ledger")
            return self.refused(_Refused(503, "Ledger unavailable", "Try again in a moment."))
        page = view.search_page(query=query, views=found, csrf=csrf, zone=zone, searched=True)
        return self.page(page)

    # -- POST /operator/action ----------------------------------------------------------------
    async def action(self, request: Request) -> Response:
        try:
            form = await self.form(request)
            purchase_id, action, body = _action_input(form)
        except _Refused as exc:
            return self.refused(exc)
        back = f"/operator?q={quote(purchase_id)}"
        try:
            state, result = await perform_action(self.engine, purchase_id, action, body)
        except ActionRefused as exc:
            message = redact(str(exc))[:300]
            return self.refused(_Refused(exc.status, "Nothing was done", message, back))
        except SQLAlchemyError:
            _log.exception("operator %s of %s: the ledger is unavailable", action, purchase_id)
            return self.refused(_Refused(503, "Ledger unavailable", "Try again.", back))
        except Exception as exc:  # the run failed: its state and logs are in the Prefect UI
            _log.error("operator %s of %s failed: %s", action, purchase_id, type(exc).__name__)
            message = (
                f"The {action} run failed ({type(exc).__name__}). Its run in the Prefect UI says "
                "why; search the payment again to see where it stands before trying again."
            )
            return self.refused(_Refused(502, "The action did not complete", message, back))
        dumped: dict[str, Any] = {}
        if hasattr(result, "model_dump"):
            dumped = result.model_dump(mode="json")
        return self.page(view.result_page(state=state, action=action, result=dumped))

    # -- GET /operator/holds ------------------------------------------------------------------
    async def holds(self, request: Request, *, error: str = "", status: int = 200) -> Response:
        refusal, csrf = self.gate(request)
        if refusal is not None:
            return refusal
        decided = request.query_params.get("decided", "")
        notice = ""
        if decided and not error and _PURCHASE_ID.match(decided):
            notice = f"Decision recorded for {decided}; the next sweep carries it out."
        try:
            holds = await open_hold_views(self.settings, self.engine, 200)
        except SQLAlchemyError:
            _log.exception("the operator holds page could not read the ledger")
            return self.refused(_Refused(503, "Ledger unavailable", "Try again in a moment."))
        page = view.holds_page(
            holds=holds, csrf=csrf, zone=self.settings.timezone, notice=notice, error=error
        )
        return self.page(page, status)

    # -- POST /operator/holds/decision --------------------------------------------------------
    async def decide(self, request: Request) -> Response:
        try:
            form = await self.form(request)
            purchase_id, decision, amount = _decision_input(form)
            cents = await self._cents(purchase_id, amount) if amount else None
            await record_decision(self.settings, self.engine, purchase_id, decision, cents)
        except _Refused as exc:
            if exc.status in {401, 503}:
                return self.refused(exc)
            return await self.holds(request, error=str(exc), status=exc.status)
        except DecisionRefused as exc:
            message = redact(str(exc))[:300]
            return await self.holds(request, error=message, status=exc.http_status)
        except SQLAlchemyError:
            _log.exception("an operator decision could not be recorded")
            return self.refused(_Refused(503, "Ledger unavailable", "Nothing was recorded."))
        target = f"/operator/holds?decided={quote(purchase_id)}"
        return RedirectResponse(target, 303, headers=PAGE_HEADERS)

    async def _cents(self, purchase_id: str, amount: str) -> int:
        """``amount`` (currency units) in cents of the hold's currency."""

        def currency() -> str | None:
            with UnitOfWork(self.engine) as uow:
                hold = hold_of_purchase(uow, purchase_id)
                return hold.currency if hold is not None else None

        found = await asyncio.to_thread(currency)
        if found is None:
            raise _Refused(404, "No such hold", "No hold has this purchase id.")
        try:  # the flows' forms' rule, as the capture action's (flows.cents)
            return parse_form_amount(amount, found)
        except ValueError as exc:  # the messages never repeat the text
            raise _Refused(422, "Bad amount", f"Amount: {exc}.") from None


def _purchase_id(form: dict[str, str]) -> str:
    value = form.get("purchase_id", "").strip()
    if not _PURCHASE_ID.match(value) or contains_card_number(value):
        raise _Refused(422, "No payment chosen", "The purchase id is missing or not valid.")
    return value


def _amount(form: dict[str, str]) -> str:
    value = form.get("amount", "").strip()
    if contains_card_number(value):
        raise _Refused(422, "Bad amount", "The amount looks like a card number.")
    if len(value) > 40:  # refused, not cut: its first 40 characters may be another sum
        raise _Refused(422, "Bad amount", "The amount is too long: write it like 100.00.")
    return value


def _action_input(form: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    """(purchase id, action, JSON-API body) of an action form, or _Refused (never echoing)."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise _Refused(422, "Unknown action", f"The action must be one of {', '.join(ACTIONS)}.")
    purchase_id = _purchase_id(form)
    body: dict[str, Any] = {}
    amount = _amount(form)
    if amount:
        if action not in {"capture", "refund"}:
            message = f"An amount goes with capture or refund, not {action}."
            raise _Refused(422, "Bad amount", message)
        body["amount"] = amount
    if action == "refund":
        ref = form.get("refund_ref", "").strip()
        if contains_card_number(ref):
            raise _Refused(422, "Bad reference", "The reference looks like a card number.")
        if not _REFUND_REF.match(ref):
            raise _Refused(
                422,
                "Bad reference",
                "The refund reference is required: 1 to 64 letters, digits and . _ : / -",
            )
        body["refund_ref"] = ref
    return purchase_id, action, body


def _decision_input(form: dict[str, str]) -> tuple[str, str, str]:
    decision = form.get("decision", "")
    if decision not in _DECISIONS:
        raise _Refused(422, "Unknown decision", "The decision must be capture, void or none.")
    purchase_id = _purchase_id(form)
    amount = _amount(form)
    if amount and decision != "capture":
        raise _Refused(422, "Bad amount", f"An amount goes with a capture only, not {decision}.")
    return purchase_id, decision, amount


def operator_page_routes(settings: Settings, engine: Engine, public_origin: str) -> list[Route]:
    """The operator pages, bound to the app's settings, ledger and public origin."""
    pages = _Pages(settings, engine, public_origin)
    return [
        Route("/operator", pages.search, methods=["GET"]),
        Route("/operator/action", pages.action, methods=["POST"]),
        Route("/operator/holds", pages.holds, methods=["GET"]),
        Route("/operator/holds/decision", pages.decide, methods=["POST"]),
    ]
