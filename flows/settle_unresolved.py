"""Taking over single payments a killed process left in flight (``settle-unresolved``).

Deployed every minute. A CIT, pre-authorisation, zero-amount check or ``mit-charge`` whose
process died after sending, or whose answer was lost, stays ``submitted``/``unknown``; this
flow reads each one back once it is 30 s old (:func:`payflows.payments.settle_unresolved`) and
records what the gateway shows. Nothing is sent again. The run ends Failed, with a log line per
purchase id, while something stays unknown or needs a person.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger

from flows._fields import described
from flows._pipeline import pipeline_run_name, technical
from payflows.exactly_once import RunIncomplete
from payflows.payments import UnresolvedSummary
from tasks.settle import settle_unresolved_attempts

__all__ = ["NAME", "settle_unresolved"]

NAME = "settle-unresolved"


@flow(name=NAME, flow_run_name=pipeline_run_name("settle"), persist_result=False)
async def settle_unresolved(
    older_than_seconds: Annotated[
        float,
        described(
            ge=0,
            description="Read back payments left in flight at least this long (seconds); "
            "younger ones may still be answered by their own process.",
        ),
    ] = 30,
    limit: Annotated[
        int, described(ge=1, le=10_000, description=technical("at most this many payments a run."))
    ] = 500,
) -> UnresolvedSummary:
    """Read back every single payment left in flight for ``older_than_seconds``; fail if any
    stays unresolved."""
    logger = get_run_logger()
    summary = await settle_unresolved_attempts(older_than_seconds, limit)
    for state, n in sorted(summary.settled.items()):
        logger.info("settled by read-back: %d %s", n, state)
    for key, pid in summary.unknown:
        logger.warning("still unknown after read-back: purchase %s (%s)", pid, key)
    for key, pid in summary.left:
        logger.warning("not settled here, a person must look: purchase %s (%s)", pid, key)
    problem = summary.problem()
    if problem:
        raise RunIncomplete(problem, summary)
    return summary
