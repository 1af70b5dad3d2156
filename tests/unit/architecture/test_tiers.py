"""Every test lands in a tier, and tests/unit keeps its promise: no server."""

from __future__ import annotations

from pathlib import Path

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


def test_a_test_with_the_chromium_fixture_is_browser():
    parts = ("tests", "web", "test_report_browser.py")
    assert tiers_of(parts, {"chromium", "tmp_path"}, set()) == {"browser"}
    assert tiers_of(parts, {"chromium", "prefect_api"}, set()) == {"browser", "prefect"}


def test_no_test_drives_a_browser_but_through_the_chromium_fixture():
    """``make test-browser`` selects the browser tier, which the ``chromium`` fixture gives: a
    test that started Playwright itself would fall in another tier (as the report's browser test
    once did) and run, or be skipped, where no browser is meant to be."""
    root = Path(__file__).resolve().parents[3]
    allowed = {root / "tests" / "support" / "browser.py", Path(__file__).resolve()}
    launching = [
        str(path.relative_to(root))
        for path in (root / "tests").rglob("*.py")
        if path not in allowed
        and any(word in path.read_text() for word in ("async_playwright", "sync_playwright"))
    ]
    assert launching == [], "use the chromium fixture (tests/support/browser.py)"
