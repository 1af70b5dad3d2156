from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from payflows.sandbox.signing import generate_key, public_pem
from payflows.sandbox.webhooks import WebhookDispatcher, backoff_delay

HOUR = 3600.0


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return generate_key()


class Clock:
    """The sandbox clock: only moves when a test advances it."""

    def __init__(self) -> None:
        self.now = 1_768_000_000.0

    def __call__(self) -> float:
        return self.now


class Receiver:
    """A merchant endpoint that can be told to fail, or to hang, for chosen purchases."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []  # (target, event_type, status answered)
        self.accepted: list[dict[str, Any]] = []
        self.raw: list[tuple[str, bytes, str]] = []  # (target, body, X-Signature)
        self.failures: dict[str, int] = {}  # purchase id -> how many more times to answer 500
        self.always_fail: set[str] = set()
        self.hang: dict[str, asyncio.Event] = {}

    async def hook(self, request: Request) -> JSONResponse:
        target = request.path_params["target"]
        raw = await request.body()
        event = json.loads(raw)
        purchase_id = event["id"]
        if purchase_id in self.hang:
            await self.hang[purchase_id].wait()
        if purchase_id in self.always_fail or self.failures.get(purchase_id, 0) > 0:
            self.failures[purchase_id] = self.failures.get(purchase_id, 0) - 1
            self.calls.append((target, event["event_type"], 500))
            return JSONResponse({"error": "not now"}, status_code=500)
        assert request.headers["content-type"] == "application/json"
        self.calls.append((target, event["event_type"], 200))
        self.accepted.append(event)
        self.raw.append((target, raw, request.headers["x-signature"]))
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks/{target}/", self.hook, methods=["POST"])])

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app())

    def accepted_types(self, purchase_id: str) -> list[str]:
        return [e["event_type"] for e in self.accepted if e["id"] == purchase_id]


def event(event_type: str, purchase_id: str = "p1", **extra: Any) -> dict[str, Any]:
    return {"event_type": event_type, "id": purchase_id, "type": "purchase", **extra}


def publish(
    dispatcher: WebhookDispatcher,
    key: rsa.RSAPrivateKey,
    event_type: str,
    purchase_id: str = "p1",
    targets: list[tuple[str, str, rsa.RSAPrivateKey]] | None = None,
) -> None:
    dispatcher.publish(
        targets=targets or [("wh1", "http://merchant/hooks/wh1/", key)],
        event_type=event_type,
        body=event(event_type, purchase_id),
        purchase_id=purchase_id,
    )


async def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def record(
    dispatcher: WebhookDispatcher, event_type: str, purchase_id: str = "p1"
) -> dict[str, Any]:
    matches = [
        d
        for d in dispatcher.deliveries()
        if d["event_type"] == event_type and d["purchase_id"] == purchase_id
    ]
    assert len(matches) == 1
    return matches[0]


def fast(clock: Clock, receiver: Receiver, **kwargs: Any) -> WebhookDispatcher:
    options: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.04}
    options.update(kwargs)
    return WebhookDispatcher(clock, transport=receiver.transport(), **options)


# -- backoff ---------------------------------------------------------------------------------------


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    delays = [backoff_delay(n, 1.0, 600.0) for n in range(1, 12)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600]
    assert backoff_delay(10_000, 1.0, 600.0) == 600.0


# -- delivery ------------------------------------------------------------------------------------


async def test_body_is_the_event_json_and_the_signature_verifies(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    await dispatcher.start()
    dispatcher.publish(
        targets=[
            ("wh1", "http://merchant/hooks/wh1/", key),
            ("wh2", "http://merchant/hooks/wh2/", other_key),
        ],
        event_type="purchase.paid",
        body=event("purchase.paid", amount=15000, note="héllo"),
        purchase_id="p1",
    )
    await dispatcher.flush()
    await dispatcher.stop()

    assert sorted(target for target, _, _ in receiver.raw) == ["wh1", "wh2"]
    for target, raw, signature in receiver.raw:
        pem = public_pem(key if target == "wh1" else other_key)
        public = serialization.load_pem_public_key(pem.encode())
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(base64.b64decode(signature), raw, padding.PKCS1v15(), hashes.SHA256())
        assert json.loads(raw) == event("purchase.paid", amount=15000, note="héllo")
    assert all(d["delivered"] and d["attempts"] == 1 for d in dispatcher.deliveries())


async def test_the_body_is_snapshotted_at_publish(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    body = event("purchase.created")
    dispatcher.publish(
        targets=[("wh1", "http://merchant/hooks/wh1/", key)],
        event_type="purchase.created",
        body=body,
        purchase_id="p1",
    )
    body["event_type"] = "mutated later"
    await dispatcher.flush()
    await dispatcher.stop()
    assert receiver.accepted_types("p1") == ["purchase.created"]


async def test_order_per_purchase_survives_retries(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    receiver.failures["p1"] = 3
    dispatcher = fast(Clock(), receiver)
    await dispatcher.start()
    for event_type in ("purchase.created", "purchase.hold", "purchase.captured"):
        publish(dispatcher, key, event_type)
    await eventually(lambda: len(receiver.accepted) == 3)
    await dispatcher.stop()

    assert receiver.accepted_types("p1") == [
        "purchase.created",
        "purchase.hold",
        "purchase.captured",
    ]
    # Nothing later was even tried while the first event was still failing.
    assert [t for _, t, _ in receiver.calls] == ["purchase.created"] * 4 + [
        "purchase.hold",
        "purchase.captured",
    ]
    first = record(dispatcher, "purchase.created")
    assert first["attempts"] == 4
    assert first["last_status"] == 200 and first["last_error"] is None


async def test_a_failing_purchase_does_not_hold_up_others(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    receiver.always_fail.add("stuck")
    dispatcher = fast(Clock(), receiver)
    publish(dispatcher, key, "purchase.created", "stuck")
    publish(dispatcher, key, "purchase.created", "fine")
    await eventually(lambda: receiver.accepted_types("fine") == ["purchase.created"])
    await eventually(lambda: record(dispatcher, "purchase.created", "stuck")["attempts"] >= 3)
    stuck = record(dispatcher, "purchase.created", "stuck")
    assert not stuck["delivered"] and not stuck["given_up"]
    assert stuck["last_status"] == 500 and stuck["last_error"] == "HTTP 500"
    await dispatcher.stop()


async def test_a_hanging_receiver_for_one_purchase_does_not_block_another(
    key: rsa.RSAPrivateKey,
) -> None:
    receiver = Receiver()
    release = receiver.hang["slow"] = asyncio.Event()
    dispatcher = fast(Clock(), receiver)
    publish(dispatcher, key, "purchase.created", "slow")
    publish(dispatcher, key, "purchase.created", "quick")
    await eventually(lambda: receiver.accepted_types("quick") == ["purchase.created"])
    assert receiver.accepted_types("slow") == []
    release.set()
    await eventually(lambda: receiver.accepted_types("slow") == ["purchase.created"])
    await dispatcher.stop()


async def test_the_same_purchase_is_ordered_per_target_not_across_targets(
    key: rsa.RSAPrivateKey,
) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    targets = [
        ("wh1", "http://merchant/hooks/wh1/", key),
        ("wh2", "http://merchant/hooks/wh2/", key),
    ]
    for event_type in ("purchase.created", "purchase.paid"):
        publish(dispatcher, key, event_type, targets=targets)
    await dispatcher.flush()
    await dispatcher.stop()
    for target in ("wh1", "wh2"):
        assert [t for tg, t, _ in receiver.calls if tg == target] == [
            "purchase.created",
            "purchase.paid",
        ]


async def test_an_unreachable_receiver_is_retried(key: rsa.RSAPrivateKey) -> None:
    tries = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(204)

    dispatcher = WebhookDispatcher(
        Clock(), backoff_base=0.01, transport=httpx.MockTransport(handler)
    )
    publish(dispatcher, key, "purchase.paid")
    await dispatcher.flush()
    failed_once = record(dispatcher, "purchase.paid")
    assert failed_once["attempts"] == 1
    assert failed_once["last_status"] is None
    assert failed_once["last_error"].startswith("ConnectError")
    await eventually(lambda: record(dispatcher, "purchase.paid")["delivered"])
    assert record(dispatcher, "purchase.paid")["last_status"] == 204
    await dispatcher.stop()


# -- giving up on the sandbox clock --------------------------------------------------------------


async def test_deliveries_give_up_once_the_sandbox_clock_passes_the_window(
    key: rsa.RSAPrivateKey,
) -> None:
    clock = Clock()
    receiver = Receiver()
    receiver.always_fail.add("p1")
    dispatcher = fast(clock, receiver)
    publish(dispatcher, key, "purchase.created")
    publish(dispatcher, key, "purchase.paid")
    await eventually(lambda: record(dispatcher, "purchase.created")["attempts"] >= 2)
    assert not record(dispatcher, "purchase.created")["given_up"]

    clock.now += 36 * HOUR + 1
    receiver.always_fail.clear()
    await eventually(lambda: record(dispatcher, "purchase.created")["given_up"])
    # The lane moves on: the next event gets its own window and is delivered.
    await eventually(lambda: record(dispatcher, "purchase.paid")["delivered"])
    created = record(dispatcher, "purchase.created")
    assert not created["delivered"] and created["last_status"] == 500
    assert receiver.accepted_types("p1") == ["purchase.paid"]
    await dispatcher.stop()


async def test_within_the_window_nothing_gives_up(key: rsa.RSAPrivateKey) -> None:
    clock = Clock()
    receiver = Receiver()
    receiver.failures["p1"] = 2
    dispatcher = fast(clock, receiver)
    publish(dispatcher, key, "purchase.created")
    await eventually(lambda: record(dispatcher, "purchase.created")["attempts"] >= 1)
    clock.now += 36 * HOUR - 1
    await eventually(lambda: record(dispatcher, "purchase.created")["delivered"])
    assert not record(dispatcher, "purchase.created")["given_up"]
    await dispatcher.stop()


async def test_retry_now_cuts_a_long_backoff_short(key: rsa.RSAPrivateKey) -> None:
    clock = Clock()
    receiver = Receiver()
    receiver.failures["p1"] = 1
    dispatcher = WebhookDispatcher(clock, transport=receiver.transport(), backoff_base=60.0)
    publish(dispatcher, key, "purchase.created")
    await dispatcher.flush()
    assert record(dispatcher, "purchase.created")["attempts"] == 1
    dispatcher.retry_now()
    await dispatcher.flush()
    assert record(dispatcher, "purchase.created")["delivered"]
    await dispatcher.stop()


# -- flush, lifecycle, bookkeeping -----------------------------------------------------------------


async def test_flush_waits_for_everything_due_including_events_queued_behind(
    key: rsa.RSAPrivateKey,
) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    for purchase_id in ("a", "b", "c"):
        for event_type in ("purchase.created", "purchase.paid", "purchase.settled"):
            publish(dispatcher, key, event_type, purchase_id)
    await dispatcher.flush()
    assert len(receiver.accepted) == 9
    assert all(d["delivered"] for d in dispatcher.deliveries())
    await dispatcher.stop()


async def test_flush_does_not_wait_for_retries(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    receiver.always_fail.add("p1")
    dispatcher = WebhookDispatcher(Clock(), transport=receiver.transport(), backoff_base=0.001)
    publish(dispatcher, key, "purchase.created")
    started = time.monotonic()
    await dispatcher.flush(timeout=5)
    assert time.monotonic() - started < 1
    assert record(dispatcher, "purchase.created")["attempts"] >= 1
    await dispatcher.stop()


async def test_flush_returns_quietly_on_timeout(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    receiver.hang["p1"] = asyncio.Event()
    dispatcher = fast(Clock(), receiver)
    publish(dispatcher, key, "purchase.created")
    started = time.monotonic()
    await dispatcher.flush(timeout=0.2)
    assert 0.15 < time.monotonic() - started < 1.5
    await dispatcher.stop()


async def test_flush_on_an_idle_dispatcher_returns_at_once() -> None:
    dispatcher = WebhookDispatcher(Clock(), transport=Receiver().transport())
    started = time.monotonic()
    await dispatcher.flush()
    assert time.monotonic() - started < 0.5
    await dispatcher.stop()


async def test_stop_is_clean_with_requests_in_flight_and_backoffs_pending(
    key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    receiver.hang["in-flight"] = asyncio.Event()
    receiver.always_fail.add("backing-off")
    dispatcher = WebhookDispatcher(Clock(), transport=receiver.transport(), backoff_base=60.0)
    await dispatcher.start()
    publish(dispatcher, key, "purchase.created", "in-flight")
    publish(dispatcher, key, "purchase.created", "backing-off")
    await dispatcher.flush(timeout=0.1)
    lanes = [t for t in asyncio.all_tasks() if t.get_name().startswith("webhook-lane-")]
    assert len(lanes) == 2

    with caplog.at_level(logging.WARNING):
        await dispatcher.stop()
    assert all(t.done() for t in lanes)
    assert caplog.records == []

    # Stopped means stopped: a late publish queues but does not restart the workers.
    publish(dispatcher, key, "purchase.paid", "late")
    await asyncio.sleep(0.05)
    assert receiver.accepted_types("late") == []
    # start() resumes what was queued.
    receiver.hang.clear()
    receiver.always_fail.clear()
    await dispatcher.start()
    dispatcher.retry_now()
    await dispatcher.flush()
    assert sorted(e["id"] for e in receiver.accepted) == ["backing-off", "in-flight", "late"]
    await dispatcher.stop()


async def test_publish_starts_the_dispatcher_lazily_inside_a_running_loop(
    key: rsa.RSAPrivateKey,
) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    publish(dispatcher, key, "purchase.created")
    await eventually(lambda: receiver.accepted_types("p1") == ["purchase.created"])
    await dispatcher.stop()


async def test_publish_from_a_worker_thread(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    await dispatcher.start()
    await asyncio.to_thread(publish, dispatcher, key, "purchase.created")
    await dispatcher.flush()
    assert receiver.accepted_types("p1") == ["purchase.created"]
    await dispatcher.stop()


def test_events_published_before_any_loop_wait_for_start(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver)
    publish(dispatcher, key, "purchase.created")
    assert dispatcher.deliveries()[0]["attempts"] == 0

    async def main() -> None:
        await dispatcher.start()
        await dispatcher.flush()
        await dispatcher.stop()

    asyncio.run(main())
    assert receiver.accepted_types("p1") == ["purchase.created"]


async def test_deliveries_history_is_bounded(key: rsa.RSAPrivateKey) -> None:
    receiver = Receiver()
    dispatcher = fast(Clock(), receiver, history=3)
    for n in range(5):
        publish(dispatcher, key, f"purchase.e{n}", f"p{n}")
    await dispatcher.flush()
    await dispatcher.stop()
    history = dispatcher.deliveries()
    assert [d["event_type"] for d in history] == ["purchase.e2", "purchase.e3", "purchase.e4"]
    assert set(history[0]) == {
        "target_id",
        "event_type",
        "purchase_id",
        "attempts",
        "delivered",
        "given_up",
        "last_status",
        "last_error",
    }
    assert len(receiver.accepted) == 5


async def test_a_real_loopback_receiver(key: rsa.RSAPrivateKey, serve: Any) -> None:
    receiver = Receiver()
    with serve(receiver.app()) as base:
        dispatcher = WebhookDispatcher(Clock())
        dispatcher.publish(
            targets=[("wh1", f"{base}/hooks/wh1/", key)],
            event_type="purchase.paid",
            body=event("purchase.paid"),
            purchase_id="p1",
        )
        await dispatcher.flush()
        await dispatcher.stop()
    assert record(dispatcher, "purchase.paid")["delivered"]
    _, raw, signature = receiver.raw[0]
    public = key.public_key()
    public.verify(base64.b64decode(signature), raw, padding.PKCS1v15(), hashes.SHA256())
