"""``PAYFLOWS_LIVE=1``: the suite runs against the configured gateway and skips what needs the
sandbox. Tried here with a sandbox on loopback standing in for the real platform (its published
keys as the "real" ones): the live tests pass, every other test is skipped, none fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from payflows.sandbox import running_sandbox
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

ROOT = Path(__file__).resolve().parents[2]


def test_live_mode_runs_the_live_tests_against_the_configured_gateway_and_skips_the_rest():
    with running_sandbox() as api_url:
        env = {
            **os.environ,
            "PAYFLOWS_LIVE": "1",
            "PRECIUM_BASE_URL": api_url,
            "PRECIUM_API_KEY": SANDBOX_API_KEY,
            "PRECIUM_S2S_API_KEY": SANDBOX_S2S_API_KEY,
            "PRECIUM_BRAND_ID": SANDBOX_BRAND_ID,
        }
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/integration",
                "-q",
                "-rs",
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert "4 passed" in tail, tail
    assert "live mode: needs the sandbox" in run.stdout, tail
    assert " failed" not in tail and " error" not in tail, tail
