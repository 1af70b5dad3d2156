"""No module of the product over about 400 lines; the allowlist of exceptions only shrinks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_spec = importlib.util.spec_from_file_location("module_sizes", ROOT / "scripts" / "module_sizes.py")
assert _spec and _spec.loader
module_sizes = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("module_sizes", module_sizes)  # dataclasses look their module up
_spec.loader.exec_module(module_sizes)

Policy = module_sizes.Policy
problems = module_sizes.problems


def test_the_product_keeps_the_module_size_policy():
    found = problems(module_sizes.load_policy(), module_sizes.sizes())
    assert found == [], "\n".join(found)


def test_a_new_module_over_the_limit_fails():
    (line,) = problems(Policy(limit=400, allow={}), {"flows/big.py": 401})
    assert "flows/big.py: 401 lines, over the limit of 400" in line


def test_a_listed_module_back_under_the_limit_must_leave_the_list():
    (line,) = problems(
        Policy(limit=400, allow={"payflows/payments.py": 1032}), {"payflows/payments.py": 380}
    )
    assert "under the limit now: remove it" in line


def test_a_listed_module_may_not_grow_past_its_ceiling():
    policy = Policy(limit=400, allow={"payflows/payments.py": 1032})
    assert problems(policy, {"payflows/payments.py": 1032}) == []
    assert problems(policy, {"payflows/payments.py": 900}) == []
    (line,) = problems(policy, {"payflows/payments.py": 1033})
    assert "grew past its allowlisted 1032" in line


def test_a_listed_module_that_is_gone_must_leave_the_list():
    (line,) = problems(Policy(limit=400, allow={"apps/cli_run.py": 549}), {})
    assert "apps/cli_run.py: allowlisted but gone" in line


def test_sizes_counts_lines_of_the_product_only(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "a.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("z = 3\n")
    assert module_sizes.sizes(tmp_path, ("flows",)) == {"flows/a.py": 2}
