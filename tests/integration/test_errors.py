"""Every kind of failure, as PreciumClient classifies it over a real socket: what was refused,
what may be retried, and what must be settled by reading the purchase back."""

from __future__ import annotations

import socket

import pytest

from payflows.domain import Status
from payflows.gateway import (
    AuthenticationError,
    ClientDetails,
    GatewayUnavailableError,
    InvalidStateError,
    NotFoundError,
    OutcomeUnknownError,
    PreciumClient,
    PurchaseRequest,
    RateLimitedError,
    RequestRejected,
    ValidationError,
)
from tests.integration.support import Flow, SandboxControl, connect, wait_until

CHARGE = "POST /api/v1/purchases/*/charge/"


async def _mit_ready(flow: Flow) -> tuple[str, str]:
    """A stored card and a fresh purchase to charge with it: ``(purchase_id, token)``."""
    first = await flow.paid(force_recurring=True)
    purchase = await flow.purchase(client_id=first.client_id)
    return purchase.id, first.id


# -- the gateway answered: refused, nothing changed ---------------------------------------------


async def test_wrong_api_key_is_an_authentication_error(sandbox_url: str) -> None:
    async with connect(sandbox_url, api_key="not-the-key") as gateway:
        with pytest.raises(AuthenticationError) as refused:
            await gateway.list_clients()
    assert refused.value.status_code == 401 and not refused.value.retry_safe
    assert isinstance(refused.value, RequestRejected)
    assert "Invalid API key" in str(refused.value)


async def test_card_submission_with_the_standard_key_instead_of_s2s_is_refused(
    sandbox_url: str, flow: Flow, gateway: PreciumClient
) -> None:
    purchase = await flow.purchase()
    async with connect(sandbox_url, s2s_api_key="sandbox-api-key") as wrong:
        with pytest.raises(AuthenticationError):
            await Flow(wrong, flow.browser).submit(purchase, "4111111111111111")
    assert (await gateway.get_purchase(purchase.id)).status is Status.CREATED


async def test_unknown_objects_are_not_found(gateway: PreciumClient) -> None:
    for call in (
        lambda: gateway.get_purchase("00000000-0000-0000-0000-000000000000"),
        lambda: gateway.get_client("nope"),
        lambda: gateway.get_webhook("nope"),
        lambda: gateway.capture("nope"),
    ):
        with pytest.raises(NotFoundError) as missing:
            await call()
        assert missing.value.status_code == 404 and not missing.value.retry_safe


async def test_invalid_request_is_a_validation_error_naming_the_fields(
    flow: Flow, gateway: PreciumClient
) -> None:
    with pytest.raises(ValidationError) as bad_client:
        await gateway.create_client(ClientDetails(email="not-an-email"))
    assert not isinstance(bad_client.value, InvalidStateError)
    assert list(bad_client.value.fields) == ["email"]

    client = await flow.client()
    request = PurchaseRequest.single("x", 100, "ZAR", client_id=client.id, brand_id="other-brand")
    with pytest.raises(ValidationError) as bad_brand:
        await gateway.create_purchase(request)
    assert "brand_id" in bad_brand.value.fields and bad_brand.value.status_code == 400

    unknown = PurchaseRequest.single("x", 100, "ZAR", client_id="no-such-client")
    with pytest.raises(ValidationError) as bad_client_id:
        await gateway.create_purchase(unknown)
    assert bad_client_id.value.fields["client_id"] == ["No such client."]


async def test_operation_not_allowed_in_the_status_is_an_invalid_state_error(
    flow: Flow, gateway: PreciumClient
) -> None:
    paid = await flow.paid()
    for call, code in (
        (lambda: gateway.capture(paid.id), "purchase_capture_error"),
        (lambda: gateway.release(paid.id), "purchase_release_error"),
    ):
        with pytest.raises(InvalidStateError) as refused:
            await call()
        assert refused.value.code == code and refused.value.fields["__all__"]


# -- throttled or failing: nothing done, safe to send again ------------------------------------


async def test_rate_limited_request_says_when_to_retry(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    purchase = await flow.purchase()
    await control.faults(
        {"route": "GET /api/v1/purchases/*/", "kind": "rate_limit", "retry_after": 7, "count": 1}
    )

    with pytest.raises(RateLimitedError) as throttled:
        await gateway.get_purchase(purchase.id)

    assert throttled.value.status_code == 429 and throttled.value.retry_after == 7.0
    assert throttled.value.retry_safe and throttled.value.outcome_known
    assert (await gateway.get_purchase(purchase.id)).id == purchase.id


async def test_503_on_a_read_is_gateway_unavailable_and_retry_safe(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    purchase = await flow.purchase()
    await control.faults({"route": "GET /api/v1/purchases/*/", "kind": "error_5xx", "count": 1})

    with pytest.raises(GatewayUnavailableError) as failed:
        await gateway.get_purchase(purchase.id)

    assert failed.value.status_code == 503 and failed.value.retry_safe
    assert (await gateway.get_purchase(purchase.id)).status is Status.CREATED


async def test_503_on_a_write_is_an_unknown_outcome_settled_by_read_back(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    held = await flow.paid(skip_capture=True)
    await control.faults(
        {"route": "POST /api/v1/purchases/*/capture/", "kind": "error_5xx", "count": 1}
    )

    with pytest.raises(OutcomeUnknownError) as unknown:
        await gateway.capture(held.id)

    error = unknown.value
    assert error.status_code == 503 and not error.retry_safe and not error.outcome_known
    assert error.purchase_id == held.id
    # Read back: the injected 503 processed nothing, so the hold is still there to capture.
    assert (await gateway.get_purchase(held.id)).status is Status.HOLD
    assert (await gateway.capture(held.id)).status is Status.PAID


async def test_closed_port_is_gateway_unavailable_and_retry_safe() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens there now: the connection is refused before any byte is sent.
    async with connect(f"http://127.0.0.1:{port}/api/v1/", timeout=1.0) as gateway:
        for call in (lambda: gateway.get_purchase("p"), lambda: gateway.capture("p")):
            with pytest.raises(GatewayUnavailableError) as refused:
                await call()
            assert refused.value.retry_safe and refused.value.status_code is None


# -- the answer was lost: read the purchase back -----------------------------------------------


async def test_dropped_charge_is_unknown_and_the_read_back_shows_it_did_not_land(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    purchase_id, token = await _mit_ready(flow)
    await control.faults({"route": CHARGE, "kind": "drop", "count": 1})

    with pytest.raises(OutcomeUnknownError) as unknown:
        await gateway.charge(purchase_id, token)

    assert unknown.value.purchase_id == purchase_id and not unknown.value.retry_safe
    read = await gateway.get_purchase(purchase_id)
    assert read.status is Status.CREATED and read.payment is None
    # Known not to have landed: charging again is now safe, and pays once.
    assert (await gateway.charge(purchase_id, token)).status is Status.PAID


async def test_lost_charge_response_is_settled_by_read_back(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    purchase_id, token = await _mit_ready(flow)
    await control.faults({"route": CHARGE, "kind": "lost_after_commit", "count": 1})

    with pytest.raises(OutcomeUnknownError) as unknown:
        await gateway.charge(purchase_id, token)

    assert unknown.value.purchase_id == purchase_id and not unknown.value.outcome_known
    read = await gateway.get_purchase(purchase_id)
    assert read.status is Status.PAID and read.payment is not None
    assert [a.type for a in read.transaction_data.attempts] == ["recurring_execute"]
    # Landed: charging again would pay twice; the gateway refuses it.
    with pytest.raises(InvalidStateError):
        await gateway.charge(purchase_id, token)


async def test_lost_card_submission_answer_names_the_purchase_to_read_back(
    flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    purchase = await flow.purchase()
    await control.faults({"route": "POST /p/*/", "kind": "lost_after_commit", "count": 1})

    with pytest.raises(OutcomeUnknownError) as unknown:
        await flow.submit(purchase, "4111111111111111")

    assert unknown.value.purchase_id == purchase.id
    assert "4111111111111111" not in str(unknown.value)
    assert (await gateway.get_purchase(purchase.id)).status is Status.PAID


async def test_slow_answer_beyond_the_client_timeout_is_an_unknown_outcome(
    sandbox_url: str, flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    purchase_id, token = await _mit_ready(flow)
    await control.faults({"route": CHARGE, "kind": "latency", "ms": 1_000, "count": 1})

    async with connect(sandbox_url, timeout=0.3) as impatient:
        with pytest.raises(OutcomeUnknownError) as unknown:
            await impatient.charge(purchase_id, token)

    assert "ReadTimeout" in str(unknown.value) and unknown.value.purchase_id == purchase_id
    # The gateway got the request and works on it after the client gave up: it lands.
    landed = await wait_until(lambda: _status_is(gateway, purchase_id, Status.PAID), timeout=5.0)
    assert landed


async def test_always_times_out_card_is_unknown_then_read_back_shows_paid(
    sandbox_url: str, flow: Flow, gateway: PreciumClient, control: SandboxControl
) -> None:
    await control.configure(timeout_seconds=3)
    purchase = await flow.purchase(force_recurring=True)

    async with connect(sandbox_url, timeout=1.0) as impatient:
        with pytest.raises(OutcomeUnknownError) as unknown:
            await Flow(impatient, flow.browser).submit(purchase, "4000000000000077")
        assert unknown.value.purchase_id == purchase.id
        assert "4000000000000077" not in str(unknown.value)
        read = await gateway.get_purchase(purchase.id)
        # The card-saving purchase is the token: recurring_token null, is_recurring_token true.
        assert read.status is Status.PAID and read.is_recurring_token
        assert read.recurring_token is None

        # Its merchant-initiated charges time out the same way, and land the same way.
        mit = await flow.purchase(client_id=read.client_id)
        with pytest.raises(OutcomeUnknownError):
            await impatient.charge(mit.id, purchase.id)
    assert (await gateway.get_purchase(mit.id)).status is Status.PAID


async def _status_is(gateway: PreciumClient, purchase_id: str, status: Status) -> bool:
    return (await gateway.get_purchase(purchase_id)).status is status
