"""The sandbox sends what the real platform sends: every event of the 17 real bodies, compared.

Each test drives an in-process sandbox (httpx.ASGITransport) through the flow that makes the
platform send an event, catches the signed delivery and compares its body's structure with the
real one in ``shared/precium/webhook-samples/`` (keys and JSON types, recursively; see
tests/conformance/structure.py). A failure names the sample file and every path that drifted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager

from payflows.sandbox import SandboxConfig, create_app
from tests.conformance.structure import differences, null_paths
from tests.support.shared import WEBHOOK_SAMPLES
from tests.unit.sandbox.conftest import FINGERPRINT, Gateway, card_body

HOOK: Final = "http://merchant.test/hook"
DAY: Final = 86_400
#: FPX (Malaysian bank redirect) data of sample 07: the sandbox takes cards only.
_FPX_ONLY: Final = frozenset(
    {
        "transaction_data.extra.webhook_payload",
        "transaction_data.extra.user_web_browser_data",
        "transaction_data.attempts[].extra.webhook_payload",
        "transaction_data.attempts[].extra.user_web_browser_data",
    }
)


def _samples() -> dict[str, tuple[str, dict[str, Any]]]:
    """event type -> (sample file name, body)."""
    files = sorted(WEBHOOK_SAMPLES.glob("*.json"))
    assert len(files) == 17, f"expected the 17 real bodies in {WEBHOOK_SAMPLES}"
    samples = {}
    for path in files:
        body = json.loads(path.read_text(encoding="utf-8"))
        samples[body["event_type"]] = (path.name, body)
    return samples


SAMPLES: Final = _samples()
#: Paths where some real body of the same kind (purchase or payment) has null.
NULLABLE: Final = {
    kind: frozenset(null_paths([b for _, b in SAMPLES.values() if b["type"] == kind]))
    for kind in ("purchase", "payment")
}


def assert_conforms(sample: str, real: dict[str, Any], ours: dict[str, Any]) -> None:
    nullable = NULLABLE[real["type"]]
    found = sorted(set(differences(real, ours, exempt=_FPX_ONLY, nullable=nullable)))
    assert not found, f"{sample}: the sandbox's body drifted from the real one:\n  " + "\n  ".join(
        found
    )


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def delivered() -> AsyncIterator[list[dict[str, Any]]]:
    """Every body the sandbox delivered while one flow per event ran."""
    receiver = Receiver()
    config = SandboxConfig(timeout_seconds=0.05, webhook_backoff_base=0.01)
    app = create_app(config, webhook_transport=httpx.MockTransport(receiver.handler))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            gw = Gateway(http, app)
            hook = {"title": "all", "all_events": True, "events": [], "callback": HOOK}
            assert (await gw.api("POST", "webhooks/", hook)).status_code == 201
            await _drive(gw)
            assert (await gw.sandbox("POST", "webhooks/flush/")).status_code == 200
    yield receiver.bodies


async def _drive(gw: Gateway) -> None:
    """The flows of the samples: pay, refund, settle; decline; zero-auth and delete the card;
    hold and capture; hold and release; cancel."""
    paid = await gw.purchase()
    assert (await gw.http.get(paid["checkout_url"])).status_code == 200  # purchase.viewed
    assert (await gw.submit(paid, card_body("4444333322221111", **FINGERPRINT))).status_code == 200
    refund = await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 100})
    assert refund.status_code == 200, refund.text

    declined = await gw.purchase()
    await gw.submit(declined, card_body("4000000000000028", **FINGERPRINT))

    saved = await gw.purchase(
        price=0, skip_capture=True, payment_method_whitelist=["mastercard", "visa"]
    )
    assert (await gw.submit(saved, card_body("4444333322221111", **FINGERPRINT))).status_code == 200
    deleted = await gw.api("POST", f"purchases/{saved['id']}/delete_recurring_token/")
    assert deleted.status_code == 200, deleted.text

    captured = await gw.paid(skip_capture=True)
    assert (await gw.api("POST", f"purchases/{captured['id']}/capture/")).status_code == 200
    released = await gw.paid(skip_capture=True)
    assert (await gw.api("POST", f"purchases/{released['id']}/release/")).status_code == 200
    cancelled = await gw.purchase()
    assert (await gw.api("POST", f"purchases/{cancelled['id']}/cancel/")).status_code == 200
    await gw.advance(2 * DAY + 60)  # purchase.settled


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("event", sorted(SAMPLES), ids=lambda e: SAMPLES[e][0])
async def test_the_sandbox_sends_each_event_as_the_platform_does(
    delivered: list[dict[str, Any]], event: str
) -> None:
    sample, real = SAMPLES[event]
    ours = [body for body in delivered if body.get("event_type") == event]
    assert ours, f"{sample}: the sandbox never sent {event}"
    for body in ours:
        assert_conforms(sample, real, body)


async def test_the_api_answers_have_the_bodies_of_the_events(gw: Gateway) -> None:
    """``GET /purchases/{id}/`` is sample 01's purchase; the ``/refund/`` answer is sample 12's
    payment object (CONTRACT point 4)."""
    paid = await gw.paid("4444333322221111")
    purchase_sample, purchase = SAMPLES["purchase.paid"]
    payment_sample, payment = SAMPLES["payment.refunded"]
    strip = {"event_type"}
    assert_conforms(purchase_sample, {k: v for k, v in purchase.items() if k not in strip}, paid)
    refund = (await gw.api("POST", f"purchases/{paid['id']}/refund/", {"amount": 100})).json()
    assert_conforms(payment_sample, {k: v for k, v in payment.items() if k not in strip}, refund)


def test_a_removed_field_or_a_changed_type_is_drift() -> None:
    """The comparison itself fails on drift, naming the path (and the test names the sample)."""
    _, real = SAMPLES["purchase.paid"]
    ours = json.loads(json.dumps(real))
    assert differences(real, ours) == []
    del ours["refund_availability"]
    ours["purchase"]["products"][0]["quantity"] = 1
    ours["transaction_data"]["attempts"] = []
    assert differences(real, ours) == [
        "purchase.products[].quantity: integer where the real body has string",
        "transaction_data.attempts: empty where the real body has elements",
        "refund_availability: missing (the real body has string)",
    ]
    with pytest.raises(AssertionError, match=r"01-event-Purchase-paid\.json"):
        assert_conforms("01-event-Purchase-paid.json", real, ours)


def test_samples_are_where_ci_lays_them() -> None:
    assert Path(WEBHOOK_SAMPLES).is_dir() and len(SAMPLES) == 17
