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


def _card(name: str) -> dict[str, str]:
    return {"sandbox_card": name, "cardholder_name": "Thandi Nkosi"}


def _shopper(run: str, tag: str) -> dict[str, str]:
    return {
        "email": f"{tag}@example.co.za",
        "customer_id": f"walk-in-{tag}-{run}",
        "full_name": "Thandi Nkosi",
    }


async def _run(command: str, **form: Any) -> Any:
    """Run one scenario of the registry in this process with its flat form (as the UI fills it);
    its result, whether paid, declined or waiting."""
    from flows.scenarios import by_command

    return await by_command(command).run(**form)


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
    ok = _line
    zero = ok(
        tally,
        "zero-auth card validation",
        await _run(
            "zero-auth",
            reference=f"card-{run}",
            **_shopper(run, "thandi"),
            **_card("visa_approved"),
        ),
    )
    customer = _shopper(run, "thandi")["customer_id"]
    cit = ok(
        tally,
        "customer-initiated, 3-D Secure challenge",
        await _run(
            "cit",
            order_id=f"order-{run}",
            amount="299.00",
            **_shopper(run, "thandi"),
            **_card("visa_3ds_challenge"),
            auto_3ds="approve",
        ),
    )
    ok(
        tally,
        "external 3-D Secure (own MPI)",
        await _run(
            "external-3ds",
            order_id=f"mpi-{run}",
            amount="250.00",
            **_shopper(run, "pieter"),
            **_card("guide_visa_3ds"),
            cavv="AAABBBCCCdddEEEfff111222333=",
            xid="MDAwMDAwMDAwMDAwMDAwMzIyNzY=",
            eci_raw="05",
            authentication_transaction_id=f"3ds-{run}",
        ),
    )
    ok(
        tally,
        "network token payment",
        await _run(
            "network-token",
            order_id=f"nt-{run}",
            amount="185.00",
            **_shopper(run, "lerato"),
            sandbox_token=True,
            token_requestor_id="50110030273",
        ),
    )
    ok(
        tally,
        "non-3DS payment",
        await _run(
            "non-3ds",
            order_id=f"n3ds-{run}",
            amount="50.00",
            **_shopper(run, "sipho"),
            **_card("visa_approved"),
        ),
    )
    ok(
        tally,
        "customer-initiated, declined",
        await _run(
            "cit",
            order_id=f"declined-{run}",
            amount="75.00",
            **_shopper(run, "naledi"),
            **_card("visa_insufficient_funds"),
        ),
    )
    if zero.recurring_token:
        ok(
            tally,
            "merchant-initiated charge (stored card)",
            await _run(
                "mit",
                subscription_id=f"addon-{run}",
                amount="99.00",
                customer_id=customer,
                recurring_token=zero.recurring_token,
                product="Streaming add-on",
            ),
        )
    # Holds: one captured in part now, one voided now, two left to the sweep.
    stay = ok(
        tally,
        "pre-authorisation (hotel stay)",
        await _run(
            "preauth",
            booking_id=f"stay-{run}",
            amount="4500.00",
            **_shopper(run, "thandi"),
            **_card("visa_approved"),
        ),
    )
    if stay.purchase_id:
        ok(
            tally,
            "  partial capture of the stay",
            await _run("capture", purchase_id=stay.purchase_id, amount="3800.00"),
        )
    car = ok(
        tally,
        "pre-authorisation (car hire deposit)",
        await _run(
            "preauth",
            booking_id=f"car-{run}",
            amount="1200.00",
            **_shopper(run, "pieter"),
            **_card("mastercard_approved"),
        ),
    )
    if car.purchase_id:
        ok(
            tally,
            "  void of the deposit",
            await _run("void", purchase_id=car.purchase_id),
        )
    holds: dict[str, Any] = {}
    if zero.recurring_token:
        holds["fulfilled"] = ok(
            tally,
            "recurring pre-auth on the stored card",
            await _run(
                "recurring-preauth",
                booking_id=f"return-stay-{run}",
                amount="5000.00",
                customer_id=customer,
                recurring_token=zero.recurring_token,
                **_card("visa_approved"),
            ),
        )
    holds["undecided"] = ok(
        tally,
        "pre-authorisation (equipment, undecided)",
        await _run(
            "preauth",
            booking_id=f"equipment-{run}",
            amount="800.00",
            **_shopper(run, "lerato"),
            **_card("maestro_approved"),
        ),
    )
    # After the payment: a cancel before settlement, refunds in part, and a refund cancelled.
    cancelled = await _run(
        "cit",
        order_id=f"changed-mind-{run}",
        amount="120.00",
        **_shopper(run, "sipho"),
        **_card("mastercard_approved"),
        save_card=False,
    )
    if cancelled.purchase_id:
        ok(
            tally,
            "cancel before settlement",
            await _run("cancel", purchase_id=cancelled.purchase_id),
        )
    if cit.purchase_id and cit.succeeded:
        ok(
            tally,
            "partial refund of the 3-D Secure order",
            await _run(
                "refund",
                purchase_id=cit.purchase_id,
                refund_ref="R1",
                amount="100.00",
            ),
        )
        mistaken = await _run(
            "refund",
            purchase_id=cit.purchase_id,
            refund_ref="R2",
            amount="50.00",
        )
        if mistaken.refund_id:
            ok(
                tally,
                "refund made by mistake, cancelled",
                await _run(
                    "cancel-refund",
                    purchase_id=cit.purchase_id,
                    refund_id=mistaken.refund_id,
                ),
            )
    return holds
