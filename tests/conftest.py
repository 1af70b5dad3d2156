"""Fixtures shared by every suite. Heavy ones start only for the tests that ask for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.prefect_server import PrefectServer, running_prefect_server


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real local Prefect server for the whole session, with its own home and storage.

    ``PREFECT_API_URL`` (environment and Prefect settings) points at it while the session runs,
    so flows called in-process are recorded there as they would be in production.
    """
    with running_prefect_server(tmp_path_factory.mktemp("prefect")) as server:
        yield server
