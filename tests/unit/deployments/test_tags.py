"""Run tags: one source (flows._tags), given to every deployment, matched by the automations."""

from __future__ import annotations

from deployments import CATALOG
from deployments.automations import automation_specs
from flows import ALL_FLOWS
from flows._tags import OPERATOR_TOOLS, PIPELINES, run_tags, tags_for


def test_every_deployment_carries_its_flows_tags_first() -> None:
    for spec in CATALOG:
        own = tags_for(spec.flow_name)
        assert spec.tags[: len(own)] == own, spec.full_name
        assert len(set(spec.tags)) == len(spec.tags), spec.full_name


def test_served_and_yaml_deployments_get_the_catalogs_tags() -> None:
    import yaml

    from deployments import prefect_yaml
    from deployments.serve import runner_deployments

    specs = [s for s in CATALOG if s.missing is None]
    for spec, deployment in zip(specs, runner_deployments(specs), strict=True):
        assert deployment.tags == list(spec.tags), spec.full_name
    entries = yaml.safe_load(prefect_yaml())["deployments"]
    assert [e["tags"] for e in entries] == [list(s.tags) for s in specs]


def test_pipelines_scenarios_and_operator_tools_are_told_apart() -> None:
    assert set(PIPELINES) | OPERATOR_TOOLS <= set(ALL_FLOWS)  # no stale name
    assert tags_for("subscription-billing") == (
        "payflows",
        "pipeline",
        "pipeline:subscription-billing",
        "billing",
    )
    assert tags_for("customer-initiated-payment") == (
        "payflows",
        "scenario",
        "scenario:customer-initiated-payment",
    )
    assert "operator:payment-lookup" in tags_for("payment-lookup")
    assert all(tags_for(name)[0] == "payflows" for name in ALL_FLOWS)


def _matched_tags(spec: object) -> set[str]:
    related = spec.trigger.match_related  # type: ignore[attr-defined]
    found: set[str] = set()
    for resource in related if isinstance(related, list) else [related]:
        ids = resource.root.get("prefect.resource.id", [])
        for value in [ids] if isinstance(ids, str) else ids:
            if value.startswith("prefect.tag."):
                found.add(value.removeprefix("prefect.tag."))
    return found


def test_every_tag_an_automation_matches_is_one_runs_carry() -> None:
    carried = {tag for spec in CATALOG for tag in spec.tags}
    by_name = {spec.name: _matched_tags(spec) for spec in automation_specs()}
    assert by_name["payflows run failed or crashed"] == {"payflows"}
    assert by_name["payflows billing failure rate"] == {
        "pipeline:subscription-billing",
        "pipeline:sharded-billing",
    }
    assert by_name["payflows reconciliation mismatches"] == {"pipeline:settlement-report"}
    for name, tags in by_name.items():
        assert tags <= carried, (name, tags - carried)


def test_run_tags_is_prefects_tags_context_with_the_flows_tags() -> None:
    from prefect.context import TagsContext

    with run_tags("preauth-sweep"):
        assert TagsContext.get().current_tags >= set(tags_for("preauth-sweep"))
    assert "pipeline:preauth-sweep" not in TagsContext.get().current_tags
