"""``payflows up``: the whole local stack in one command, stopped cleanly by Ctrl-C.

Starts, each as a child process in its own session (so Ctrl-C reaches this process only, and
the children are stopped in order instead of all at once with tracebacks):

1. a Prefect server on loopback, unless ``PREFECT_API_URL`` already answers (its home, with
   its SQLite database, under ``data/prefect``);
2. the Precium sandbox, when the settings point at the local sandbox, keeping its state in
   ``data/sandbox-state.json`` (or ``PAYFLOWS_SANDBOX_STATE_FILE``) across restarts, and taught
   the sample migrated card tokens (``data/samples/sandbox_tokens.csv``);
3. the merchant web app, with its webhook registered at the gateway (once: not again on each
   restart), so deliveries and the ``payflows.*`` events flow;
4. ``payflows serve``: every deployment with its schedule (a schedule paused in the UI stays
   paused) and the automations of ``docs/ops/automations.yaml``.

The ledger is migrated first, and every child gets its URL made absolute, so the deployments'
flow runs write the ledger the operator looks at (:mod:`apps.stack_wiring`). Each child writes
to ``<log dir>/<name>.log``. When a child dies
on its own, the others are stopped and ``up`` exits 1. On SIGINT or SIGTERM every child gets
SIGINT, in reverse order, then SIGTERM and SIGKILL if it lingers; ``up`` exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from apps.local_prefect import server_is_up, stop_process
from apps.stack_wiring import (
    absolute_database_url,
    ensure_webhook,
    operator_token_file,
    sample_token_cards,
    teach_tokens,
)
from payflows.settings import Settings

__all__ = ["Child", "Stack", "prefect_reachable", "run_up"]

START_TIMEOUT_SECONDS = 120.0


@dataclass
class Child:
    name: str
    command: list[str]
    ready_url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGINT (a clean shutdown), then SIGTERM, then SIGKILL, to the child's group."""
        if self.process is not None:
            stop_process(self.process, grace=20.0)


def prefect_reachable(api_url: str | None) -> bool:
    return bool(api_url) and server_is_up(api_url)  # type: ignore[arg-type]


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2.0)
        return True
    except httpx.HTTPError:
        return False


class _Stopping(Exception):
    pass


@dataclass
class Stack:
    """The children of one ``payflows up``, started in order and stopped in reverse."""

    children: list[Child] = field(default_factory=list)
    echo: Callable[[str], None] = print

    def wait_ready(self, child: Child) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited at start; see {child.log}")
            if _answers(child.ready_url):
                return
            time.sleep(0.25)
        raise RuntimeError(f"{child.name} did not answer at {child.ready_url}; see {child.log}")

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.alive():
                self.echo(f"stopping {child.name}")
            child.stop()


def _register_webhook(settings: Settings, env: dict[str, str], echo: Callable[[str], None]) -> None:
    """The web app's webhook at the gateway the stack uses (once; a failure is said, not fatal)."""
    import asyncio

    from apps.web.app import public_url

    effective = settings.model_copy(
        update={"precium_base_url": env.get("PRECIUM_BASE_URL", settings.precium_base_url)}
    )
    callback = f"{public_url(effective)}/webhooks/precium"
    try:
        created = asyncio.run(ensure_webhook(effective, callback))
    except Exception as exc:  # the stack still runs; the operator is told why events won't flow
        echo(f"payflows up: could not register the webhook {callback}: {exc}")
        return
    echo(f"webhook {'registered' if created else 'already registered'}: {callback}")


def _payflows(*args: str) -> list[str]:
    return [sys.executable, "-m", "apps.cli", *args]


def run_up(
    settings: Settings,
    *,
    prefect_port: int = 4200,
    log_dir: Path = Path("data/logs"),
    prefect_home: Path = Path("data/prefect"),
    data_dir: Path = Path("data"),
    limit: int = 4,
    echo: Callable[[str], None] = print,
) -> int:
    """Start the stack, print its URLs, block until a signal or a child's death; exit code."""
    from payflows.ledger.migrate import upgrade

    cwd = Path.cwd()
    env = dict(os.environ)
    stack = Stack(echo=echo)
    urls: list[tuple[str, str]] = []
    database_url = absolute_database_url(settings.database_url, cwd)
    env["PAYFLOWS_DATABASE_URL"] = database_url

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stopping

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        upgrade(database_url)
        api_url = env.get("PREFECT_API_URL")
        if prefect_reachable(api_url):
            echo(f"using the Prefect server at {api_url}")
            ui = api_url.removesuffix("/").removesuffix("/api") if api_url else ""
        else:
            home = prefect_home.resolve()
            home.mkdir(parents=True, exist_ok=True)
            api_url = f"http://127.0.0.1:{prefect_port}/api"
            ui = f"http://127.0.0.1:{prefect_port}"
            server = Child(
                "prefect server",
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(prefect_port),
                    "--analytics-off",
                ],
                f"{api_url}/health",
                log_dir / "prefect-server.log",
            )
            server_env = {**env, "PREFECT_HOME": str(home)}
            server_env.pop("PREFECT_API_URL", None)
            stack.children.append(server)
            server.start(server_env, cwd)
            stack.wait_ready(server)
        env["PREFECT_API_URL"] = api_url
        urls.append(("Prefect UI", ui))

        if settings.uses_local_sandbox:
            host, port = settings.sandbox_host, settings.sandbox_port
            env["PRECIUM_BASE_URL"] = f"http://{host}:{port}/api/v1/"
            state_file = Path(settings.sandbox_state_file or data_dir / "sandbox-state.json")
            state_file.parent.mkdir(parents=True, exist_ok=True)
            sandbox = Child(
                "sandbox",
                _payflows(
                    "sandbox", "--host", host, "--port", str(port), "--state-file", str(state_file)
                ),
                f"http://{host}:{port}/_sandbox/clock/",
                log_dir / "sandbox.log",
            )
            stack.children.append(sandbox)
            sandbox.start(env, cwd)
            stack.wait_ready(sandbox)
            urls.append(("Precium sandbox", env["PRECIUM_BASE_URL"]))
            try:
                taught = teach_tokens(
                    f"http://{host}:{port}",
                    settings.precium_api_key.get_secret_value(),
                    sample_token_cards(),
                )
            except (OSError, httpx.HTTPError) as exc:
                raise RuntimeError(f"could not teach the sandbox the sample tokens: {exc}") from exc
            echo(f"sandbox state kept in {state_file}; {taught} sample migrated tokens taught")
        else:
            urls.append(("Precium gateway", settings.precium_base_url))

        web_origin = f"http://{settings.web_host}:{settings.web_port}"
        if settings.operator_token is None:
            token_file, token = operator_token_file(data_dir.resolve())
            env["PAYFLOWS_OPERATOR_TOKEN"] = token
            echo(f"operator token (reports, holds, payments pages) in {token_file}")
        if settings.public_url is None:
            env["PAYFLOWS_PUBLIC_URL"] = web_origin  # the report links of the artifacts
        env["PAYFLOWS_REPORTS_DIR"] = str(Path(settings.reports_dir).resolve())
        web = Child(
            "web app",
            _payflows(
                "web", "serve", "--host", settings.web_host, "--port", str(settings.web_port)
            ),
            f"{web_origin}/healthz",
            log_dir / "web.log",
        )
        stack.children.append(web)
        web.start(env, cwd)
        stack.wait_ready(web)
        urls.append(("merchant web app", f"{web_origin}/checkout"))
        urls.append(("reports", f"{web_origin}/reports"))
        _register_webhook(settings, env, echo)

        served = Child(
            "served deployments",
            _payflows("serve", "--limit", str(limit)),
            f"{api_url}/health",
            log_dir / "serve.log",
        )
        stack.children.append(served)
        served.start(env, cwd)
        urls.append(("deployments", f"{ui}/deployments"))

        echo("payflows is up:")
        for label, url in urls:
            echo(f"  {label:<18} {url}")
        echo(f"logs in {log_dir}/ ; Ctrl-C stops everything")
        while True:
            for child in stack.children:
                if not child.alive():
                    code = child.process.returncode if child.process else None
                    echo(f"payflows up: {child.name} exited ({code}); see {child.log}")
                    stack.stop()
                    return 1
            time.sleep(0.5)
    except _Stopping:
        echo("payflows up: stopping")
        # A second Ctrl-C while stopping must not leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        echo("payflows up: stopped")
        return 0
    except RuntimeError as exc:
        echo(f"payflows up: {exc}")
        stack.stop()
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
