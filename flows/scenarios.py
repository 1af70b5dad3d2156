"""The one list of payment scenarios: each flow with its help, its sample form and its CLI name.

What is made from :data:`SCENARIOS`:

- ``payflows run <command>`` (:mod:`apps.cli_run`): one command per scenario, its options made
  from the flow's flat parameters and their descriptions (:mod:`flows._fields`);
- the manual deployments of :mod:`deployments.catalog`: named after what they do, described by
  the same help, with the sample form as default parameters where it makes a whole run (the
  Prefect UI's Quick run pays a sandbox test card, a new order each time);
- the business day's scenarios (:mod:`apps.day_scenarios`), which run each flow by its command.

A scenario's parameters are its flow's signature: nothing here repeats them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_type_hints

from pydantic.fields import FieldInfo

from flows._outcome import result_of_run
from flows._tags import run_tags
from flows.after_payment import cancel_purchase, cancel_refund, refund
from flows.customer_initiated import customer_initiated_payment
from flows.delete_card import delete_card
from flows.external_3ds import external_3ds_payment
from flows.holds import capture_hold, void_hold
from flows.mit import mit_charge
from flows.network_token import network_token_payment
from flows.non_3ds import non_3ds_payment
from flows.preauthorization import preauthorize
from flows.recurring_preauth import recurring_preauth
from flows.three_ds import complete_3ds
from flows.zero_auth import zero_auth_validation

__all__ = ["SCENARIOS", "Scenario", "by_command"]

#: The shopper of the sample forms (a Quick run from the Prefect UI).
_SHOPPER = {"email": "ui-shopper@example.test", "full_name": "Thandi Nkosi"}


@dataclass(frozen=True)
class Scenario:
    """One payment scenario: its flow and what the CLI, the catalog and the demo need of it."""

    #: ``payflows run <command>``.
    command: str
    flow: Any
    #: What it does, for people: the CLI's help and the deployment's description.
    help: str
    #: The deployment's name (what it does); None: not deployed (the TermUrl runs it).
    deployment: str | None
    #: A whole form on the local sandbox (the Quick run's parameters); empty: it needs an
    #: earlier purchase's id, so the UI's Custom run (or the CLI) gives it.
    sample: Mapping[str, Any] = field(default_factory=dict)
    #: Where the card comes from on the CLI: a hidden prompt, with or without the CVC.
    card_prompt: Literal["with-cvc", "no-cvc"] | None = None
    #: The CLI offers ``--token-prompt`` (a network token and cryptogram, hidden input).
    token_prompt: bool = False
    #: Shown by ``payflows run`` (a flow whose result is a :class:`~flows.PaymentResult`).
    on_cli: bool = True

    @property
    def flow_name(self) -> str:
        return str(self.flow.name)

    @property
    def entrypoint(self) -> str:
        """``flows/<module>.py:<function>``, as prefect.yaml points at it."""
        fn = self.flow.fn
        return f"{fn.__module__.replace('.', '/')}.py:{fn.__name__}"

    def parameters(self) -> list[inspect.Parameter]:
        """The flow's flat parameters, in the form's order, with their annotations resolved."""
        hints = get_type_hints(self.flow.fn, include_extras=True)
        return [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(self.flow.fn).parameters.values()
        ]

    async def run(self, **form: Any) -> Any:
        """Run the flow in this process with ``form``, under the flow's run tags (what
        automations match, as a deployment's run carries them); its result, paid, declined or
        waiting."""
        with run_tags(self.flow.name):
            return await result_of_run(self.flow(**form, return_state=True))


def description(parameter: inspect.Parameter) -> str:
    """The parameter's help: the description of its field (:mod:`flows._fields`)."""
    for meta in reversed(get_args(parameter.annotation)[1:]):
        if isinstance(meta, FieldInfo) and meta.description:
            return meta.description
    return ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "zero-auth",
        zero_auth_validation,
        "Validate a card for 0 and keep it as a token for later charges.",
        "validate-a-card",
        {**_SHOPPER, "sandbox_card": "visa_approved"},
        card_prompt="with-cvc",
    ),
    Scenario(
        "cit",
        customer_initiated_payment,
        "The shopper pays an order by card, with Precium's 3-D Secure when the issuer asks.",
        "take-a-card-payment",
        {
            "amount": "299.00",
            **_SHOPPER,
            "sandbox_card": "visa_3ds_challenge",
            "auto_3ds": "approve",
        },
        card_prompt="with-cvc",
    ),
    Scenario(
        "preauth",
        preauthorize,
        "Hold an amount on the shopper's card (3-D Secure when the issuer asks).",
        "hold-an-amount",
        {
            "amount": "500.00",
            **_SHOPPER,
            "sandbox_card": "visa_3ds_challenge",
            "auto_3ds": "approve",
        },
        card_prompt="with-cvc",
    ),
    Scenario(
        "capture",
        capture_hold,
        "Capture all or part of a hold (give its purchase id); the rest is released.",
        "capture-a-hold",
    ),
    Scenario(
        "void",
        void_hold,
        "Release a hold that is no longer needed (give its purchase id).",
        "release-a-hold",
    ),
    Scenario(
        "recurring-preauth",
        recurring_preauth,
        "Hold an amount on a stored card without the CVC (give customer id and token).",
        "hold-on-a-stored-card",
        card_prompt="no-cvc",
    ),
    Scenario(
        "external-3ds",
        external_3ds_payment,
        "A payment authenticated by your own 3-D Secure server (CAVV and ECI given).",
        "pay-with-own-3ds",
        {
            "amount": "299.00",
            **_SHOPPER,
            "sandbox_card": "visa_approved",
            "cavv": "AAABBBCCCdddEEEfff111222333=",
            "eci_raw": "05",
        },
        card_prompt="with-cvc",
    ),
    Scenario(
        "network-token",
        network_token_payment,
        "A payment with a scheme network token (MDES / VTS) and its cryptogram.",
        "pay-with-a-network-token",
        {
            "amount": "299.00",
            **_SHOPPER,
            "sandbox_token": True,
            "token_requestor_id": "50110030273",
        },
        token_prompt=True,
    ),
    Scenario(
        "non-3ds",
        non_3ds_payment,
        "A charge without 3-D Secure, where the card brand is approved for it.",
        "pay-without-3ds",
        {"amount": "299.00", **_SHOPPER, "sandbox_card": "visa_approved"},
        card_prompt="with-cvc",
    ),
    Scenario(
        "mit",
        mit_charge,
        "One merchant-initiated charge on a stored card, once per subscription and period.",
        "charge-a-stored-card",
    ),
    Scenario(
        "cancel",
        cancel_purchase,
        "Cancel a paid purchase before it settles (give its purchase id).",
        "cancel-before-settlement",
    ),
    Scenario(
        "refund",
        refund,
        "Refund all or part of a paid purchase (give its purchase id), once per reference.",
        "refund-a-payment",
    ),
    Scenario(
        "cancel-refund",
        cancel_refund,
        "Cancel a refund before it settles (give purchase id and refund id).",
        "cancel-a-refund",
    ),
    Scenario(
        "complete-3ds",
        complete_3ds,
        "Finish a payment waiting for 3-D Secure with the bank's answer (what the TermUrl does).",
        None,
    ),
    Scenario(
        "delete-card",
        delete_card,
        "Delete a customer's stored card at the gateway; billing stops charging it.",
        "delete-a-stored-card",
        on_cli=False,
    ),
)


def by_command(command: str) -> Scenario:
    """The scenario ``payflows run <command>`` runs."""
    for scenario in SCENARIOS:
        if scenario.command == command:
            return scenario
    raise KeyError(command)
