"""No key and no card data in a repr, an error, its chain, its traceback's frames, or a log."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from payflows.domain import BrowserFingerprint, CardData
from payflows.gateway import PreciumClient, PreciumError, ValidationError

from .payloads import API_KEY, BASE_URL, BRAND_ID, CVC, PAN, S2S_KEY, Recorder, s2s_decline

# No "123" in this id, so that the CVC can be searched for as a plain string.
DIRECT_POST_URL = "https://gate.test/p/pur_xyz/"
SECRETS = (PAN, CVC, "12/30", API_KEY, S2S_KEY)


def card() -> CardData:
    return CardData(PAN, "12/30", CVC, "John Smith")


def everything_said_by(exc: BaseException) -> Iterator[str]:
    """str/repr of the error, its attributes, every error it chains to, and every frame local."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield str(e)
        yield repr(e)
        yield repr(e.args)
        yield repr(getattr(e, "__dict__", {}))
        if isinstance(e, httpx.HTTPError):
            with pytest.raises(RuntimeError):
                _ = e.request  # translated: the request (body, headers) is not carried
        tb = e.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                if isinstance(value, Recorder):
                    continue  # the fake gateway: it received the card, as Precium would
                yield repr(value)
                if isinstance(value, httpx.Request):
                    yield value.content.decode(errors="replace")
                    yield repr(dict(value.headers))
                if isinstance(value, httpx.Response):
                    yield value.request.content.decode(errors="replace")
            tb = tb.tb_next
        stack.extend([e.__cause__, e.__context__])


_ADDRESS = re.compile(r"0x[0-9a-f]+")


def assert_clean(texts: Iterator[str] | list[str]) -> None:
    for text in texts:
        text = _ADDRESS.sub("0x?", text)  # an object's memory address may contain "123"
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked in {text[:200]!r}"


FAILURES = [
    pytest.param(lambda r: r.fail(httpx.ReadTimeout("timed out")), id="read-timeout"),
    pytest.param(lambda r: r.fail(httpx.WriteTimeout("timed out")), id="write-timeout"),
    pytest.param(lambda r: r.fail(httpx.ConnectError("refused")), id="connect-error"),
    pytest.param(lambda r: r.fail(httpx.PoolTimeout("timed out")), id="pool-timeout"),
    pytest.param(lambda r: r.fail(httpx.ReadError("reset")), id="read-error"),
    pytest.param(lambda r: r.fail(httpx.RemoteProtocolError("disconnected")), id="dropped"),
    pytest.param(lambda r: r.reply(400, s2s_decline("insufficient_funds", "51")), id="decline"),
    pytest.param(lambda r: r.reply(400, {"cvc": ["Invalid"]}), id="validation"),
    pytest.param(
        lambda r: r.reply(400, {"__all__": [{"code": "purchase_charge_error"}]}), id="state"
    ),
    pytest.param(lambda r: r.reply(401, {"detail": "Invalid API key"}), id="401"),
    pytest.param(lambda r: r.reply(404, {"detail": "No such object"}), id="404"),
    pytest.param(lambda r: r.reply(405, {"detail": "Method not allowed"}), id="405"),
    pytest.param(lambda r: r.reply(429, {}, headers={"Retry-After": "1"}), id="429"),
    pytest.param(lambda r: r.reply(503, {"detail": "down"}), id="503"),
    pytest.param(lambda r: r.reply(200, content=b"not json"), id="unreadable"),
    pytest.param(lambda r: r.reply(200, {"status": "weird"}), id="wrong-shape"),
]


@pytest.mark.parametrize("arrange", FAILURES)
async def test_a_failed_card_submission_carries_no_card_data_and_no_key(
    gateway, recorder, arrange, caplog
):
    arrange(recorder)
    with caplog.at_level(logging.DEBUG), pytest.raises(PreciumError) as info:
        await gateway.submit_card(
            DIRECT_POST_URL, card(), remote_ip="8.8.8.8", browser=BrowserFingerprint()
        )
    assert PAN in recorder.last.content.decode()  # it was sent...
    assert_clean(everything_said_by(info.value))  # ...and nothing kept it
    assert_clean([caplog.text])


async def test_a_transport_error_is_raised_without_httpxs_original_in_the_chain(gateway, recorder):
    recorder.fail(httpx.ReadTimeout("timed out"))
    with pytest.raises(PreciumError) as info:
        await gateway.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8")
    cause = info.value.__cause__
    assert isinstance(cause, httpx.ReadTimeout)
    assert cause.__context__ is None and cause.__cause__ is None
    assert info.value.__context__ is None


async def test_a_pan_echoed_by_the_gateway_is_masked_in_the_error(gateway, recorder):
    recorder.reply(
        400, {"card_number": [{"message": f"Card {PAN} is not accepted", "code": "invalid"}]}
    )
    with pytest.raises(ValidationError) as info:
        await gateway.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8")
    assert "411111******1111" in str(info.value)
    assert_clean(everything_said_by(info.value))


async def test_successful_calls_log_method_path_and_status_only(gateway, recorder, caplog):
    recorder.reply(200, {"status": "executed", "id": "pur_xyz"})
    with caplog.at_level(logging.DEBUG):
        await gateway.submit_card(DIRECT_POST_URL, card(), remote_ip="8.8.8.8")
    assert "POST /p/pur_xyz/ -> 200" in caplog.text
    assert_clean([caplog.text])


async def test_the_client_repr_shows_no_key(recorder):
    client = PreciumClient(
        BASE_URL, API_KEY, S2S_KEY, BRAND_ID, transport=httpx.MockTransport(recorder)
    )
    try:
        assert_clean([repr(client), str(client), repr(vars(client))])
        assert BRAND_ID in repr(client)
    finally:
        await client.aclose()
