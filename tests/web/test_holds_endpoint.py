"""The operator endpoint ``POST /holds/{purchase_id}/decision`` (and ``GET /holds``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlmodel import select

from apps.web import create_web_app
from payflows.ledger import Hold, HoldDecision, UnitOfWork, record_hold
from payflows.settings import load_settings

from .conftest import MERCHANT

TOKEN = "op-7c0ffee-operator-token"
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def holds(engine) -> list[str]:
    with UnitOfWork(engine) as uow:
        for pid in ("hold-a", "hold-b"):
            record_hold(
                uow,
                pid,
                authorised_cents=50_000,
                currency="ZAR",
                authorised_at=T0,
                expires_at=T0 + timedelta(days=7),
                brand="mastercard",
            )
        uow.commit()
    return ["hold-a", "hold-b"]


async def client_for(settings):
    app = create_web_app(settings)
    manager = LifespanManager(app)
    await manager.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=MERCHANT)
    return manager, client


@pytest.fixture
async def web(tmp_path, ledger_url):
    settings = load_settings(
        PAYFLOWS_DATABASE_URL=ledger_url,
        PAYFLOWS_WEBHOOK_KEYS_FILE=str(tmp_path / "webhook-keys.json"),
        PAYFLOWS_PUBLIC_URL=MERCHANT,
        PAYFLOWS_OPERATOR_TOKEN=TOKEN,
    )
    manager, client = await client_for(settings)
    yield client
    await client.aclose()
    await manager.__aexit__(None, None, None)


def decision_of(engine, pid: str) -> tuple[HoldDecision, int | None]:
    with UnitOfWork(engine) as uow:
        h = uow.session.exec(select(Hold).where(Hold.purchase_id == pid)).one()
        return h.decision, h.decision_cents


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_decision_with_the_operator_token_is_recorded(web, engine, holds):
    response = await web.post(
        "/holds/hold-a/decision",
        json={"decision": "capture", "amount_cents": 12_000},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True and body["hold"]["decision_cents"] == 12_000
    assert body["hold"]["act_by"].startswith("2026-03-07T09:30")
    assert decision_of(engine, "hold-a") == (HoldDecision.CAPTURE, 12_000)
    again = await web.post(
        "/holds/hold-a/decision",
        json={"decision": "capture", "amount_cents": 12_000},
        headers=auth(),
    )
    assert again.json()["changed"] is False
    voided = await web.post(
        "/holds/hold-b/decision", json={"decision": "cancelled"}, headers=auth()
    )
    assert voided.status_code == 200 and decision_of(engine, "hold-b")[0] is HoldDecision.VOID
    listing = await web.get("/holds", headers=auth())
    assert [h["purchase_id"] for h in listing.json()["results"]] == ["hold-a", "hold-b"]


@pytest.mark.parametrize(
    "headers",
    [{}, auth("wrong"), {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}, auth("")],
)
async def test_without_the_right_token_nothing_is_recorded(web, engine, holds, headers, caplog):
    caplog.set_level(logging.DEBUG)
    response = await web.post("/holds/hold-a/decision", json={"decision": "void"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert decision_of(engine, "hold-a") == (HoldDecision.NONE, None)
    assert (await web.get("/holds", headers=headers)).status_code == 401
    assert TOKEN not in response.text and TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("pid", "body", "status", "message"),
    [
        ("hold-a", {"decision": "capture", "amount_cents": 50_001}, 422, "cannot capture"),
        ("hold-a", {"decision": "capture", "amount_cents": "12.00"}, 422, "whole number"),
        ("hold-a", {"decision": "capture", "amount_cents": True}, 422, "whole number"),
        ("hold-a", {"decision": "void", "amount_cents": 100}, 422, "capture only"),
        ("hold-a", {"decision": "later"}, 422, "not a decision"),
        ("hold-a", {"amount_cents": 100}, 422, "decision is required"),
        ("hold-a", {"decision": "void", "note": "x"}, 422, "unknown field"),
        ("hold-a", ["void"], 422, "decision is required"),
        ("nope", {"decision": "void"}, 404, "no hold"),
        ("closed", {"decision": "void"}, 409, "no longer open"),
    ],
)
async def test_invalid_decisions_are_refused_and_nothing_recorded(
    web, engine, holds, pid, body, status, message
):
    with UnitOfWork(engine) as uow:
        record_hold(
            uow,
            "closed",
            authorised_cents=100,
            currency="ZAR",
            authorised_at=T0,
            expires_at=T0 + timedelta(days=7),
        )
        closed = uow.session.exec(select(Hold).where(Hold.purchase_id == "closed")).one()
        closed.status = "released"
        uow.commit()
    response = await web.post(f"/holds/{pid}/decision", json=body, headers=auth())
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert decision_of(engine, "hold-a") == (HoldDecision.NONE, None)


async def test_a_body_that_is_not_json_is_refused(web, holds):
    response = await web.post("/holds/hold-a/decision", content=b"decision=void", headers=auth())
    assert response.status_code == 422
    big = await web.post("/holds/hold-a/decision", content=b"{" * 5000, headers=auth())
    assert big.status_code == 413


async def test_with_no_operator_token_configured_the_endpoint_is_disabled(settings, engine, holds):
    assert settings.operator_token is None
    manager, client = await client_for(settings)
    try:
        response = await client.post(
            "/holds/hold-a/decision", json={"decision": "void"}, headers=auth()
        )
        assert response.status_code == 503
        assert "PAYFLOWS_OPERATOR_TOKEN" in response.json()["error"]
    finally:
        await client.aclose()
        await manager.__aexit__(None, None, None)
    assert decision_of(engine, "hold-a") == (HoldDecision.NONE, None)


def test_the_token_is_masked_in_settings_output():
    settings = load_settings(PAYFLOWS_OPERATOR_TOKEN=TOKEN)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


async def test_deep_json_and_huge_amounts_are_refused_without_a_500(web, engine, holds):
    """Issue 15: a 3,000-deep body was a 500; amounts must fit the ledger's integers."""
    deep = b"[" * 2000 + b"]" * 2000  # valid JSON, under the 4 KiB limit, past Python's depth
    response = await web.post("/holds/hold-a/decision", content=deep, headers=auth())
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]
    for amount in (2**63, 10**30, -5, 0):
        body = {"decision": "capture", "amount_cents": amount}
        response = await web.post("/holds/hold-a/decision", json=body, headers=auth())
        assert response.status_code == 422, response.text
    assert decision_of(engine, "hold-a") == (HoldDecision.NONE, None)


async def test_the_size_is_checked_before_the_body_is_read(web, holds):
    """A declared Content-Length over the limit is refused at once (the body is never read)."""

    async def endless():  # type: ignore[no-untyped-def]
        yield b"{" * 1024
        raise AssertionError("the endpoint read past the declared size")

    response = await web.post(
        "/holds/hold-a/decision",
        content=endless(),
        headers={**auth(), "Content-Length": "10000000"},
    )
    assert response.status_code == 413
