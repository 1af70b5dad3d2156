"""Reading request bodies within limits: size first, then shape, never a 500 on bad input."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

__all__ = ["MAX_BODY_BYTES", "MAX_FORM_FIELDS", "BadForm", "TooLarge", "read_body", "read_form"]

#: Webhook bodies and forms above this size are refused before anything else looks at them.
MAX_BODY_BYTES = 1_000_000
#: A checkout or TermUrl form has a handful of fields; more is not a browser's form.
MAX_FORM_FIELDS = 50


class TooLarge(Exception):
    """The body is over the limit (413)."""


class BadForm(Exception):
    """The body is not a form this app reads (400)."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused as soon as its declared or streamed size passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()) or len(declared) > 18:
            raise BadForm
        if int(declared) > limit:
            raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (first value of each field).

    TooLarge past ``limit`` bytes; BadForm for another content type, text that is not UTF-8,
    or more than :data:`MAX_FORM_FIELDS` fields.
    """
    raw = await read_body(request, limit)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in {"application/x-www-form-urlencoded", ""}:
        raise BadForm
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadForm from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form
