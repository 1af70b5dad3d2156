"""The sandbox's 3-D Secure: the ACS page, the PaRes, the merchant's callback."""

from __future__ import annotations

import base64
import json

from payflows.sandbox import complete_challenge
from tests.unit.sandbox.conftest import (
    FINGERPRINT,
    Gateway,
    assert_history_follows_table,
    card_body,
)


async def challenged(gw: Gateway, **fields: object) -> tuple[dict, dict]:
    purchase = await gw.purchase(**fields)
    answer = await gw.submit(purchase, card_body("4000000000000002", **FINGERPRINT))
    body = answer.json()
    assert body["status"] == "3DS_required"
    return purchase, body


async def test_the_acs_page_shows_merchant_amount_and_masked_pan(gw: Gateway) -> None:
    _, answer = await challenged(gw)
    form = {"MD": answer["MD"], "PaReq": answer["PaReq"], "TermUrl": 'https://shop/"><script>'}
    page = await gw.http.post(answer["URL"], data=form)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "R 299.00" in text and "400000******0002" in text and "sandbox merchant" in text
    assert "4000000000000002" not in text
    assert 'value="approve"' in text and 'value="fail"' in text
    assert "<script>" not in text.replace("<script>document", "")  # TermUrl is escaped
    assert "&quot;&gt;&lt;script&gt;" in text
    get = await gw.http.get(answer["URL"])
    assert get.status_code == 200 and "400000******0002" in get.text
    assert (await gw.http.get("/acs/nope/")).status_code == 404


async def test_approve_pays_and_the_answer_form_posts_to_term_url(gw: Gateway) -> None:
    purchase, answer = await challenged(gw)
    form = {"MD": answer["MD"], "PaReq": answer["PaReq"], "TermUrl": "https://shop/3ds"}
    page = await gw.http.post(answer["URL"], data={**form, "decision": "approve"})
    assert 'action="https://shop/3ds"' in page.text and 'name="PaRes"' in page.text
    assert ".submit()" in page.text
    final = await gw.challenge(answer)
    assert final.status_code == 200 and final.json()["status"] == "paid"
    after = await gw.get(purchase["id"])
    assert [h["status"] for h in after["status_history"]] == ["created", "pending_execute", "paid"]


async def test_fail_declines_with_3ds_authentication_failed(gw: Gateway) -> None:
    purchase, answer = await challenged(gw)
    final = await gw.challenge(answer, approve=False)
    assert final.status_code == 400
    assert final.json()["error"]["code"] == "3ds_authentication_failed"
    after = await gw.get(purchase["id"])
    assert after["status"] == "error"
    assert after["transaction_data"]["attempts"][0]["error"]["code"] == "3ds_authentication_failed"
    assert_history_follows_table(after)


async def test_a_repeated_callback_answers_the_same_and_charges_once(gw: Gateway) -> None:
    purchase, answer = await challenged(gw)
    pares = await complete_challenge(
        gw.http, answer["URL"], answer["MD"], answer["PaReq"], "https://shop/3ds"
    )
    form = {"MD": answer["MD"], "PaRes": pares}
    first = await gw.http.post(answer["callback_url"], data=form)
    second = await gw.http.post(answer["callback_url"], data=form)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    after = await gw.get(purchase["id"])
    assert len(after["transaction_data"]["attempts"]) == 1
    assert [h["status"] for h in after["status_history"]].count("paid") == 1


async def test_a_forged_pares_is_refused_and_changes_nothing(gw: Gateway) -> None:
    purchase, answer = await challenged(gw)
    pares = await complete_challenge(
        gw.http, answer["URL"], answer["MD"], answer["PaReq"], "https://shop/3ds", approve=False
    )
    payload, _, signature = pares.partition(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["d"] = "Y"
    forged_payload = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    for forged in (f"{forged_payload}.{signature}", "garbage", ""):
        response = await gw.http.post(
            answer["callback_url"], data={"MD": answer["MD"], "PaRes": forged}
        )
        assert response.status_code == 400
        assert "PaRes" in response.json()
    assert (await gw.get(purchase["id"]))["status"] == "pending_execute"

    _, other = await challenged(gw)
    response = await gw.http.post(other["callback_url"], data={"MD": other["MD"], "PaRes": pares})
    assert response.status_code == 400  # a PaRes is bound to its MD
    response = await gw.http.post(answer["callback_url"], data={"MD": other["MD"], "PaRes": pares})
    assert response.status_code == 400 and "MD" in response.json()
    assert (await gw.http.post("/3ds/callback/nope/", data={"PaRes": "x"})).status_code == 404


async def test_zero_auth_and_holds_can_be_challenged_too(gw: Gateway) -> None:
    _, answer = await challenged(gw, skip_capture=True)
    assert (await gw.challenge(answer)).json()["status"] == "hold"
    _, answer = await challenged(gw, price=0)
    assert (await gw.challenge(answer)).json()["status"] == "preauthorized"


async def test_an_abandoned_challenge_fails_after_thirty_minutes(gw: Gateway) -> None:
    purchase, answer = await challenged(gw)
    await gw.advance(29 * 60)
    assert (await gw.get(purchase["id"]))["status"] == "pending_execute"
    await gw.advance(2 * 60)
    after = await gw.get(purchase["id"])
    assert after["status"] == "error" and after["direct_post_url"]
    assert after["transaction_data"]["attempts"][0]["error"]["code"] == "3ds_authentication_failed"
    late = await gw.challenge(answer)  # the shopper comes back: the answer is the failure
    assert late.status_code == 400
    assert_history_follows_table(await gw.get(purchase["id"]))
