"""What a scenario run tells an operator: its final state's name, one log line, one artifact.

A scenario flow ends in a Prefect state whose NAME says the business outcome, so the run list
of the Prefect UI reads like a payments journal and automations can match on it (Prefect emits
``prefect.flow-run.<state name>`` events):

| outcome | state type | state name |
|---|---|---|
| paid, held, captured, voided, refunded, cancelled, validated | Completed | ``Paid``, ``Held``... |
| 3-D Secure challenge handed to the shopper | Completed | ``Awaiting 3DS`` |
| declined by the issuer or gateway | Failed | ``Declined: <code>`` |
| answer lost, settled later by reading the purchase back | Failed | ``Outcome unknown`` |
| the purchase was in no state for the operation | Failed | ``Not done`` |

A declined payment is never a green run. The result (:class:`~flows._models.PaymentResult`,
no card data) rides on the state either way; in-process callers read it with
:func:`result_of_run`. Each run also writes one log line through the run's logger (purchase id,
status, masked card, decline code) and a markdown artifact keyed by the business id
(:func:`artifact_key`), so the 3-D Secure completion of an order adds a version to the
artifact of that order.
"""

from __future__ import annotations

import re
from typing import Any

from prefect.states import Completed, Failed, State

from flows._models import PaymentResult
from payflows.ledger import AttemptState

__all__ = [
    "SUCCESS_NAMES",
    "artifact_key",
    "outcome_state",
    "publish_outcome",
    "result_of_run",
    "state_name",
]

#: The name of a successful run, by flow (``complete-3ds`` depends on the purchase's status).
SUCCESS_NAMES: dict[str, str] = {
    "zero-auth-validation": "Card validated",
    "preauthorize": "Held",
    "recurring-preauth": "Held",
    "customer-initiated-payment": "Paid",
    "external-3ds-payment": "Paid",
    "network-token-payment": "Paid",
    "non-3ds-payment": "Paid",
    "mit-charge": "Paid",
    "capture-hold": "Captured",
    "void-hold": "Voided",
    "cancel-purchase": "Cancelled",
    "refund": "Refunded",
    "cancel-refund": "Refund cancelled",
}
#: A successful 3-D Secure completion, by the purchase's status.
_COMPLETED_3DS = {"hold": "Held", "preauthorized": "Held", "paid": "Paid"}
_PENDING = {AttemptState.INTENT, AttemptState.CREATED, AttemptState.SUBMITTED, AttemptState.UNKNOWN}


def state_name(result: PaymentResult) -> str:
    """The final state's name for ``result`` (the table in the module docstring)."""
    if result.state is AttemptState.SUCCEEDED:
        if result.flow == "complete-3ds":
            return _COMPLETED_3DS.get(result.purchase_status or "", "Paid")
        return SUCCESS_NAMES.get(result.flow, "Done")
    if result.three_ds is not None:
        return "Awaiting 3DS"
    if result.state is AttemptState.DECLINED:
        return f"Declined: {result.decline_code}" if result.decline_code else "Declined"
    if result.state in _PENDING:
        return "Outcome unknown"
    return "Not done"


def outcome_state(result: PaymentResult) -> State[Any]:
    """The state a scenario flow returns: Completed for a success or a 3DS hand-off, else Failed."""
    name = state_name(result)
    message = f"{result.business_key}: {result.message or name}"
    if result.succeeded or result.three_ds is not None:
        return Completed(data=result, name=name, message=message)
    return Failed(data=result, name=name, message=message)


def artifact_key(business_key: str) -> str:
    """``payment-<business key>`` in Prefect's key alphabet (lowercase letters, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", business_key.lower()).strip("-")
    return f"payment-{slug}"[:200]


def _card(result: PaymentResult) -> str:
    return " ".join(x for x in (result.brand, result.masked_pan) if x) or "-"


def _log_line(result: PaymentResult, name: str) -> str:
    return (
        f"{result.business_key} {name}: purchase {result.purchase_id or '-'}, "
        f"status {result.purchase_status or result.state.value}, card {_card(result)}, "
        f"amount {result.amount}, decline {result.decline_code or '-'}"
    )


def _markdown(result: PaymentResult, name: str) -> str:
    rows = [
        ("outcome", name),
        ("business id", result.business_key),
        ("flow", result.flow),
        ("purchase id", result.purchase_id),
        ("purchase status", result.purchase_status),
        ("amount", result.amount),
        ("card", _card(result)),
        ("decline code", result.decline_code),
        (
            "decline",
            None if result.decline_soft is None else "soft" if result.decline_soft else "hard",
        ),
        ("refund id", result.refund_id),
        ("hold expires", result.hold_expires_at.isoformat() if result.hold_expires_at else None),
        ("3-D Secure MD", result.three_ds.md if result.three_ds else None),
        ("note", result.message),
    ]
    body = "\n".join(f"| {label} | `{value}` |" for label, value in rows if value is not None)
    return f"### {name}: {result.business_key}\n\n| | |\n|---|---|\n{body}\n"


async def publish_outcome(result: PaymentResult) -> State[Any]:
    """Log the outcome line, write the artifact and rename the run after the business id.

    Called at the end of every scenario flow run; outside a flow run (a plain call of the
    function) it only builds the state.
    """
    from prefect.context import FlowRunContext

    state = outcome_state(result)
    if FlowRunContext.get() is None:
        return state
    from prefect import get_run_logger
    from prefect.artifacts import acreate_markdown_artifact

    name = state_name(result)
    logger = get_run_logger()
    (logger.info if state.is_completed() else logger.warning)(_log_line(result, name))
    if result.flow == "complete-3ds":
        await _name_run_after(result.business_key)
    await acreate_markdown_artifact(
        key=artifact_key(result.business_key),
        markdown=_markdown(result, name),
        description=f"{name}: {result.business_key} ({result.flow})",
    )
    return state


async def _name_run_after(business_key: str) -> None:
    """Link a 3-D Secure completion to its order: the run is named ``complete-3ds-<order>``.

    Its name cannot be set at start (the bank's answer carries only the MD).
    """
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    async with get_client() as client:
        await client.update_flow_run(flow_run.id, name=f"complete-3ds-{business_key}")


async def result_of_run(run: Any) -> PaymentResult:
    """The :class:`PaymentResult` of a scenario flow called in-process with ``return_state=True``.

    ``run`` is the awaitable the flow call returns. A run that failed with an exception (a
    refusal before any money moved, a crash) raises it again; a declined or unknown payment is a
    Failed state that still carries its result, which is returned.
    """
    state = await run
    data = await state.aresult(raise_on_failure=False)
    if isinstance(data, BaseException):
        raise data
    if not isinstance(data, PaymentResult):
        raise TypeError(f"not a scenario run result: {type(data).__name__}")
    return data
