"""Whether a pipeline run may call itself done: no false completion.

A billing run or a sweep that could not resolve due work (an outcome still unknown, rows held
by a run that did not finish, a gateway that stayed down) must not look green to an operator:
:func:`verdict` names what was left and why, and whether the share of failures went past the
merchant's threshold (``PAYFLOWS_MAX_FAILURE_RATE``). The Prefect flows raise
:class:`RunIncomplete` with it (a Failed flow run with that message) and the CLI exits 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RunIncomplete", "failure_rate", "verdict"]


def failure_rate(failed: int, handled: int) -> float:
    """The one definition of ``PAYFLOWS_MAX_FAILURE_RATE``'s share, for billing and the sweep.

    Items that did not end as intended (declined, refused, failed, or still unknown) over the
    items the run handled to an end or to unknown (0 when none). Billing: declined + refused +
    unknown charges over settled + unknown ones; the sweep: failed + unknown holds over the
    holds it selected.
    """
    return failed / handled if handled else 0.0


class RunIncomplete(Exception):
    """The run ended, but not done: ``summary`` says what it did and what it left."""

    def __init__(self, message: str, summary: Any) -> None:
        super().__init__(message)
        self.summary = summary


def verdict(
    what: str,
    left: Mapping[str, int],
    failure_rate: float,
    max_failure_rate: float | None,
    *,
    failures: str = "declined or refused",
) -> str | None:
    """None when the run may report success, else one line saying why it may not."""
    problems = []
    if left:
        total = sum(left.values())
        reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(left.items()))
        problems.append(f"{total} due item(s) left unresolved ({reasons})")
    if max_failure_rate is not None and failure_rate > max_failure_rate:
        problems.append(
            f"{failure_rate:.0%} {failures}, above the {max_failure_rate:.0%} threshold "
            "(PAYFLOWS_MAX_FAILURE_RATE)"
        )
    return f"{what} not complete: " + " and ".join(problems) if problems else None
