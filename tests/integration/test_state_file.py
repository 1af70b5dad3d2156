"""A sandbox started with a state file keeps its purchases and stored cards across a restart."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx

from payflows.domain import Status
from payflows.gateway import ClientDetails, WebhookEvent, verify_signature
from tests.integration.support import Flow, Receiver, SandboxControl, connect


async def test_purchase_and_recurring_token_survive_a_restart_and_stay_chargeable(
    fresh_sandbox: Callable[..., AbstractContextManager[str]],
    browser: httpx.AsyncClient,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "sandbox-state.json"
    name = receiver.new_name()

    with fresh_sandbox(state_file=state_file) as base_url:
        async with connect(base_url) as gateway:
            flow = Flow(gateway, browser)
            webhook = await gateway.create_webhook("kept", receiver.url(name), all_events=True)
            first = await flow.paid(price=29_900, force_recurring=True)
            refund = await gateway.refund(first.id, 4_900)
            before = await gateway.get_purchase(first.id)
    assert state_file.exists()
    assert b"4111111111111111" not in state_file.read_bytes()

    with fresh_sandbox(state_file=state_file) as base_url:
        async with connect(base_url) as gateway:
            again = await gateway.get_purchase(first.id)
            tokens = await gateway.list_recurring_tokens(first.client_id or "")
            client = await gateway.get_client(first.client_id or "")
            mit = await Flow(gateway, browser).purchase(client_id=client.id)
            charged = await gateway.charge(mit.id, first.id)
            undone = await gateway.cancel_refund(first.id, refund.refund_id or "")
            await gateway.update_client(client.id, ClientDetails(city="Durban"))
            await SandboxControl(base_url, browser).flush_webhooks()

    assert again.status is Status.PAID and again.refundable_amount == 25_000
    assert again.is_recurring_token and again.recurring_token is None
    assert again.network_transaction_id == first.network_transaction_id  # None: not in the body
    assert again.status_history == before.status_history
    assert [t.recurring_token for t in tokens.results] == [first.id]
    assert tokens.results[0].masked_pan == "411111******1111"
    assert charged.status is Status.PAID and charged.masked_pan == "411111******1111"
    assert undone.status == "cancelled"
    # The webhook survived too, and still signs with the key it was registered with.
    after_restart = [d for d in receiver.accepted(name) if mit.id.encode() in d.body]
    assert [WebhookEvent.parse(d.body).event_type for d in after_restart] == [
        "purchase.created",
        "purchase.pending_charge",
        "purchase.paid",
    ]
    assert all(
        verify_signature(d.body, d.signature, webhook.public_key or "") for d in after_restart
    )

    # And once more: what the second run did was saved too.
    with fresh_sandbox(state_file=state_file) as base_url:
        async with connect(base_url) as gateway:
            assert (await gateway.get_purchase(mit.id)).status is Status.PAID
            assert (await gateway.get_purchase(first.id)).refundable_amount == 29_900
            assert (await gateway.get_client(client.id)).city == "Durban"
