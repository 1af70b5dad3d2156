"""``payflows up`` starts the whole stack, prints its URLs, and Ctrl-C stops every part."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from apps.local_prefect import free_port


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = log.read_text()
        if text in out:
            return out
        if process.poll() is not None:
            raise AssertionError(f"payflows up exited with {process.returncode}:\n{out}")
        time.sleep(0.25)
    raise AssertionError(f"no {text!r} in {timeout} s:\n{log.read_text()}")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_up(
    tmp_path: Path, ports: dict[str, int], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    log = tmp_path / "up.log"
    command = [sys.executable, "-m", "apps.cli", "up", "--prefect-port", str(ports["prefect"])]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )


def _gateway_webhooks(port: int) -> list[dict]:
    found = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/webhooks/",
        headers={"Authorization": "Bearer sandbox-api-key"},
        timeout=5,
    )
    assert found.status_code == 200, found.text
    body = found.json()
    return body["results"] if isinstance(body, dict) else body


@pytest.mark.prefect  # starts a Prefect server of its own
def test_up_serves_everything_and_ctrl_c_stops_it_cleanly(tmp_path: Path) -> None:
    ports = {"prefect": free_port(), "sandbox": free_port(), "web": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYFLOWS_"))}
    env.update(
        PYTHONUNBUFFERED="1",
        PRECIUM_BASE_URL=f"http://127.0.0.1:{ports['sandbox']}/api/v1/",
        PAYFLOWS_SANDBOX_PORT=str(ports["sandbox"]),
        PAYFLOWS_WEB_PORT=str(ports["web"]),
        PAYFLOWS_DATABASE_URL=f"sqlite:///{tmp_path}/ledger.db",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(tmp_path / "client-home"),
    )
    log = tmp_path / "up.log"
    up = _start_up(tmp_path, ports, env)
    try:
        text = _wait_for(log, "Ctrl-C stops everything", up, timeout=180)
        ui = f"http://127.0.0.1:{ports['prefect']}"
        assert ui in text and f"127.0.0.1:{ports['web']}/checkout" in text
        assert f"127.0.0.1:{ports['sandbox']}/api/v1/" in text
        assert httpx.get(f"{ui}/api/health", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['web']}/checkout", timeout=5).status_code == 200
        clock = httpx.get(
            f"http://127.0.0.1:{ports['sandbox']}/_sandbox/clock/",
            headers={"Authorization": "Bearer sandbox-api-key"},
            timeout=5,
        )
        assert clock.status_code == 200
        # Wired like production: state kept, sample tokens taught, webhook registered once.
        assert "sample migrated tokens taught" in text
        assert "webhook registered: " in text
        hooks = _gateway_webhooks(ports["sandbox"])
        assert [h["callback"] for h in hooks] == [
            f"http://127.0.0.1:{ports['web']}/webhooks/precium"
        ]
        assert (tmp_path / "data/webhook-keys.json").exists()
        # The operator pages have a token (owner-only file, never printed): reports are served.
        token = (tmp_path / "data/operator-token").read_text().strip()
        assert token and token not in text
        assert f"127.0.0.1:{ports['web']}/reports" in text
        reports = httpx.get(
            f"http://127.0.0.1:{ports['web']}/reports",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert reports.status_code == 200, reports.text
        deadline = time.monotonic() + 90
        names: set[str] = set()
        while time.monotonic() < deadline and "subscription-billing" not in names:
            found = httpx.post(f"{ui}/api/deployments/filter", json={}, timeout=5).json()
            flows = httpx.post(f"{ui}/api/flows/filter", json={}, timeout=5).json()
            by_id = {f["id"]: f["name"] for f in flows}
            names = {by_id.get(d["flow_id"], "") for d in found}
            time.sleep(1)
        assert "subscription-billing" in names, log.read_text()
        assert (tmp_path / "data/prefect/prefect.db").exists()

        up.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        assert up.wait(timeout=90) == 0, log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    text = log.read_text()
    assert "payflows up: stopped" in text and "Traceback" not in text, text
    for name, port in ports.items():
        assert not _listening(port), f"{name} still listens on {port}"
    for name in ("prefect-server", "sandbox", "web", "serve"):
        assert (tmp_path / "data/logs" / f"{name}.log").exists()
    assert (tmp_path / "data/sandbox-state.json").exists()

    # Started again: the sandbox remembers its webhook, which is not registered a second time.
    up = _start_up(tmp_path, ports, env)
    try:
        _wait_for(log, "webhook already registered", up, timeout=180)
        assert len(_gateway_webhooks(ports["sandbox"])) == 1
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=90) == 0, log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
