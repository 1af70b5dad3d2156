"""``payflows doctor``: is the configured gateway ready for this merchant? One line per check.

A merchant's first hour with real keys: both keys accepted, the brand known, the company public
key readable (it verifies success callbacks), the brand's payment methods including the card
brands payflows whitelists, a webhook registered at the gateway for our receiver with its key
kept locally, and that receiver reachable at the URL the gateway will post to.

Every check is read-only at the gateway but one: the S2S key can only be tried on a purchase, so
the doctor creates one (it moves no money), submits no card to it (a key the gateway accepts
gets a field error back, a refused key a 401/403) and cancels it. Prefect-free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from payflows.gateway import (
    AuthenticationError,
    NotFoundError,
    PaymentMethods,
    PreciumClient,
    PreciumError,
    Product,
    PurchaseRequest,
    RequestRejected,
)
from payflows.webhooks import RegisteredWebhook

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True, slots=True)
class Check:
    """One check: its name, whether it passed, and one line saying what was found."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<20} {self.detail}"


def _why(exc: PreciumError) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


async def _api_key(gateway: PreciumClient) -> Check:
    try:
        page = await gateway.list_webhooks()
    except AuthenticationError as exc:
        return Check("api key", False, f"refused by {gateway.base_url} ({_why(exc)})")
    except PreciumError as exc:
        return Check("api key", False, f"could not be tried: {_why(exc)}")
    return Check("api key", True, f"accepted ({len(page.results)} webhooks listed)")


async def _s2s_key(gateway: PreciumClient, client_email: str) -> Check:
    from payflows.gateway import ClientDetails

    try:
        # One doctor client per account, not one per run.
        found = (await gateway.list_clients(email=client_email)).results
        client = (
            found[0] if found else await gateway.create_client(ClientDetails(email=client_email))
        )
        purchase = await gateway.create_purchase(
            PurchaseRequest(
                client_id=client.id,
                products=[Product(name="payflows doctor (no card is ever sent)", price=100)],
                reference="payflows-doctor",
                success_redirect="https://merchant.invalid/doctor",
                failure_redirect="https://merchant.invalid/doctor",
            )
        )
    except PreciumError as exc:
        return Check("s2s key", False, f"no purchase to try it on: {_why(exc)}")
    if not purchase.direct_post_url:
        return Check("s2s key", False, f"purchase {purchase.id} came back without direct_post_url")
    try:
        await gateway.submit_card(purchase.direct_post_url, None, remote_ip="127.0.0.1")
        verdict = Check("s2s key", True, "accepted")
    except AuthenticationError as exc:
        verdict = Check("s2s key", False, f"refused ({_why(exc)})")
    except RequestRejected:
        verdict = Check("s2s key", True, "accepted (the empty card submission was refused)")
    except PreciumError as exc:
        verdict = Check("s2s key", False, f"could not be tried: {_why(exc)}")
    with contextlib.suppress(PreciumError):  # an unpaid purchase expires on its own
        await gateway.cancel(purchase.id)
    return verdict


async def _brand(gateway: PreciumClient) -> tuple[Check, PaymentMethods | None]:
    try:
        methods = await gateway.list_payment_methods()
    except (NotFoundError, RequestRejected) as exc:
        return Check("brand", False, f"{gateway.brand_id!r} not known: {_why(exc)}"), None
    except PreciumError as exc:
        return Check("brand", False, f"could not be checked: {_why(exc)}"), None
    return Check("brand", True, f"{gateway.brand_id} known"), methods


def _payment_methods(methods: PaymentMethods | None, card_brands: Sequence[str]) -> Check:
    if methods is None:
        return Check("payment methods", False, "not listed (see brand)")
    offered = set(methods.card_methods or methods.available_payment_methods)
    missing = [b for b in card_brands if b not in offered]
    shown = ", ".join(sorted(offered)) or "none"
    if missing:
        return Check(
            "payment methods",
            False,
            f"brand does not take {', '.join(missing)} (it takes: {shown})",
        )
    return Check("payment methods", True, f"cards: {shown}")


async def _public_key(gateway: PreciumClient) -> Check:
    try:
        pem = await gateway.get_public_key()
        load_pem_public_key(pem.encode())
    except PreciumError as exc:
        return Check("public key", False, f"not served: {_why(exc)}")
    except ValueError as exc:
        return Check("public key", False, f"not a usable key: {exc}")
    return Check("public key", True, "served and readable (verifies success callbacks)")


async def _webhook(
    gateway: PreciumClient, callback: str | None, local: Sequence[RegisteredWebhook]
) -> Check:
    if callback is None:
        return Check("webhook", False, "no PAYFLOWS_PUBLIC_URL: no callback URL to look for")
    try:
        remote = (await gateway.list_webhooks()).results
    except PreciumError as exc:
        return Check("webhook", False, f"could not list webhooks: {_why(exc)}")
    ours = [w for w in remote if w.callback == callback]
    if not ours:
        return Check(
            "webhook",
            False,
            f"none registered for {callback} (run: payflows web register-webhook)",
        )
    known = {h.id: h for h in local}
    for hook in ours:
        kept = known.get(hook.id)
        if kept is not None and (not hook.public_key or hook.public_key == kept.public_key):
            scope = "all events" if hook.all_events else f"{len(hook.events)} events"
            return Check("webhook", True, f"{hook.id} -> {callback} ({scope}), key kept")
    return Check(
        "webhook",
        False,
        f"registered for {callback} but its public key is not in the local keys file "
        "(deliveries would be refused; run: payflows web register-webhook)",
    )


async def _reachable(callback: str | None, post: Callable[[str], Awaitable[int]]) -> Check:
    if callback is None:
        return Check("webhook url", False, "no PAYFLOWS_PUBLIC_URL")
    try:
        status = await post(callback)
    except httpx.HTTPError as exc:
        return Check("webhook url", False, f"{callback} unreachable ({type(exc).__name__})")
    if status == 401:
        return Check("webhook url", True, f"{callback} answers (unsigned delivery refused: 401)")
    if status >= 500 or status == 404:
        return Check("webhook url", False, f"{callback} answers {status}")
    return Check("webhook url", True, f"{callback} answers {status}")


async def _post_unsigned(url: str) -> int:
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        return response.status_code


async def run_checks(
    gateway: PreciumClient,
    *,
    callback_url: str | None,
    registered: Sequence[RegisteredWebhook],
    card_brands: Sequence[str] = ("visa", "mastercard"),
    client_email: str = "doctor@payflows.invalid",
    post: Callable[[str], Awaitable[int]] = _post_unsigned,
) -> list[Check]:
    """Every check, in order; none stops the others (a merchant wants the whole picture)."""
    checks = [await _api_key(gateway), await _s2s_key(gateway, client_email)]
    brand, methods = await _brand(gateway)
    checks += [brand, await _public_key(gateway), _payment_methods(methods, card_brands)]
    checks += [await _webhook(gateway, callback_url, registered)]
    checks += [await _reachable(callback_url, post)]
    return checks
