"""``payflows demo`` finds its sample CSVs from a checkout, an installed package or the setting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import apps.samples
from apps.cli import app
from apps.samples import REQUIRED, samples_dir
from payflows.settings import ConfigurationError, Settings

CHECKOUT = Path(__file__).resolve().parents[3] / "data" / "samples"


def test_from_a_checkout_the_samples_are_data_samples():
    assert samples_dir(Settings()) == CHECKOUT


def test_the_setting_wins_and_must_hold_the_samples(tmp_path):
    for name in REQUIRED:
        shutil.copy(CHECKOUT / name, tmp_path / name)
    assert samples_dir(Settings(PAYFLOWS_SAMPLES_DIR=str(tmp_path))) == tmp_path
    (tmp_path / "customers.csv").unlink()
    with pytest.raises(ConfigurationError, match=r"PAYFLOWS_SAMPLES_DIR: .* does not hold"):
        samples_dir(Settings(PAYFLOWS_SAMPLES_DIR=str(tmp_path)))


def test_an_installed_package_uses_its_installed_copy(tmp_path, monkeypatch):
    installed = tmp_path / "prefix" / "share" / "payflows" / "samples"
    installed.mkdir(parents=True)
    for name in REQUIRED:
        shutil.copy(CHECKOUT / name, installed / name)
    monkeypatch.setattr(apps.samples, "_CHECKOUT", tmp_path / "site-packages" / "data" / "samples")
    monkeypatch.setattr("sys.prefix", str(tmp_path / "prefix"))
    assert samples_dir(Settings()) == installed


def test_demo_without_samples_stops_with_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(apps.samples, "_CHECKOUT", tmp_path / "nowhere")
    monkeypatch.setattr("sys.prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr("site.getuserbase", lambda: str(tmp_path / "user"))
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 2
    assert "PAYFLOWS_SAMPLES_DIR" in result.output
    assert not (tmp_path / "data").exists()  # nothing started, nothing written
