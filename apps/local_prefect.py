"""A local Prefect server for one machine: the one ``PREFECT_API_URL`` names, or one we start.

Prefect's ephemeral server costs 6-15 s per process, prints ``CancelledError`` tracebacks when it
stops, and its fresh SQLite gave ``database is locked`` errors under concurrent flow starts
(shared/PREFECT-NOTES.md). A ``prefect server start`` subprocess on loopback avoids all three,
and with its home in one folder its history (and UI) survive from one run to the next.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "prefect_api", "server_is_up", "start_prefect_server", "stop_process"]

START_TIMEOUT_SECONDS = 120.0


def server_is_up(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def free_port(preferred: int = 0) -> int:
    """``preferred`` when it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGINT first (uvicorn's clean shutdown), then SIGTERM, then SIGKILL, to its own group."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def start_prefect_server(
    home: Path,
    *,
    port: int = 4200,
    ui: bool = True,
    storage: Path | None = None,
    log_file: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``prefect server start`` on loopback with its home under ``home``; stop it after.

    ``port`` is used when free, else any free port (0: any). The server sees none of this
    process's ``PREFECT_*`` variables, only its own home, result storage and ``extra_env``.
    Yields the API URL and the process.
    """
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    storage = (storage or home / "storage").resolve()
    storage.mkdir(parents=True, exist_ok=True)
    log_file = log_file or home / "server.log"
    bound = free_port(port)
    api_url = f"http://127.0.0.1:{bound}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(storage),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "true" if ui else "false",
            "PREFECT_UI_API_URL": api_url,
        }
    )
    env.update(extra_env or {})
    # ``python -m prefect``, not the ``prefect`` script beside the interpreter: an installed
    # payflows (pipx, --user, a venv run without activation) need not have one there.
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", "127.0.0.1", "--port", str(bound), "--analytics-off", *extra_args]
    if not ui:
        command.append("--no-ui")
    with ExitStack() as stack:
        log = stack.enter_context(log_file.open("ab"))
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=home,
            start_new_session=True,
        )
        stack.callback(stop_process, process)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server_is_up(api_url):
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited:\n{_tail(log_file)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not start:\n{_tail(log_file)}")
            time.sleep(0.25)
        yield api_url, process


@contextmanager
def _client_pointed_at(api_url: str, home: Path | None) -> Iterator[None]:
    """This process's Prefect client talks to ``api_url`` (env and Prefect's global settings)."""
    import prefect.context

    values = {"PREFECT_API_URL": api_url}
    if home is not None:
        values["PREFECT_HOME"] = str(home.resolve())
        values["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str((home / "storage").resolve())
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    prefect.context.refresh_global_settings_context()
    try:
        yield
    finally:
        _flush_prefect_clients()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        prefect.context.refresh_global_settings_context()


def _flush_prefect_clients(timeout: float = 10.0) -> None:
    """Send the logs and events Prefect still buffers before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout, at_exit=False)


@contextmanager
def prefect_api(home: Path, *, port: int = 4200) -> Iterator[str]:
    """The API URL of a Prefect server this process's flows are recorded by.

    ``PREFECT_API_URL`` when it is set and answers; otherwise a server started under ``home``
    for the duration of the block.
    """
    configured = os.environ.get("PREFECT_API_URL")
    if configured and server_is_up(configured):
        yield configured
        return
    with (
        start_prefect_server(home, port=port) as (api_url, _process),
        _client_pointed_at(api_url, home),
    ):
        yield api_url
