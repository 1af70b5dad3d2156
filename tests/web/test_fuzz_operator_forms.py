"""Bounded fuzzing of the operator pages' forms and search (hypothesis, as test_fuzz_forms.py):
no request makes them answer 5xx, no card number sent in is ever shown back, and none reaches
an action."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.web import create_web_app
from apps.web.operator_pages import csrf_token
from apps.web.reports import COOKIE, session_value
from payflows.domain.screening import contains_card_number
from payflows.ledger import AttemptKind
from payflows.settings import load_settings
from tests.web.conftest import MERCHANT
from tests.web.support import CHECKOUT_SECRET
from tests.web.test_operator_pages import seed_payment

TOKEN = "op-fuzz-7c0ffee-token"
WORDS = ["capture", "void", "refund", "cancel", "none", "100.00", "1.234", "-5", "1e9", "R-1"]
CARDS = ["4111 1111 1111 1111", "4111.1111.1111.1111", "4000000000000002", "٤١١١١١١١١١١١١١١١"]
VALUE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(WORDS + CARDS),
    st.text(st.sampled_from(list("0123456789 -./,")), max_size=25),
)
#: The forms' own fields, each mostly a plausible value so that examples get past the first
#: refusals and reach the action (or the decision) itself; plus any other fields.
FORM = st.fixed_dictionaries(
    {
        "action": st.one_of(*[st.sampled_from(["capture", "void", "refund", "cancel"])] * 3, VALUE),
        "decision": st.one_of(*[st.sampled_from(["capture", "void", "none"])] * 3, VALUE),
    },
    optional={
        "amount": st.one_of(*[st.sampled_from(["1.00", "200.00", "100", "0.5"])] * 2, VALUE),
        "refund_ref": st.one_of(st.sampled_from(["R-1", "op-refund-1"]), VALUE),
    },
).flatmap(
    lambda known: st.dictionaries(st.text(max_size=8), VALUE, max_size=8).map(
        lambda extra: {**extra, **known}
    )
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _card_values(values: Any) -> list[str]:
    return [v for v in values if isinstance(v, str) and contains_card_number(v)]


@FUZZ
@given(
    form=FORM,
    raw=st.binary(max_size=200),
    path=st.sampled_from(["/operator/action", "/operator/holds/decision"]),
    real_purchase=st.sampled_from([True, True, True, False]),
    with_csrf=st.sampled_from([True, True, True, False]),
    origin=st.sampled_from([MERCHANT, MERCHANT, MERCHANT, "https://evil.example", None]),
    query=VALUE,
)
def test_no_operator_form_gives_a_5xx_or_shows_a_card_number(  # type: ignore[no-untyped-def]
    tmp_path,
    ledger_url,
    engine,
    monkeypatch,
    form,
    raw,
    path,
    real_purchase,
    with_csrf,
    origin,
    query,
):
    import apps.web.operator as operator

    reached: list[dict[str, Any]] = []

    async def run_action(view, action, body):  # type: ignore[no-untyped-def]
        reached.append(dict(body))
        raise ValueError("refused by the fuzz test")

    monkeypatch.setattr(operator, "_run_action", run_action)
    purchase = seed_payment(engine, f"FZ-{time.monotonic_ns()}", kind=AttemptKind.PREAUTH)
    app = create_web_app(
        load_settings(
            PAYFLOWS_DATABASE_URL=ledger_url,
            PAYFLOWS_WEBHOOK_KEYS_FILE=str(tmp_path / "webhook-keys.json"),
            PAYFLOWS_PUBLIC_URL=MERCHANT,
            PAYFLOWS_CHECKOUT_SECRET=CHECKOUT_SECRET,
            PAYFLOWS_OPERATOR_TOKEN=TOKEN,
        )
    )
    session = session_value(TOKEN, int(time.time()) + 3600)
    body = dict(form)
    if real_purchase:
        body.setdefault("purchase_id", purchase)
    if with_csrf:
        body["csrf_token"] = csrf_token(TOKEN, session)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if origin:
        headers["Origin"] = origin

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            client.cookies.set(COOKIE, session)
            return [
                await client.post(path, content=urlencode(body), headers=headers),
                await client.post(path, content=raw, headers=headers),
                await client.get("/operator", params={"q": query}),
            ]

    try:
        answers = asyncio.run(run())
    finally:
        app.state.engine.dispose()
    for answer in answers:
        assert answer.status_code < 500, (answer.status_code, answer.text[:500])
    for card in _card_values([*body.values(), query]):
        for answer in answers:
            assert card not in answer.text
    for call in reached:
        assert not _card_values(call.values()), call


def test_a_long_amount_is_refused_not_cut_to_another_sum() -> None:
    """``"1"``, 40 spaces, ``"0"`` is 10 units; cut to its first 40 characters it read as 1."""
    from apps.web.operator_pages import _action_input, _decision_input, _Refused

    amount = "1" + " " * 40 + "0"
    form = {"purchase_id": "p-1", "amount": amount}
    with pytest.raises(_Refused, match="too long"):
        _action_input({**form, "action": "capture"})
    with pytest.raises(_Refused, match="too long"):
        _decision_input({**form, "decision": "capture"})
