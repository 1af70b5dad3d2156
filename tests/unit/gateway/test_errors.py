"""Each way a call can fail maps to one kind of error, with retry_safe and outcome_known right."""

from __future__ import annotations

import pickle

import httpx
import pytest

from payflows.domain import CardData
from payflows.gateway import (
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

from .payloads import (
    CVC,
    PAN,
    PURCHASE_ID,
    THREE_DS_SUCCESS,
    Recorder,
    charge_decline,
    chip_purchase,
    declined_purchase,
    s2s_decline,
)

DIRECT_POST_URL = f"https://gate.test/p/{PURCHASE_ID}/"


def card() -> CardData:
    return CardData(PAN, "12/30", CVC, "John Smith")


def assert_kind(exc: PreciumError, *, retry_safe: bool, outcome_known: bool) -> None:
    assert (exc.retry_safe, exc.outcome_known) == (retry_safe, outcome_known)


# -- 4xx: the gateway answered and changed nothing --------------------------------------------


async def test_400_field_errors_are_listed_by_field(gateway, recorder: Recorder):
    recorder.reply(
        400,
        {
            "amount": [{"message": "Capture amount exceeds authorised amount", "code": "invalid"}],
            "__all__": [{"message": "Check the request", "code": "invalid"}],
        },
    )
    with pytest.raises(ValidationError) as info:
        await gateway.capture(PURCHASE_ID, 999999)

    exc = info.value
    assert type(exc) is ValidationError
    assert exc.fields == {
        "amount": ["Capture amount exceeds authorised amount"],
        "__all__": ["Check the request"],
    }
    assert "amount: Capture amount exceeds authorised amount" in str(exc)
    assert (exc.status_code, exc.code, exc.method) == (400, "invalid", "POST")
    assert exc.path == f"/api/v1/purchases/{PURCHASE_ID}/capture/"
    assert_kind(exc, retry_safe=False, outcome_known=True)


async def test_plain_string_field_errors_are_tolerated(gateway, recorder):
    recorder.reply(400, {"email": ["This field is required."]})
    with pytest.raises(ValidationError) as info:
        await gateway.get_client("c1")
    assert info.value.fields == {"email": ["This field is required."]}
    assert info.value.code is None


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda g: g.capture(PURCHASE_ID), "purchase_capture_error"),
        (lambda g: g.release(PURCHASE_ID), "purchase_release_error"),
        (lambda g: g.refund(PURCHASE_ID, 100), "purchase_refund_error"),
        (lambda g: g.cancel_refund(PURCHASE_ID, "r1"), "refund_cancel_error"),
        (lambda g: g.charge(PURCHASE_ID, "tok"), "invalid_recurring_token"),
        (lambda g: g.charge(PURCHASE_ID, "tok"), "purchase_charge_error"),
    ],
)
async def test_state_codes_are_invalid_state_errors(gateway, recorder, call, code):
    recorder.reply(400, {"__all__": [{"message": "Not allowed in this status", "code": code}]})
    with pytest.raises(InvalidStateError) as info:
        await call(gateway)
    assert info.value.code == code
    assert isinstance(info.value, ValidationError | RequestRejected)
    assert not isinstance(info.value, CardDeclinedError)
    assert_kind(info.value, retry_safe=False, outcome_known=True)


@pytest.mark.parametrize(
    ("body", "code", "soft"),
    [
        (charge_decline("insufficient_funds", "51"), "insufficient_funds", True),
        (charge_decline("do_not_honour", "05"), "do_not_honour", True),
        (charge_decline("authorization_failed", "R1"), "authorization_failed", False),
        (charge_decline("expired_card", "54"), "expired_card", False),
        (charge_decline("do_not_honour", "05", advice_code="21"), "do_not_honour", False),
        (charge_decline("insufficient_funds", "51", advice_code="24"), "insufficient_funds", True),
    ],
)
async def test_a_charge_decline_is_card_declined_with_its_code(gateway, recorder, body, code, soft):
    recorder.reply(400, body)
    with pytest.raises(CardDeclinedError) as info:
        await gateway.charge(PURCHASE_ID, "tok")

    exc = info.value
    assert (exc.code, exc.decline.code, exc.purchase_id) == (code, code, PURCHASE_ID)
    assert (exc.soft, exc.hard) == (soft, not soft)
    assert exc.decline.network_code == body["__all__"][1]["network_code"]
    assert exc.status_code == 400
    assert isinstance(exc, RequestRejected)
    assert_kind(exc, retry_safe=False, outcome_known=True)
    assert code in str(exc) and ("soft" if soft else "hard") in str(exc)


async def test_a_charge_answered_with_a_failed_purchase_is_a_decline_too(gateway, recorder):
    recorder.reply(200, declined_purchase("insufficient_funds", "51"))
    with pytest.raises(CardDeclinedError) as info:
        await gateway.charge(PURCHASE_ID, "tok")
    assert info.value.decline.code == "insufficient_funds"  # the newest attempt, not the older
    assert info.value.soft


@pytest.mark.parametrize(
    ("body", "soft"),
    [
        (s2s_decline("insufficient_funds", "51"), True),
        (s2s_decline("authorization_failed", "43"), False),
        (s2s_decline("validation_cvc_invalid"), False),
        (s2s_decline("3ds_authentication_failed"), False),
    ],
)
async def test_an_s2s_error_answer_is_card_declined(gateway, recorder, body, soft):
    recorder.reply(400, body)
    with pytest.raises(CardDeclinedError) as info:
        await gateway.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8")
    assert info.value.decline.code == body["error"]["code"]
    assert info.value.soft is soft
    assert info.value.purchase_id == PURCHASE_ID


async def test_an_s2s_error_with_status_200_is_still_a_decline(gateway, recorder):
    recorder.reply(200, s2s_decline("do_not_honour", "05"))
    with pytest.raises(CardDeclinedError):
        await gateway.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8")


async def test_a_failed_3ds_callback_is_card_declined(gateway, recorder):
    recorder.reply(400, s2s_decline("3ds_authentication_failed"))
    with pytest.raises(CardDeclinedError) as info:
        await gateway.complete_3ds("https://gate.test/3ds/callback/md1/", "md1", "pares")
    assert info.value.hard


async def test_s2s_field_errors_are_validation_errors_not_declines(gateway, recorder):
    recorder.reply(400, {"remote_ip": [{"message": "Enter a valid IP", "code": "invalid"}]})
    with pytest.raises(ValidationError) as info:
        await gateway.submit_card(DIRECT_POST_URL, card(), remote_ip="nope")
    assert not isinstance(info.value, CardDeclinedError)
    assert info.value.fields == {"remote_ip": ["Enter a valid IP"]}


@pytest.mark.parametrize("status", [401, 403])
async def test_a_bad_key_is_an_authentication_error(gateway, recorder, status):
    recorder.reply(status, {"detail": "Invalid API key"})
    with pytest.raises(AuthenticationError) as info:
        await gateway.get_purchase(PURCHASE_ID)
    assert info.value.status_code == status
    assert "Invalid API key" in str(info.value)
    assert_kind(info.value, retry_safe=False, outcome_known=True)


async def test_404_is_not_found(gateway, recorder):
    recorder.reply(404, {"detail": "No such object"})
    with pytest.raises(NotFoundError) as info:
        await gateway.get_purchase("missing")
    assert "No such object" in str(info.value)
    assert info.value.path == "/api/v1/purchases/missing/"


async def test_another_4xx_is_a_plain_rejection(gateway, recorder):
    recorder.reply(405, {"detail": "Method not allowed"})
    with pytest.raises(RequestRejected) as info:
        await gateway.get_purchase(PURCHASE_ID)
    assert type(info.value) is RequestRejected
    assert_kind(info.value, retry_safe=False, outcome_known=True)


# -- 429 and 5xx -------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("0.5", 0.5), (None, None)])
async def test_429_is_rate_limited_with_retry_after(gateway, recorder, header, expected):
    recorder.reply(429, {"detail": "slow down"}, headers={"Retry-After": header} if header else {})
    with pytest.raises(RateLimitedError) as info:
        await gateway.charge(PURCHASE_ID, "tok")
    assert info.value.retry_after == expected
    assert_kind(info.value, retry_safe=True, outcome_known=True)


async def test_retry_after_as_an_http_date(gateway, recorder):
    recorder.reply(429, None, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(RateLimitedError) as info:
        await gateway.get_purchase(PURCHASE_ID)
    assert info.value.retry_after == 0.0  # in the past: go now


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_on_a_read_is_gateway_unavailable(gateway, recorder, status):
    recorder.reply(status, {"detail": "Service unavailable"})
    with pytest.raises(GatewayUnavailableError) as info:
        await gateway.get_purchase(PURCHASE_ID)
    assert info.value.status_code == status
    assert_kind(info.value, retry_safe=True, outcome_known=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.charge(PURCHASE_ID, "tok"),
        lambda g: g.capture(PURCHASE_ID),
        lambda g: g.refund(PURCHASE_ID),
        lambda g: g.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8"),
    ],
)
async def test_5xx_on_a_write_is_outcome_unknown(gateway, recorder, call):
    recorder.reply(503, {"detail": "Service unavailable"})
    with pytest.raises(OutcomeUnknownError) as info:
        await call(gateway)
    exc = info.value
    assert exc.status_code == 503
    assert exc.purchase_id == PURCHASE_ID
    assert f"reading purchase {PURCHASE_ID} back" in str(exc)
    assert_kind(exc, retry_safe=False, outcome_known=False)


# -- transport failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_lost_answer_to_a_write_is_outcome_unknown(gateway, recorder, failure):
    recorder.fail(failure)
    with pytest.raises(OutcomeUnknownError) as info:
        await gateway.charge(PURCHASE_ID, "tok")
    exc = info.value
    assert exc.purchase_id == PURCHASE_ID
    assert exc.status_code is None
    assert type(exc.__cause__) is type(failure)
    assert type(failure).__name__ in str(exc)
    assert_kind(exc, retry_safe=False, outcome_known=False)


async def test_a_lost_answer_to_the_3ds_callback_is_outcome_unknown(gateway, recorder):
    recorder.fail(httpx.ReadTimeout("timed out"))
    with pytest.raises(OutcomeUnknownError) as info:
        await gateway.complete_3ds("https://gate.test/3ds/callback/md1/", "md1", "pares")
    assert info.value.purchase_id is None
    assert "reading the purchase back" in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected")],
    ids=lambda e: type(e).__name__,
)
async def test_a_lost_answer_to_a_read_is_gateway_unavailable(gateway, recorder, failure):
    recorder.fail(failure)
    with pytest.raises(GatewayUnavailableError) as info:
        await gateway.get_purchase(PURCHASE_ID)
    assert_kind(info.value, retry_safe=True, outcome_known=True)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectTimeout("timed out"),
        httpx.PoolTimeout("timed out"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_request_that_never_left_is_gateway_unavailable(gateway, recorder, failure):
    recorder.fail(failure)
    with pytest.raises(GatewayUnavailableError) as info:
        await gateway.charge(PURCHASE_ID, "tok")
    assert type(info.value.__cause__) is type(failure)
    assert_kind(info.value, retry_safe=True, outcome_known=True)


# -- answers we cannot read --------------------------------------------------------------------


async def test_an_unreadable_answer_to_a_write_is_outcome_unknown(gateway, recorder):
    recorder.reply(200, content=b"<html>proxy error</html>")
    with pytest.raises(OutcomeUnknownError) as info:
        await gateway.charge(PURCHASE_ID, "tok")
    assert "not JSON" in str(info.value)


async def test_an_answer_of_the_wrong_shape_to_a_write_is_outcome_unknown(gateway, recorder):
    recorder.reply(200, {"id": PURCHASE_ID, "status": "teleported"})
    with pytest.raises(OutcomeUnknownError) as info:
        await gateway.capture(PURCHASE_ID)
    assert "status" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


async def test_an_unreadable_answer_to_a_read_is_gateway_unavailable(gateway, recorder):
    recorder.reply(200, {"no": "id"})
    with pytest.raises(GatewayUnavailableError):
        await gateway.get_purchase(PURCHASE_ID)


async def test_every_error_is_a_precium_error(gateway, recorder):
    recorder.reply(418, None).fail(httpx.ConnectError("refused")).reply(200, THREE_DS_SUCCESS)
    for call in (gateway.get_purchase("x"), gateway.get_purchase("x")):
        with pytest.raises(PreciumError):
            await call
    assert (await gateway.complete_3ds("https://gate.test/3ds/callback/m/", "m", "p")).status


async def test_a_successful_charge_is_returned(gateway, recorder):
    recorder.reply(200, chip_purchase(status="pending_charge", payment=None))
    purchase = await gateway.charge(PURCHASE_ID, "tok")
    assert purchase.status == "pending_charge"


@pytest.mark.parametrize(
    "arrange",
    [
        lambda r: r.reply(400, charge_decline("insufficient_funds", "51")),
        lambda r: r.reply(
            400, {"amount": [{"message": "Too much", "code": "purchase_capture_error"}]}
        ),
        lambda r: r.reply(429, {}, headers={"Retry-After": "3"}),
        lambda r: r.reply(503, {}),
        lambda r: r.fail(httpx.ReadTimeout("timed out")),
    ],
)
async def test_errors_survive_pickling_as_prefect_stores_them(gateway, recorder, arrange):
    arrange(recorder)
    with pytest.raises(PreciumError) as info:
        await gateway.charge(PURCHASE_ID, "tok")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is type(info.value)
    assert (str(copy), copy.status_code, copy.code, copy.path) == (
        str(info.value),
        info.value.status_code,
        info.value.code,
        info.value.path,
    )
    assert (copy.retry_safe, copy.outcome_known) == (
        info.value.retry_safe,
        info.value.outcome_known,
    )
    assert vars(copy).keys() == vars(info.value).keys()
