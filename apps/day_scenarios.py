"""The business day's second step: every S2S scenario of the guide, each as its Prefect flow.

Each line the day prints (title, amount, card, status) comes from the flow's result; a declined
payment is a line like the others (its run is Failed in the Prefect UI, named after the code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payflows.domain.money import format_amount

__all__ = ["DayTally", "run_scenarios", "say"]


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass
class DayTally:
    """What the day did, for the closing summary."""

    scenarios: list[tuple[str, str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _card(name: str) -> Any:
    from flows import CardInput, SandboxCard

    return CardInput(sandbox_card=SandboxCard(name), cardholder_name="Thandi Nkosi")


def _shopper(run: str, tag: str) -> Any:
    from flows import Shopper

    return Shopper(
        email=f"{tag}@example.co.za", customer_id=f"walk-in-{tag}-{run}", full_name="Thandi Nkosi"
    )


async def _run(flow: Any, params: Any) -> Any:
    """Run one scenario flow in this process; its result, whether paid, declined or waiting."""
    from flows import result_of_run
    from flows._tags import run_tags

    with run_tags(flow.name):
        return await result_of_run(flow(params, return_state=True))


def _line(tally: DayTally, title: str, result: Any) -> Any:
    card = f"{result.brand or ''} {result.masked_pan or ''}".strip() or "-"
    status = result.purchase_status or result.state.value
    if result.decline_code:
        status = f"{status} ({result.decline_code})"
    amount = format_amount(result.amount_cents, result.currency)
    tally.scenarios.append((title, amount, card, status))
    say(f"   {title:<42} {amount:>13}  {card:<24} {status}")
    return result


async def run_scenarios(run: str, tally: DayTally) -> dict[str, Any]:
    """Every scenario of the S2S guide, each as its flow; returns the holds left for the sweep."""
    import flows as f

    ok = _line
    zero = ok(
        tally,
        "zero-auth card validation",
        await _run(
            f.zero_auth_validation,
            f.ZeroAuthRequest(
                reference=f"card-{run}",
                shopper=_shopper(run, "thandi"),
                card=_card("visa_approved"),
            ),
        ),
    )
    customer = _shopper(run, "thandi").external_id
    cit = ok(
        tally,
        "customer-initiated, 3-D Secure challenge",
        await _run(
            f.customer_initiated_payment,
            f.CustomerInitiatedPaymentRequest(
                order_id=f"order-{run}",
                amount_cents=29_900,
                shopper=_shopper(run, "thandi"),
                card=_card("visa_3ds_challenge"),
                auto_3ds="approve",
            ),
        ),
    )
    ok(
        tally,
        "external 3-D Secure (own MPI)",
        await _run(
            f.external_3ds_payment,
            f.External3DSPaymentRequest(
                order_id=f"mpi-{run}",
                amount_cents=25_000,
                shopper=_shopper(run, "pieter"),
                card=_card("guide_visa_3ds"),
                cavv="AAABBBCCCdddEEEfff111222333=",
                xid="MDAwMDAwMDAwMDAwMDAwMzIyNzY=",
                eci_raw="05",
                authentication_transaction_id=f"3ds-{run}",
            ),
        ),
    )
    ok(
        tally,
        "network token payment",
        await _run(
            f.network_token_payment,
            f.NetworkTokenPaymentRequest(
                order_id=f"nt-{run}",
                amount_cents=18_500,
                shopper=_shopper(run, "lerato"),
                sandbox_token=True,
                token_requestor_id="50110030273",
            ),
        ),
    )
    ok(
        tally,
        "non-3DS payment",
        await _run(
            f.non_3ds_payment,
            f.Non3DSPaymentRequest(
                order_id=f"n3ds-{run}",
                amount_cents=5_000,
                shopper=_shopper(run, "sipho"),
                card=_card("visa_approved"),
            ),
        ),
    )
    ok(
        tally,
        "customer-initiated, declined",
        await _run(
            f.customer_initiated_payment,
            f.CustomerInitiatedPaymentRequest(
                order_id=f"declined-{run}",
                amount_cents=7_500,
                shopper=_shopper(run, "naledi"),
                card=_card("visa_insufficient_funds"),
            ),
        ),
    )
    if zero.recurring_token:
        ok(
            tally,
            "merchant-initiated charge (stored card)",
            await _run(
                f.mit_charge,
                f.MITChargeRequest(
                    subscription_id=f"addon-{run}",
                    amount_cents=9_900,
                    customer_id=customer,
                    recurring_token=zero.recurring_token,
                    product="Streaming add-on",
                ),
            ),
        )
    # Holds: one captured in part now, one voided now, two left to the sweep.
    stay = ok(
        tally,
        "pre-authorisation (hotel stay)",
        await _run(
            f.preauthorize,
            f.PreauthRequest(
                booking_id=f"stay-{run}",
                amount_cents=450_000,
                shopper=_shopper(run, "thandi"),
                card=_card("visa_approved"),
            ),
        ),
    )
    if stay.purchase_id:
        ok(
            tally,
            "  partial capture of the stay",
            await _run(
                f.capture_hold, f.CaptureRequest(purchase_id=stay.purchase_id, amount_cents=380_000)
            ),
        )
    car = ok(
        tally,
        "pre-authorisation (car hire deposit)",
        await _run(
            f.preauthorize,
            f.PreauthRequest(
                booking_id=f"car-{run}",
                amount_cents=120_000,
                shopper=_shopper(run, "pieter"),
                card=_card("mastercard_approved"),
            ),
        ),
    )
    if car.purchase_id:
        ok(
            tally,
            "  void of the deposit",
            await _run(f.void_hold, f.VoidRequest(purchase_id=car.purchase_id)),
        )
    holds: dict[str, Any] = {}
    if zero.recurring_token:
        holds["fulfilled"] = ok(
            tally,
            "recurring pre-auth on the stored card",
            await _run(
                f.recurring_preauth,
                f.RecurringPreauthRequest(
                    booking_id=f"return-stay-{run}",
                    amount_cents=500_000,
                    customer_id=customer,
                    recurring_token=zero.recurring_token,
                    card=_card("visa_approved"),
                ),
            ),
        )
    holds["undecided"] = ok(
        tally,
        "pre-authorisation (equipment, undecided)",
        await _run(
            f.preauthorize,
            f.PreauthRequest(
                booking_id=f"equipment-{run}",
                amount_cents=80_000,
                shopper=_shopper(run, "lerato"),
                card=_card("maestro_approved"),
            ),
        ),
    )
    # After the payment: a cancel before settlement, refunds in part, and a refund cancelled.
    cancelled = await _run(
        f.customer_initiated_payment,
        f.CustomerInitiatedPaymentRequest(
            order_id=f"changed-mind-{run}",
            amount_cents=12_000,
            shopper=_shopper(run, "sipho"),
            card=_card("mastercard_approved"),
            save_card=False,
        ),
    )
    if cancelled.purchase_id:
        ok(
            tally,
            "cancel before settlement",
            await _run(
                f.cancel_purchase, f.PurchaseCancelRequest(purchase_id=cancelled.purchase_id)
            ),
        )
    if cit.purchase_id and cit.succeeded:
        ok(
            tally,
            "partial refund of the 3-D Secure order",
            await _run(
                f.refund,
                f.RefundRequest(purchase_id=cit.purchase_id, refund_ref="R1", amount_cents=10_000),
            ),
        )
        mistaken = await _run(
            f.refund,
            f.RefundRequest(purchase_id=cit.purchase_id, refund_ref="R2", amount_cents=5_000),
        )
        if mistaken.refund_id:
            ok(
                tally,
                "refund made by mistake, cancelled",
                await _run(
                    f.cancel_refund,
                    f.RefundCancelRequest(
                        purchase_id=cit.purchase_id, refund_id=mistaken.refund_id
                    ),
                ),
            )
    return holds
