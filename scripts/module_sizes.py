"""No module of the product over about 400 lines: the check ``make lint`` and a unit test run.

The limit and an allowlist live in ``pyproject.toml`` (``[tool.payflows.module-size]``). The
allowlist names the files over the limit today, each with its size then as a ceiling, and it
only shrinks: a listed file may not grow past its ceiling, a file that is back under the limit
must leave the list, and a file not on the list may not cross the limit. Split a module rather
than raise a number.

Run: ``python scripts/module_sizes.py`` (exit 1 with one line per problem).
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The product's code (tests and benchmarks are not held to the limit).
PACKAGES = ("payflows", "tasks", "flows", "deployments", "apps")
_ALLOW = "[tool.payflows.module-size.allow]"


@dataclass(frozen=True)
class Policy:
    limit: int
    allow: dict[str, int]


def load_policy(pyproject: Path = ROOT / "pyproject.toml") -> Policy:
    with pyproject.open("rb") as fh:
        table = tomllib.load(fh)["tool"]["payflows"]["module-size"]
    return Policy(limit=int(table["limit"]), allow=dict(table.get("allow", {})))


def sizes(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, int]:
    """Lines per Python file of the product, by path relative to ``root``."""
    found: dict[str, int] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            with path.open("rb") as fh:
                found[path.relative_to(root).as_posix()] = sum(1 for _ in fh)
    return found


def problems(policy: Policy, measured: dict[str, int]) -> list[str]:
    """What breaks the policy, one sentence each (empty: all is well)."""
    found: list[str] = []
    for path, lines in sorted(measured.items()):
        ceiling = policy.allow.get(path)
        if ceiling is None and lines > policy.limit:
            found.append(f"{path}: {lines} lines, over the limit of {policy.limit}: split it")
        elif ceiling is not None and lines > ceiling:
            found.append(f"{path}: {lines} lines, grew past its allowlisted {ceiling}: split it")
        elif ceiling is not None and lines <= policy.limit:
            found.append(f"{path}: {lines} lines, under the limit now: remove it from {_ALLOW}")
    for path in sorted(set(policy.allow) - set(measured)):
        found.append(
            f"{path}: allowlisted but gone: remove it from [tool.payflows.module-size.allow]"
        )
    return found


def main() -> int:
    found = problems(load_policy(), sizes())
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
