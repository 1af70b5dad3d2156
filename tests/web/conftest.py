"""Fixtures for the merchant's web app: a fresh ledger, trusted signing keys, the app itself,
and a Prefect events worker that records what the receiver emits instead of sending it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy.engine import Engine

from apps.web import WebhookKeyStore, create_web_app
from payflows.gateway import Webhook
from payflows.ledger import make_engine
from payflows.ledger.migrate import upgrade
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.sandbox.signing import generate_key, public_pem
from payflows.settings import Settings, load_settings
from tests.web.support import CHECKOUT_SECRET, serve_in_thread

MERCHANT = "http://merchant.test"


@pytest.fixture(scope="session")
def webhook_key() -> RSAPrivateKey:
    """The key of the webhook the tests registered (its public half is in the keys file)."""
    return generate_key()


@pytest.fixture(scope="session")
def company_key() -> RSAPrivateKey:
    """The gateway's company key: served at ``GET /public_key/`` by a fake gateway."""
    return generate_key()


@pytest.fixture(scope="session")
def stranger_key() -> RSAPrivateKey:
    """A key nobody registered."""
    return generate_key()


@pytest.fixture
def ledger_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    return url


@pytest.fixture
def engine(ledger_url) -> Iterator[Engine]:
    engine = make_engine(ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path, ledger_url) -> Settings:
    return load_settings(
        PAYFLOWS_DATABASE_URL=ledger_url,
        PAYFLOWS_WEBHOOK_KEYS_FILE=str(tmp_path / "webhook-keys.json"),
        PAYFLOWS_PUBLIC_URL=MERCHANT,
        PAYFLOWS_CHECKOUT_SECRET=CHECKOUT_SECRET,
    )


@pytest.fixture
def registered(settings, webhook_key) -> WebhookKeyStore:
    store = WebhookKeyStore(settings.webhook_keys_file)
    store.add(
        Webhook(
            id="wh-test",
            callback=f"{MERCHANT}/webhooks/precium",
            all_events=True,
            public_key=public_pem(webhook_key),
        )
    )
    return store


@dataclass
class FakeGateway:
    """Answers ``GET /public_key/`` with the company key; counts the calls; can be down."""

    pem: str
    calls: int = 0
    down: bool = False
    seen: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        if request.url.path.endswith("/public_key/"):
            self.calls += 1
            if self.down:
                return httpx.Response(503, json={"__all__": [{"message": "down", "code": "x"}]})
            return httpx.Response(200, json=self.pem)
        return httpx.Response(404, json={"__all__": [{"message": "No such object"}]})


@pytest.fixture
def gateway(company_key) -> FakeGateway:
    return FakeGateway(public_pem(company_key))


@pytest.fixture
async def receiver(settings, registered, gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The web app in-process, its own gateway calls answered by :class:`FakeGateway`."""
    app = create_web_app(settings, gateway_transport=httpx.MockTransport(gateway.handle))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            yield client


class PrefectEvents:
    """The events the receiver emitted, as Prefect ``Event`` objects (so their shape is checked)."""

    def __init__(self) -> None:
        self.events: list = []

    def emit_event(self, event: str, resource: dict[str, str], **kwargs):  # type: ignore[no-untyped-def]
        from prefect.events import Event

        built = Event(event=event, resource=resource, **kwargs)
        self.events.append(built)
        return built

    async def collect(self) -> list:
        return list(self.events)


@pytest.fixture(autouse=True)
def prefect_events(monkeypatch) -> PrefectEvents:
    """Prefect events recorded instead of sent (every web test: none may start a server).

    ``emit_event`` itself is replaced: the real one would start Prefect's events worker, whose
    client, with no ``PREFECT_API_URL``, brings up an ephemeral server in this process (seconds,
    and a SQLite file shared with every other Prefect process on the machine).
    """
    import apps.web.app

    recorder = PrefectEvents()
    # Only the web app's own events: Prefect's engine emits its state events through the same
    # function, and those must reach the test Prefect server untouched.
    monkeypatch.setattr(apps.web.app, "emit_event", recorder.emit_event)
    # As if PREFECT_API_URL named a server (without one the app emits nothing, see
    # test_hardening.py); the recorder stands in for it.
    monkeypatch.setattr(apps.web.app, "prefect_configured", lambda: True)
    return recorder


@dataclass
class Shop:
    merchant: str  # the web app's origin
    sandbox: str  # the sandbox's origin
    ledger_url: str


@pytest.fixture(scope="module")
def shop(tmp_path_factory, prefect_api) -> Iterator[Shop]:
    """One sandbox, one ledger and one web app for the module (orders never share a key).

    Checkout and the TermUrl run the payment flows in-process, recorded by the Prefect server.
    """
    tmp = tmp_path_factory.mktemp("shop")
    ledger_url = f"sqlite:///{tmp}/ledger.db"
    upgrade(ledger_url)
    with pytest.MonkeyPatch.context() as env, running_sandbox(SandboxConfig(seed=11)) as api_url:
        env.setenv("PRECIUM_BASE_URL", api_url)
        env.setenv("PAYFLOWS_DATABASE_URL", ledger_url)
        env.setenv("PAYFLOWS_WEBHOOK_KEYS_FILE", str(tmp / "webhook-keys.json"))
        env.setenv("PAYFLOWS_CHECKOUT_SECRET", CHECKOUT_SECRET)
        # Every test of the module pays from 127.0.0.1: failures must not lock the others out.
        env.setenv("PAYFLOWS_CHECKOUT_MAX_FAILURES", "1000")

        def app(origin: str) -> Any:
            env.setenv("PAYFLOWS_PUBLIC_URL", origin)
            return create_web_app(load_settings())

        with serve_in_thread(app) as merchant:
            yield Shop(merchant, api_url.removesuffix("/api/v1/"), ledger_url)
