import pytest

from payflows.domain.states import (
    PREVIOUS,
    TRANSITIONS,
    InvalidTransition,
    Op,
    Result,
    Status,
    can_reach,
    next_status,
    render_mermaid,
)


@pytest.mark.parametrize(
    ("path", "end"),
    [
        ([(Op.PAY, Result.STARTED), (Op.PAY, Result.APPROVED)], Status.PAID),
        ([(Op.AUTHORIZE, Result.STARTED), (Op.AUTHORIZE, Result.APPROVED)], Status.HOLD),
        ([(Op.VERIFY, Result.STARTED), (Op.VERIFY, Result.APPROVED)], Status.PREAUTHORIZED),
        ([(Op.CHARGE, Result.STARTED), (Op.CHARGE, Result.DECLINED)], Status.ERROR),
        ([(Op.PAY, Result.STARTED), (Op.PAY, Result.BLOCKED)], Status.BLOCKED),
    ],
)
def test_payment_paths_from_created(path, end):
    status = Status.CREATED
    for op, result in path:
        status = next_status(status, op, result)
    assert status == end


def test_capture_and_release_of_a_hold():
    assert next_status(Status.HOLD, Op.CAPTURE, Result.STARTED) == Status.PENDING_CAPTURE
    assert next_status(Status.PENDING_CAPTURE, Op.CAPTURE, Result.APPROVED) == Status.PAID
    assert next_status(Status.PENDING_CAPTURE, Op.CAPTURE, Result.DECLINED) == Status.HOLD
    assert next_status(Status.HOLD, Op.RELEASE, Result.STARTED) == Status.PENDING_RELEASE
    assert next_status(Status.PENDING_RELEASE, Op.RELEASE, Result.APPROVED) == Status.RELEASED


def test_partial_refund_returns_to_the_previous_status():
    assert (
        next_status(Status.PENDING_REFUND, Op.REFUND, Result.PARTIAL, previous=Status.SETTLED)
        == Status.SETTLED
    )
    with pytest.raises(ValueError):
        next_status(Status.PENDING_REFUND, Op.REFUND, Result.PARTIAL)


@pytest.mark.parametrize(
    ("status", "op"),
    [
        (Status.PAID, Op.CAPTURE),  # capture twice
        (Status.SETTLED, Op.CANCEL),  # cancel after settlement
        (Status.RELEASED, Op.CAPTURE),
        (Status.PAID, Op.CHARGE),  # no charge of a paid purchase
        (Status.CREATED, Op.REFUND),
    ],
)
def test_anything_outside_the_table_is_refused(status, op):
    with pytest.raises(InvalidTransition):
        next_status(status, op, Result.STARTED)
    with pytest.raises(InvalidTransition):
        next_status(status, op, Result.APPROVED)


def test_can_reach_orders_statuses_for_late_webhooks():
    assert can_reach(Status.CREATED, Status.PAID)
    assert can_reach(Status.HOLD, Status.SETTLED)
    assert not can_reach(Status.PAID, Status.HOLD)
    assert not can_reach(Status.CANCELLED, Status.PAID)
    assert not can_reach(Status.EXPIRED, Status.HOLD)
    # Refunds make a cycle (settled -> pending_refund -> previous): there the ledger orders by time.
    assert can_reach(Status.SETTLED, Status.PAID) and can_reach(Status.PAID, Status.SETTLED)


def test_every_row_lands_on_a_real_status():
    for (src, op, res), dst in TRANSITIONS.items():
        assert isinstance(src, Status) and isinstance(op, Op) and isinstance(res, Result)
        assert dst == PREVIOUS or dst in set(Status)


def test_the_table_renders_as_a_diagram():
    text = render_mermaid()
    assert text.startswith("stateDiagram-v2")
    assert "hold --> pending_capture: capture started" in text


def test_docs_state_machine_is_rendered_from_the_table():
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "state-machine.md").read_text()
    assert render_mermaid() in doc, "docs/state-machine.md is stale: re-render it"


def test_previous_rows_lead_back_for_late_webhooks():
    # A partial refund: pending_refund returns to paid; a failed release returns to the hold.
    assert can_reach(Status.PENDING_REFUND, Status.PAID)
    assert can_reach(Status.PENDING_RELEASE, Status.HOLD)
    assert can_reach(Status.REFUNDED, Status.SETTLED)  # a refund cancelled after settlement
    assert not can_reach(Status.RELEASED, Status.HOLD)
