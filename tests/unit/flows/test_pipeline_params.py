"""The pipelines' forms: one field per parameter, each with help, technical fields last."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import validate

from flows import ALL_FLOWS
from flows._tags import OPERATOR_TOOLS, PIPELINES
from flows.sharded_billing import billing_shard

FORMS = sorted(set(PIPELINES) | OPERATOR_TOOLS)


@pytest.mark.parametrize("name", FORMS)
def test_every_parameter_is_a_field_of_its_own_with_help(name: str) -> None:
    flow = ALL_FLOWS[name]
    # What the UI (serve) and `prefect deploy` (the flow object) both build the form from.
    for schema in (flow.parameters.model_dump(), parameter_schema(flow).model_dump()):
        props = schema["properties"]
        assert "params" not in props
        assert all(prop.get("type") != "object" for prop in props.values()), props
        missing = [key for key, prop in props.items() if not prop.get("description")]
        assert not missing, f"{name}: no help for {missing}"


@pytest.mark.parametrize("name", FORMS)
def test_technical_fields_come_after_the_ones_an_operator_chooses(name: str) -> None:
    props = ALL_FLOWS[name].parameters.model_dump()["properties"]
    technical = [prop["description"].startswith("Technical") for prop in props.values()]
    assert technical == sorted(technical), list(props)
    for key, prop in props.items():
        if prop["description"].startswith("Technical"):
            assert "default" in prop or key == "deployment", key  # defaulted (or given)


def test_a_shard_takes_the_nightly_runs_parameters() -> None:
    nightly = ALL_FLOWS["subscription-billing"].parameters.model_dump()
    assert billing_shard.parameters.model_dump() == nightly


def test_a_refund_needs_its_reference() -> None:
    """A refund run again (after a lost answer, a crash, a timeout) must be the same refund.

    With the run's own id as the default reference, each run of ``payflows run refund
    --amount 100.00`` or of the deployment from the UI was a new refund: two runs refunded twice.
    """
    from flows.after_payment import refund

    for schema in (refund.parameters.model_dump(), parameter_schema(refund).model_dump()):
        assert "refund_ref" in schema["required"]
        assert "default" not in schema["properties"]["refund_ref"]


def _schemas(name: str) -> list[dict[str, Any]]:
    flow = ALL_FLOWS[name]
    return [flow.parameters.model_dump(), parameter_schema(flow).model_dump()]


#: Optional numbers stay typed (``anyOf [number, null]``, a switch in the UI) so that the API
#: takes ``{"limit": 25}``: no schema is both a plain form field and a JSON number (flows._empty).
TYPED_NUMBERS = {"limit", "max_failure_rate", "rate_per_second"}


@pytest.mark.parametrize("name", FORMS)
def test_no_text_like_field_is_a_type_switch_in_the_prefect_ui(name: str) -> None:
    """``X | None`` is ``anyOf [X, null]``, which the Prefect UI shows as a type switch ("date-time
    / None") beside the field; and a ``"default": null`` on a plain type fills the field with null,
    which the form's own check refuses ("None is not of type 'string'"), so the form cannot be
    sent as it opens. An optional text or time is one field whose default is empty; only the
    optional numbers are a switch, each between a number and None."""
    for schema in _schemas(name):
        for key, prop in schema["properties"].items():
            if key in TYPED_NUMBERS and "anyOf" in prop:
                kinds = sorted(choice["type"] for choice in prop["anyOf"])
                assert kinds in (["integer", "null"], ["null", "number"]), (name, key, prop)
                assert prop["default"] is None, (name, key, prop)
                continue
            assert "anyOf" not in prop and "type" in prop, (name, key, prop)
            assert "null" not in (prop["type"], *prop["type"]), (name, key, prop)
            assert prop.get("default", "") is not None, (name, key, prop)


def _required(name: str) -> dict[str, Any]:
    given = {"path": "data/in.csv", "deployment": "subscription-billing/shard", "query": "x"}
    schema = ALL_FLOWS[name].parameters.model_dump()
    return {key: given[key] for key in schema.get("required", [])}


@pytest.mark.parametrize("name", FORMS)
def test_an_empty_field_means_what_none_and_no_value_meant(name: str) -> None:
    """The form sends ``""`` for a field left empty; the flow reads it as None, its default as
    before, and None from Python (the CLI, the demo, tests, other flows) still works."""
    flow = ALL_FLOWS[name]
    base = _required(name)
    omitted = flow.validate_parameters(base)
    empties = [
        key
        for key, prop in flow.parameters.model_dump()["properties"].items()
        if prop.get("default") == ""
    ]
    for key in empties:
        assert flow.validate_parameters({**base, key: ""})[key] == omitted[key], key
        assert flow.validate_parameters({**base, key: None})[key] == omitted[key], key
        assert flow.parameters.model_dump()["properties"][key]["type"] == "string", key


def _server_accepts(name: str, parameters: dict[str, Any]) -> bool:
    """Prefect's server check of a run's parameters (deployments enforce their schema)."""
    schema = parameter_schema(ALL_FLOWS[name]).model_dump()
    return not validate(parameters, schema, raise_on_error=False)


@pytest.mark.parametrize(
    ("name", "field", "value", "taken"),
    [
        ("subscription-billing", "as_of", "", None),
        ("subscription-billing", "as_of", "2026-03-01T02:00:00+02:00", "2026-03-01T00:00:00+00:00"),
        ("subscription-billing", "as_of", "2026-03-01 02:00", "2026-03-01T02:00:00+00:00"),
        ("subscription-billing", "as_of", "2026-03-01", "2026-03-01T00:00:00+00:00"),
        (
            "preauth-sweep",
            "as_of",
            "2026-03-01T02:00:00.123456Z",
            "2026-03-01T02:00:00.123456+00:00",
        ),
        ("preauth-sweep", "worker_id", "ops-1", "ops-1"),
        ("settlement-report", "date_to", "2026-03-01", "2026-03-01"),
        ("settlement-report", "timezone", "Africa/Johannesburg", "Africa/Johannesburg"),
        ("csv-billing-import", "kind", "customers", "customers"),
    ],
)
def test_what_the_form_takes_the_flow_takes(name: str, field: str, value: str, taken: Any) -> None:
    base = _required(name)
    assert _server_accepts(name, {**base, field: value})
    got = ALL_FLOWS[name].validate_parameters({**base, field: value})[field]
    shown = got.isoformat() if isinstance(got, date) else got
    assert shown == taken


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("subscription-billing", "as_of", "yesterday"),
        ("subscription-billing", "as_of", "2026-03-01T02:00:00+02"),
        ("subscription-billing", "as_of", None),
        ("subscription-billing", "max_failure_rate", 1.5),
        ("subscription-billing", "max_failure_rate", -0.1),
        ("subscription-billing", "max_failure_rate", "0.2"),
        ("subscription-billing", "rate_per_second", 0),
        ("subscription-billing", "rate_per_second", "0.5"),
        ("preauth-sweep", "limit", 0),
        ("preauth-sweep", "limit", 1.5),
        ("preauth-sweep", "limit", "25"),
        ("preauth-sweep", "limit", "ten"),
        ("settlement-report", "date_from", "01/03/2026"),
        ("csv-billing-import", "kind", "cards"),
        ("preauth-sweep", "worker_id", "x" * 129),
        ("settlement-report", "date_to", "4111111111111111"),
        ("preauth-sweep", "as_of", "411111111111"),
    ],
)
def test_the_server_refuses_what_the_form_does_not_take(name: str, field: str, value: Any) -> None:
    """Refused with 409 before a run exists: the shape (a card number never fits a text's), the
    range of a number, and a number written as text (the numbers are typed)."""
    assert not _server_accepts(name, {**_required(name), field: value})


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("preauth-sweep", {"limit": 25}),
        ("preauth-sweep", {"limit": 1, "max_failure_rate": 0.2, "worker_id": "ops-1"}),
        ("preauth-sweep", {"limit": None, "max_failure_rate": None}),
        ("subscription-billing", {"max_failure_rate": 0, "rate_per_second": 0.00001}),
        ("subscription-billing", {"max_failure_rate": 1, "rate_per_second": 12345.5}),
        ("subscription-billing", {"as_of": datetime(2026, 3, 1, 2, 0, 0, 123456, tzinfo=UTC)}),
        ("subscription-billing", {"as_of": datetime(2026, 3, 1, 2, 0)}),  # naive: UTC
        ("subscription-billing", {"as_of": date(2026, 3, 1)}),
        ("settlement-report", {"date_from": date(2026, 3, 1), "date_to": date(2026, 3, 2)}),
    ],
)
def test_typed_values_from_the_api_pass_the_servers_check(
    name: str, parameters: dict[str, Any]
) -> None:
    """``run_deployment(..., parameters={"limit": 25})``, ``prefect deployment run -p limit=25``
    and a ``prefect.yaml`` schedule's ``max_failure_rate: 0.2`` send JSON numbers; a ``datetime``
    or ``date`` goes as Prefect's client encodes it (ISO text). The server takes them, and the
    flow reads them as a Python caller's values (None included: the typed fields' default)."""
    sent = DeploymentFlowRunCreate(parameters=parameters).model_dump(mode="json")["parameters"]
    assert _server_accepts(name, {**_required(name), **sent}), sent
    taken = ALL_FLOWS[name].validate_parameters({**_required(name), **sent})
    direct = ALL_FLOWS[name].validate_parameters({**_required(name), **parameters})
    assert {key: taken[key] for key in parameters} == {key: direct[key] for key in parameters}


def test_a_sharded_run_gives_its_shards_parameters_their_forms_take() -> None:
    """The parent starts each shard through its deployment, whose schema the server enforces:
    numbers as numbers, None as None (their typed default), the time as ISO text."""
    when = datetime(2026, 3, 1, 2, 0, 0, 123456, tzinfo=UTC)
    for rate, share in ((None, None), (0.00001, 0.25), (2.0, 1.0), (12345.5, 0.0)):
        child = {
            "as_of": when.isoformat(),
            "max_failure_rate": share,
            "rate_per_second": rate,
            "worker_id": "shard-1-of-2:x:y",
        }
        assert _server_accepts("subscription-billing", child), child
        taken = ALL_FLOWS["subscription-billing"].validate_parameters(child)
        assert (taken["rate_per_second"], taken["max_failure_rate"]) == (rate, share)
        assert taken["as_of"] == when


@pytest.mark.parametrize(
    "value", ["4111111111111111", "ops:4111 1111 1111 1111", "4111-1111-1111-1111:night"]
)
def test_a_card_number_typed_as_the_worker_id_is_refused_by_the_server_and_the_flow(
    value: str,
) -> None:
    """The worker id is written to every row a run claims and to its logs: a card number typed
    there would rest in the ledger and Prefect's database. Refused by both checks."""
    assert not _server_accepts("preauth-sweep", {"worker_id": value})
    with pytest.raises(Exception, match="card number") as refused:
        ALL_FLOWS["preauth-sweep"].validate_parameters({"worker_id": value})
    assert "4111" not in str(refused.value)


def test_shard_worker_ids_pass_both_checks_whatever_digits_their_uuid_holds() -> None:
    """A shard is named after its parent's run id, a UUID, which may hold twelve digits or a
    Luhn-valid run in a row by chance: the UUID is never taken for a card number."""
    from flows.sharded_billing import shard_worker_ids

    for parent in (
        "12345678-1234-1234-1234-123456789012",
        "41111111-1111-1111-1111-111111111111",
        *(str(uuid.uuid4()) for _ in range(200)),
    ):
        for name in shard_worker_ids(parent, 4):
            assert _server_accepts("subscription-billing", {"worker_id": name}), name
            taken = ALL_FLOWS["subscription-billing"].validate_parameters({"worker_id": name})
            assert taken["worker_id"] == name


def test_a_uuid_shaped_tail_does_not_hide_a_card_number_in_the_worker_id() -> None:
    """Only a whole ``:``-part is set aside as a UUID: a card number whose last digits start a
    UUID-shaped run (``4111111111111111-1111-...``) is still found (the CLI and in-process
    callers never meet the server's pattern)."""
    for value in (
        "4111111111111111-1111-1111-1111-111111111111",
        "ops:4111111111111111-1111-1111-1111-111111111111:x",
    ):
        with pytest.raises(Exception, match="card number"):
            ALL_FLOWS["preauth-sweep"].validate_parameters({"worker_id": value})


def test_a_card_number_typed_as_the_report_zone_is_refused_and_never_echoed() -> None:
    pan = "4111111111111111"
    assert not _server_accepts("settlement-report", {"timezone": pan})
    assert _server_accepts("settlement-report", {"timezone": "Etc/GMT+2"})
    with pytest.raises(Exception) as refused:
        ALL_FLOWS["settlement-report"].validate_parameters({"timezone": pan})
    assert pan not in str(refused.value)
