"""Fault injection for the sandbox: the failures a real gateway inflicts on its clients.

payflows must survive slow answers, 5xx, throttling and, worst of all, a request that the gateway
committed but whose answer never arrived. These rules make each of them happen on demand, on the
routes a test names, at a seeded rate, so that retry and read-back logic can be exercised
deterministically.

`FaultInjector` holds the rules and decides per request; `FaultMiddleware` is the ASGI wrapper that
carries the decision out. The control API (`/_sandbox/...`) is never faulted, so a test can always
turn the faults off again.

Exceptions::

    httpx.RemoteProtocolError
     └── ConnectionDropped   (in-process only: there is no socket to close)
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["ConnectionDropped", "FaultDecision", "FaultInjector", "FaultMiddleware", "FaultRule"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FaultKind = Literal["latency", "error_5xx", "rate_limit", "drop", "lost_after_commit"]

_CONTROL_PREFIX = "/_sandbox/"
_DEFAULT_STATUS = 503
_DEFAULT_RETRY_AFTER = 1
_MAX_LATENCY_MS = 600_000
#: Bounds that keep every rule printable as JSON (``GET /_sandbox/faults/``): a count of
#: ``1e30`` would be accepted as an int and then break the listing.
_MAX_COUNT = 2**63 - 1
_MAX_RETRY_AFTER = 86_400


class ConnectionDropped(httpx.RemoteProtocolError):
    """The sandbox "closed the connection" while running in-process (httpx.ASGITransport).

    It subclasses the error httpx raises over a real socket, so a client under test reacts to an
    in-process drop exactly as it would to a dropped TCP connection.
    """

    def __init__(self, message: str = "Server disconnected without sending a response.") -> None:
        super().__init__(message)


class FaultRule(BaseModel):
    """One fault: which requests it hits, what it does to them, how often and how many times."""

    model_config = ConfigDict(extra="forbid")

    route: str
    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=0, le=_MAX_COUNT)
    ms: int | None = Field(default=None, ge=0, le=_MAX_LATENCY_MS)
    status: int | None = Field(default=None, ge=500, le=599)
    retry_after: int | None = Field(default=None, ge=0, le=_MAX_RETRY_AFTER)

    @field_validator("route")
    @classmethod
    def _normalise_route(cls, value: str) -> str:
        parts = value.split()
        if len(parts) != 2:
            raise ValueError('must be "METHOD /path", e.g. "POST /api/v1/purchases/*/charge/"')
        method, path = parts[0].upper(), parts[1]
        if method != "*" and not method.isalpha():
            raise ValueError(f"method must be an HTTP method or '*', got {parts[0]!r}")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        return f"{method} {path}"

    @model_validator(mode="after")
    def _fill_kind_defaults(self) -> FaultRule:
        # Defaults are made explicit so that GET /_sandbox/faults/ shows what will really happen.
        if self.kind == "latency" and self.ms is None:
            raise ValueError("ms is required for a latency rule")
        if self.kind == "error_5xx" and self.status is None:
            self.status = _DEFAULT_STATUS
        if self.kind == "rate_limit" and self.retry_after is None:
            self.retry_after = _DEFAULT_RETRY_AFTER
        return self

    def matches(self, method: str, path: str) -> bool:
        """`*` stands for exactly one non-empty path segment; the method `*` for any method."""
        rule_method, rule_path = self.route.split(" ", 1)
        if rule_method not in ("*", method.upper()):
            return False
        want = rule_path.split("/")
        got = path.split("/")
        if len(want) != len(got):
            return False
        return all(w == g or (w == "*" and g != "") for w, g in zip(want, got, strict=True))


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: wait `latency_ms`, then apply `rule` (None: serve it)."""

    latency_ms: int = 0
    rule: FaultRule | None = None


_NO_FAULT = FaultDecision()


@dataclass
class _Entry:
    rule: FaultRule
    hits: int = 0

    def exhausted(self) -> bool:
        return self.rule.count is not None and self.hits >= self.rule.count


def _validate(rules: list[dict[str, Any]]) -> list[FaultRule]:
    if not isinstance(rules, list):
        raise ValueError("fault rules must be a list of objects")
    parsed: list[FaultRule] = []
    for index, raw in enumerate(rules):
        if not isinstance(raw, dict):
            raise ValueError(f"fault rule {index}: must be an object")
        # `hits` is read-only output of rules(); tolerate it so GET -> edit -> PUT round-trips.
        data = {k: v for k, v in raw.items() if k != "hits"}
        try:
            parsed.append(FaultRule.model_validate(data))
        except ValidationError as exc:
            problems = []
            for err in exc.errors(include_url=False, include_input=False):
                field = ".".join(str(part) for part in err["loc"]) or "rule"
                problems.append(f"{field}: {err['msg']}")
            raise ValueError(f"fault rule {index}: " + "; ".join(problems)) from None
    return parsed


class FaultInjector:
    """The active rules, their hit counts and the seeded RNG that decides `rate`.

    Rules are checked in order. Every matching latency rule that fires adds its delay; the first
    matching non-latency rule that fires decides the outcome, and later ones are not consulted (no
    random draw, no hit), so a seeded run replays exactly.
    """

    def __init__(self, rules: list[dict[str, Any]] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._entries: list[_Entry] = [_Entry(rule) for rule in _validate(rules or [])]

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replaces every rule, or none if any is invalid (`ValueError` naming index and field)."""
        entries = [_Entry(rule) for rule in _validate(rules)]
        with self._lock:
            self._entries = entries

    def clear(self) -> None:
        with self._lock:
            self._entries = []

    def rules(self) -> list[dict[str, Any]]:
        """The rules as the control API shows them, each with the `hits` it has made so far."""
        with self._lock:
            return [{**entry.rule.model_dump(), "hits": entry.hits} for entry in self._entries]

    def decide(self, method: str, path: str) -> FaultDecision:
        """Rolls the dice for one request and counts the hits of the rules that fire."""
        latency_ms = 0
        chosen: FaultRule | None = None
        with self._lock:
            for entry in self._entries:
                rule = entry.rule
                if rule.kind != "latency" and chosen is not None:
                    continue
                if entry.exhausted() or not rule.matches(method, path):
                    continue
                if not self._fires(rule.rate):
                    continue
                entry.hits += 1
                if rule.kind == "latency":
                    latency_ms += rule.ms or 0
                else:
                    chosen = rule
        if latency_ms == 0 and chosen is None:
            return _NO_FAULT
        return FaultDecision(latency_ms=latency_ms, rule=chosen)

    def _fires(self, rate: float) -> bool:
        # Certain outcomes draw no number: adding a rate-1 rule leaves the other draws unchanged.
        if rate >= 1.0:
            return True
        if rate <= 0.0:
            return False
        return self._random.random() < rate


class FaultMiddleware:
    """Pure ASGI middleware applying the injector's decision to every HTTP request.

    Best installed as the outermost wrapper (`FaultMiddleware(app, injector)`), but it also works
    inside Starlette's `middleware=[Middleware(FaultMiddleware, injector=...)]`.

    Dropping a connection under uvicorn: the server's `send` is a bound method of its
    request-response cycle, which owns the socket's `transport`. The middleware marks the cycle as
    disconnected (so uvicorn neither writes a 500 nor logs "returned without starting response")
    and closes the transport; the client sees "Server disconnected without sending a response".
    In-process there is no socket, so `ConnectionDropped` is raised to the caller instead.
    """

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(_CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide(scope.get("method", "GET"), scope.get("path", "/"))
        if decision.latency_ms:
            # The request has arrived; only the gateway is slow. Read it before waiting, so a
            # client that gives up meanwhile makes the outcome unknown, not the request lost:
            # a body read after the disconnect would come back empty (ClientDisconnect).
            receive = await _buffered(receive)
            await asyncio.sleep(decision.latency_ms / 1000)
        rule = decision.rule
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "error_5xx":
            await _drain(receive)
            status = rule.status or _DEFAULT_STATUS
            await _send_json(send, status, {"detail": "injected fault"})
        elif rule.kind == "rate_limit":
            await _drain(receive)
            wait = _DEFAULT_RETRY_AFTER if rule.retry_after is None else rule.retry_after
            detail = f"Request was throttled. Expected available in {wait} seconds."
            await _send_json(send, 429, {"detail": detail}, [(b"retry-after", str(wait).encode())])
        elif rule.kind == "drop":
            # Read the request first: closing with unread bytes would make the kernel send RST,
            # which clients report as a read error rather than a missing response.
            await _drain(receive)
            _drop_connection(send)
        else:  # lost_after_commit
            await self.app(scope, receive, _swallow)
            _drop_connection(send)


async def _swallow(message: Message) -> None:
    """The `send` of a request whose answer is lost on the way back."""


async def _buffered(receive: Receive) -> Receive:
    """A `receive` that replays the whole request body, read now, then defers to the server."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return receive  # already gone: let the app see the disconnect itself
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    pending: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": False}
    ]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _drop_connection(send: Send) -> None:
    cycle = _find_server_cycle(send)
    if cycle is None:
        raise ConnectionDropped()
    cycle.disconnected = True
    cycle.transport.close()


def _find_server_cycle(send: Send, max_steps: int = 16) -> Any | None:
    """The uvicorn request-response cycle behind `send`, looking through wrapping closures.

    Starlette's ServerErrorMiddleware (and other middleware) hand inner apps a closure that calls
    the server's `send`; following `__closure__` cells finds the bound method underneath.
    """
    pending: list[Any] = [send]
    seen: set[int] = set()
    while pending and len(seen) < max_steps:
        candidate = pending.pop(0)
        if id(candidate) in seen:
            continue
        seen.add(id(candidate))
        owner = getattr(candidate, "__self__", None)
        transport = getattr(owner, "transport", None)
        # Duck-typed: uvloop's transports are not asyncio.BaseTransport subclasses.
        if callable(getattr(transport, "close", None)) and hasattr(owner, "disconnected"):
            return owner
        for cell in getattr(candidate, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if callable(value):
                pending.append(value)
    return None
