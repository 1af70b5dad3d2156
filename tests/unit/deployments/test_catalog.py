"""The catalog is the one source of truth: prefect.yaml, serve and the flows agree with it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from apps.cli import app
from deployments import CATALOG, TIMEZONE, available, by_name, prefect_yaml
from deployments.catalog import DeploymentSpec
from deployments.serve import runner_deployments
from flows import ALL_FLOWS

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_prefect_yaml_is_the_catalog_rendered() -> None:
    """Fails when someone edits the catalog and forgets: payflows deployments yaml > prefect.yaml"""
    assert (ROOT / "prefect.yaml").read_text() == prefect_yaml(), (
        "prefect.yaml is out of date: run `payflows deployments yaml > prefect.yaml`"
    )


def test_yaml_entries_carry_the_catalog_values() -> None:
    doc = yaml.safe_load(prefect_yaml("other-pool"))
    entries = {(d["entrypoint"], d["name"]): d for d in doc["deployments"]}
    assert len(entries) == len(available())
    nightly = entries[("flows/billing.py:subscription_billing", "nightly")]
    assert nightly["schedules"] == [{"cron": "0 2 * * *", "timezone": TIMEZONE, "active": True}]
    assert nightly["concurrency_limit"] == 1 and nightly["work_pool"]["name"] == "other-pool"
    inbox = entries[("flows/csv_inbox.py:csv_inbox_import", "inbox")]
    assert inbox["schedules"][0]["interval"] == 300
    assert "pull" not in doc  # prefect deploy records the project directory itself


def test_every_scenario_flow_is_deployed_except_the_termurl_one() -> None:
    deployed = {spec.flow_name for spec in CATALOG}
    assert set(ALL_FLOWS) - deployed == {"complete-3ds"}
    assert len({spec.full_name for spec in CATALOG}) == len(CATALOG)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.full_name)
def test_entrypoint_names_the_flow_and_defaults_validate(spec: DeploymentSpec) -> None:
    assert spec.missing is None
    flow = spec.load_flow()
    assert flow.name == spec.flow_name
    assert flow.fn.__name__ == spec.function  # what to_deployment derives the entrypoint from
    if spec.quick_run:  # the UI's Quick run sends nothing: the defaults must make a run
        flow.validate_parameters(dict(spec.parameters))
    else:
        with pytest.raises(Exception, match=r"required|missing"):
            flow.validate_parameters(dict(spec.parameters))


def test_the_billing_schedule_is_two_in_the_morning_in_johannesburg() -> None:
    [deployment] = runner_deployments([by_name("subscription-billing/nightly")])
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "0 2 * * *"
    assert schedule.schedule.timezone == "Africa/Johannesburg"
    assert deployment.concurrency_limit == 1


def test_quick_run_ids_are_new_per_run_and_valid_outside_a_run() -> None:
    from flows import CustomerInitiatedPaymentRequest
    from flows._forms import request

    params = by_name("customer-initiated-payment/take-a-card-payment").parameters
    assert "order_id" not in params  # the Quick run leaves the business id to the run
    a = request(CustomerInitiatedPaymentRequest, params)
    b = request(CustomerInitiatedPaymentRequest, params)
    assert a.order_id.startswith("run-") and a.order_id != b.order_id
    assert a.amount_cents == 29_900 and a.currency == "ZAR"


def test_quick_run_id_is_the_flow_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import PreauthRequest
    from flows._forms import request

    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "0b7c6a1e-0000-4000-8000-000000000001")
    params = by_name("preauthorize/hold-an-amount").parameters
    held = request(PreauthRequest, params)
    assert held.booking_id == "run-0b7c6a1e-0000-4000-8000-000000000001"
    # A retry of the same flow run validates again and gets the same booking: pays once.
    assert request(PreauthRequest, params).booking_id == held.booking_id


def test_scenario_deployments_are_the_registry_described_like_the_cli() -> None:
    from flows.scenarios import SCENARIOS

    for scenario in SCENARIOS:
        if scenario.deployment is None:
            continue
        spec = by_name(f"{scenario.flow_name}/{scenario.deployment}")
        assert spec.description == scenario.help and spec.entrypoint == scenario.entrypoint
        assert spec.quick_run == bool(scenario.sample)
        # Every default parameter is a parameter of the flow's flat form.
        assert set(spec.parameters) <= {p.name for p in scenario.parameters()}


def test_deployments_list_and_yaml_commands() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["deployments", "list"])
    assert listed.exit_code == 0
    assert "subscription-billing/nightly" in listed.output and TIMEZONE in listed.output
    out = runner.invoke(app, ["deployments", "yaml", "--work-pool", "k8s-pool"])
    assert out.exit_code == 0 and "name: k8s-pool" in out.output


def test_sharded_billing_is_told_its_child_deployment_by_the_catalog() -> None:
    """The flow knows no deployment's name: the catalog passes the shard deployment in."""
    from prefect.exceptions import ParameterTypeError

    from flows.sharded_billing import sharded_billing

    params = by_name("sharded-billing/scale-out").parameters
    child = by_name(sharded_billing.validate_parameters(params)["deployment"])
    assert child.entrypoint == "flows/sharded_billing.py:billing_shard"
    with pytest.raises(ParameterTypeError):
        sharded_billing.validate_parameters({"shards": 2})
    source = (ROOT / "flows" / "sharded_billing.py").read_text()
    assert 'subscription-billing/shard"' not in source and '/shard"' not in source


def test_sharded_summaries_add_up() -> None:
    from flows.sharded_billing import combine
    from payflows.billing import BillingSummary

    at = datetime(2026, 3, 1)
    a = BillingSummary(
        as_of=at,
        worker_id="a",
        claimed=3,
        succeeded=2,
        declined=1,
        amounts_cents={"ZAR": 200},
        declines_by_code={"insufficient_funds": 1},
        seconds=2.0,
    )
    b = BillingSummary(
        as_of=at,
        worker_id="b",
        claimed=2,
        succeeded=2,
        amounts_cents={"ZAR": 100, "USD": 5},
        seconds=3.0,
    )
    total = combine(at, "all", [a, b])
    assert (total.claimed, total.succeeded, total.declined) == (5, 4, 1)
    assert total.amounts_cents == {"ZAR": 300, "USD": 5}
    assert total.declines_by_code == {"insufficient_funds": 1} and total.seconds == 3.0


def test_every_deployment_enforces_its_parameter_schema() -> None:
    """The server refuses a card number in a text field only when it checks the schema."""
    import yaml

    from deployments.render import prefect_yaml

    entries = yaml.safe_load(prefect_yaml())["deployments"]
    assert entries and all(e["enforce_parameter_schema"] is True for e in entries)
    spec = by_name("customer-initiated-payment/take-a-card-payment")
    assert spec.to_runner_deployment(schedules=False).enforce_parameter_schema is True
