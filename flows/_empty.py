"""The pipelines' optional parameters: one plain form field each, empty for the default.

An ``X | None`` parameter is ``anyOf [X, null]`` in the schema Prefect builds from a flow, which
its UI shows as a type switch ("float / None") beside the field. These parameters keep their
``X | None`` type in Python (the flows, the CLI's options and every in-process caller pass None
as before), but their schema is one text field (:func:`text_schema`) whose default is empty
(:func:`empty_default`), and an empty text is None once the flow validates its parameters
(:data:`EMPTY_IS_NONE`): the same default as before. A bound (``Field(ge=1)``) comes before
:data:`EMPTY_IS_NONE` in the ``Annotated``: after it, pydantic would hold None to it too.

Text, not a number or a date-time picker: Prefect writes ``"default": null`` for a parameter
whose default is None (no annotation can leave it out), the UI fills the field with that null,
and its check refuses the form ("None is not of type 'number'", for a date-time as well); no
number or date-time is "empty". A text field is. Its pattern holds the shape (Prefect's server
refuses anything else with 409 before a run exists), the flow holds the value to its range;
no pattern lets 12 digits through (:data:`flows._patterns.CARD_LIKE_DIGITS`). Over the API these
parameters are text as well (``"0.2"``, ``"2026-03-01T02:00:00Z"``); left out or ``""`` is the
default, and so is ``None`` from Python. A flow passing them to a deployment writes them with
:func:`form_text`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BeforeValidator, Field, WithJsonSchema

__all__ = [
    "DATE_PATTERN",
    "EMPTY_IS_NONE",
    "ISO_TIME_PATTERN",
    "POSITIVE_INT_PATTERN",
    "POSITIVE_NUMBER_PATTERN",
    "SHARE_PATTERN",
    "empty_default",
    "form_text",
    "text_schema",
]

#: ``2026-03-01``, ``2026-03-01T02:00``, ``2026-03-01 02:00:00.5+02:00``, ``...Z``, or empty.
ISO_TIME_PATTERN = (
    r"^(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?$"
)
#: A day, ``2026-03-01``, or empty.
DATE_PATTERN = r"^(?:\d{4}-\d{2}-\d{2})?$"
#: A share from 0 to 1 (``0``, ``0.25``, ``1``), or empty.
SHARE_PATTERN = r"^(?:0(?:\.\d{1,6})?|1(?:\.0{1,6})?)?$"
#: A number above 0 (``5``, ``0.5``), at most 5 digits before the point and 6 after, or empty.
POSITIVE_NUMBER_PATTERN = r"^(?:(?=0*\.?0*[1-9])\d{1,5}(?:\.\d{1,6})?)?$"
#: A whole number from 1, at most 9 digits, or empty.
POSITIVE_INT_PATTERN = r"^(?:[1-9]\d{0,8})?$"


def _none_for_empty(value: Any) -> Any:
    return None if value == "" else value


#: An empty text (the form's field left empty) is None, the parameter's default.
EMPTY_IS_NONE = BeforeValidator(_none_for_empty)


def text_schema(
    pattern: str | None = None, *, max_length: int | None = None, enum: list[str] | None = None
) -> Any:
    """The parameter's JSON schema: one string (a plain text field, or a dropdown with ``enum``,
    whose first choice is empty), never ``anyOf`` with null."""
    schema: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        schema["pattern"] = pattern
    if max_length is not None:
        schema["maxLength"] = max_length
    if enum is not None:
        schema["enum"] = ["", *enum]
    return WithJsonSchema(schema)


def empty_default() -> Any:
    """The schema's default: an empty field (Prefect would write null, which the form refuses)."""
    return Field(json_schema_extra={"default": ""})


def form_text(value: float | date | datetime | None) -> str:
    """A parameter's value as its form field takes it: ``""`` for None, a number in plain
    decimals (``0.00001``, never ``1e-05``), a date or time in ISO."""
    if value is None:
        return ""
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return format(Decimal(repr(value)).normalize(), "f")
