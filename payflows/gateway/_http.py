"""The HTTP plumbing under the Precium client: pools, keys, and the one translation boundary.

* **One translation boundary.** Every request goes through :meth:`HttpGateway._call`, the only
  place that catches httpx exceptions or looks at status codes.
* **Card data passes through, never rests.** The S2S body is built as an argument expression,
  handed to httpx, and dropped; transport errors are raised outside the ``except`` block with a
  request-less copy as their cause, so neither the exception chain nor the traceback's frames
  lead back to the body or the ``Authorization`` header. Logs carry method, path and status only.
* **Several small pools.** One httpx pool spends O(connections) per request on bookkeeping and
  scales badly past ~8 connections (``PERFORMANCE-NOTES.md``), so ``max_connections`` is spread
  over ``ceil(max_connections / 8)`` clients picked round-robin.
* **Requests built here, headers once.** :meth:`HttpGateway._call` builds each request as the
  pool's ``build_request`` would (its default headers, then the key, its cookies, its timeouts)
  from headers made once per kind of call, rather than merging the same defaults into every
  request: the bulk loops send tens of thousands of requests.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar
from urllib.parse import quote

import httpx
import orjson
import pydantic
from pydantic import SecretStr

from payflows import __version__
from payflows.domain.states import Status
from payflows.gateway import _translate
from payflows.gateway._errors import PreciumError
from payflows.gateway._models import Purchase
from payflows.gateway._state import PurchaseState

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["CONNECTIONS_PER_POOL", "CONNECT_TIMEOUT", "HttpGateway", "positive_cents", "route"]

logger = logging.getLogger("payflows.gateway")

R = TypeVar("R")
P = TypeVar("P", Purchase, PurchaseState)
_Auth = Literal["standard", "s2s", "none"]

#: httpcore's pool bookkeeping is O(connections) per request; stay at or under this per pool.
CONNECTIONS_PER_POOL = 8
CONNECT_TIMEOUT = 5.0
#: A purchase answered in one of these, with a failed attempt, is a decline.
_DECLINED = frozenset({Status.ERROR, Status.BLOCKED})


#: What ``quote(text, safe="")`` leaves as it is: such a part (every id the gateway gives) is
#: its own quoted form, without ``quote``'s ~3 µs a call.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]+").fullmatch


def route(*parts: str) -> str:
    """A relative route with every id quoted, so an id can never add a path segment."""
    texts = map(str, parts)
    return "".join(f"{t}/" if _UNQUOTED(t) else f"{quote(t, safe='')}/" for t in texts)


def positive_cents(amount: int | None) -> int | None:
    """An amount to send (capture, refund): integer cents above zero, or None for "all of it"."""
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise TypeError(f"amount must be integer cents, got {type(amount).__name__}")
    if amount is not None and amount <= 0:
        raise ValueError("amount must be positive")
    return amount


def _decode(content: bytes) -> tuple[Any, bool]:
    """The JSON of an answer (None when empty) and whether it could be read."""
    if not content:
        return None, True
    try:
        return orjson.loads(content), True
    except ValueError:
        return None, False


def _pool_sizes(max_connections: int) -> list[int]:
    pools = math.ceil(max_connections / CONNECTIONS_PER_POOL)
    size, extra = divmod(max_connections, pools)
    return [size + 1 if i < extra else size for i in range(pools)]


class HttpGateway:
    """The httpx side of :class:`~payflows.gateway.PreciumClient`: its pools, its two keys, and
    :meth:`_call`, through which every request goes."""

    DEFAULT_CONNECTIONS = 16  #: gateway connections of a client, unless told

    def __init__(
        self,
        base_url: str,
        api_key: str | SecretStr,
        s2s_api_key: str | SecretStr,
        brand_id: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        max_connections: int = DEFAULT_CONNECTIONS,
        user_agent: str | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._base_url = httpx.URL(base_url if base_url.endswith("/") else base_url + "/")
        if "?" in base_url or "#" in base_url:
            # Routes are appended to the base as text (``_url``): a query would swallow them.
            raise ValueError("the gateway's base URL takes no query string or fragment")
        self._base = str(self._base_url)
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._s2s_api_key = (
            s2s_api_key if isinstance(s2s_api_key, SecretStr) else SecretStr(s2s_api_key)
        )
        self.brand_id = brand_id
        headers = {
            "User-Agent": user_agent or f"payflows/{__version__} httpx/{httpx.__version__}",
            "Accept": "application/json",
        }
        timeouts = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
        sizes = [max_connections] if transport is not None else _pool_sizes(max_connections)
        self._pools = tuple(
            httpx.AsyncClient(
                transport=transport,
                headers=headers,
                timeout=timeouts,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in sizes
        )
        self._rotation = itertools.cycle(self._pools)
        # Each request is built here rather than by ``build_request``, which merges the pool's
        # default headers, cookies, query and timeout into every request anew: the headers of
        # each kind of call are built once (the pool's defaults, then the key), and cookies the
        # gateway may set are still sent back (``_call``).
        self._timeouts = timeouts.as_dict()
        defaults = self._pools[0].headers
        self._request_headers = {
            (auth, typed): self._headers_for(defaults, auth, typed)
            for auth in ("standard", "s2s", "none")
            for typed in (False, True)
        }

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()

    def _not_declined(self, purchase_id: str, purchase: P) -> P:
        decline = purchase.last_error
        if purchase.status in _DECLINED and decline is not None:
            path = self._url(route("purchases", purchase_id, "charge")).path
            raise _translate.declined("POST", path, 200, decline, purchase_id=purchase_id)
        return purchase

    # -- the one boundary ----------------------------------------------------------------------

    def _url(self, target: str) -> httpx.URL:
        """The absolute URL of a relative route (``route()`` quotes every id, so a route never
        leaves the base). One parse of the joined string: ``httpx.URL.join`` (``urljoin`` and
        two more parses) cost ~4x as much, a few per cent of the billing run's event loop."""
        return httpx.URL(self._base + target)

    def _headers_for(self, defaults: httpx.Headers, auth: _Auth, typed: bool) -> httpx.Headers:
        """The headers of a request: the pools' defaults, the key of ``auth``, and the content
        type of a body encoded here (``typed``)."""
        headers = httpx.Headers(defaults)
        if auth != "none":
            key = self._api_key if auth == "standard" else self._s2s_api_key
            headers["Authorization"] = f"Bearer {key.get_secret_value()}"
        if typed:
            headers["Content-Type"] = "application/json"  # encoded JSON (orjson, compact)
        return headers

    async def _call(
        self,
        method: str,
        target: str | httpx.URL,
        into: Callable[[Any], R],
        *,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        auth: _Auth = "standard",
        purchase_id: str | None = None,
        expect_decline: bool = False,
    ) -> R:
        """Send one request, classify the outcome, parse the answer with ``into``.

        Every failure leaves as a :class:`PreciumError`; nothing else escapes but programming
        errors (a closed client, say).
        """
        url = target if isinstance(target, httpx.URL) else self._url(target)
        path = url.path
        pool = next(self._rotation)
        # What ``pool.build_request`` would build (the pools have no base URL or query of their
        # own), without merging the same defaults into every request.
        request = httpx.Request(
            method,
            url,
            json=json,
            content=content,
            data=data,
            params=params,
            headers=self._request_headers[auth, content is not None],
            cookies=pool.cookies or None,
            extensions={"timeout": self._timeouts},
        )
        # The request holds the body now; keep no second reference to it.
        del json, data, content
        error: PreciumError | None = None
        try:
            response = await pool.send(request)
        except httpx.HTTPError as exc:
            logger.debug("%s %s -> %s", method, path, type(exc).__name__)
            error = _translate.from_transport_error(exc, method, path, purchase_id=purchase_id)
        finally:
            del request
        if error is not None:
            # Raised outside the except block, so no __context__ leads back to httpx's exception
            # (which holds the request), and from a frame that no longer holds the body.
            raise error from error.__cause__
        logger.debug("%s %s -> %s", method, path, response.status_code)
        outcome = _interpret(response, into, method, path, purchase_id, expect_decline)
        del response  # response.request is the request, body included
        if isinstance(outcome, PreciumError):
            raise outcome
        return outcome


def _interpret(
    response: httpx.Response,
    into: Callable[[Any], R],
    method: str,
    path: str,
    purchase_id: str | None,
    expect_decline: bool,
) -> R | PreciumError:
    """The parsed answer, or the error to raise. Returns rather than raises the error, so that
    this frame (which holds the answer, possibly echoing what we sent) is not in its traceback.
    """
    status = response.status_code
    body, readable = _decode(response.content)
    if not 200 <= status < 300 or (expect_decline and _translate.is_s2s_error(body)):
        return _translate.from_response(
            method,
            path,
            status,
            response.headers,
            body,
            purchase_id=purchase_id,
            expect_decline=expect_decline,
        )
    if not readable:
        return _translate.unreadable_answer(
            method, path, status, purchase_id=purchase_id, detail="not JSON"
        )
    try:
        return into(body)
    except pydantic.ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:3]
        )
    except (ValueError, TypeError) as exc:
        detail = str(exc)
    # Returned after the except blocks: the parse error quotes the answer, so it is not chained.
    return _translate.unreadable_answer(
        method, path, status, purchase_id=purchase_id, detail=detail
    )
