"""The pipelines' optional text-like parameters: one plain form field each, empty for the default.

An ``X | None`` parameter is ``anyOf [X, null]`` in the schema Prefect builds from a flow, which
its UI shows as a type switch ("date-time / None") beside the field. The parameters whose value is
text or a time (``as_of``, the report's days, zone and folder, ``worker_id``, the import's kind
and folders) keep their ``X | None`` type in Python (the flows, the CLI's options and every
in-process caller pass None as before), but their schema is one text field (:func:`text_schema`)
whose default is empty (:func:`empty_default`), and an empty text is None once the flow
validates its parameters (:data:`EMPTY_IS_NONE`): the same default as before. A bound
(``Field(max_length=...)``) comes before :data:`EMPTY_IS_NONE` in the ``Annotated``: after it,
pydantic would hold None to it too.

Text, not a date-time picker: Prefect writes ``"default": null`` for a parameter whose default
is None (no annotation can leave it out), the UI fills the field with that null, and its check
refuses the form ("None is not of type 'string'"); a date-time is never "empty", a text is. Its
pattern holds the shape (Prefect's server refuses anything else with 409 before a run exists);
no pattern lets a card number's digit run through (:data:`flows._patterns.CARD_LIKE_DIGITS`;
an ISO time with a zone holds twelve digits and is never one). Over the API a
time is an ISO text, which is what Prefect itself sends for a ``datetime`` or ``date``
(``run_deployment(..., parameters={"as_of": datetime(...)})``); ``""``, ``None`` or left out is
the default.

The numeric ones (``limit``, ``max_failure_rate``, ``rate_per_second``) stay typed, ``anyOf
[number, null]`` with its switch, so ``{"limit": 25}`` and ``-p limit=25`` work over the API: a
text schema would refuse a JSON number, and a type array (``["string", "integer"]``), which the
server would take both ways, is no field at all in this Prefect's form (seen in Chromium).
"""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator, Field, WithJsonSchema

__all__ = [
    "DATE_PATTERN",
    "EMPTY_IS_NONE",
    "ISO_TIME_PATTERN",
    "empty_default",
    "text_schema",
]

#: ``2026-03-01``, ``2026-03-01T02:00``, ``2026-03-01 02:00:00.5+02:00``, ``...Z``, or empty.
ISO_TIME_PATTERN = (
    r"^(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?$"
)
#: A day, ``2026-03-01``, or empty.
DATE_PATTERN = r"^(?:\d{4}-\d{2}-\d{2})?$"


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
