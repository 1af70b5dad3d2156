"""The attempt state table: its rules, the doc rendered from it, and both write paths obey it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from payflows.domain.attempts import (
    ATTEMPT_TRANSITIONS,
    PAID_LIKE,
    REMOVED,
    RESOLVED,
    UNRESOLVED,
    AttemptEvent,
    AttemptState,
    IllegalAttemptMove,
    event_for_status,
    event_to,
    next_state,
    render_attempt_mermaid,
    sources,
    state_for_status,
)
from payflows.domain.states import Status
from payflows.ledger import Outcome, PaymentAttempt, UnitOfWork, make_engine, record_outcomes
from payflows.ledger.grouped import record_outcomes_grouped
from payflows.ledger.migrate import upgrade

S, E = AttemptState, AttemptEvent


def test_succeeded_is_final():
    for event in AttemptEvent:
        assert (S.SUCCEEDED, event) not in ATTEMPT_TRANSITIONS


def test_the_gateway_saying_paid_wins_over_a_recorded_decline_or_refusal():
    assert next_state(S.DECLINED, E.SUCCEED) is S.SUCCEEDED
    assert next_state(S.FAILED, E.SUCCEED) is S.SUCCEEDED
    for event in (E.DECLINE, E.FAIL, E.LOSE, E.SUBMIT, E.ATTACH):
        with pytest.raises(IllegalAttemptMove):
            next_state(S.DECLINED, event)


def test_an_unknown_attempt_is_resent_only_through_submit():
    assert next_state(S.UNKNOWN, E.SUBMIT) is S.SUBMITTED
    assert sources(E.LOSE) == {S.INTENT, S.CREATED, S.SUBMITTED}
    assert sources(E.WITHDRAW) == {S.INTENT, S.CREATED, S.SUBMITTED}
    assert next_state(S.CREATED, E.WITHDRAW) == REMOVED


def test_unresolved_and_resolved_partition_the_states():
    assert set(AttemptState) == UNRESOLVED | RESOLVED and not UNRESOLVED & RESOLVED


def test_every_purchase_status_maps_once():
    assert {s for s in Status if event_for_status(s) is E.SUCCEED} >= PAID_LIKE
    assert state_for_status(Status.PAID) is S.SUCCEEDED
    assert state_for_status(Status.ERROR) is S.DECLINED
    assert state_for_status(Status.PENDING_CHARGE) is S.SUBMITTED
    assert state_for_status(Status.CREATED) is None
    assert state_for_status(Status.CANCELLED) is S.FAILED


def test_docs_state_machine_renders_the_attempt_table():
    doc = (Path(__file__).parents[3] / "docs" / "state-machine.md").read_text()
    assert render_attempt_mermaid() in doc, "docs/state-machine.md is stale: re-render it"


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _seed(engine, states):
    with UnitOfWork(engine) as uow:
        for i, state in enumerate(states):
            uow.session.add(
                PaymentAttempt(
                    business_key=f"k{i}",
                    kind="mit",
                    state=state,
                    purchase_id=f"p{i}",
                    amount_cents=100,
                    currency="ZAR",
                )
            )
        uow.commit()


def _states(engine):
    with UnitOfWork(engine) as uow:
        rows = uow.session.execute(select(PaymentAttempt.business_key, PaymentAttempt.state))
        return dict(rows.all())


@pytest.mark.parametrize("target", [s for s in AttemptState if event_to(s) is not None])
def test_one_at_a_time_and_grouped_writes_obey_the_same_table(engine, target):
    """From every state, an outcome lands exactly where the table says, on both write paths."""
    states = list(AttemptState)
    _seed(engine, states)
    with UnitOfWork(engine) as uow:
        record_outcomes(uow, [Outcome(target, business_key=f"k{i}") for i in range(len(states))])
        uow.commit()
    one_by_one = _states(engine)
    with UnitOfWork(engine) as uow:
        uow.session.execute(PaymentAttempt.__table__.delete())
        uow.commit()
    _seed(engine, states)
    with UnitOfWork(engine) as uow:
        record_outcomes_grouped(
            uow, [Outcome(target, business_key=f"k{i}") for i in range(len(states))]
        )
        uow.commit()
    grouped = _states(engine)
    event = event_to(target)
    for i, state in enumerate(states):
        allowed = ATTEMPT_TRANSITIONS.get((state, event))
        expected = target if allowed == target else state
        assert one_by_one[f"k{i}"] == expected, (state, target)
        assert grouped[f"k{i}"] == expected, (state, target)
