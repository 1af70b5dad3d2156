"""The test tiers: which servers a test needs, so a newcomer can run the fast ones first.

Every collected test gets one or more tier markers (registered in ``pyproject.toml``) from where
it lives, the fixtures it uses and the marks it carries:

- ``unit``: under ``tests/unit``, no server of any kind (``make test-unit``);
- ``prefect``: uses the session's Prefect server (``prefect_api``), or is marked so because it
  starts one of its own (``make test-prefect``);
- ``postgres``: marked so, needs PostgreSQL (``make test-postgres``);
- ``browser``: uses the ``chromium`` fixture (tests/support/browser.py: the one way a test gets
  a browser), or is marked so, drives Chromium (``make test-browser``);
- ``integration``: none of these: real loopback HTTP, subprocesses (``make test-integration``).

A test under ``tests/unit`` that needs the Prefect server is refused at collection: it belongs
with the flow tests.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["SERVER_TIERS", "TierError", "tiers_of"]

#: Tiers that need something running besides the test process.
SERVER_TIERS = ("prefect", "postgres", "browser")


class TierError(Exception):
    """A test sits in a tier whose promise it breaks."""


def tiers_of(parts: tuple[str, ...], fixtures: Collection[str], marks: Collection[str]) -> set[str]:
    """The tier markers of a test at ``parts`` (its path from the repository root)."""
    in_unit = parts[:2] == ("tests", "unit")
    tiers = {tier for tier in SERVER_TIERS if tier in marks}
    if "chromium" in fixtures:
        tiers.add("browser")
    if "prefect_api" in fixtures:
        if in_unit:
            raise TierError(
                "needs the Prefect server (prefect_api): move it out of tests/unit "
                "(tests/flows holds the flows run on the server)"
            )
        tiers.add("prefect")
    if not tiers:
        tiers.add("unit" if in_unit else "integration")
    return tiers
