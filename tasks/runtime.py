"""What a flow run needs to move money: settings, one gateway client, the ledger, the retry rule.

A flow opens :func:`payment_context` once; the tasks it calls open it again and get the same
one. One :class:`~payflows.gateway.PreciumClient` per flow run, because
an httpx client is bound to the event loop that created it, and every flow run called in-process
(CLI, web app, tests) may bring its own loop. Engines are process-wide, one per database URL:
they hold a connection pool and are safe to share across threads and loops.

Retries belong to the tasks, not the client (which never retries by itself). A task is retried
only for an error that says the very same request is safe to send again (``retry_safe``: the
gateway throttled us or could not be reached and changed nothing). A refusal, a decline or an
unknown outcome is never retried: the payments service settles unknown outcomes by read-back.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import PaymentContext
from payflows.settings import Settings, load_settings
from payflows.sweep.policy import windows_from_settings
from tasks.secrets import aresolve_secret_blocks

__all__ = [
    "DEFAULT_CONNECTIONS",
    "RETRY_POLICY",
    "FlowRuntime",
    "current_runtime",
    "dispose_engines",
    "engine_for",
    "payment_context",
    "retry_safe_only",
    "term_url",
]

#: Gateway connections of a payment context, unless its pipeline says how many it keeps in flight:
#: the gateway client's own default (the core owns it).
DEFAULT_CONNECTIONS = PreciumClient.DEFAULT_CONNECTIONS

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_current: ContextVar[FlowRuntime | None] = ContextVar("payflows_runtime", default=None)


def retry_safe_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry only errors that say a resend is safe.

    A plain function on purpose: Prefect silently disables retries for a ``functools.partial``.
    """
    error = getattr(state, "data", None)
    return isinstance(error, BaseException) and bool(getattr(error, "retry_safe", False))


#: The task options of every task that talks to the gateway.
RETRY_POLICY: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [1, 2, 5],
    "retry_condition_fn": retry_safe_only,
}


def engine_for(url: str) -> Engine:
    """The process-wide engine of a database URL."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests that delete their database file call this)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def term_url(settings: Settings) -> str:
    """The merchant's TermUrl: where the shopper's bank posts the 3-D Secure answer."""
    base = settings.public_url or f"http://{settings.web_host}:{settings.web_port}"
    return base.rstrip("/") + "/3ds/return"


@dataclass(frozen=True)
class FlowRuntime:
    settings: Settings
    ctx: PaymentContext


@asynccontextmanager
async def payment_context(
    settings: Settings | None = None, *, connections: int = DEFAULT_CONNECTIONS
) -> AsyncIterator[PaymentContext]:
    """The payment context of this flow run.

    Re-entrant: a task inside a flow that opened one shares it; a task run on its own (or a
    test calling ``task.fn``) gets a context of its own for its duration.

    ``connections`` sizes the gateway's connection pools: a pipeline passes its ``concurrency``,
    because requests beyond the pools' connections queue inside httpcore, which both caps the
    rate (connections / latency) and costs CPU per queued request; with a fixed 16 a billing run
    at concurrency 32 spent ~40 % more CPU per charge than ``bench/scale.py``'s.
    """
    active = _current.get()
    if active is not None:
        yield active.ctx
        return
    settings = await aresolve_secret_blocks(settings or load_settings())
    async with PreciumClient.from_settings(settings, max_connections=connections) as gateway:
        ctx = PaymentContext(
            gateway=gateway,
            engine=engine_for(settings.database_url),
            term_url=term_url(settings),
            windows=windows_from_settings(settings),
            card_brands=settings.card_brands,
        )
        token = _current.set(FlowRuntime(settings, ctx))
        try:
            yield ctx
        finally:
            _current.reset(token)


def current_runtime() -> FlowRuntime | None:
    """Settings and context of the flow run in progress, if any."""
    return _current.get()
