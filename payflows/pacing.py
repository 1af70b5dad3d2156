"""How the batched pipelines (billing run, hold sweep) pace their gateway calls and commits.

Both keep many items in flight inside one Prefect task, so Prefect's per-task retries cannot
serve a single call: a call the gateway refused without acting on it (429, unreachable: the
error says ``retry_safe``) is sent again here, a few times with a short backoff, and anything
else (a decline, a refusal, an unknown outcome) goes straight back to the pipeline, which
settles unknown outcomes by reading the purchase back. :class:`Gate` bounds how many calls are
in flight and, optionally, how many start per second; :func:`commit_for` runs one grouped
ledger commit for every item waiting on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from payflows.gateway import PreciumError, RateLimitedError

__all__ = ["Gate", "backoff", "commit_for", "resend_while_safe"]

SAFE_TRIES: Final = 4
MAX_BACKOFF: Final = 2.0


def backoff(attempt: int, error: PreciumError) -> float:
    """Seconds to wait before resending: the gateway's Retry-After, else 50 ms doubling."""
    if isinstance(error, RateLimitedError) and error.retry_after:
        return min(MAX_BACKOFF, float(error.retry_after))
    return min(MAX_BACKOFF, 0.05 * 2.0**attempt)


async def resend_while_safe(call: Callable[[], Awaitable[Any]]) -> Any:
    """Send a request again while the gateway says it changed nothing (429, unreachable)."""
    for attempt in range(SAFE_TRIES):
        try:
            return await call()
        except PreciumError as exc:
            if not exc.retry_safe or attempt == SAFE_TRIES - 1:
                raise
            await asyncio.sleep(backoff(attempt, exc))
    raise AssertionError("unreachable")


class Gate:
    """Bounded concurrency plus an optional calls-per-second limit toward the gateway."""

    def __init__(self, concurrency: int, rate: float | None = None) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async with self._sem:
            if self._interval:
                now = time.monotonic()
                slot = max(now, self._next)
                self._next = slot + self._interval
                if slot > now:
                    await asyncio.sleep(slot - now)
            return await fn()


async def commit_for(
    commit: Callable[[], Sequence[Exception | None]], waiters: list[asyncio.Future[None]]
) -> None:
    """Run one grouped commit in a worker thread and tell each waiting item how it went.

    ``commit`` returns one error (or None) per waiter, in order: an item whose own write
    failed is told so while the others go on. An ``Exception`` raised by ``commit`` is handed
    to every waiter (each item decides what a failed write means for it, and the pipeline
    carries on); a cancellation or exit is re-raised after they are told.
    """
    try:
        errors = await asyncio.to_thread(commit)
    except BaseException as exc:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
        return
    for waiter, error in zip(waiters, errors, strict=True):
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
