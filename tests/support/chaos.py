"""Chaos as a user meets it: ``payflows bill`` / ``payflows sweep`` killed with SIGKILL, rerun.

Every run is a new ``payflows`` process (a fresh worker id each time, no Prefect server, so the
command runs on the core), started in an empty folder with the ledger and the sandbox given by
environment, exactly as an operator would type it. The helpers here start, kill and finish those
processes and keep what each run printed; the billing and sweep chaos tests and
``bench/chaos.py`` (the issue's full size) use them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Chaos", "ChaosRun"]

ROOT = Path(__file__).resolve().parents[2]
PAYFLOWS = Path(sys.executable).with_name("payflows")


@dataclass
class ChaosRun:
    """One ``payflows`` process: how it ended and what it said."""

    name: str
    killed: bool
    exit_code: int | None
    seconds: float
    summary: dict[str, Any] | None = None
    stderr: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.summary and self.summary.get("complete"))

    def line(self) -> str:
        if self.killed:
            return f"{self.name}: SIGKILL after {self.seconds:.1f}s"
        s = self.summary or {}
        return (
            f"{self.name}: exit {self.exit_code} in {self.seconds:.1f}s, "
            f"complete={s.get('complete')} left={s.get('left')} problem={s.get('problem')!r}"
        )


@dataclass
class Chaos:
    """Runs ``payflows COMMAND --json ...`` against one sandbox and one ledger."""

    command: list[str]
    base_url: str
    db_url: str
    home: Path
    runs: list[ChaosRun] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PRECIUM_BASE_URL=self.base_url,
            PAYFLOWS_DATABASE_URL=self.db_url,
            PRECIUM_TIMEOUT_SECONDS="3",
            PREFECT_HOME=str(self.home / "prefect"),  # no profile: no Prefect server
            PYTHONPATH=str(ROOT),
        )
        return env

    def start(self) -> tuple[subprocess.Popen[str], float]:
        self.home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [str(PAYFLOWS), *self.command, "--json"],
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )
        return proc, time.monotonic()

    def kill_when(self, ready: Callable[[], bool], timeout: float = 300) -> ChaosRun:
        """Start a run and SIGKILL it once ``ready()``; a run that ends first is kept as is."""
        proc, started = self.start()
        deadline = started + timeout
        while proc.poll() is None and time.monotonic() < deadline and not ready():
            time.sleep(0.1)
        if proc.poll() is not None:
            return self._finished(proc, started)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        run = ChaosRun(f"run {len(self.runs) + 1}", True, None, time.monotonic() - started)
        self.runs.append(run)
        return run

    def run(self, timeout: float = 600) -> ChaosRun:
        proc, started = self.start()
        proc.wait(timeout=timeout)
        return self._finished(proc, started)

    def until_complete(self, max_runs: int = 6, timeout: float = 600) -> ChaosRun:
        """Run again while the last run says it left work (what an operator does)."""
        for _ in range(max_runs):
            run = self.run(timeout)
            if run.exit_code == 0:
                return run
        return run

    def _finished(self, proc: subprocess.Popen[str], started: float) -> ChaosRun:
        out, err = proc.communicate(timeout=30)
        summary = None
        if "{" in out:
            summary = json.loads(out[out.index("{") :])
        run = ChaosRun(
            f"run {len(self.runs) + 1}",
            False,
            proc.returncode,
            time.monotonic() - started,
            summary,
            err[-3000:],
        )
        self.runs.append(run)
        return run
