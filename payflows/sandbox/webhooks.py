"""Webhook delivery for the sandbox, with the guarantees Precium documents and no more.

Precium delivers at least once, in order per purchase and webhook, and retries with exponential
backoff for up to 36 hours. payflows' receiver is written against exactly that promise, so the
sandbox keeps it faithfully, including the uncomfortable parts: a receiver that answers non-2xx
gets the same event again, and an event can arrive long after the purchase changed again.

Each (target, purchase) pair is a lane: a FIFO worked by one task, so a later event never
overtakes an earlier one, while lanes for other purchases proceed in parallel (a semaphore bounds
how many HTTP attempts run at once). Backoff sleeps are real time so tests stay fast; the give-up
deadline is measured on the sandbox clock passed in as `now`, so advancing that clock past 36 h
makes pending deliveries give up at their next try, as they would have on a real gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payflows.sandbox.signing import sign

__all__ = ["WebhookDispatcher", "backoff_delay"]

_log = logging.getLogger(__name__)

Target = tuple[str, str, RSAPrivateKey]
_LaneKey = tuple[str, str]


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the `attempts`-th failed try: base, 2*base, 4*base, ... up to cap."""
    if attempts < 1:
        return 0.0
    # The exponent is clamped so a long outage never overflows the float.
    return min(cap, base * 2.0 ** min(attempts - 1, 64))


@dataclass
class _Delivery:
    target_id: str
    url: str
    key: RSAPrivateKey = field(repr=False)
    event_type: str
    purchase_id: str
    body: bytes = field(repr=False)
    signature: str | None = field(default=None, repr=False)
    attempts: int = 0
    delivered: bool = False
    given_up: bool = False
    last_status: int | None = None
    last_error: str | None = None
    first_attempt_at: float | None = None  # sandbox clock
    next_try: float = 0.0  # event-loop clock
    tried_seq: int = 0  # value of the dispatcher's attempt counter when the last try ended

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_id": self.target_id,
            "event_type": self.event_type,
            "purchase_id": self.purchase_id,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "given_up": self.given_up,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }


class WebhookDispatcher:
    """Signs and POSTs webhook events in the background; see the module docstring for the rules.

    `publish` may be called from the event loop (async handlers), from a worker thread (sync
    handlers run in Starlette's thread pool) or before any loop exists; events published before
    `start()` wait and are sent once it runs.
    """

    def __init__(
        self,
        now: Callable[[], float],
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 600.0,
        give_up_after: float = 36 * 3600,
        transport: httpx.AsyncBaseTransport | None = None,
        concurrency: int = 16,
        timeout: float = 10.0,
        history: int = 10_000,
    ) -> None:
        self._now = now
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._give_up_after = give_up_after
        self._transport = transport
        self._concurrency = concurrency
        self._timeout = timeout
        self._records: deque[_Delivery] = deque(maxlen=history)
        self._records_lock = threading.Lock()
        self._lanes: dict[_LaneKey, deque[_Delivery]] = {}
        self._tasks: dict[_LaneKey, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._changed: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._attempt_seq = 0
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopped = False
        self._start_on(asyncio.get_running_loop())

    async def stop(self) -> None:
        """Cancels every worker and closes the HTTP client; undelivered events stay queued.

        Until `start()` is called again, `publish` only queues: a late event during shutdown must
        not bring the workers back.
        """
        self._stopped = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        client, self._client = self._client, None
        # An injected transport belongs to the caller (and may serve a restart); only close ours.
        if client is not None and self._transport is None:
            await client.aclose()
        self._loop = None

    async def flush(self, timeout: float = 10.0) -> None:
        """Waits until every delivery due now has been tried at least once, or the queue is empty.

        A delivery that fails during the flush counts as tried; its retry is not waited for.
        Events queued behind a delivered one become due and are waited for too, so that a test
        that caused created -> paid sees both. Returns quietly when `timeout` runs out.
        """
        loop = asyncio.get_running_loop()
        if self._stopped:
            return
        self._start_on(loop)
        deadline = loop.time() + timeout
        await asyncio.sleep(0)  # let publishes handed over from other threads land first
        start_seq = self._attempt_seq
        while not self._settled_since(start_seq):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            assert self._changed is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))

    def retry_now(self) -> None:
        """Cuts every pending backoff short, e.g. right after the sandbox clock was advanced."""
        if self._loop is None:
            return
        if _running_loop() is self._loop:
            self._cut_backoffs()
        else:
            self._loop.call_soon_threadsafe(self._cut_backoffs)

    # -- publishing --------------------------------------------------------------------------

    def publish(
        self,
        *,
        targets: list[Target],
        event_type: str,
        body: dict[str, Any],
        purchase_id: str,
    ) -> None:
        """Queues `body` for every target and returns at once; signing happens in the worker.

        The body is serialised here, so later changes to the caller's dict (the sandbox keeps
        mutating its purchases) cannot leak into an event already published.
        """
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        deliveries = [
            _Delivery(
                target_id=target_id,
                url=url,
                key=key,
                event_type=event_type,
                purchase_id=purchase_id,
                body=raw,
            )
            for target_id, url, key in targets
        ]
        if not deliveries:
            return
        with self._records_lock:
            self._records.extend(deliveries)
        running = _running_loop()
        if self._loop is not None and self._loop.is_closed():
            self._forget_loop()
        if self._loop is None and running is not None and not self._stopped:
            self._start_on(running)
        if self._loop is None or running is self._loop:
            self._enqueue(deliveries)
        else:
            self._loop.call_soon_threadsafe(self._enqueue, deliveries)

    def deliveries(self) -> list[dict[str, Any]]:
        """The most recent deliveries (bounded), oldest first, for `/_sandbox/webhooks/`."""
        with self._records_lock:
            records = list(self._records)
        return [record.as_dict() for record in records]

    # -- internals ---------------------------------------------------------------------------

    def _start_on(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop and self._client is not None:
            return
        if self._loop is not None and self._loop is not loop:
            self._forget_loop()
        self._loop = loop
        self._semaphore = asyncio.Semaphore(self._concurrency)
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=self._timeout,
            follow_redirects=False,
            headers={"User-Agent": "precium-sandbox-webhooks"},
        )
        for key, lane in self._lanes.items():
            if lane:
                self._spawn(key)

    def _forget_loop(self) -> None:
        # The loop we ran on is gone (e.g. one test's loop closed): its tasks and client died with
        # it. Keep the queued deliveries; the next loop picks them up.
        self._tasks.clear()
        self._client = None
        self._loop = None
        for lane in self._lanes.values():
            for delivery in lane:
                delivery.next_try = 0.0

    def _enqueue(self, deliveries: list[_Delivery]) -> None:
        for delivery in deliveries:
            key = (delivery.target_id, delivery.purchase_id)
            self._lanes.setdefault(key, deque()).append(delivery)
            if self._loop is not None:
                delivery.next_try = self._loop.time()
                self._spawn(key)
        self._notify()

    def _spawn(self, key: _LaneKey) -> None:
        if key in self._tasks:
            return
        assert self._loop is not None
        task = self._loop.create_task(self._run_lane(key), name=f"webhook-lane-{key[0]}-{key[1]}")
        self._tasks[key] = task

    async def _run_lane(self, key: _LaneKey) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                lane = self._lanes.get(key)
                if not lane:
                    self._lanes.pop(key, None)
                    return
                delivery = lane[0]
                wait = delivery.next_try - loop.time()
                if wait > 0:
                    await self._sleep(wait)
                    continue
                if self._expired(delivery):
                    self._give_up(delivery)
                    self._finish(lane)
                    self._notify()
                    continue
                assert self._semaphore is not None
                async with self._semaphore:
                    await self._attempt(delivery)
                if delivery.delivered:
                    self._finish(lane)
                elif self._expired(delivery):
                    self._give_up(delivery)
                    self._finish(lane)
                else:
                    delay = backoff_delay(delivery.attempts, self._backoff_base, self._backoff_cap)
                    delivery.next_try = loop.time() + delay
                self._attempt_seq += 1
                delivery.tried_seq = self._attempt_seq
                self._notify()
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]

    async def _attempt(self, delivery: _Delivery) -> None:
        assert self._client is not None
        if delivery.first_attempt_at is None:
            delivery.first_attempt_at = self._now()
        delivery.attempts += 1
        try:
            if delivery.signature is None:
                delivery.signature = sign(delivery.body, delivery.key)
            response = await self._client.post(
                delivery.url,
                content=delivery.body,
                headers={"Content-Type": "application/json", "X-Signature": delivery.signature},
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a receiver that is down must never kill the lane
            delivery.last_status = None
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
            return
        delivery.last_status = response.status_code
        if response.is_success:
            delivery.delivered = True
            delivery.last_error = None
        else:
            delivery.last_error = f"HTTP {response.status_code}"

    @staticmethod
    def _finish(lane: deque[_Delivery]) -> None:
        done = lane.popleft()
        # The record stays in the history; its payload is no longer needed there.
        done.body = b""
        done.signature = None

    def _expired(self, delivery: _Delivery) -> bool:
        if delivery.first_attempt_at is None:
            return False
        return self._now() - delivery.first_attempt_at > self._give_up_after

    def _give_up(self, delivery: _Delivery) -> None:
        delivery.given_up = True
        _log.info(
            "giving up webhook %s for purchase %s to target %s after %d attempts",
            delivery.event_type,
            delivery.purchase_id,
            delivery.target_id,
            delivery.attempts,
        )

    def _settled_since(self, start_seq: int) -> bool:
        """No lane has a head that is due and has not been tried since `start_seq`."""
        assert self._loop is not None
        now = self._loop.time()
        for lane in self._lanes.values():
            if not lane:
                continue
            head = lane[0]
            if head.next_try > now or head.tried_seq > start_seq:
                continue
            return False
        return True

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    def _cut_backoffs(self) -> None:
        if self._loop is None or self._wake is None:
            return
        now = self._loop.time()
        for lane in self._lanes.values():
            if lane and lane[0].next_try > now:
                lane[0].next_try = now
        # Waiters hold the old event; a fresh one keeps later sleeps from returning at once.
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()
        self._notify()

    def _notify(self) -> None:
        if self._changed is None:
            return
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
