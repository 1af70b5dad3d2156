"""Every test lands in a tier, and tests/unit keeps its promise: no server."""

from __future__ import annotations

import pytest

from tests.support.tiers import TierError, tiers_of


def test_a_unit_test_is_unit():
    assert tiers_of(("tests", "unit", "domain", "test_money.py"), {"tmp_path"}, set()) == {"unit"}


def test_a_postgres_variant_of_a_unit_test_is_postgres_only():
    parts = ("tests", "unit", "ledger", "test_models.py")
    assert tiers_of(parts, {"engine"}, {"postgres"}) == {"postgres"}


def test_a_unit_test_on_the_prefect_server_is_refused():
    with pytest.raises(TierError, match="move it out of tests/unit"):
        tiers_of(("tests", "unit", "imports", "test_flow.py"), {"prefect_api"}, set())


def test_flow_tests_are_prefect_and_loopback_tests_integration():
    flows = ("tests", "flows", "test_scenarios.py")
    assert tiers_of(flows, {"prefect_api", "sandbox"}, set()) == {"prefect"}
    assert tiers_of(("tests", "integration", "test_clock.py"), {"sandbox_url"}, set()) == {
        "integration"
    }


def test_server_tiers_add_up():
    parts = ("tests", "web", "test_browser_checkout.py")
    assert tiers_of(parts, {"prefect_api"}, {"browser"}) == {"browser", "prefect"}
    parts = ("tests", "deployments", "test_scale_out_postgres.py")
    assert tiers_of(parts, {"prefect_api"}, {"postgres"}) == {"postgres", "prefect"}


def test_a_test_that_starts_its_own_prefect_server_says_so():
    parts = ("tests", "deployments", "test_up.py")
    assert tiers_of(parts, {"tmp_path"}, {"prefect"}) == {"prefect"}
