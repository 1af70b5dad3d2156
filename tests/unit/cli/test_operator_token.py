"""`payflows up` gives the operator pages a token when none is configured, kept across restarts."""

from __future__ import annotations

import stat
from pathlib import Path

from apps.stack_wiring import operator_token_file


def test_a_token_is_made_owner_only_and_kept_across_restarts(tmp_path: Path) -> None:
    path, token = operator_token_file(tmp_path / "data")

    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again_path, again = operator_token_file(tmp_path / "data")
    assert (again_path, again) == (path, token)


def test_an_emptied_token_file_gets_a_new_token(tmp_path: Path) -> None:
    path, first = operator_token_file(tmp_path)
    path.write_text("\n")

    _, second = operator_token_file(tmp_path)

    assert second and second != first
