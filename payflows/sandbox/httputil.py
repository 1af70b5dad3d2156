"""Reading requests and writing answers, for every route of the sandbox.

Whatever a client sends, the answer is a clear 4xx, never a 500: a body must be a JSON object,
nested at most :data:`MAX_DEPTH` deep (deeper is no request a gateway takes, and orjson cannot
write back what it cannot nest), with whole numbers inside a signed 64-bit range (what the state
file and a real gateway's database can hold).
"""

from __future__ import annotations

import html
import json
from string import Template
from typing import Any, Final
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from payflows.sandbox.errors import Answer, GatewayError

__all__ = ["MAX_DEPTH", "answer", "encode", "form", "json_body", "json_response", "origin", "page"]

MAX_DEPTH: Final = 32
_INT_RANGE: Final = range(-(2**63), 2**63)

try:  # orjson (a dependency of Prefect) encodes three times faster than the stdlib
    import orjson

    def encode(body: Any) -> bytes:
        return orjson.dumps(body)

except ImportError:  # pragma: no cover

    def encode(body: Any) -> bytes:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200) -> Response:
    return Response(encode(body), status_code=status, media_type="application/json")


def answer(result: Answer) -> Response:
    return json_response(result.body, result.status_code)


def origin(request: Request) -> str:
    """``scheme://host[:port][root_path]`` of the request: the URLs handed out must work both
    in-process (``http://testserver``) and over loopback, whatever the port."""
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}".rstrip("/")


def _refuse(message: str) -> GatewayError:
    return GatewayError.field("__all__", "invalid", message)


def _check(data: Any) -> None:
    """Depth and integer range of a parsed body, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _refuse(f"The body is nested more than {MAX_DEPTH} levels deep.")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
            raise _refuse("A whole number in the body is outside the signed 64-bit range.")


async def json_body(request: Request) -> dict[str, Any]:
    """A JSON object body (empty means ``{}``), or the 400 CHIP gives for anything else."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to be a request
        raise _refuse("Malformed JSON body.") from None
    if not isinstance(data, dict):
        raise _refuse("The body must be a JSON object.")
    _check(data)
    return data


async def form(request: Request) -> dict[str, str]:
    """A form-urlencoded body, read with urllib (python-multipart is not a dependency)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def page(template: Template, status: int = 200, **values: str) -> HTMLResponse:
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    return HTMLResponse(template.substitute(escaped), status_code=status)
