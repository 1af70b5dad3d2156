"""The translation boundary: a gateway answer or an httpx exception, as one error of the tree.

Which error, and so whether the same request may be sent again (``retry_safe``) and whether we
know what the gateway did (``outcome_known``), is decided here: a 4xx changed nothing, a lost
answer to a write is an :class:`OutcomeUnknownError`, a decline is a :class:`CardDeclinedError`
with what the network said. Text the gateway sends back is scrubbed of anything PAN-like.

Errors carry the method and path of the request, never its body: the body of an S2S card
submission holds the PAN and CVC. httpx's exceptions keep a reference to the request (and so to
that body and the ``Authorization`` header); :func:`from_transport_error` returns an error whose
cause is a bare copy of the httpx exception, without the request, and the client raises it
outside the ``except`` block so that not even ``__context__`` leads back to the original.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from payflows.domain.cards import luhn_valid, mask_pan
from payflows.domain.declines import DeclineInfo
from payflows.gateway._errors import (
    AuthenticationError,
    CardDeclinedError,
    GatewayUnavailableError,
    InvalidStateError,
    NotFoundError,
    OutcomeUnknownError,
    PreciumError,
    RateLimitedError,
    RequestRejected,
    ValidationError,
)

__all__ = [
    "declined",
    "from_response",
    "from_transport_error",
    "is_s2s_error",
    "is_state_code",
    "unreadable_answer",
]

_STATE_CODE = re.compile(r"^purchase_\w+_error$")
_STATE_CODES = frozenset({"refund_cancel_error", "invalid_recurring_token"})
_PAN_LIKE = re.compile(r"(?<!\d)\d{12,19}(?!\d)")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_state_code(code: str | None) -> bool:
    """Whether a gateway error code means "not allowed in the purchase's current status"."""
    return code is not None and (code in _STATE_CODES or _STATE_CODE.match(code) is not None)


def _scrub(text: str) -> str:
    """Mask anything in gateway-supplied text that looks like a PAN, in case it echoes one."""
    return _PAN_LIKE.sub(lambda m: mask_pan(m[0]) if luhn_valid(m[0]) else m[0], text)


def _entries(value: Any) -> list[Mapping[str, Any]]:
    """A field's errors as ``[{message, code}, ...]``; DRF-style plain strings are tolerated."""
    items = value if isinstance(value, list) else [value]
    out: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(item)
        elif item is not None:
            out.append({"message": str(item)})
    return out


def _decline_from(body: Any) -> DeclineInfo | None:
    """The decline in an error body: the S2S ``error`` object (or its flat ``code``), or a
    non-state code among the ``__all__`` entries of a ``/charge/`` answer."""
    if not isinstance(body, Mapping):
        return None
    candidates: list[Mapping[str, Any]] = []
    if isinstance(body.get("error"), Mapping):
        candidates.append(body["error"])
    if is_s2s_error(body):
        candidates.append(body)
    candidates.extend(_entries(body.get("__all__", [])))
    for entry in candidates:
        code = entry.get("code")
        if isinstance(code, str) and code and not is_state_code(code):
            return DeclineInfo(
                code=code,
                message=_scrub(str(entry.get("message") or "")),
                network_code=_opt_str(entry.get("network_code")),
                advice_code=_opt_str(entry.get("advice_code")),
            )
    return None


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _fields_from(body: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"amount": [{"message": ...}], "purchase": {"products": [...]}}`` to field -> messages."""
    if not isinstance(body, Mapping):
        return {}
    fields: dict[str, list[str]] = {}
    for name, value in body.items():
        key = f"{prefix}{name}"
        if isinstance(value, list):
            messages = [
                _scrub(str(e.get("message") or e.get("code") or "")) for e in _entries(value)
            ]
            if messages:
                fields[key] = messages
        elif isinstance(value, Mapping) and name != "error":
            fields.update(_fields_from(value, f"{key}."))
    return fields


def _codes_from(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return []
    codes = [
        str(e["code"])
        for value in body.values()
        if isinstance(value, list | Mapping)
        for e in _entries(value)
        if e.get("code")
    ]
    if isinstance(body.get("code"), str):
        codes.append(body["code"])
    return codes


def _detail(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("detail", "message"):
            if isinstance(body.get(key), str):
                return _scrub(body[key])
    return ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _lost(method: str, path: str, why: str, purchase_id: str | None, **kw: Any) -> PreciumError:
    if method.upper() in _READS:
        return GatewayUnavailableError(f"{method} {path}: {why}", method=method, path=path, **kw)
    target = f"purchase {purchase_id}" if purchase_id else "the purchase"
    return OutcomeUnknownError(
        f"{method} {path}: {why}; the gateway may or may not have acted. "
        f"Do not resend blindly: settle it by reading {target} back.",
        method=method,
        path=path,
        purchase_id=purchase_id,
        **kw,
    )


def from_response(
    method: str,
    path: str,
    status_code: int,
    headers: Mapping[str, str],
    body: Any,
    *,
    purchase_id: str | None = None,
    expect_decline: bool = False,
) -> PreciumError:
    """The error for a non-2xx answer (``body`` is the decoded JSON, or None)."""
    where = f"{method} {path} -> {status_code}"
    kw: dict[str, Any] = {"status_code": status_code, "method": method, "path": path}

    if status_code in {400, 422} or (expect_decline and is_s2s_error(body)):
        decline = _decline_from(body) if expect_decline else None
        if decline is not None:
            return declined(method, path, status_code, decline, purchase_id=purchase_id)
        fields = _fields_from(body)
        codes = _codes_from(body)
        listed = "; ".join(
            m if name == "__all__" else f"{name}: {m}" for name, ms in fields.items() for m in ms
        )
        state = next((c for c in codes if is_state_code(c)), None)
        cls = InvalidStateError if state else ValidationError
        code = state or (codes[0] if codes else None)
        return cls(
            f"{where}: {listed or _detail(body) or 'invalid request'}",
            fields=fields,
            code=code,
            **kw,
        )
    if status_code in {401, 403}:
        return AuthenticationError(f"{where}: {_detail(body) or 'not authorised'}", **kw)
    if status_code == 404:
        return NotFoundError(f"{where}: {_detail(body) or 'no such object'}", **kw)
    if status_code == 429:
        retry_after = _retry_after(headers.get("retry-after"))
        hint = f", retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimitedError(f"{where}: rate limited{hint}", retry_after=retry_after, **kw)
    if 400 <= status_code < 500:
        return RequestRejected(f"{where}: {_detail(body) or 'request rejected'}", **kw)
    if status_code >= 500:
        return _lost(
            method, path, f"gateway error {status_code}", purchase_id, status_code=status_code
        )
    return _lost(
        method, path, f"unexpected answer {status_code}", purchase_id, status_code=status_code
    )


def is_s2s_error(body: Any) -> bool:
    """The S2S error answer ``{"status": "error", "error": {...}, "code", "message"}``.

    Not a purchase whose status is ``error``: that one is read as a purchase.
    """
    return (
        isinstance(body, Mapping)
        and body.get("status") == "error"
        and body.get("type") != "purchase"
        and (isinstance(body.get("error"), Mapping) or isinstance(body.get("code"), str))
    )


def unreadable_answer(
    method: str, path: str, status_code: int, *, purchase_id: str | None = None, detail: str = ""
) -> PreciumError:
    """A 2xx whose body we cannot read: for a write, as good as a lost answer."""
    why = f"unreadable {status_code} answer" + (f" ({detail})" if detail else "")
    return _lost(method, path, why, purchase_id, status_code=status_code)


def declined(
    method: str,
    path: str,
    status_code: int,
    decline: DeclineInfo,
    *,
    purchase_id: str | None = None,
) -> CardDeclinedError:
    kind = "hard" if decline.hard else "soft"
    network = f" (network {decline.network_code})" if decline.network_code else ""
    text = f": {_scrub(decline.message)}" if decline.message else ""
    return CardDeclinedError(
        f"{method} {path} -> {status_code}: declined {decline.code}{network}, {kind}{text}",
        decline=decline,
        purchase_id=purchase_id,
        status_code=status_code,
        method=method,
        path=path,
    )


def from_transport_error(
    exc: httpx.HTTPError, method: str, path: str, *, purchase_id: str | None = None
) -> PreciumError:
    """The error for an httpx exception; its ``__cause__`` is set to a copy without the request."""
    name = type(exc).__name__
    why = f"{name}: {exc}" if str(exc) else name
    error: PreciumError
    if isinstance(
        exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError
    ):
        error = GatewayUnavailableError(
            f"{method} {path}: request not sent ({why})", method=method, path=path
        )
    elif isinstance(
        exc,
        httpx.ReadTimeout
        | httpx.WriteTimeout
        | httpx.ReadError
        | httpx.WriteError
        | httpx.RemoteProtocolError
        | httpx.DecodingError,
    ):
        error = _lost(method, path, f"answer lost ({why})", purchase_id)
    else:
        # UnsupportedProtocol, LocalProtocolError, TooManyRedirects...: our mistake, not sent.
        error = PreciumError(f"{method} {path}: {why}", method=method, path=path)
    error.__cause__ = _without_request(exc)
    error.__suppress_context__ = True
    return error


def _without_request(exc: httpx.HTTPError) -> BaseException | None:
    """The same exception type and message, minus the request (its body, its headers)."""
    try:
        return type(exc)(str(exc))
    except Exception:  # an exotic subclass with another signature: keep no cause at all
        return None
