"""The benchmarks' gateway: the sandbox served by uvicorn in a process of its own.

In its own process so that the sandbox's CPU is not charged to the client being measured.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["add_latency", "free_port", "start_sandbox"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    code = (
        "from payflows.sandbox.server import serve; "
        "from payflows.sandbox import SandboxConfig; "
        f"serve(SandboxConfig(seed=1), port={port})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent.parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("sandbox did not start")


def add_latency(port: int, ms: int) -> None:
    """Every route of the sandbox on ``port`` answers ``ms`` later (``*`` is one path segment)."""
    from payflows.settings import SANDBOX_API_KEY

    rules = []
    for depth in range(1, 7):
        for trailing in ("/", ""):
            path = "/" + "/".join(["*"] * depth) + trailing
            rules.append({"route": f"* {path}", "kind": "latency", "ms": ms})
    httpx.put(
        f"http://127.0.0.1:{port}/_sandbox/faults/",
        json={"rules": rules},
        headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"},
    ).raise_for_status()
