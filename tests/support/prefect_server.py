"""A real, long-lived local Prefect server for the tests that run flows.

The ephemeral server Prefect starts by itself costs 6-15 s per process, prints tracebacks when it
stops, and its fresh SQLite database gave ``database is locked`` errors when several flows start
at once. One ``prefect server start`` subprocess per test session avoids all three, and keeps
everything Prefect writes (its database, its home folder, result storage, its own log output) in
one temporary folder that the card-data scan can read afterwards.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from apps.local_prefect import start_prefect_server

__all__ = ["PrefectServer", "flush_prefect_clients", "running_prefect_server"]

#: Starting the server (migrations, services) takes 6-15 s on a 2-core machine; allow slack.
START_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class PrefectServer:
    """Where the session's Prefect server listens and where it (and its clients) write."""

    api_url: str
    #: ``PREFECT_HOME`` of the server and of the test process (profiles, ``prefect.db``).
    home: Path
    #: ``PREFECT_RESULTS_LOCAL_STORAGE_PATH``: persisted results and deferred-task parameters.
    storage: Path
    #: The server's stdout and stderr.
    log_file: Path
    pid: int

    @property
    def database(self) -> Path:
        return self.home / "prefect.db"

    def flush(self) -> None:
        """Wait until this process has sent its buffered logs and events to the server."""
        flush_prefect_clients()

    def files(self) -> list[Path]:
        """Every file the server or its clients wrote: what a leak scan must read."""
        found = {self.log_file}
        for root in (self.home, self.storage):
            found |= {path for path in root.rglob("*") if path.is_file()}
        return sorted(found)


def flush_prefect_clients(timeout: float = 10.0) -> None:
    """Send what Prefect's background log and event workers still buffer, then stop them.

    They start again on next use. Without this, logs of the last flows reach the server after
    it stopped (``Error logging to API``) or after a test read the server's database.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    def drain() -> None:
        for worker in (APILogWorker, EventsWorker):
            worker.drain_all(timeout=timeout, at_exit=False)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        drain()
        return
    # Inside an event loop drain_all only returns a coroutine; block in a thread of our own.
    thread = threading.Thread(target=drain, name="prefect-flush")
    thread.start()
    thread.join(timeout=3 * timeout)


def _environment(home: Path, storage: Path, api_url: str | None = None) -> dict[str, str]:
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(storage),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        # A flow-run test needs no scheduler, late-run marker or telemetry.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    }
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    return env


@contextmanager
def _client_settings(env: dict[str, str]) -> Iterator[None]:
    """Point this process's Prefect client at the server: env vars and Prefect's settings.

    Prefect reads its settings once at import into a global context, and threads it starts
    (log and event workers) see that global context, not a contextvar set by a fixture; so the
    global context is refreshed as well as a temporary settings context entered.
    """
    import prefect.context
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH,
        temporary_settings,
    )

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    prefect.context.refresh_global_settings_context()
    try:
        with temporary_settings(
            updates={
                PREFECT_API_URL: env["PREFECT_API_URL"],
                PREFECT_HOME: env["PREFECT_HOME"],
                PREFECT_RESULTS_LOCAL_STORAGE_PATH: env["PREFECT_RESULTS_LOCAL_STORAGE_PATH"],
                PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore",
            }
        ):
            try:
                yield
            finally:
                flush_prefect_clients()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        prefect.context.refresh_global_settings_context()


@contextmanager
def running_prefect_server(
    root: Path, server_env_extra: dict[str, str] | None = None
) -> Iterator[PrefectServer]:
    """Start ``prefect server start`` under ``root``, point this process at it, stop it after.

    ``server_env_extra``: more environment for the server only (e.g. its database URL).
    """
    home = root / "home"
    storage = root / "storage"
    home.mkdir(parents=True, exist_ok=True)
    storage.mkdir(parents=True, exist_ok=True)
    log_file = root / "server.log"
    with ExitStack() as stack:
        api_url, process = stack.enter_context(
            start_prefect_server(
                home,
                port=0,
                ui=False,
                storage=storage,
                log_file=log_file,
                extra_env={**_environment(home, storage), **(server_env_extra or {})},
                extra_args=["--no-scheduler", "--no-late-runs"],
            )
        )
        stack.enter_context(_client_settings(_environment(home, storage, api_url)))
        yield PrefectServer(
            api_url=api_url, home=home, storage=storage, log_file=log_file, pid=process.pid
        )
