"""Prefect is loaded by what runs a flow, not by every command: ``payflows --help`` stays fast.

Each check runs in a fresh interpreter, where ``sys.modules`` shows what an import really loads.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
import sys
{body}
print("prefect" in sys.modules)
"""


def _loads_prefect(body: str) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize(
    "body",
    [
        "import apps.web.app",
        "import payflows.payments, payflows.webhooks, payflows.billing, payflows.sweep",
        "from apps.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass",
    ],
    ids=["web-app", "core", "payflows-help"],
)
def test_prefect_is_not_loaded_by(body):
    assert not _loads_prefect(body)


def test_the_probe_sees_prefect_when_it_is_loaded():
    assert _loads_prefect("import flows.billing")
