"""The operator's HTML pages (issue 13, item 5): sign-in shared with the reports, search,
CSRF and origin checks, escaping, masked cards only, clear refusal pages, hold decisions.

Payments are seeded straight into the ledger through its core functions (no flow); the actions
that run flows against the sandbox are in test_operator_pages_actions.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import Engine

from apps.web import create_web_app
from apps.web.reports import COOKIE
from payflows.ledger import (
    AttemptKind,
    UnitOfWork,
    attach_purchase,
    mark_submitted,
    record_hold,
    record_intent,
    record_outcome,
    upsert_customer,
)
from payflows.ledger.lookups import hold_of_purchase
from payflows.settings import load_settings
from tests.web.conftest import MERCHANT
from tests.web.support import CHECKOUT_SECRET, forms_of

TOKEN = "op-pages-7c0ffee-token"
PAN = "4111111111111111"
ORIGIN = {"Origin": MERCHANT}


def seed_payment(
    engine: Engine,
    order: str,
    *,
    email: str = "ada@example.test",
    kind: AttemptKind = AttemptKind.CIT,
    amount: int = 29_900,
    state: str = "succeeded",
    status: str = "paid",
    decline: str | None = None,
) -> str:
    """A payment as the checkout leaves it: customer, attempt, purchase, answer (and hold)."""
    purchase_id = str(uuid.uuid4())
    key = f"{kind.value}:{order}"
    with UnitOfWork(engine) as uow:
        customer = upsert_customer(uow, f"cus-{order}", email=email)
        attempt = record_intent(uow, key, kind, amount, "ZAR", customer_id=customer.id)
        attach_purchase(uow, key, purchase_id)
        mark_submitted(uow, key)
        record_outcome(
            uow,
            business_key=key,
            state=state,
            purchase_status=status,
            decline_code=decline,
            brand="visa",
            masked_pan="411111******1111",
        )
        if kind is AttemptKind.PREAUTH:
            at = datetime.now(UTC)
            record_hold(
                uow,
                purchase_id,
                authorised_cents=amount,
                currency="ZAR",
                authorised_at=at,
                expires_at=at + timedelta(days=7),
                brand="visa",
                attempt_id=attempt.id,
            )
        uow.commit()
    return purchase_id


def app_with(ledger_url: str, tmp_path, token: str | None = TOKEN):  # type: ignore[no-untyped-def]
    env = {
        "PAYFLOWS_DATABASE_URL": ledger_url,
        "PAYFLOWS_WEBHOOK_KEYS_FILE": str(tmp_path / "webhook-keys.json"),
        "PAYFLOWS_PUBLIC_URL": MERCHANT,
        "PAYFLOWS_CHECKOUT_SECRET": CHECKOUT_SECRET,
    }
    if token:
        env["PAYFLOWS_OPERATOR_TOKEN"] = token
    return create_web_app(load_settings(**env))


@pytest.fixture
async def web(ledger_url, tmp_path) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with LifespanManager(app_with(ledger_url, tmp_path)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            yield client


async def sign_in(client: httpx.AsyncClient, next_path: str = "/operator") -> None:
    answer = await client.post("/reports/login", data={"token": TOKEN, "next": next_path})
    assert answer.status_code == 303, answer.text
    assert COOKIE in client.cookies


async def page_form(client: httpx.AsyncClient, path: str, **match: str) -> dict[str, str]:
    """The fields of the first form on ``path`` whose fields include ``match``."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    for form in forms_of(page.text):
        if all(form["fields"].get(k) == v for k, v in match.items()):
            return dict(form["fields"])
    raise AssertionError(f"no form with {match} on {path}")


# -- access ----------------------------------------------------------------------------------


async def test_no_operator_token_means_every_page_is_closed_and_says_why(
    ledger_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    app = app_with(ledger_url, tmp_path, token=None)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=MERCHANT) as client:
            for method, path in [
                ("GET", "/operator"),
                ("GET", "/operator/holds"),
                ("POST", "/operator/action"),
                ("POST", "/operator/holds/decision"),
            ]:
                answer = await client.request(method, path, headers=ORIGIN)
                assert answer.status_code == 503, path
                assert "PAYFLOWS_OPERATOR_TOKEN" in answer.text


async def test_a_browser_signs_in_once_and_comes_back_to_its_search(web, engine) -> None:  # type: ignore[no-untyped-def]
    seed_payment(engine, "OP-SIGN-1")
    html = {"Accept": "text/html"}
    sent = await web.get("/operator", params={"q": "OP-SIGN-1"}, headers=html)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/reports/login?next=/operator%3Fq%3DOP-SIGN-1"
    login = await web.get(sent.headers["location"])
    (form,) = forms_of(login.text)
    assert form["fields"]["next"] == "/operator?q=OP-SIGN-1"

    bad = await web.post("/reports/login", data={"token": "guess", "next": form["fields"]["next"]})
    assert bad.status_code == 401 and COOKIE not in web.cookies
    good = await web.post("/reports/login", data={"token": TOKEN, "next": form["fields"]["next"]})
    assert good.status_code == 303 and good.headers["location"] == "/operator?q=OP-SIGN-1"
    cookie = good.headers["set-cookie"]
    assert TOKEN not in cookie and "Path=/;" in cookie and "HttpOnly" in cookie
    found = await web.get("/operator", params={"q": "OP-SIGN-1"})
    assert found.status_code == 200 and "cit:OP-SIGN-1" in found.text
    # The same session opens the reports: one sign-in for both.
    assert (await web.get("/reports")).status_code == 200
    away = await web.post("/reports/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert away.headers["location"] == "/reports"


async def test_without_a_session_a_script_gets_401_and_a_bearer_token_works(web, engine) -> None:  # type: ignore[no-untyped-def]
    seed_payment(engine, "OP-BEARER-1")
    assert (await web.get("/operator", params={"q": "OP-BEARER-1"})).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    found = await web.get("/operator", params={"q": "OP-BEARER-1"}, headers=bearer)
    assert found.status_code == 200 and "cit:OP-BEARER-1" in found.text
    expired = await web.post("/operator/action", data={"action": "void"}, headers=ORIGIN)
    assert expired.status_code == 401 and "Sign in" in expired.text


# -- search ----------------------------------------------------------------------------------


async def test_search_by_order_email_last_four_and_purchase_id_shows_the_truth(web, engine) -> None:  # type: ignore[no-untyped-def]
    paid = seed_payment(engine, "OP-FIND-1", email="thandi@example.test")
    declined = seed_payment(
        engine,
        "OP-FIND-2",
        email="thandi@example.test",
        state="declined",
        status="error",
        decline="insufficient_funds",
    )
    await sign_in(web)
    for query in ("OP-FIND-1", "thandi@example.test", "1111", paid):
        page = await web.get("/operator", params={"q": query})
        assert page.status_code == 200
        assert f'data-purchase="{paid}"' in page.text, query
    both = (await web.get("/operator", params={"q": "thandi@example.test"})).text
    assert f'data-purchase="{declined}"' in both
    assert "declined insufficient_funds" in both and "R 299.00" in both
    assert "visa 411111******1111" in both and PAN not in both
    forms = forms_of(both)
    actions = {(f["fields"]["purchase_id"], f["fields"]["action"]) for f in forms[1:]}
    assert actions == {(paid, "refund"), (paid, "cancel")}  # a decline allows nothing
    assert all(len(f["fields"]["csrf_token"]) == 64 for f in forms[1:])
    nothing = await web.get("/operator", params={"q": "OP-NOBODY"})
    assert nothing.status_code == 200 and 'id="nothing"' in nothing.text


@pytest.mark.parametrize("query", [PAN, "4111 1111 1111 1111", "4111.1111.1111.1111", "x" * 300])
async def test_a_card_number_or_junk_is_refused_as_a_search_and_never_shown(web, query) -> None:  # type: ignore[no-untyped-def]
    await sign_in(web)
    page = await web.get("/operator", params={"q": query})
    assert page.status_code == 422 and 'role="alert"' in page.text
    assert "4111" not in page.text and "x" * 300 not in page.text


@pytest.fixture
def stray_card_ledger(ledger_url) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """This test plants a card number in its ledger on purpose; the file is unlinked after it,
    so the scan for card data left by a whole test session (tests/flows/
    test_card_data_never_rests.py) finds only what the product leaves."""
    yield
    database = Path(ledger_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)


async def test_everything_from_the_ledger_is_escaped_and_a_stray_card_number_is_hidden(
    web, engine, stray_card_ledger
) -> None:  # type: ignore[no-untyped-def]
    pid = seed_payment(engine, "OP-ESC-1", email=f"<script>alert(1)</script>{PAN}@x.test")
    await sign_in(web)
    page = (await web.get("/operator", params={"q": pid})).text
    assert "<script>" not in page and PAN not in page
    assert "(hidden: looks like a card number)" in page
    assert "script-src" not in page  # no script of ours either
    headers = (await web.get("/operator", params={"q": pid})).headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


# -- forms: CSRF, origin, refusals --------------------------------------------------------------


async def test_a_post_on_the_session_needs_its_csrf_token_and_this_origin(web, engine) -> None:  # type: ignore[no-untyped-def]
    pid = seed_payment(engine, "OP-CSRF-1", kind=AttemptKind.PREAUTH, status="hold")
    await sign_in(web)
    form = await page_form(web, f"/operator?q={pid}", action="capture")
    forged = {**form, "csrf_token": "0" * 64}
    stranger = {"Origin": "https://evil.example"}
    cases = [
        (forged, ORIGIN),
        ({k: v for k, v in form.items() if k != "csrf_token"}, ORIGIN),
        (form, stranger),
        (form, {"Referer": "https://evil.example/page"}),
        (form, {}),  # no Origin and no Referer: refused
    ]
    for data, headers in cases:
        answer = await web.post("/operator/action", data=data, headers=headers)
        assert answer.status_code == 403 and "expired" in answer.text, (data, headers)
    with UnitOfWork(engine) as uow:
        hold = hold_of_purchase(uow, pid)
        assert hold is not None and hold.captured_cents == 0  # nothing happened
    # A refusal of the action itself proves the CSRF gate let the genuine form through.
    refund = {**form, "action": "refund", "refund_ref": "R-1"}
    answer = await web.post("/operator/action", data=refund, headers=ORIGIN)
    assert answer.status_code == 409 and "allows capture, void now" in answer.text
    answer = await web.post(
        "/operator/action", data=refund, headers={"Referer": f"{MERCHANT}/operator?q=x"}
    )
    assert answer.status_code == 409


async def test_a_session_of_another_token_or_a_forged_cookie_is_no_session(web, engine) -> None:  # type: ignore[no-untyped-def]
    web.cookies.set(COOKIE, f"{int(datetime.now(UTC).timestamp()) + 3600}.{'0' * 64}")
    assert (await web.get("/operator")).status_code == 401
    posted = await web.post("/operator/action", data={"action": "void"}, headers=ORIGIN)
    assert posted.status_code == 401


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"action": "explode"}, 422, "The action must be one of"),
        ({"action": "void", "purchase_id": ""}, 422, "purchase id is missing"),
        ({"action": "void", "purchase_id": "a b<c>"}, 422, "purchase id is missing"),
        ({"action": "void", "amount": "10.00"}, 422, "goes with capture or refund"),
        ({"action": "capture", "amount": PAN}, 422, "looks like a card number"),
        ({"action": "refund", "refund_ref": PAN}, 422, "looks like a card number"),
        ({"action": "refund", "refund_ref": ""}, 422, "reference is required"),
        ({"action": "refund", "refund_ref": "R-1"}, 409, "allows capture, void now"),
        ({"action": "capture", "amount": "1.234"}, 422, "more decimals than ZAR allows"),
        ({"action": "capture", "amount": "1,000"}, 422, "no sign, no commas, no spaces"),
        ({"action": "capture", "amount": "1 000"}, 422, "no sign, no commas, no spaces"),
        ({"action": "capture", "amount": "1000000000"}, 422, "at most 9 digits before the point"),
        ({"action": "capture", "amount": "1.0000"}, 422, "more decimals than ZAR allows"),
        ({"action": "capture", "amount": "000000000001.00"}, 422, "without leading zeros"),
        ({"action": "void", "purchase_id": str(uuid.UUID(int=7))}, 404, "no such purchase"),
    ],
)
async def test_a_bad_action_form_is_a_clear_page_that_changes_nothing(
    web, engine, fields, status, says
) -> None:  # type: ignore[no-untyped-def]
    pid = seed_payment(engine, f"OP-BAD-{uuid.uuid4().hex[:6]}", kind=AttemptKind.PREAUTH)
    await sign_in(web)
    form = await page_form(web, f"/operator?q={pid}", action="capture")
    answer = await web.post("/operator/action", data={**form, **fields}, headers=ORIGIN)
    assert answer.status_code == status, answer.text
    assert says in answer.text and PAN not in answer.text
    assert 'data-outcome="error"' in answer.text
    with UnitOfWork(engine) as uow:
        hold = hold_of_purchase(uow, pid)
        assert hold is not None and hold.captured_cents == 0 and hold.status.value == "hold"


async def test_an_oversized_or_malformed_form_is_refused(web) -> None:  # type: ignore[no-untyped-def]
    await sign_in(web)
    big = await web.post("/operator/action", content=b"a=" + b"x" * 9000, headers=ORIGIN)
    assert big.status_code == 413
    ctype = {**ORIGIN, "Content-Type": "application/json"}
    assert (await web.post("/operator/action", content=b"{}", headers=ctype)).status_code == 400
    raw = {**ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
    bad = await web.post("/operator/holds/decision", content=b"\xff\xfe=\x00", headers=raw)
    assert bad.status_code == 400


# -- holds -----------------------------------------------------------------------------------


async def test_open_holds_are_listed_and_a_capture_decision_is_recorded_in_units(
    web, engine
) -> None:  # type: ignore[no-untyped-def]
    pid = seed_payment(engine, "OP-HOLD-1", kind=AttemptKind.PREAUTH, amount=50_000)
    seed_payment(engine, "OP-PAID-1")  # not a hold: not listed
    await sign_in(web, "/operator/holds")
    page = await web.get("/operator/holds")
    assert page.status_code == 200
    rows = re.findall(r'<form method="post" action="/operator/holds/decision"', page.text)
    assert len(rows) == 1 and pid in page.text and "R 500.00" in page.text

    form = await page_form(web, "/operator/holds", purchase_id=pid)
    done = await web.post(
        "/operator/holds/decision",
        data={**form, "decision": "capture", "amount": "300.00"},
        headers=ORIGIN,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/operator/holds?decided={pid}"
    after = await web.get(done.headers["location"])
    assert "Decision recorded for" in after.text and "capture R 300.00" in after.text
    with UnitOfWork(engine) as uow:
        hold = hold_of_purchase(uow, pid)
        assert hold is not None
        assert hold.decision.value == "capture" and hold.decision_cents == 30_000

    for fields, status, says in [
        ({"decision": "capture", "amount": "600.00"}, 422, "cannot capture"),
        ({"decision": "capture", "amount": "1.234"}, 422, "more decimals"),
        ({"decision": "capture", "amount": "1,000"}, 422, "no sign, no commas, no spaces"),
        ({"decision": "capture", "amount": "1 000"}, 422, "no sign, no commas, no spaces"),
        ({"decision": "capture", "amount": "-1.00"}, 422, "no sign"),
        ({"decision": "capture", "amount": "0.00"}, 422, "must be more than zero"),
        ({"decision": "capture", "amount": "1.0000"}, 422, "more decimals than ZAR allows"),
        ({"decision": "capture", "amount": "1000000000"}, 422, "at most 9 digits before the point"),
        ({"decision": "capture", "amount": "000000000001.00"}, 422, "without leading zeros"),
        ({"decision": "void", "amount": "1.00"}, 422, "capture only"),
        ({"decision": "shred"}, 422, "capture, void or none"),
        ({"decision": "void", "purchase_id": str(uuid.UUID(int=9))}, 404, "no hold for purchase"),
    ]:
        answer = await web.post("/operator/holds/decision", data={**form, **fields}, headers=ORIGIN)
        assert answer.status_code == status and says in answer.text, (fields, answer.text)
    voided = await web.post(
        "/operator/holds/decision", data={**form, "decision": "void"}, headers=ORIGIN
    )
    assert voided.status_code == 303
    with UnitOfWork(engine) as uow:
        hold = hold_of_purchase(uow, pid)
        assert hold is not None and hold.decision.value == "void"


BAD_AMOUNTS = [
    ("1 500", "no sign, no commas, no spaces"),
    ("1,500", "no sign, no commas, no spaces"),
    ("1.500,00", "no sign, no commas, no spaces"),
    ("4111 1111 1111", "no sign, no commas, no spaces"),  # 12 digits: never echoed
    ("411111111111", "too large: at most 9 digits before the point in ZAR"),
    ("00000411111.11", "write it without leading zeros"),
    ("1." + "0" * 30, "more decimals than ZAR allows"),
]


@pytest.mark.parametrize(("amount", "says"), BAD_AMOUNTS)
async def test_an_amount_outside_the_forms_rule_is_a_clear_page_that_never_echoes_it(
    web, engine, amount, says
) -> None:  # type: ignore[no-untyped-def]
    """The hold decision and the capture action hold an amount to the flows' forms' rule, and
    answer 422 with the reason: no 5xx, no traceback, the typed text nowhere on the page."""
    pid = seed_payment(engine, f"OP-AMT-{uuid.uuid4().hex[:6]}", kind=AttemptKind.PREAUTH)
    await sign_in(web)
    action = await page_form(web, f"/operator?q={pid}", action="capture")
    acted = await web.post(
        "/operator/action", data={**action, "action": "capture", "amount": amount}, headers=ORIGIN
    )
    decision = await page_form(web, "/operator/holds", purchase_id=pid)
    decided = await web.post(
        "/operator/holds/decision",
        data={**decision, "decision": "capture", "amount": amount},
        headers=ORIGIN,
    )
    for answer in (acted, decided):
        assert answer.status_code == 422, answer.text
        assert says in answer.text and 'role="alert"' in answer.text
        assert amount not in answer.text and "Traceback" not in answer.text
    with UnitOfWork(engine) as uow:
        hold = hold_of_purchase(uow, pid)
        assert hold is not None and hold.decision.value == "none" and hold.captured_cents == 0


async def test_another_sites_form_cannot_sign_the_operator_in(web) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: a page elsewhere posting the token form would give the operator's browser a
    session of the attacker's choosing; a sign-in must come from this app's own page."""
    for header in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}):
        answer = await web.post("/reports/login", data={"token": TOKEN}, headers=header)
        assert answer.status_code == 403 and COOKIE not in web.cookies
        assert "this site" in answer.text
    same = await web.post("/reports/login", data={"token": TOKEN}, headers={"Origin": MERCHANT})
    assert same.status_code == 303 and COOKIE in web.cookies
