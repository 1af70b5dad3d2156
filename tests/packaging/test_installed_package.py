"""The ``payflows`` command works from an installed package, not only from a checkout.

A wheel is built from the working tree (no build isolation, no index: offline) and installed,
without its dependencies, into a fresh virtualenv that borrows the test environment's installed
dependencies through a ``.pth`` file. Commands run from an empty folder, so nothing of the
checkout is importable by accident: the ``apps``, ``payflows`` and ``flows`` imported are the
installed ones, and the demo's samples and the ledger's migrations are the package's data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("payflows", "tasks", "flows", "deployments", "apps")

pytestmark = pytest.mark.packaging


@dataclass
class Installed:
    venv: Path
    cwd: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": os.environ["PATH"], "HOME": str(self.cwd), **(env or {})},
        )

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def payflows(self) -> str:
        return str(self.venv / "bin" / "payflows")


def _check(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("installed")
    # Built from a copy of what the package is made of: setuptools' build/ and egg-info stay
    # out of the checkout, and nothing stale in them can slip into the wheel.
    source = base / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in (*PACKAGES, "data/samples"):
        shutil.copytree(ROOT / name, source / name, ignore=skip)
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    offline_build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    _check(
        subprocess.run(
            [*offline_build, "-w", wheels, source],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=base,
        )
    )
    venv = base / "venv"
    _check(
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", venv], capture_output=True, text=True
        )
    )
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (purelib / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (wheel,) = wheels.glob("payflows-*.whl")
    _check(
        subprocess.run(
            [
                *pip,
                "--python",
                venv / "bin" / "python",
                "install",
                "--no-deps",
                "--no-index",
                wheel,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    )
    cwd = base / "elsewhere"
    cwd.mkdir()
    yield Installed(venv, cwd)
    # The copies hold the README's and the samples' test card numbers: leave nothing for the
    # card-data scan (tests/flows/test_card_data_never_rests.py) to find in this run's temp dir.
    shutil.rmtree(base, ignore_errors=True)


def test_the_installed_modules_are_the_ones_imported(installed):
    out = _check(
        installed.run(
            installed.python,
            "-c",
            "import apps, flows, payflows, tasks, deployments\n"
            "print('\\n'.join(m.__file__ for m in (apps, flows, payflows, tasks, deployments)))",
        )
    )
    for line in out.splitlines():
        assert line.startswith(str(installed.venv)), line


def test_payflows_help_runs(installed):
    out = _check(installed.run(installed.payflows, "--help"))
    assert "demo" in out and "sandbox" in out


def test_the_demo_finds_its_installed_samples(installed):
    code = "from apps.samples import samples_dir; print(samples_dir())"
    found = Path(_check(installed.run(installed.python, "-c", code)).strip())
    assert found == installed.venv / "share" / "payflows" / "samples"
    assert sorted(p.name for p in found.glob("*.csv")) == sorted(
        p.name for p in (ROOT / "data" / "samples").glob("*.csv")
    )


def test_the_installed_migrations_and_import_work(installed):
    env = {"PAYFLOWS_DATABASE_URL": f"sqlite:///{installed.cwd}/ledger.db"}
    _check(installed.run(installed.payflows, "db", "upgrade", env=env))
    samples = installed.venv / "share" / "payflows" / "samples"
    out = _check(
        installed.run(installed.payflows, "import", str(samples / "customers.csv"), env=env)
    )
    assert "12" in out
