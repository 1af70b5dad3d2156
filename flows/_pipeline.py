"""What the pipeline flows share: their common parameters, ``as_of``, and "never a false success".

The pipelines (billing, sharded billing, the sweep, the report, the imports, settling unresolved
payments) take flat parameters, so the Prefect UI shows one field each with its help text. Their
order is the order of the form: what an operator chooses first (``as_of``, limits, thresholds),
the technical knobs last, each defaulted and said to be one (:func:`technical`).

Optional text-like parameters are plain fields, empty for their default; the numeric ones stay
typed, so the API takes JSON numbers (:mod:`flows._empty`).
Time is a parameter (``as_of``): empty means now, a naive one is UTC (:mod:`flows._time`), and a
run reads it once (:func:`resolve_as_of`) so every step bills or sweeps the same set.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from flows._empty import EMPTY_IS_NONE, empty_default, text_schema
from flows._fields import described
from flows._names import clock, flow_run_namer, stamp
from flows._patterns import UUID_PATTERN, WORKER_ID_PATTERN
from flows._time import AsOf
from payflows.domain.screening import screen
from payflows.exactly_once import RunIncomplete
from payflows.settings import load_settings
from tasks.runtime import current_runtime

__all__ = [
    "AsOf",
    "MaxFailureRate",
    "WorkerId",
    "default_worker_id",
    "fail_if_incomplete",
    "failure_limit",
    "pipeline_run_name",
    "resolve_as_of",
    "technical",
]


def technical(text: str) -> str:
    """The help text of a technical parameter: says first that the default is right."""
    return f"Technical (the default suits): {text}"


#: Share of failures past which a billing run or a sweep ends Failed (``verdict.failure_rate``).
MaxFailureRate = Annotated[
    float | None,
    described(
        ge=0,
        le=1,
        description=(
            "Fail the run when more than this share (0 to 1) of its items did not end as "
            "intended (declined, refused, failed or unknown); default: PAYFLOWS_MAX_FAILURE_RATE "
            "(0.5)."
        ),
    ),
]

#: Who holds the run's claims on due work (leases); default: unique to this process.
WorkerId = Annotated[
    str | None,
    Field(max_length=128),
    EMPTY_IS_NONE,
    AfterValidator(lambda value: _owner(value)),
    text_schema(WORKER_ID_PATTERN, max_length=128),
    empty_default(),
    described(
        description=technical(
            "owner of this run's claims (leases); empty: host:pid:random, never reused."
        ),
    ),
]


_UUID = re.compile(UUID_PATTERN)


def _owner(value: str | None) -> str | None:
    """A worker id without a card number in it (it is written to every claimed row and the
    logs). A ``:``-separated part that is a whole UUID (a shard is named after its parent's run
    id) may hold 12 digits in a row by chance and is never a card number: it is set aside
    before the screening, as the server's pattern does. Only whole parts: a UUID-shaped tail
    of a card number (``4111111111111111-1111-...``) must not hide the card number."""
    if value:
        parts = value.split(":")
        screen("worker_id", ":".join("" if _UUID.fullmatch(p) else p for p in parts))
    return value


def default_worker_id() -> str:
    """This process, once: ``host:pid:random``. Never reused, so a run started after one that
    was killed never mistakes the dead run's claims for its own; it takes them over when their
    short lease lapses (the dead run's heartbeat stopped)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def pipeline_run_name(prefix: str, *parameters: str) -> Callable[[], str]:
    """A pipeline run's name, from what it is the run of: ``billing-2026-12-03T02:00Z``.

    The first of ``parameters`` that was given names the run (a date or time as such; ``as_of``
    empty: the clock at the start, as the run reads it), so an operator sees which day a
    billing run, a sweep or a report was for in the runs list, not ``hasty-peccary``. Digits,
    dashes, colons and ``T``/``Z`` only: a name never quotes free text (:mod:`flows._names`).
    """
    return flow_run_namer(prefix, *parameters, shown=stamp, fallback=clock)


def resolve_as_of(as_of: datetime | None) -> datetime:
    """The run's "now": ``as_of`` in UTC (a naive one is UTC), or the clock when empty."""
    if as_of is None:
        return datetime.now(UTC)
    if as_of.tzinfo is None:
        return as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def failure_limit(max_failure_rate: float | None) -> float:
    """The threshold a run is held to: the one given, else ``PAYFLOWS_MAX_FAILURE_RATE``."""
    if max_failure_rate is not None:
        return max_failure_rate
    runtime = current_runtime()
    settings = runtime.settings if runtime is not None else load_settings()
    return settings.max_failure_rate


def fail_if_incomplete(summary: Any, max_failure_rate: float | None = None) -> None:
    """No false completion (rule 3): raise :class:`RunIncomplete` (carrying ``summary``) when
    due work was left unresolved or the share of failures passed the threshold.

    Raised in a flow, it ends the run Failed with the summary's one-line reason as message;
    in-process callers catch it and still have the summary (``exc.summary``).
    """
    problem = summary.problem(failure_limit(max_failure_rate))
    if problem:
        raise RunIncomplete(problem, summary)
