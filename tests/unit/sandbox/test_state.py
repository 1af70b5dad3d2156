"""The state file: a restart keeps everything, and no PAN or CVC ever reaches it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from payflows.sandbox import TEST_CARDS, SandboxConfig
from payflows.sandbox.state import SandboxState, load_state
from tests.unit.sandbox.conftest import DAY, FINGERPRINT, card_body


def config_for(path: Path) -> SandboxConfig:
    return SandboxConfig(state_file=path, timeout_seconds=0.05, webhook_backoff_base=0.01)


async def test_state_survives_a_restart(tmp_path: Path, make_gateway: Callable[..., Any]) -> None:
    path = tmp_path / "sandbox.json"
    async with make_gateway(config_for(path)) as gw:
        token = await gw.paid("4000000000000085", force_recurring=True)
        refunded = await gw.paid()
        refund = (await gw.api("POST", f"purchases/{refunded['id']}/refund/", {"amount": 5})).json()
        held = await gw.paid(skip_capture=True)
        hook = (await gw.api("POST", "webhooks/", {"callback": "http://127.0.0.1:9/"})).json()
        public_key = (await gw.api("GET", "public_key/")).json()
        clock = await gw.advance(DAY / 2)
        purchase = await gw.purchase()
        challenge = (await gw.submit(purchase, card_body("4000000000000002", **FINGERPRINT))).json()
        before = {p["id"]: await gw.get(p["id"]) for p in (token, refunded, held, purchase)}

    async with make_gateway(config_for(path)) as gw:
        for pid, wire in before.items():
            assert await gw.get(pid) == wire
        assert (await gw.sandbox("GET", "clock/")).json()["offset_seconds"] == clock[
            "offset_seconds"
        ]
        assert (await gw.api("GET", f"webhooks/{hook['id']}/")).json() == hook
        assert (await gw.api("GET", "public_key/")).json() == public_key
        tokens = (await gw.api("GET", f"clients/{token['client_id']}/recurring_tokens/")).json()
        assert [t["id"] for t in tokens["results"]] == [token["id"]]
        # The stored card still behaves as its row says: this card's MIT declines.
        target = await gw.purchase()
        charge = await gw.api(
            "POST", f"purchases/{target['id']}/charge/", {"recurring_token": token["id"]}
        )
        assert charge.json()["__all__"][1]["code"] == "insufficient_funds"
        # The 3DS session and the refund survived too.
        assert (await gw.challenge(challenge)).json()["status"] == "paid"
        cancel = f"purchases/{refunded['id']}/refund/{refund['id']}/cancel/"
        assert (await gw.api("POST", cancel)).json()["status"] == "cancelled"
        await gw.advance(7 * DAY)
        assert (await gw.get(held["id"]))["status"] == "expired"
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left behind


async def test_the_state_file_holds_no_pan_and_no_cvc(
    tmp_path: Path, make_gateway: Callable[..., Any]
) -> None:
    path = tmp_path / "sandbox.json"
    async with make_gateway(config_for(path)) as gw:
        for card in TEST_CARDS:
            purchase = await gw.purchase(force_recurring=True)
            body = card_body(card.number, cvc="4321" if card.cvc_rule == "any" else "123")
            await gw.submit(purchase, {**body, **FINGERPRINT})
        refused = await gw.purchase()
        await gw.submit(refused, card_body("4242424242424242", cvc="9876"))
    text = path.read_text()
    for card in TEST_CARDS:
        assert card.number not in text, card.key
    assert "4242424242424242" not in text
    # A CVC would stand on its own; ids, hashes and timestamps may contain the digits by chance.
    for cvc in ("4321", "9876"):
        assert not re.search(rf"(?<![0-9A-Za-z-]){cvc}(?![0-9A-Za-z-])", text), cvc
    state = json.loads(text)

    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    assert not keys(state) & {"card_number", "cvc", "number", "pan", "expires"}
    assert isinstance(SandboxState.from_json(state), SandboxState)


async def test_changes_are_written_without_waiting_for_shutdown(
    tmp_path: Path, make_gateway: Callable[..., Any]
) -> None:
    path = tmp_path / "sandbox.json"
    async with make_gateway(config_for(path)) as gw:
        purchase = await gw.purchase()
        for _ in range(40):
            await asyncio.sleep(0.05)
            if path.exists() and purchase["id"] in load_state(path).purchases:
                break
        else:
            raise AssertionError("the state was not flushed within 2 s")


def test_without_a_state_file_nothing_is_written(tmp_path: Path) -> None:
    assert load_state(None).purchases == {}
    assert load_state(tmp_path / "missing.json").purchases == {}


async def test_incremental_snapshots_match_a_full_rebuild(
    tmp_path: Path, make_gateway: Callable[..., Any]
) -> None:
    """Each mutation marks its record changed: a missed mark would persist a stale record."""
    async with make_gateway(config_for(tmp_path / "s.json")) as gw:
        state = gw.app.sandbox.state

        def assert_consistent() -> None:
            assert json.loads(b"".join(state.snapshot())) == json.loads(json.dumps(state.to_json()))

        token = await gw.paid(force_recurring=True)
        assert_consistent()
        held = await gw.paid(skip_capture=True)
        await gw.api("POST", f"purchases/{held['id']}/capture/", {"amount": 10})
        refund = (await gw.api("POST", f"purchases/{held['id']}/refund/", {"amount": 5})).json()
        await gw.api("POST", f"purchases/{held['id']}/refund/{refund['id']}/cancel/")
        assert_consistent()
        target = await gw.purchase()
        await gw.api("POST", f"purchases/{target['id']}/charge/", {"recurring_token": token["id"]})
        await gw.api("POST", f"purchases/{token['id']}/delete_recurring_token/")
        challenged = await gw.purchase()
        answer = (await gw.submit(challenged, card_body("4000000000000002", **FINGERPRINT))).json()
        assert_consistent()
        await gw.challenge(answer, approve=False)
        refused = await gw.purchase()
        await gw.submit(refused, card_body("4242424242424242"))
        hook = (await gw.api("POST", "webhooks/", {"callback": "http://127.0.0.1:9/"})).json()
        await gw.api("PATCH", f"webhooks/{hook['id']}/", {"title": "t"})
        client = await gw.client("x@y.z")
        await gw.api("PATCH", f"clients/{client}/", {"city": "Paarl"})
        assert_consistent()
        await gw.api("DELETE", f"clients/{client}/")
        await gw.api("DELETE", f"webhooks/{hook['id']}/")
        await gw.advance(40 * DAY)
        assert_consistent()
