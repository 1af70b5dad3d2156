import pytest

from payflows.ledger import (
    AttemptKind,
    AttemptState,
    LedgerError,
    UnitOfWork,
    attach_purchase,
    complete_challenge,
    get_attempt,
    get_challenge,
    record_challenge,
    record_intent,
    record_outcome,
    withdraw_intent,
)


def test_a_refused_intent_is_withdrawn_and_the_key_freed(engine):
    with UnitOfWork(engine) as uow:
        record_intent(uow, "capture:p1", AttemptKind.CAPTURE, 500, "ZAR")
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert withdraw_intent(uow, "capture:p1")
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert get_attempt(uow, business_key="capture:p1") is None
        assert not withdraw_intent(uow, "capture:p1")


def test_an_attempt_that_moved_money_cannot_be_withdrawn(engine):
    with UnitOfWork(engine) as uow:
        record_intent(uow, "cit:o1", AttemptKind.CIT, 500, "ZAR")
        attach_purchase(uow, "cit:o1", "p-o1")
        record_outcome(uow, business_key="cit:o1", state=AttemptState.SUCCEEDED)
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(LedgerError):
        withdraw_intent(uow, "cit:o1")


def test_a_challenge_is_stored_once_and_completed_once(engine):
    with UnitOfWork(engine) as uow:
        for _ in range(2):
            record_challenge(
                uow,
                md="md-1",
                business_key="cit:o2",
                purchase_id="p-o2",
                acs_url="http://127.0.0.1/acs/md-1/",
                callback_url="http://127.0.0.1/3ds/callback/md-1/",
            )
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert complete_challenge(uow, "md-1")
        assert not complete_challenge(uow, "md-1")
        uow.commit()
    with UnitOfWork(engine) as uow:
        challenge = get_challenge(uow, "md-1")
        assert challenge is not None and challenge.completed_at is not None
        assert get_challenge(uow, "unknown") is None
