from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from payflows.sandbox.faults import ConnectionDropped, FaultInjector, FaultMiddleware, FaultRule

CHARGE = "POST /api/v1/purchases/*/charge/"


# -- a tiny gateway behind the middleware ------------------------------------------------------


class Gateway:
    """Counts the charges it committed, so a test can tell 'processed' from 'not processed'."""

    def __init__(self) -> None:
        self.charges = 0

    async def charge(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.charges += 1
        return JSONResponse(
            {"id": request.path_params["pid"], "token": body.get("recurring_token")}
        )

    async def read(self, request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["pid"], "charges": self.charges})

    async def control(self, request: Request) -> JSONResponse:
        return JSONResponse({"rules": []})

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/purchases/{pid}/charge/", self.charge, methods=["POST"]),
            Route("/api/v1/purchases/{pid}/", self.read, methods=["GET"]),
            Route("/_sandbox/faults/", self.control, methods=["GET", "PUT"]),
        ]


def outermost(gateway: Gateway, injector: FaultInjector) -> Any:
    return FaultMiddleware(Starlette(routes=gateway.routes()), injector)


def as_starlette_middleware(gateway: Gateway, injector: FaultInjector) -> Any:
    return Starlette(
        routes=gateway.routes(), middleware=[Middleware(FaultMiddleware, injector=injector)]
    )


PLACEMENTS = [outermost, as_starlette_middleware]


def in_process(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


async def charge(client: httpx.AsyncClient, pid: str = "p1") -> httpx.Response:
    return await client.post(f"/api/v1/purchases/{pid}/charge/", json={"recurring_token": "t"})


# -- rules ---------------------------------------------------------------------------------------


def test_route_method_is_normalised_and_kind_defaults_are_made_explicit() -> None:
    injector = FaultInjector(
        [
            {"route": "post /api/v1/purchases/*/charge/", "kind": "error_5xx"},
            {"route": "* /api/v1/clients/", "kind": "rate_limit"},
        ]
    )
    first, second = injector.rules()
    assert first == {
        "route": CHARGE,
        "kind": "error_5xx",
        "rate": 1.0,
        "count": None,
        "ms": None,
        "status": 503,
        "retry_after": None,
        "hits": 0,
    }
    assert second["route"] == "* /api/v1/clients/"
    assert second["retry_after"] == 1


def test_the_wire_docs_example_with_explicit_nulls_is_accepted() -> None:
    rule = {
        "route": CHARGE,
        "kind": "lost_after_commit",
        "rate": 0.05,
        "count": None,
        "ms": None,
        "status": None,
        "retry_after": None,
    }
    assert FaultInjector([rule]).rules()[0]["rate"] == 0.05


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"route": CHARGE, "kind": "drop", "rate": 1.5}, "fault rule 1: rate:"),
        ({"route": CHARGE, "kind": "explode"}, "fault rule 1: kind:"),
        ({"route": "/api/v1/purchases/", "kind": "drop"}, "fault rule 1: route:"),
        ({"route": "POST api/v1/", "kind": "drop"}, "fault rule 1: route:"),
        ({"route": CHARGE, "kind": "error_5xx", "status": 404}, "fault rule 1: status:"),
        ({"route": CHARGE, "kind": "drop", "count": -1}, "fault rule 1: count:"),
        ({"route": CHARGE, "kind": "latency"}, "fault rule 1: rule: .*ms is required"),
        ({"route": CHARGE, "kind": "drop", "retryafter": 2}, "fault rule 1: retryafter:"),
        ("drop everything", "fault rule 1: must be an object"),
    ],
)
def test_an_invalid_rule_names_its_index_and_field_and_keeps_the_old_rules(
    rule: Any, expected: str
) -> None:
    injector = FaultInjector([{"route": CHARGE, "kind": "drop"}])
    before = injector.rules()
    with pytest.raises(ValueError, match=expected):
        injector.set_rules([{"route": CHARGE, "kind": "error_5xx"}, rule])
    assert injector.rules() == before


def test_invalid_start_up_rules_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="fault rule 0"):
        FaultInjector([{"route": CHARGE}])


def test_hits_from_a_previous_get_are_ignored_on_put() -> None:
    injector = FaultInjector()
    injector.set_rules([{"route": CHARGE, "kind": "drop", "hits": 7}])
    assert injector.rules()[0]["hits"] == 0


@pytest.mark.parametrize(
    ("route", "method", "path", "matches"),
    [
        (CHARGE, "POST", "/api/v1/purchases/abc/charge/", True),
        (CHARGE, "post", "/api/v1/purchases/abc/charge/", True),
        (CHARGE, "GET", "/api/v1/purchases/abc/charge/", False),
        (CHARGE, "POST", "/api/v1/purchases/a/b/charge/", False),
        (CHARGE, "POST", "/api/v1/purchases//charge/", False),
        (CHARGE, "POST", "/api/v1/purchases/abc/charge", False),
        ("* /api/v1/purchases/*/", "DELETE", "/api/v1/purchases/abc/", True),
        ("* /api/v1/purchases/*/", "GET", "/api/v1/purchases/", False),
    ],
)
def test_star_matches_exactly_one_segment(
    route: str, method: str, path: str, matches: bool
) -> None:
    rule = FaultRule(route=route, kind="drop")
    assert rule.matches(method, path) is matches


def test_count_caps_the_hits() -> None:
    injector = FaultInjector([{"route": CHARGE, "kind": "error_5xx", "count": 2}])
    outcomes = [injector.decide("POST", "/api/v1/purchases/x/charge/").rule for _ in range(4)]
    assert [o is not None for o in outcomes] == [True, True, False, False]
    assert injector.rules()[0]["hits"] == 2


def test_a_seeded_rate_replays_exactly() -> None:
    def run() -> list[bool]:
        injector = FaultInjector([{"route": CHARGE, "kind": "drop", "rate": 0.3}], seed=42)
        path = "/api/v1/purchases/x/charge/"
        return [injector.decide("POST", path).rule is not None for _ in range(200)]

    first = run()
    assert first == run()
    assert 30 < sum(first) < 90


def test_latency_adds_up_and_the_first_firing_non_latency_rule_decides() -> None:
    injector = FaultInjector(
        [
            {"route": CHARGE, "kind": "latency", "ms": 20},
            {"route": CHARGE, "kind": "rate_limit", "rate": 0.0},
            {"route": CHARGE, "kind": "error_5xx", "status": 502},
            {"route": CHARGE, "kind": "drop"},
            {"route": "* /api/v1/purchases/*/*/", "kind": "latency", "ms": 5},
        ]
    )
    decision = injector.decide("POST", "/api/v1/purchases/x/charge/")
    assert decision.latency_ms == 25
    assert decision.rule is not None and decision.rule.status == 502
    assert [r["hits"] for r in injector.rules()] == [1, 0, 1, 0, 1]


def test_clear_removes_every_rule() -> None:
    injector = FaultInjector([{"route": CHARGE, "kind": "drop"}])
    injector.clear()
    assert injector.rules() == []
    assert injector.decide("POST", "/api/v1/purchases/x/charge/").rule is None


# -- the middleware in-process (httpx.ASGITransport) ----------------------------------------------


@pytest.mark.parametrize("place", PLACEMENTS)
async def test_error_5xx_answers_without_processing(place: Callable[..., Any]) -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "error_5xx", "status": 502}])
    async with in_process(place(gateway, injector)) as client:
        response = await charge(client)
    assert response.status_code == 502
    assert response.json() == {"detail": "injected fault"}
    assert gateway.charges == 0


@pytest.mark.parametrize("place", PLACEMENTS)
async def test_rate_limit_is_a_429_with_retry_after(place: Callable[..., Any]) -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "rate_limit", "retry_after": 7}])
    async with in_process(place(gateway, injector)) as client:
        response = await charge(client)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert "detail" in response.json()
    assert gateway.charges == 0


async def test_latency_delays_then_processes() -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "latency", "ms": 60}])
    async with in_process(outermost(gateway, injector)) as client:
        started = time.monotonic()
        response = await charge(client)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.05
    assert gateway.charges == 1


@pytest.mark.parametrize("place", PLACEMENTS)
async def test_in_process_drop_raises_and_processes_nothing(place: Callable[..., Any]) -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "drop"}])
    async with in_process(place(gateway, injector)) as client:
        with pytest.raises(ConnectionDropped):
            await charge(client)
    assert gateway.charges == 0


@pytest.mark.parametrize("place", PLACEMENTS)
async def test_in_process_lost_after_commit_raises_after_processing(
    place: Callable[..., Any],
) -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "lost_after_commit"}])
    async with in_process(place(gateway, injector)) as client:
        with pytest.raises(httpx.RemoteProtocolError):  # ConnectionDropped is one
            await charge(client)
    assert gateway.charges == 1


async def test_other_routes_and_the_control_api_are_untouched() -> None:
    gateway = Gateway()
    injector = FaultInjector(
        [{"route": "* /*/*/*/", "kind": "drop"}, {"route": "* /_sandbox/faults/", "kind": "drop"}]
    )
    async with in_process(outermost(gateway, injector)) as client:
        assert (await client.get("/_sandbox/faults/")).status_code == 200
        assert (await client.get("/api/v1/purchases/p1/")).status_code == 200
    assert [r["hits"] for r in injector.rules()] == [0, 0]


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = FaultMiddleware(app, FaultInjector([{"route": "* /", "kind": "drop"}]))
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


# -- the middleware over real loopback HTTP (uvicorn) ----------------------------------------------


@pytest.mark.parametrize("place", PLACEMENTS)
def test_drop_over_loopback_closes_the_connection_before_processing(
    place: Callable[..., Any], serve: Any, uvicorn_errors: list[logging.LogRecord]
) -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "drop", "count": 1}])
    with serve(place(gateway, injector)) as base, httpx.Client(base_url=base) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/api/v1/purchases/p1/charge/", json={"recurring_token": "t"})
        assert gateway.charges == 0
        # The server is fine afterwards, and the rule's count is spent.
        assert client.post("/api/v1/purchases/p1/charge/", json={}).status_code == 200
    assert gateway.charges == 1
    assert uvicorn_errors == []


@pytest.mark.parametrize("place", PLACEMENTS)
def test_lost_after_commit_over_loopback_processes_then_closes_without_answer(
    place: Callable[..., Any], serve: Any, uvicorn_errors: list[logging.LogRecord]
) -> None:
    gateway = Gateway()
    injector = FaultInjector([{"route": CHARGE, "kind": "lost_after_commit"}])
    with serve(place(gateway, injector)) as base, httpx.Client(base_url=base) as client:
        # Warm a keep-alive connection first: the lost answer must also break a reused one.
        assert client.get("/api/v1/purchases/p1/").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/api/v1/purchases/p1/charge/", json={"recurring_token": "t"})
        assert gateway.charges == 1
        assert client.get("/api/v1/purchases/p1/").json()["charges"] == 1
    assert uvicorn_errors == []


def test_answered_faults_keep_the_connection_usable_over_loopback(
    serve: Any, uvicorn_errors: list[logging.LogRecord]
) -> None:
    gateway = Gateway()
    injector = FaultInjector(
        [
            {"route": CHARGE, "kind": "rate_limit", "count": 1, "retry_after": 3},
            {"route": CHARGE, "kind": "error_5xx", "count": 1},
        ]
    )
    with serve(outermost(gateway, injector)) as base, httpx.Client(base_url=base) as client:
        limited = client.post("/api/v1/purchases/p1/charge/", json={"recurring_token": "t"})
        failed = client.post("/api/v1/purchases/p1/charge/", json={"recurring_token": "t"})
        served = client.post("/api/v1/purchases/p1/charge/", json={"recurring_token": "t"})
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert failed.status_code == 503
    assert served.status_code == 200
    assert gateway.charges == 1
    assert uvicorn_errors == []
