"""Serving the sandbox over loopback HTTP: in the foreground, or in a thread for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from payflows.sandbox.app import create_app
from payflows.sandbox.config import SandboxConfig

__all__ = ["running_sandbox", "serve"]


def serve(config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8400) -> None:
    """Run the sandbox until interrupted. Loopback by default: it takes test card numbers."""
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        # The always-times-out card holds answers back for a minute: do not wait for them.
        timeout_graceful_shutdown=2,
    )


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """A sandbox on a real socket in a background thread; yields ``http://HOST:PORT/api/v1/``.

    ``port=0`` picks a free port. The context waits until the sandbox answers, and on exit
    stops it cleanly (lifespan shutdown included, so a ``state_file`` is flushed).
    """
    config = config or SandboxConfig()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says TCP, and without it Nagle's algorithm adds ~40 ms to each answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            access_log=False,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="payflows-sandbox", daemon=True
    )
    thread.start()
    netloc = f"[{host}]" if family == socket.AF_INET6 else host
    origin = f"http://{netloc}:{bound_port}"
    try:
        _wait_until_answering(origin, config.api_key, server, thread)
        yield f"{origin}/api/v1/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_answering(
    origin: str, api_key: str, server: uvicorn.Server, thread: threading.Thread
) -> None:
    deadline = time.monotonic() + 15
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server stopped during start-up")
            if server.started:
                try:
                    if client.get(f"{origin}/_sandbox/clock/", headers=headers).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.01)
    server.should_exit = True
    raise RuntimeError(f"the sandbox did not answer on {origin} within 15 s")
