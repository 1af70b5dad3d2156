"""Flow run names that say what a run was for: ``billing-2026-12-03T02:00Z``, ``cit-ORDER-1``.

One helper, :func:`flow_run_namer`, reads the run's parameters from ``prefect.runtime`` (Prefect
calls the namer after it validated them) and builds ``<prefix>-<value>`` from the first one given,
shown the way the caller says; with none given, or one that cannot be shown, the caller's fallback
names the run. The pipelines (:func:`flows._pipeline.pipeline_run_name`) show a date or time, the
scenarios (:func:`flows._forms.run_name`) a business id.

A run name is shown in the UI, in logs and in notifications, so it never carries card data (rule
4): what a namer shows is only the digits and dashes of a date (:func:`stamp`) or a business id
in the id shape with no card number in it (:func:`business_id`), at most :data:`MAX_SHOWN`
characters, and a last check drops any value a card number could hide in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from flows._time import as_utc
from payflows.domain.screening import contains_card_number

__all__ = ["MAX_SHOWN", "business_id", "clock", "flow_run_namer", "stamp", "this_run"]

#: The most of a value a run name shows (a business id is at most 100 characters).
MAX_SHOWN = 100

#: A business id as the forms accept it (:data:`flows._patterns.ID_PATTERN`, without the schema's
#: digit-run look-ahead: the Luhn screening below is the precise test).
_BUSINESS_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}")


def flow_run_namer(
    prefix: str,
    *parameters: str,
    shown: Callable[[Any], str | None],
    fallback: Callable[[], str],
) -> Callable[[], str]:
    """A ``flow_run_name`` callable: ``<prefix>-<shown(value)>`` for the first of ``parameters``
    given (not None, not empty) that ``shown`` can show, else ``<prefix>-<fallback()>``."""

    def name() -> str:
        from prefect.runtime import flow_run

        given = flow_run.parameters or {}
        for parameter in parameters:
            value = given.get(parameter)
            if isinstance(value, Enum):
                value = value.value
            if value is None or value == "":
                continue
            text = shown(value)
            if text and len(text) <= MAX_SHOWN and not contains_card_number(text):
                return f"{prefix}-{text}"
        return f"{prefix}-{fallback()}"

    return name


def stamp(value: object) -> str | None:
    """A date as ``2026-12-03``, a time as ``2026-12-03T02:00Z`` (UTC; naive is UTC); anything
    else ``given``: never free text, nor the first digits of what might be a card number."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return "given"
    if isinstance(value, datetime):
        return f"{as_utc(value):%Y-%m-%dT%H:%MZ}"
    if isinstance(value, date):
        return value.isoformat()
    return "given"


def business_id(value: object) -> str | None:
    """A business id as it is (the flow's field already screened it), or None for anything not
    in the id shape: letters, digits and ``._:/-``, at most 100 characters."""
    if isinstance(value, str) and _BUSINESS_ID.fullmatch(value):
        return value
    return None


def clock() -> str:
    """The time now, to the minute, as a pipeline run reads ``as_of`` left empty."""
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%MZ}"


def this_run() -> str:
    """``run-<flow run id>``: the business id a scenario takes when its form left it empty
    (:func:`flows._models.run_reference`), so the name and the ledger's key say the same."""
    from prefect.runtime import flow_run

    return f"run-{flow_run.id}"
