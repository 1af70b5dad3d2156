"""From a scenario flow's flat form to its request model, so the tasks and the core never change.

A scenario flow takes flat parameters (:mod:`flows._fields`: what the Prefect UI renders and the
CLI's options are made from) and its first line turns them into the request model of
:mod:`flows._models` with :func:`request`, which:

- groups ``email``, ``customer_id``, ``full_name`` into the :class:`~flows._models.Shopper` and
  ``card_ref``, ``sandbox_card``, ``cardholder_name`` into the :class:`~flows._models.CardInput`
  where the model has them;
- turns ``amount`` (text in the currency's units) into integer ``amount_cents`` with
  :func:`cents`, never through a float;
- leaves an empty business id to the model's default, this flow run's id (``run-<id>``).

A refusal (an amount with more decimals than its currency, two card sources...) is an
:class:`~payflows.payments.OperationRejected` naming the field, never quoting its value: the run
fails before anything was sent.

:func:`check_form` holds a whole form to the flow's parameters before any run exists (what
``payflows run`` does first): the same checks Prefect makes when the run starts, with no run,
no log line and no logger switched off.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from flows._models import CardInput, Shopper
from flows._names import business_id, flow_run_namer, this_run
from payflows.domain.money import exponent, parse_form_amount, validate_currency
from payflows.payments import OperationRejected

__all__ = ["cents", "check_form", "form_model", "optional_cents", "request", "run_name", "units"]

M = TypeVar("M", bound=BaseModel)

_SHOPPER = ("email", "customer_id", "full_name")
_CARD = ("card_ref", "sandbox_card", "cardholder_name")


def cents(amount: str, currency: str, what: str = "amount") -> int:
    """``"299.00"`` in ``currency`` as ``29900``, by the one rule of a form's amount
    (:func:`payflows.domain.money.parse_form_amount`: plain digits, no sign, commas or spaces,
    no more decimals than the currency has, more than zero, at most
    :data:`~flows._patterns.FORM_MAX_CENTS`: 11 digits in minor units, never a card number's
    length, so the request model's card screening never mistakes an amount for one)."""
    try:
        code = validate_currency(str(currency))
    except ValueError as exc:
        raise OperationRejected(f"currency: {exc}") from None
    try:
        return parse_form_amount(str(amount), code)
    except ValueError as exc:  # the messages never repeat the text
        raise OperationRejected(f"{what}: {exc}") from None


def units(cents: int, currency: str) -> str:
    """``29900`` ZAR as the form's text ``"299.00"`` (the inverse of :func:`cents` for every
    amount up to :data:`~flows._patterns.FORM_MAX_CENTS`)."""
    exp = exponent(currency)
    return f"{Decimal(cents).scaleb(-exp):.{exp}f}"


def optional_cents(amount: str | None, currency: str, what: str = "amount") -> int | None:
    """:func:`cents`, or None (all of it) for an empty amount."""
    if amount is None or not str(amount).strip():
        return None
    return cents(amount, currency, what)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _refusal(exc: ValidationError) -> OperationRejected:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "parameters"
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return OperationRejected(f"{where}: {message}")


def _given(value: Any) -> bool:
    """An optional field the form left empty (``""`` in the UI, None from Python) is not given."""
    return value is not None and value != ""


def request(model: type[M], form: Mapping[str, Any]) -> M:
    """The ``model`` a flow's core steps take, from the flow's flat ``form`` (its parameters)."""
    values = {name: _plain(value) for name, value in form.items()}
    fields = model.model_fields
    if "amount" in values:
        currency = values.get("currency") or "ZAR"
        if fields["amount_cents"].is_required():
            values["amount_cents"] = cents(values.pop("amount"), currency)
        else:
            values["amount_cents"] = optional_cents(values.pop("amount"), currency)
    if "currency" in values and "currency" not in fields:
        values.pop("currency")
    try:
        if "shopper" in fields:
            parts = {k: values.pop(k, None) for k in _SHOPPER}
            values["shopper"] = Shopper(**{k: v for k, v in parts.items() if _given(v)})
        if "card" in fields:
            parts = {k: values.pop(k, None) for k in _CARD}
            values["card"] = CardInput(**{k: v for k, v in parts.items() if _given(v)})
        # An empty value takes the model's default (a business id: this run's id).
        return model(**{k: v for k, v in values.items() if _given(v)})
    except ValidationError as exc:
        raise _refusal(exc) from None


@cache
def form_model(fn: Callable[..., Any]) -> type[BaseModel]:
    """A flow function's parameters as a pydantic model, built as Prefect builds the one it
    validates a run's parameters with (``Flow.validate_parameters``): each parameter's annotation
    (``Annotated`` fields and their validators included) and default, unknown names refused."""
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {
        name: (hints.get(name, Any), ... if p.default is inspect.Parameter.empty else p.default)
        for name, p in inspect.signature(fn).parameters.items()
    }
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{fn.__name__}_form", __config__=config, **fields)


def _problem(err: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in err.get("loc", ())) or "parameters"
    return f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}"


def check_form(flow: Any, form: Mapping[str, Any]) -> None:
    """Refuse ``form`` as ``flow`` would when its run starts: an
    :class:`~payflows.payments.OperationRejected` naming every bad field (``email: ...;
    amount: ...``), never its value (it may be a card number typed in the wrong place), nor an
    unknown field's name (it may be one too).

    Prefect's own check (``Flow.validate_parameters``) logs a refusal as error lines quoting
    every parameter; this one validates the flow's parameter model directly and logs nothing.
    It also holds the amount to its currency (:func:`cents`: decimals, the form's limit) as the
    flow's first line does, so no run exists for a form the flow would refuse.
    """
    model = form_model(flow.fn)
    problems: list[str] = []
    refused: set[str] = set()
    unknown = 0
    try:
        model.model_validate(dict(form))
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            if err.get("type") == "extra_forbidden":
                unknown += 1
                continue
            refused.add(str(err["loc"][0]) if err.get("loc") else "")
            problems.append(_problem(err))
    fields = model.model_fields
    if "amount" in fields and "currency" in fields and "currency" not in refused:
        currency = _plain(form.get("currency") or fields["currency"].default)
        amount = form.get("amount", fields["amount"].default)
        try:
            if "amount" not in refused or isinstance(amount, str):
                optional_cents(amount, str(currency))
        except OperationRejected as exc:
            # The currency's own reason ("more decimals than JPY allows") over the field's,
            # which knows no currency ("too many digits" for 999999999.999).
            problems = [p for p in problems if not p.startswith("amount:")] + [str(exc)]
    if unknown:
        count = "an unknown field" if unknown == 1 else f"{unknown} unknown fields"
        problems.append(f"parameters: {count}")  # a name may be a card number: never quoted
    if problems:
        raise OperationRejected("; ".join(problems))


def run_name(prefix: str, key: str) -> Callable[[], str]:
    """A flow run name ``<prefix>-<business id>``; the run's own id when the form left it empty.

    The business id a flow defaults to is ``run-<flow run id>`` (:func:`flows._models.
    run_reference`), so the name and the ledger's business key say the same. Only an id in the
    id shape is shown, never other text (:mod:`flows._names`).
    """
    return flow_run_namer(prefix, key, shown=business_id, fallback=this_run)
