"""The README's first command: a whole business day, as a person runs it, in a subprocess.

No Prefect server is given, so the day starts its own (as on a fresh machine); the test then
reads what the day left behind: its ledger, its reports and everything Prefect wrote.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from payflows.sandbox import TEST_CARDS

PAYFLOWS = Path(sys.executable).with_name("payflows")


def _run_day(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYFLOWS_"))}
    env.pop("PRECIUM_BASE_URL", None)
    return subprocess.run(
        [str(PAYFLOWS), "demo", "--workspace", str(tmp_path / "day")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.prefect  # starts a Prefect server of its own
def test_the_business_day_runs_every_step_and_leaves_no_card_data(tmp_path: Path) -> None:
    done = _run_day(tmp_path)

    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for heading in (
        "1. CSV drop",
        "2. Every S2S scenario",
        "3. Bill due subscriptions",
        "4. Sweep the holds",
        "The sandbox clock moves",
        "6. Settlement report of the day",
    ):
        assert heading in out
    assert "Traceback" not in out + done.stderr
    assert "refused (line, column and reason" in out
    for scenario in ("zero-auth", "3-D Secure", "partial capture", "void", "cancel", "refund"):
        assert scenario in out

    assert " 0 mismatches" in out
    reports = list((tmp_path / "day" / "reports").rglob("report.html"))
    assert len(reports) == 1 and str(reports[0]) in out
    assert "R 4 200.00" in reports[0].read_text() or "4 200.00" in out

    ledger = sqlite3.connect(tmp_path / "day" / "ledger.db")
    states = dict(
        ledger.execute("SELECT state, count(*) FROM payment_attempts GROUP BY state").fetchall()
    )
    assert states.get("succeeded", 0) >= 15 and states.get("declined", 0) >= 1
    assert not states.get("unknown") and not states.get("submitted")
    billed = ledger.execute(
        "SELECT count(*) FROM payment_attempts WHERE kind = 'mit' AND subscription_id IS NOT NULL"
    ).fetchone()[0]
    assert billed >= 3

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    raw = b"".join(p.read_bytes() for p in written)
    for card in TEST_CARDS:
        assert card.number.encode() not in raw, card.key
        assert card.number not in out
