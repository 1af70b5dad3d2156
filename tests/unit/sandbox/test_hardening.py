"""Out-of-range controls and malformed bodies are a 400, never a 500 (issue 15), and nothing
broken is kept: not in memory, not in the state file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from payflows.sandbox import SandboxConfig
from tests.unit.sandbox.conftest import BRAND_ID, Gateway


def _config(path: Path) -> SandboxConfig:
    return SandboxConfig(state_file=path, timeout_seconds=0.05, webhook_backoff_base=0.01)


async def _routes_still_work(gw: Gateway) -> None:
    assert (await gw.sandbox("GET", "clock/")).status_code == 200
    assert (await gw.sandbox("GET", "faults/")).status_code == 200
    assert (await gw.sandbox("GET", "purchases/")).status_code == 200
    purchase = await gw.purchase()
    assert (await gw.api("GET", f"purchases/{purchase['id']}/")).status_code == 200


@pytest.mark.parametrize("seconds", [1e30, 10**30, float("inf"), 4e9, -1, "60", True])
async def test_an_out_of_range_clock_advance_is_refused_and_changes_nothing(
    tmp_path: Path, make_gateway: Callable[..., Any], seconds: Any
) -> None:
    path = tmp_path / "state.json"
    async with make_gateway(_config(path)) as gw:
        before = (await gw.sandbox("GET", "clock/")).json()["offset_seconds"]
        raw = json.dumps({"seconds": seconds}) if seconds != float("inf") else '{"seconds": 1e999}'
        response = await gw.http.post(
            "/_sandbox/clock/advance/", content=raw, headers={**_api(), "content-type": "x"}
        )
        assert response.status_code == 400, response.text
        errors = response.json()
        assert (errors.get("seconds") or errors["__all__"])[0]["code"] == "invalid"
        assert (await gw.sandbox("GET", "clock/")).json()["offset_seconds"] == before
        await _routes_still_work(gw)
    # ... and the state file restarts a working sandbox.
    assert json.loads(path.read_text())["clock_offset"] == before
    async with make_gateway(_config(path)) as gw:
        await _routes_still_work(gw)


async def test_a_state_file_with_a_broken_clock_starts_with_the_clock_reset(
    tmp_path: Path, make_gateway: Callable[..., Any]
) -> None:
    """A state file written by an older sandbox after an advance of 1e30 seconds."""
    path = tmp_path / "state.json"
    async with make_gateway(_config(path)) as gw:
        await gw.purchase()
    state = json.loads(path.read_text())
    state["clock_offset"] = 1e30
    path.write_text(json.dumps(state))
    async with make_gateway(_config(path)) as gw:
        assert (await gw.sandbox("GET", "clock/")).json()["offset_seconds"] == 0
        await _routes_still_work(gw)


@pytest.mark.parametrize("price", [2**63, 2**64, 10**30, "9" * 30])
async def test_a_price_past_64_bits_is_refused(gw: Gateway, price: Any) -> None:
    body = {
        "client": {"email": "a@example.com"},
        "brand_id": BRAND_ID,
        "purchase": {"currency": "ZAR", "products": [{"name": "x", "price": price}]},
    }
    response = await gw.api("POST", "purchases/", body)
    assert response.status_code == 400, response.text
    assert (await gw.sandbox("GET", "purchases/")).status_code == 200


async def test_a_total_past_64_bits_is_refused(gw: Gateway) -> None:
    products = [{"name": "x", "price": 2**62, "quantity": 4}]
    body = {"client": {"email": "a@example.com"}, "brand_id": BRAND_ID, "products": products}
    response = await gw.api("POST", "purchases/", {**body, "currency": "ZAR"})
    assert response.status_code == 400
    assert "purchase.products" not in response.json() and "products" in response.json()


@pytest.mark.parametrize("value", [1e30, 10**30, 2**63], ids=["1e30", "10**30", "2**63"])
@pytest.mark.parametrize("field", ["count", "ms", "retry_after"])
async def test_a_fault_rule_out_of_range_is_refused_and_the_listing_still_works(
    gw: Gateway, field: str, value: Any
) -> None:
    rule = {"route": "POST /api/v1/purchases/", "kind": "rate_limit", field: value}
    if field == "ms":
        rule["kind"] = "latency"
    response = await gw.sandbox("PUT", "faults/", {"rules": [rule]})
    assert response.status_code == 400, response.text
    listed = await gw.sandbox("GET", "faults/")
    assert listed.status_code == 200 and listed.json() == {"rules": []}


async def test_a_timeout_switch_out_of_range_is_refused(gw: Gateway) -> None:
    response = await gw.sandbox("PUT", "config/", {"timeout_seconds": 1e30})
    assert response.status_code == 400
    assert (await gw.sandbox("GET", "config/")).json()["timeout_seconds"] == 0.05


def _api() -> dict[str, str]:
    from tests.unit.sandbox.conftest import API

    return dict(API)


@pytest.mark.parametrize(
    "route",
    [
        ("POST", "/api/v1/purchases/"),
        ("POST", "/api/v1/clients/"),
        ("PUT", "/_sandbox/faults/"),
        ("POST", "/_sandbox/clock/advance/"),
    ],
)
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's recursion limit
        b'{"a":' * 500 + b"1" + b"}" * 500,  # parses, but no gateway takes it (nor orjson)
        b"[1, 2]",
        b'"text"',
        b"null",
        b"NaN",
        b"\xff\xfe",
    ],
    ids=["100k-deep", "500-deep", "array", "string", "null", "nan", "not-utf8"],
)
async def test_deep_or_non_object_json_is_a_400(
    gw: Gateway, route: tuple[str, str], raw: bytes
) -> None:
    method, path = route
    response = await gw.http.request(
        method, path, content=raw, headers={**_api(), "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["__all__"][0]["code"] == "invalid"


async def test_nesting_or_numbers_that_could_not_be_written_back_are_refused(
    gw: Gateway,
) -> None:
    """Stored as given, these made every later listing and the state file fail."""
    deep: Any = {}
    for _ in range(40):
        deep = {"x": deep}
    for details in ({"card": deep}, {"card": {"x": 2**70}}):
        body = {
            "client": {"email": "a@example.com"},
            "brand_id": BRAND_ID,
            "purchase": {
                "currency": "ZAR",
                "products": [{"name": "x", "price": 100}],
                "payment_method_details": details,
            },
        }
        response = await gw.api("POST", "purchases/", body)
        assert response.status_code == 400, response.text
    assert (await gw.sandbox("GET", "purchases/")).status_code == 200


_ODD: list[Any] = [
    None, True, 0, -1, 1.5, float("nan"), float("inf"), 2**63 - 1, -(2**63), "", "x" * 5000,
    "\x00", "١٢٣", [], {}, [1], {"a": 1}, "1e30", "-5", "12/99",
]  # fmt: skip


async def test_odd_values_in_every_field_of_every_route_are_never_a_5xx(gw: Gateway) -> None:
    """A seeded sweep (bounded: 25 bodies per route) of odd values through the routes that take
    a body; afterwards every listing and the state snapshot still work."""
    import random

    from tests.unit.sandbox.conftest import S2S

    rng = random.Random(15)
    held = await gw.paid(skip_capture=True)
    paid = await gw.paid(force_recurring=True)
    fresh = await gw.purchase()
    routes: list[tuple[str, str, dict[str, str], list[str]]] = [
        ("POST", "/api/v1/purchases/", _api(), ["client", "brand_id", "purchase", "products",
                                                "reference", "skip_capture", "total_override"]),
        ("POST", "/api/v1/clients/", _api(), ["email", "full_name", "phone"]),
        ("POST", f"/api/v1/purchases/{held['id']}/capture/", _api(), ["amount"]),
        ("POST", f"/api/v1/purchases/{paid['id']}/refund/", _api(), ["amount"]),
        ("POST", f"/api/v1/purchases/{fresh['id']}/charge/", _api(), ["recurring_token"]),
        ("POST", f"/p/{fresh['id']}/?s2s=true", S2S, ["card_number", "expires", "cvc",
                                                      "cardholder_name", "remote_ip"]),
        ("POST", "/api/v1/webhooks/", _api(), ["title", "all_events", "events", "callback"]),
        ("POST", "/_sandbox/clock/advance/", _api(), ["seconds"]),
        ("PUT", "/_sandbox/faults/", _api(), ["rules"]),
        ("PUT", "/_sandbox/config/", _api(), ["timeout_seconds", "allow_non_3ds"]),
        ("PUT", "/_sandbox/recurring_tokens/tok/", _api(), ["card", "network_transaction_id"]),
    ]  # fmt: skip
    for method, path, headers, fields in routes:
        for _ in range(25):
            body = {f: rng.choice(_ODD) for f in fields if rng.random() < 0.7}
            if path.endswith("/purchases/") and rng.random() < 0.5:
                product = {f: rng.choice(_ODD) for f in ("name", "price", "quantity")}
                body = {"client": {"email": "a@example.com"}, "brand_id": BRAND_ID,
                        "purchase": {"currency": "ZAR", "products": [product]}}  # fmt: skip
            response = await gw.http.request(
                method,
                path,
                content=json.dumps(body),
                headers={**headers, "content-type": "application/json"},
            )
            assert response.status_code < 500, (path, body, response.text)
    for listing in ("purchases/", "faults/", "clock/", "config/"):
        assert (await gw.sandbox("GET", listing)).status_code == 200
    assert b"".join(gw.app.sandbox.state.snapshot())
