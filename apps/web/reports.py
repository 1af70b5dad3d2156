"""Operator pages of the web app: the settlement reports, served over HTTP.

- ``GET /reports``: the periods reported so far (newest first), linked;
- ``GET /reports/{from}_{to}/report.html`` and ``/reports/{from}_{to}/{table}.csv``: one report's
  page and CSVs, read from ``PAYFLOWS_REPORTS_DIR`` (where the ``settlement-report`` flow writes);
- ``GET /reports/login`` and ``POST /reports/login``: a browser's way in, for these pages and
  the operator pages (``/operator``, :mod:`apps.web.operator_pages`), which share the session.

Behind the operator token (``PAYFLOWS_OPERATOR_TOKEN``), as ``/holds`` is: an automation sends
``Authorization: Bearer <token>``; a person opens the link of the flow's artifact, is sent to
the login page once, types the token, and gets a session cookie (HttpOnly, SameSite=Strict,
``Secure`` behind https, valid 12 hours) holding an HMAC of the token and its expiry, never the
token. With no token configured every page answers 503: operator pages are never open by
default. Paths are matched against fixed patterns (a period label, a known table name), so no
other file can be asked for. Pages are served with a CSP that forbids scripts and any fetch.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from apps.web.guard import same_origin
from payflows.settings import Settings

__all__ = [
    "COOKIE",
    "PAGE_HEADERS",
    "SESSION_SECONDS",
    "operator_refusal",
    "operator_session",
    "report_routes",
    "session_value",
]

COOKIE = "payflows_operator"
SESSION_SECONDS = 12 * 3600
_LABEL = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}$")
_TABLES = {
    "totals",
    "daily",
    "declines",
    "settlement",
    "settlement_lag",
    "refunds",
    "holds",
    "subscriptions",
    "reconciliation",
}
PAGE_HEADERS = _HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'",
}
_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;"
    "padding:0 1rem;color:#1f2933}input,button{font-size:1rem;padding:.4rem}"
    ".bad{color:#b42318}</style>"
)


def _token(settings: Settings) -> str:
    return settings.operator_token.get_secret_value() if settings.operator_token else ""


def session_value(token: str, expires: int) -> str:
    """``<expiry>.<hmac>``: proves the token was typed, without holding it."""
    mac = hmac.new(token.encode(), f"reports-session:{expires}".encode(), hashlib.sha256)
    return f"{expires}.{mac.hexdigest()}"


def _session_ok(token: str, value: str, now: float) -> bool:
    expires, _, _mac = value.partition(".")
    if not expires.isdigit() or int(expires) < now:
        return False
    return hmac.compare_digest(session_value(token, int(expires)).encode(), value.encode())


def operator_session(settings: Settings, request: Request) -> str:
    """The request's valid session cookie value, or "" (none, forged or expired)."""
    token, value = _token(settings), request.cookies.get(COOKIE, "")
    return value if token and value and _session_ok(token, value, time.time()) else ""


def operator_refusal(settings: Settings, request: Request) -> Response | None:
    """None when the request carries the token or a valid session, else the answer to send.

    A browser (``Accept: text/html``) is sent to the login page, which brings it back here.
    """
    token = _token(settings)
    if not token:
        return JSONResponse(
            {"error": "operator pages are disabled: set PAYFLOWS_OPERATOR_TOKEN to enable them"},
            status_code=503,
            headers=_HEADERS,
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    if _session_ok(token, request.cookies.get(COOKIE, ""), time.time()):
        return None
    if "text/html" in request.headers.get("accept", ""):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = quote(here, safe="/")
        return RedirectResponse(f"/reports/login?next={target}", 303, headers=_HEADERS)
    return JSONResponse(
        {"error": "a valid operator bearer token is required"},
        status_code=401,
        headers={**_HEADERS, "WWW-Authenticate": 'Bearer realm="payflows-operator"'},
    )


def _safe_next(value: str | None) -> str:
    """Only a path of the operator's pages: never an open redirect."""
    if (
        value
        and value.startswith(("/reports", "/operator"))
        and "//" not in value
        and "\\" not in value
        and value.isprintable()
    ):
        return value
    return "/reports"


def _login_page(next_path: str, error: str = "", status: int | None = None) -> HTMLResponse:
    bad = f'<p class="bad">{html.escape(error)}</p>' if error else ""
    body = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Operator sign-in'
        f"</title>{_STYLE}</head><body><h1>Operator sign-in</h1>{bad}"
        '<form method="post" action="/reports/login">'
        f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
        '<label for="token">Operator token</label><br>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'required autofocus> <button id="sign-in" type="submit">Sign in</button></form>'
        "</body></html>"
    )
    code = status or (401 if error else 200)
    return HTMLResponse(body, status_code=code, headers=_HEADERS)


def report_routes(settings: Settings, public_origin: str | None = None) -> list[Route]:
    """The report pages, reading ``settings.reports_dir``."""
    base = Path(settings.reports_dir)
    secure = (settings.public_url or "").startswith("https://")

    async def login_form(request: Request) -> Response:
        if not _token(settings):
            return operator_refusal(settings, request) or _login_page("/reports")
        return _login_page(_safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        token = _token(settings)
        if not token:
            return operator_refusal(settings, request) or _login_page("/reports")
        origin = request.headers.get("origin") or request.headers.get("referer")
        if public_origin and origin is not None and not same_origin(origin, public_origin):
            # Another site's form signing the operator's browser in (login CSRF): refused.
            return _login_page("/reports", "Sign in from this site's own page.", status=403)
        body = await request.body()
        if len(body) > 4096:
            return _login_page("/reports", "The form is too large.")
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        target = _safe_next((form.get("next") or [None])[0])
        if not hmac.compare_digest(given.encode(), token.encode()):
            await asyncio.sleep(0.2)  # a little friction for guessing
            return _login_page(target, "That is not the operator token.")
        expires = int(time.time()) + SESSION_SECONDS
        answer = RedirectResponse(target, 303, headers=_HEADERS)
        answer.set_cookie(
            COOKIE,
            session_value(token, expires),
            max_age=SESSION_SECONDS,
            path="/",  # the report pages and the operator pages (/operator)
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return answer

    async def index(request: Request) -> Response:
        refusal = operator_refusal(settings, request)
        if refusal is not None:
            return refusal

        def periods() -> list[str]:
            if not base.is_dir():
                return []
            found = [p.name for p in base.iterdir() if _LABEL.match(p.name)]
            return sorted((n for n in found if (base / n / "report.html").is_file()), reverse=True)

        items = "".join(
            f'<li><a href="/reports/{n}/report.html">{html.escape(n.replace("_", " to "))}</a>'
            for n in await asyncio.to_thread(periods)
        )
        body = (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Settlement '
            f"reports</title>{_STYLE}</head><body><h1>Settlement reports</h1>"
            + (f"<ul>{items}</ul>" if items else "<p>No report has been written yet.</p>")
            + "</body></html>"
        )
        return HTMLResponse(body, headers=_HEADERS)

    async def report_file(request: Request) -> Response:
        refusal = operator_refusal(settings, request)
        if refusal is not None:
            return refusal
        label, name = request.path_params["label"], request.path_params["name"]
        stem, _, ext = name.rpartition(".")
        known = (stem == "report" and ext == "html") or (stem in _TABLES and ext == "csv")
        if not _LABEL.match(label) or not known:
            return JSONResponse({"error": "no such report"}, status_code=404, headers=_HEADERS)
        path = base / label / name
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except OSError:
            return JSONResponse({"error": "no such report"}, status_code=404, headers=_HEADERS)
        if ext == "html":
            return Response(content, media_type="text/html; charset=utf-8", headers=_HEADERS)
        disposition = {"Content-Disposition": f'attachment; filename="{label}-{name}"'}
        return Response(
            content, media_type="text/csv; charset=utf-8", headers={**_HEADERS, **disposition}
        )

    return [
        Route("/reports/login", login_form, methods=["GET"]),
        Route("/reports/login", login, methods=["POST"]),
        Route("/reports", index, methods=["GET"]),
        Route("/reports/{label}/{name}", report_file, methods=["GET"]),
    ]
