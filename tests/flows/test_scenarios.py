"""Every scenario flow end to end: Prefect server, sandbox over loopback, a fresh ledger."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from flows import (
    OperationRejected,
    cancel_purchase,
    cancel_refund,
    capture_hold,
    complete_3ds,
    customer_initiated_payment,
    external_3ds_payment,
    mit_charge,
    network_token_payment,
    non_3ds_payment,
    preauthorize,
    recurring_preauth,
    refund,
    void_hold,
    zero_auth_validation,
)
from payflows.ledger import AttemptState
from payflows.sandbox import complete_challenge
from payflows.vault import default_vault
from tests.flows.support import Ledger, Sandbox, amount_text, card, run, shopper


def cit(order: str, card_name: str, amount: int = 29_900, **extra: object):
    return dict(
        order_id=order, amount=amount_text(amount), **shopper(order), **card(card_name), **extra
    )


def preauth(booking: str, amount: int = 450_000, card_name: str = "visa_approved"):
    return dict(
        booking_id=booking, amount=amount_text(amount), **shopper(booking), **card(card_name)
    )


async def paid(order: str) -> str:
    result = await run(customer_initiated_payment, cit(order, "visa_approved", 30_000))
    assert result.succeeded and result.purchase_id
    return result.purchase_id


# -- customer-initiated payment -------------------------------------------------------------------


async def test_cit_pays_and_keeps_the_card_token_and_network_transaction_id(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    result = await run(customer_initiated_payment, cit(key, "visa_approved"))

    assert result.state is AttemptState.SUCCEEDED and result.purchase_status == "paid"
    assert result.business_key == f"cit:{key}" and result.amount_cents == 29_900
    assert result.masked_pan == "411111******1111" and result.brand == "visa"
    assert result.recurring_token and result.network_transaction_id
    assert result.three_ds is None
    row = ledger.attempt(f"cit:{key}")
    assert row is not None and row["state"] == "succeeded"
    methods = ledger.rows(
        "SELECT * FROM payment_methods WHERE recurring_token = ?", result.recurring_token
    )
    assert methods[0]["network_transaction_id"] == result.network_transaction_id


async def test_cit_with_3ds_challenge_approved_by_the_shopper(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    result = await run(
        customer_initiated_payment, cit(key, "visa_3ds_challenge", auto_3ds="approve")
    )

    assert result.succeeded and result.purchase_status == "paid"
    assert ledger.rows("SELECT completed_at FROM three_ds_challenges")[0][0] is not None


async def test_cit_with_3ds_challenge_failed_by_the_shopper_is_declined(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    result = await run(customer_initiated_payment, cit(key, "visa_3ds_challenge", auto_3ds="fail"))

    assert result.state is AttemptState.DECLINED
    assert result.decline_code == "3ds_authentication_failed"
    assert (await sandbox.purchases(f"cit:{key}"))[0]["status"] == "error"


async def test_cit_waiting_for_3ds_hands_back_md_and_acs_url_then_the_termurl_finishes_it(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    waiting = await run(customer_initiated_payment, cit(key, "visa_3ds_challenge"))

    assert waiting.three_ds is not None and waiting.state is AttemptState.SUBMITTED
    assert "pareq" not in waiting.model_dump_json().lower()
    pareq = default_vault.pop_secret(f"pareq:{waiting.three_ds.md}")
    assert pareq, "the checkout page finds the PaReq in the vault"
    async with httpx.AsyncClient() as browser:
        pares = await complete_challenge(
            browser,
            waiting.three_ds.acs_url,
            waiting.three_ds.md,
            pareq,
            "http://merchant.test/3ds/return",
        )
    before = ledger.fingerprint()
    with pytest.raises(OperationRejected, match="3-D Secure answer refused"):
        await run(complete_3ds, dict(md=waiting.three_ds.md, pares="forged"))
    assert ledger.fingerprint() == before
    done = await run(complete_3ds, dict(md=waiting.three_ds.md, pares=pares))
    again = await run(complete_3ds, dict(md=waiting.three_ds.md, pares=pares))

    assert done.succeeded and done.purchase_id == waiting.purchase_id
    assert again.succeeded and again.purchase_id == done.purchase_id
    assert done.recurring_token and done.network_transaction_id


@pytest.mark.parametrize(
    ("card_name", "code", "soft"),
    [
        ("visa_insufficient_funds", "insufficient_funds", True),
        ("visa_do_not_honour", "do_not_honour", True),
        ("visa_expired_card", "expired_card", False),
        ("visa_stolen_card", "authorization_failed", False),
        ("visa_3ds_refused", "3ds_authentication_failed", False),
    ],
)
async def test_cit_declines_are_recorded_with_their_code(
    sandbox: Sandbox, ledger: Ledger, key: str, card_name: str, code: str, soft: bool
) -> None:
    result = await run(customer_initiated_payment, cit(key, card_name))

    assert result.state is AttemptState.DECLINED and result.decline_code == code
    assert result.decline_soft is soft and result.message and code in result.message
    assert ledger.attempt(f"cit:{key}")["state"] == "declined"  # type: ignore[index]
    assert result.recurring_token is None


async def test_cit_run_twice_pays_once(sandbox: Sandbox, ledger: Ledger, key: str) -> None:
    first = await run(customer_initiated_payment, cit(key, "visa_approved"))
    second = await run(customer_initiated_payment, cit(key, "visa_approved"))

    assert first.succeeded and second.succeeded and first.purchase_id == second.purchase_id
    purchases = await sandbox.purchases(f"cit:{key}")
    assert [p["status"] for p in purchases] == ["paid"]
    assert len(ledger.rows("SELECT * FROM payment_attempts")) == 1


# -- pre-authorisation, capture, void -------------------------------------------------------------


async def test_preauth_records_a_hold_with_its_deadline_then_partial_capture(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    held = await run(preauthorize, preauth(key))

    assert held.succeeded and held.purchase_status == "hold" and held.hold_expires_at
    assert ledger.rows("SELECT authorised_cents FROM holds")[0][0] == 450_000

    captured = await run(
        capture_hold, dict(purchase_id=held.purchase_id, amount=amount_text(400_000))
    )
    again = await run(capture_hold, dict(purchase_id=held.purchase_id, amount=amount_text(400_000)))

    assert captured.succeeded and captured.purchase_status == "paid"
    assert again.succeeded and again.business_key == captured.business_key
    remote = await sandbox.purchase(held.purchase_id)
    assert remote["status"] == "paid" and remote["refundable_amount"] == 400_000


async def test_preauth_with_3ds_challenge_completes_with_auto_3ds(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    params = {**preauth(key, card_name="visa_3ds_challenge"), **{"auto_3ds": "approve"}}
    held = await run(preauthorize, params)

    assert held.succeeded and held.purchase_status == "hold" and held.hold_expires_at


async def test_capture_above_the_hold_is_refused_and_changes_nothing(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    held = await run(preauthorize, preauth(key, 10_000))
    before = ledger.fingerprint()

    with pytest.raises(OperationRejected, match="not within the authorised 10000"):
        await run(capture_hold, dict(purchase_id=held.purchase_id, amount=amount_text(10_001)))

    assert ledger.fingerprint() == before
    assert (await sandbox.purchase(held.purchase_id))["status"] == "hold"


async def test_void_releases_the_hold(sandbox: Sandbox, ledger: Ledger, key: str) -> None:
    held = await run(preauthorize, preauth(key))

    voided = await run(void_hold, dict(purchase_id=held.purchase_id))

    assert voided.succeeded and voided.purchase_status == "released"
    assert (await sandbox.purchase(held.purchase_id))["status"] == "released"


# -- stored cards: zero-auth, recurring pre-auth, MIT ---------------------------------------------


async def zero_auth(key: str, card_name: str = "visa_approved"):
    result = await run(
        zero_auth_validation,
        dict(reference=key, **shopper(key), **card(card_name), auto_3ds="approve"),
    )
    assert result.succeeded and result.recurring_token, result
    return result


async def test_zero_auth_validates_and_stores_the_card(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    result = await zero_auth(key)

    assert result.amount_cents == 0 and result.network_transaction_id
    methods = ledger.rows("SELECT masked_pan, brand FROM payment_methods")
    assert [tuple(m) for m in methods] == [("411111******1111", "visa")]


async def test_recurring_preauth_on_the_stored_card_without_cvc(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    stored = await zero_auth(key, "guide_visa_3ds")

    held = await run(
        recurring_preauth,
        dict(
            booking_id=key,
            amount=amount_text(500_000),
            customer_id=shopper(key)["email"],
            recurring_token=stored.recurring_token,
            **card("guide_visa_3ds"),
        ),
    )

    assert held.succeeded and held.purchase_status == "hold" and held.hold_expires_at
    remote = await sandbox.purchase(held.purchase_id)
    assert remote["purchase"]["payment_method_details"]["card"]["is_recurring"] is True


def mit(key: str, token: str, period: str = "2026-03", amount: int = 9_900) -> dict[str, Any]:
    return dict(
        subscription_id=f"sub-{key}",
        period=period,
        amount=amount_text(amount),
        customer_id=shopper(key)["email"],
        recurring_token=token,
    )


async def test_mit_charge_pays_once_per_subscription_period(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    token = (await zero_auth(key)).recurring_token
    assert token

    first = await run(mit_charge, mit(key, token))
    again = await run(mit_charge, mit(key, token))
    april = await run(mit_charge, mit(key, token, "2026-04"))

    assert first.succeeded and first.business_key == f"mit:sub-{key}:2026-03"
    assert again.purchase_id == first.purchase_id
    assert april.succeeded and april.purchase_id != first.purchase_id
    assert [p["status"] for p in await sandbox.purchases(f"mit:sub-{key}:2026-03")] == ["paid"]


async def test_mit_decline_is_recorded(sandbox: Sandbox, ledger: Ledger, key: str) -> None:
    token = (await zero_auth(key, "visa_mit_insufficient_funds")).recurring_token
    assert token

    result = await run(mit_charge, mit(key, token))

    assert result.state is AttemptState.DECLINED and result.decline_code == "insufficient_funds"


async def test_mit_on_someone_elses_token_is_refused(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    token = (await zero_auth(key)).recurring_token
    assert token
    before = ledger.fingerprint()

    with pytest.raises(OperationRejected, match="has no stored card"):
        await run(mit_charge, {**mit(key, token), **{"customer_id": "someone-else"}})
    assert ledger.fingerprint() == before


# -- own MPI, network token, non-3DS --------------------------------------------------------------


async def test_external_3ds_payment_carries_the_mpi_values(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    result = await run(
        external_3ds_payment,
        dict(
            order_id=key,
            amount=amount_text(25_000),
            **shopper(key),
            **card("guide_visa_3ds"),
            cavv="AAABBBCCCdddEEEfff111222333=",
            xid="MDAwMDAwMDAwMDAwMDAwMzIyNzY=",
            eci_raw="05",
            authentication_transaction_id="3ds-tx-1",
        ),
    )

    assert result.succeeded and result.purchase_status == "paid"
    flags = (await sandbox.purchase(result.purchase_id))["purchase"]["payment_method_details"]
    assert flags["card"]["is_external_3DS"] is True and flags["card"]["eci_raw"] == "05"


async def test_network_token_payment(sandbox: Sandbox, ledger: Ledger, key: str) -> None:
    result = await run(
        network_token_payment,
        dict(
            order_id=key,
            amount=amount_text(25_000),
            **shopper(key),
            sandbox_token=True,
            token_requestor_id="50110030273",
        ),
    )

    assert result.succeeded and result.masked_pan == "489537******1234"


async def test_non_3ds_payment_is_approved_where_the_brand_allows_it(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    result = await run(
        non_3ds_payment,
        dict(order_id=key, amount=amount_text(5_000), **shopper(key), **card("visa_3ds_challenge")),
    )

    assert result.succeeded and result.three_ds is None


async def test_non_3ds_payment_is_refused_with_a_clear_message_otherwise(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    await sandbox.configure(allow_non_3ds=False)
    try:
        result = await run(
            non_3ds_payment,
            dict(order_id=key, amount=amount_text(5_000), **shopper(key), **card("visa_approved")),
        )
    finally:
        await sandbox.configure(allow_non_3ds=True)

    assert result.state is AttemptState.DECLINED and result.decline_code == "s2s_not_supported"
    assert result.message and "not approved for non-3DS" in result.message


# -- cancel, refund, refund cancel ----------------------------------------------------------------


async def test_cancel_before_settlement(sandbox: Sandbox, ledger: Ledger, key: str) -> None:
    purchase_id = await paid(key)

    result = await run(cancel_purchase, dict(purchase_id=purchase_id))

    assert result.succeeded and result.purchase_status == "cancelled"


async def test_cancel_after_settlement_is_refused_and_changes_nothing(
    sandbox: Sandbox, fresh_sandbox_url, flow_env, ledger: Ledger, key: str
) -> None:
    with fresh_sandbox_url() as base_url:
        flow_env(base_url)
        control = Sandbox(
            httpx.AsyncClient(
                base_url=base_url.removesuffix("/api/v1/"), headers=sandbox.http.headers
            ),
            base_url,
        )
        async with control.http:
            purchase_id = await paid(key)
            await control.advance(3 * 24 * 3600)
            before = ledger.fingerprint()

            with pytest.raises(OperationRejected, match="settled; refund it instead"):
                await run(cancel_purchase, dict(purchase_id=purchase_id))

            assert ledger.fingerprint() == before
            remote = await control.purchase(purchase_id)
            # The platform keeps a settled purchase "paid", with its settlement date.
            assert remote["status"] == "paid"
            assert remote["transaction_data"]["extra"]["settlement"]["settled_on"]


async def test_partial_refunds_up_to_the_refundable_amount(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    purchase_id = await paid(key)

    first = await run(
        refund, dict(purchase_id=purchase_id, refund_ref="R1", amount=amount_text(15_000))
    )
    again = await run(
        refund, dict(purchase_id=purchase_id, refund_ref="R1", amount=amount_text(15_000))
    )
    before = ledger.fingerprint()
    with pytest.raises(OperationRejected, match="more than the refundable 15000"):
        await run(
            refund, dict(purchase_id=purchase_id, refund_ref="R2", amount=amount_text(15_001))
        )
    after_refused = ledger.fingerprint()
    rest = await run(refund, dict(purchase_id=purchase_id, refund_ref="R3"))

    assert first.succeeded and first.refund_id and first.business_key.endswith(":R1")
    assert again.state is AttemptState.SUCCEEDED
    assert before == after_refused
    assert rest.succeeded and rest.amount_cents == 15_000
    remote = await sandbox.purchase(purchase_id)
    assert (
        remote["refundable_amount"] == 0
        and len((await sandbox.purchases(f"cit:{key}"))[0]["refunds"]) == 2
    )
    assert [r[0] for r in ledger.rows("SELECT amount_cents FROM refunds ORDER BY id")] == [
        15_000,
        15_000,
    ]


async def test_refund_cancel_before_settlement(sandbox: Sandbox, ledger: Ledger, key: str) -> None:
    purchase_id = await paid(key)
    refunded = await run(
        refund, dict(purchase_id=purchase_id, refund_ref="R1", amount=amount_text(10_000))
    )
    assert refunded.refund_id

    cancelled = await run(
        cancel_refund, dict(purchase_id=purchase_id, refund_id=refunded.refund_id)
    )

    assert cancelled.succeeded and cancelled.refund_id == refunded.refund_id
    assert ledger.rows("SELECT status FROM refunds")[0][0] == "cancelled"
    assert (await sandbox.purchase(purchase_id))["refundable_amount"] == 30_000


# -- the sandbox conveniences stay in the sandbox -------------------------------------------------


async def test_sandbox_cards_and_auto_3ds_are_refused_against_a_real_gateway(
    flow_env, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("PRECIUM_BASE_URL", "https://gate.example.invalid/api/v1/")
    monkeypatch.setenv("PRECIUM_API_KEY", "live-key")
    monkeypatch.setenv("PRECIUM_S2S_API_KEY", "live-s2s-key")
    before = ledger.fingerprint()

    with pytest.raises(OperationRejected, match="only accepted against the local sandbox"):
        await run(customer_initiated_payment, cit(key, "visa_approved"))
    assert ledger.fingerprint() == before


async def test_an_amount_typed_in_another_currency_than_the_purchase_is_refused(
    sandbox: Sandbox, ledger: Ledger, key: str
) -> None:
    """The form's amount is text in its currency; in another one its cents mean another sum.

    ``"50"`` JPY is 50 minor units, R 0.50 on a ZAR hold; ``"1.000"`` BHD is 1000, R 10.00.
    """
    held = await run(preauthorize, preauth(key, 10_000))
    purchase_id = await paid(f"{key}-paid")
    before = ledger.fingerprint()

    with pytest.raises(OperationRejected, match=r"JPY.*ZAR"):
        await run(capture_hold, dict(purchase_id=held.purchase_id, amount="50", currency="JPY"))
    with pytest.raises(OperationRejected, match=r"BHD.*ZAR"):
        await run(
            refund, dict(purchase_id=purchase_id, refund_ref="R1", amount="1.000", currency="BHD")
        )

    assert ledger.fingerprint() == before
    assert (await sandbox.purchase(held.purchase_id))["status"] == "hold"
    assert (await sandbox.purchase(purchase_id))["refundable_amount"] == 30_000
