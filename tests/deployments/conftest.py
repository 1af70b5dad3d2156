"""Deployment tests: the session's Prefect server, the flow suite's sandbox and ledger template."""

from tests.flows.conftest import migrated_ledger, sandbox_url  # noqa: F401
