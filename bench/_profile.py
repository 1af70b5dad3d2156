"""``--profile`` for the benchmarks: py-spy attached to this process for one phase at a time.

py-spy (``.venv/bin/pip install py-spy``) samples every thread from outside, without slowing
the event loop the way cProfile's per-call hooks do, and sees the ledger's worker threads too.
Each phase (the pipeline, then the bare loop) gets its own raw sample file; :func:`summary`
classifies the samples by thread (the event loop or the ledger's worker threads) and by the
innermost frame that names a library or a payflows module. Samples count the time a thread
was running or waiting for the GIL, not CPU seconds: compare shares and phases, not totals.
Without py-spy, cProfile of the event loop thread is printed instead (the top functions).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

__all__ = ["Profiler"]

_LIBS = (
    ("sqlite3", "sqlite (driver)"),
    ("do_execute", "sqlite (driver)"),
    ("do_commit", "sqlite (driver)"),
    ("sqlalchemy/", "sqlalchemy"),
    ("sqlmodel/", "sqlalchemy"),
    ("pydantic", "pydantic"),
    ("orjson", "orjson"),
    ("httpx/", "http client"),
    ("httpcore/", "http client"),
    ("h11/", "http client"),
    ("anyio/", "http client"),
)


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        for needle, name in _LIBS:
            if needle in frame:
                return name
        if "payflows/" in frame:
            return frame.split("(", 1)[1].split(":", 1)[0].removesuffix(".py")
        if "bench/" in frame or "/bench" in frame:
            return "bench script"
    if any("asyncio/" in f or "selectors" in f for f in frames):
        return "asyncio"
    return "other"


def summary(path: Path, top: int = 14) -> str:
    """Shares of the samples by thread and bucket, the idle worker threads left out."""
    counts: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or frames[-1].startswith("_worker ("):
            continue  # a worker thread waiting for work
        thread = "event loop" if "MainThread" in frames[0] else "ledger threads"
        counts[(thread, _bucket(frames[1:]))] += int(n)
    total = sum(counts.values()) or 1
    lines = [f"    {total} samples"]
    for (thread, bucket), n in counts.most_common(top):
        lines.append(f"    {100 * n / total:5.1f} %  {thread:14}  {bucket}")
    return "\n".join(lines)


class Profiler:
    """``with profiler.phase("sweep"):`` samples that phase into ``DIR/sweep.raw`` (or no-op)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) if directory else None
        self.py_spy = shutil.which(
            "py-spy", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
        )
        self.reports: list[tuple[str, str]] = []
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def phase(self, name: str) -> _Phase:
        return _Phase(self, name)

    def print(self) -> None:
        for name, text in self.reports:
            print(f"  profile of {name}:\n{text}")


class _Phase:
    def __init__(self, profiler: Profiler, name: str) -> None:
        self.p, self.name = profiler, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.cprofile: cProfile.Profile | None = None

    def __enter__(self) -> _Phase:
        if self.p.directory is None:
            return self
        if self.p.py_spy:
            out = self.p.directory / f"{self.name}.raw"
            cmd = [self.p.py_spy, "record", "--pid", str(os.getpid()), "--rate", "200"]
            cmd += ["--threads", "--nonblocking", "--format", "raw", "--output", str(out)]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)  # attached before the phase starts
        else:
            self.cprofile = cProfile.Profile()
            self.cprofile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            _, err = self.proc.communicate(timeout=60)
            out = self.p.directory / f"{self.name}.raw"  # type: ignore[operator]
            text = summary(out) if out.exists() else f"    py-spy failed: {err.decode()[-300:]}"
            self.p.reports.append((self.name, text + f"\n    raw samples: {out}"))
        elif self.cprofile is not None:
            self.cprofile.disable()
            buffer = io.StringIO()
            stats = pstats.Stats(self.cprofile, stream=buffer).sort_stats("tottime")
            stats.print_stats(20)
            self.p.reports.append((self.name, buffer.getvalue()))
