"""Bounded fuzzing of the web forms (hypothesis): no body makes /checkout or /3ds/return answer
5xx, and nothing shaped like a card number outside the card field reaches a flow."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.web import create_web_app
from payflows.domain.screening import contains_card_number
from tests.web.conftest import MERCHANT
from tests.web.support import order_token

FIELDS = ["order", "csrf_token", "email", "cardholder_name", "card_number", "expiry", "cvc"]
VALUE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["4111 1111 1111 1111", "4111.1111.1111.1111", "12/30", "737", "٤١١١"]),
    st.text(st.sampled_from(list("0123456789 -./")), max_size=25),
)
FORM = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), VALUE, max_size=60)
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    form=FORM,
    raw=st.binary(max_size=200),
    path=st.sampled_from(["/checkout", "/3ds/return"]),
    with_csrf=st.booleans(),
)
def test_no_form_gives_a_5xx(settings, registered, monkeypatch, form, raw, path, with_csrf):  # type: ignore[no-untyped-def]
    from apps.web import _flows

    reached: list[dict] = []

    async def checkout(**kwargs):  # type: ignore[no-untyped-def]
        reached.append(kwargs)
        raise _flows.Rejected("refused by the fuzz test")

    monkeypatch.setattr(_flows, "checkout", checkout)
    app = create_web_app(settings)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            statuses = []
            body = dict(form)
            if with_csrf:
                page = await client.get("/checkout", params={"order": order_token("web-fuzz-1")})
                for name in ("order", "csrf_token"):
                    marker = f'name="{name}" value="'
                    start = page.text.index(marker) + len(marker)
                    body.setdefault(name, page.text[start : page.text.index('"', start)])
            encoded = urlencode(body)
            ctype = {"Content-Type": "application/x-www-form-urlencoded"}
            statuses.append((await client.post(path, content=encoded, headers=ctype)).status_code)
            statuses.append((await client.post(path, content=raw, headers=ctype)).status_code)
            return statuses

    try:
        for status in asyncio.run(run()):
            assert status < 500, status
    finally:
        app.state.engine.dispose()
    for call in reached:
        for name in ("order_id", "email", "product"):
            assert not contains_card_number(str(call[name]))
