"""Fixtures: the Precium sandbox and a webhook receiver on real loopback sockets.

One sandbox serves the whole session (tests that share it touch only their own purchases, and
every fault or switch a test sets is reset after it). Tests that move the clock or restart the
gateway start a fresh one with :func:`fresh_sandbox`. Webhook retries use a 50 ms backoff base,
so a receiver that fails its first deliveries is retried within the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from payflows.gateway import PreciumClient, Webhook
from payflows.sandbox import SandboxConfig, running_sandbox
from tests.integration.live import LIVE, LIVE_TESTS, SANDBOX_ONLY_REASON, live_keys
from tests.integration.support import Flow, Receiver, SandboxControl, connect, serve_in_thread

#: What the run-time switches are at start; restored after every test that uses ``control``.
DEFAULT_SWITCHES = {"allow_non_3ds": True, "allow_external_3ds": True, "timeout_seconds": 60}


def sandbox_config(**overrides: object) -> SandboxConfig:
    return SandboxConfig(webhook_backoff_base=0.05, seed=20_260_113, **overrides)  # type: ignore[arg-type]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In live mode (``PAYFLOWS_LIVE=1``) only the tests that hold on any gateway run."""
    if not LIVE:
        return
    skip = pytest.mark.skip(reason=SANDBOX_ONLY_REASON)
    for item in items:
        module = item.path.name
        name = f"{module}::{item.originalname}"
        if "tests/integration" in str(item.path) and not (
            module in LIVE_TESTS or name in LIVE_TESTS
        ):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """The shared sandbox: ``http://127.0.0.1:PORT/api/v1/``; in live mode the configured
    gateway (``PRECIUM_BASE_URL``) instead, and no sandbox is started."""
    if LIVE:
        yield str(live_keys()["base_url"])
        return
    with running_sandbox(sandbox_config()) as base_url:
        yield base_url


@pytest.fixture
def fresh_sandbox() -> Callable[..., AbstractContextManager[str]]:
    """``with fresh_sandbox(state_file=...) as base_url:``: a sandbox of the test's own."""

    def start(**overrides: object) -> AbstractContextManager[str]:
        return running_sandbox(sandbox_config(**overrides))

    return start


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    with serve_in_thread(hooks.app) as origin:
        hooks.origin = origin
        yield hooks


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The shopper's browser (and our hand on ``/_sandbox/``): raw HTTP, no gateway key."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield http


@pytest.fixture
async def gateway(sandbox_url: str) -> AsyncIterator[PreciumClient]:
    async with connect(sandbox_url) as client:
        yield client


@pytest.fixture
def flow(gateway: PreciumClient, browser: httpx.AsyncClient) -> Flow:
    return Flow(gateway, browser)


@pytest.fixture
async def control(sandbox_url: str, browser: httpx.AsyncClient) -> AsyncIterator[SandboxControl]:
    """The shared sandbox's control routes; faults and switches are reset afterwards."""
    sandbox = SandboxControl(sandbox_url, browser)
    try:
        yield sandbox
    finally:
        await sandbox.clear_faults()
        await sandbox.configure(**DEFAULT_SWITCHES)


@pytest.fixture
async def hook(gateway: PreciumClient, receiver: Receiver) -> AsyncIterator[tuple[Webhook, str]]:
    """A webhook for every event, registered on the shared sandbox, pointing at a receiver name
    of this test's own; deleted afterwards. Yields ``(webhook, name)``."""
    name = receiver.new_name()
    webhook = await gateway.create_webhook("it-receiver", receiver.url(name), all_events=True)
    try:
        yield webhook, name
    finally:
        await gateway.delete_webhook(webhook.id)
