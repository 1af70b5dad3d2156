"""Dependencies point one way, a contract CI runs: apps -> deployments -> flows -> tasks -> core.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are checked by
import-linter, here and by ``make lint``. A second test proves they bite: the same contracts
run over a tiny tree that breaks them.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import payflows

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _config() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["tool"]["importlinter"]


def _contract(contract_id: str) -> dict:
    return next(c for c in _config()["contracts"] if c["id"] == contract_id)


def _lint(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(cwd), "PATH": str(LINT_IMPORTS.parent)},
    )


def test_the_import_contracts_are_kept():
    result = _lint(ROOT, ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_core_module_but_the_sandbox_is_kept_from_importing_it():
    """A new core module is covered by the sandbox contract as soon as it exists."""
    core = {f"payflows.{m.name}" for m in pkgutil.iter_modules(payflows.__path__)}
    sources = set(_contract("no-sandbox-in-production")["source_modules"])
    assert core - {"payflows.sandbox"} <= sources
    assert {"deployments", "flows", "tasks"} <= sources
    assert "apps" not in sources


def test_every_core_module_has_its_place_in_the_core_layers():
    core = {m.name for m in pkgutil.iter_modules(payflows.__path__)}
    placed = {
        name.strip()
        for layer in _contract("core-layers")["layers"]
        for name in layer.replace("|", ":").split(":")
    }
    assert core == placed


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_contracts_catch_a_core_module_importing_a_flow_or_prefect(tmp_path):
    for package in ("apps", "deployments", "flows", "tasks"):
        _write(tmp_path / package / "__init__.py")
    _write(tmp_path / "payflows" / "__init__.py")
    _write(tmp_path / "payflows" / "leaky.py", "import flows\nimport prefect\n")
    config = {
        "root_packages": _config()["root_packages"],
        "include_external_packages": True,
    }
    lines = ["[tool.importlinter]"]
    lines += [f"{key} = {_toml(value)}" for key, value in config.items()]
    for contract_id in ("layers", "core-without-prefect"):
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {_toml(value)}" for key, value in _contract(contract_id).items()]
    _write(tmp_path / "pyproject.toml", "\n".join(lines) + "\n")
    result = _lint(tmp_path, tmp_path / "pyproject.toml")
    assert result.returncode != 0
    assert "payflows is not allowed to import flows" in result.stdout
    assert "payflows.leaky -> prefect" in result.stdout


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    assert isinstance(value, list)
    return "[" + ", ".join(_toml(v) for v in value) + "]"
