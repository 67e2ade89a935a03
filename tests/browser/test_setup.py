"""The browser setup itself: `make test` installs Chromium, and its absence fails the run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.browser import conftest

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_chromium_fails_rather_than_skips(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "CHROMIUM", str(tmp_path / "chromium"))
    with pytest.raises(pytest.fail.Exception, match="make system-packages"):
        conftest.ensure_chromium()


def test_make_test_installs_the_debian_packages_the_tests_drive():
    plan = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "chromium" in plan and "nginx" in plan and "apt-get install" in plan
