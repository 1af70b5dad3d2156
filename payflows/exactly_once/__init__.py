"""The exactly-once protocol, in one place: intent, then purchase id, then act, then read back.

Single payments (:mod:`payflows.payments`), the billing run (:mod:`payflows.billing`) and the
hold sweep (:mod:`payflows.sweep`) all run it through these pieces:

- :mod:`~payflows.exactly_once.store`: the attempt store, with two adapters of the same writes
  (:class:`StepStore`, a commit per step; :class:`GroupedStore`, shared commits for many items);
- :mod:`~payflows.exactly_once.outcomes`: what a purchase read back says of its attempt (the one
  status-to-attempt mapping, :mod:`payflows.domain.attempts`);
- :mod:`~payflows.exactly_once.acting`: send a charge on a durable purchase and settle the answer
  by read-back, re-sending on the same purchase when nothing landed;
- :mod:`~payflows.exactly_once.leases`: short leases kept alive by a heartbeat, so that a run
  killed mid-way frees its claims within a minute;
- :mod:`~payflows.exactly_once.verdict`: no false completion (what was left, the failure rate).
"""

from payflows.exactly_once.acting import Budget, Charged, charge_purchase
from payflows.exactly_once.leases import Heartbeat
from payflows.exactly_once.outcomes import chargeable, outcome_from, paid_figures
from payflows.exactly_once.store import GroupedStore, StepStore
from payflows.exactly_once.verdict import RunIncomplete, verdict

__all__ = [
    "Budget",
    "Charged",
    "GroupedStore",
    "Heartbeat",
    "RunIncomplete",
    "StepStore",
    "charge_purchase",
    "chargeable",
    "outcome_from",
    "paid_figures",
    "verdict",
]
