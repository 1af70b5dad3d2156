"""The lock file covers pyproject.toml: a dependency added without `make lock` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned_with_hashes_in_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["dev"]}
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, re.MULTILINE)
    }
    missing = sorted(wanted - set(pinned))
    assert not missing, f"run `make lock`: {missing} not in requirements.lock"
    # Every pin carries at least one hash (pip --require-hashes refuses otherwise).
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock.strip())
    assert all("--hash=sha256:" in block for block in blocks if "==" in block.split("\n")[0])


def test_both_readme_commands_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp = makefile[makefile.index("$(STAMP):") :].split("\n\n")[0]
    assert "--require-hashes -r $(LOCK)" in stamp and "--no-deps -e ." in stamp
    assert "$(LOCK)" in stamp.split("\n")[0]  # a changed lock reinstalls
    for target in ("demo: $(STAMP)", "test: $(STAMP)"):
        assert target in makefile
