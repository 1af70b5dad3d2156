"""Flows end to end: the session's Prefect server, a sandbox on loopback, a ledger per test.

The flows read their settings from the environment, as in production: each test points
``PRECIUM_BASE_URL`` at the sandbox and ``PAYFLOWS_DATABASE_URL`` at a fresh SQLite ledger
(copied from one migrated at the start of the session: running Alembic per test is slow).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from payflows.ledger.migrate import upgrade
from payflows.sandbox import SandboxConfig, running_sandbox
from payflows.settings import SANDBOX_API_KEY
from tasks.runtime import dispose_engines
from tests.flows.support import Ledger, Sandbox
from tests.support.prefect_server import PrefectServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The card-data scan runs last in the session, so it reads what every other test wrote."""
    last = [i for i in items if i.nodeid.startswith("tests/flows/test_card_data_never_rests.py")]
    if last:
        items[:] = [i for i in items if i not in last] + last


def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=20_260_301, webhook_backoff_base=0.05)


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """One sandbox for the session; tests touch only their own purchases."""
    with running_sandbox(sandbox_config()) as base_url:
        yield base_url


@pytest.fixture
def fresh_sandbox_url() -> Callable[[], AbstractContextManager[str]]:
    """A sandbox of the test's own, for tests that move its clock."""
    return lambda: running_sandbox(sandbox_config())


@pytest.fixture(scope="session")
def migrated_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ledger-template") / "ledger.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def ledger(tmp_path: Path, migrated_ledger: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.db"
    shutil.copy(migrated_ledger, path)
    ledger = Ledger(path)
    yield ledger
    ledger.close()
    dispose_engines()


@pytest.fixture
def flow_env(
    prefect_api: PrefectServer,
    sandbox_url: str,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], None]:
    """Point the flows at the sandbox and the test's ledger; call it again for another sandbox."""

    def point_at(base_url: str) -> None:
        monkeypatch.setenv("PRECIUM_BASE_URL", base_url)
        monkeypatch.setenv("PAYFLOWS_DATABASE_URL", ledger.url)
        monkeypatch.setenv("PRECIUM_TIMEOUT_SECONDS", "5")
        monkeypatch.setenv("PAYFLOWS_PUBLIC_URL", "http://merchant.test")

    point_at(sandbox_url)
    return point_at


@pytest.fixture
async def sandbox(sandbox_url: str, flow_env: Callable[[str], None]) -> AsyncIterator[Sandbox]:
    """Control of the shared sandbox (faults are cleared after the test)."""
    origin = sandbox_url.removesuffix("/api/v1/")
    async with httpx.AsyncClient(
        base_url=origin, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    ) as http:
        control = Sandbox(http, sandbox_url)
        try:
            yield control
        finally:
            await control.clear_faults()


@pytest.fixture
def key() -> str:
    """A business id no other test uses."""
    return uuid.uuid4().hex[:10].upper()
