"""The browser setup itself: Chromium is installed when missing, and its absence fails the run."""

from __future__ import annotations

import subprocess

import pytest

from tests.browser import conftest


def _apt(calls: list, results: dict, path=None):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        code = results.get(args[0], 0)
        if code == 0 and args[0] == "install" and path is not None:
            path.write_text("#!/bin/sh\n")
        return subprocess.CompletedProcess(args, code, "", "E: unable to locate chromium")

    return run


def test_a_missing_chromium_is_installed_with_apt(monkeypatch, tmp_path):
    binary = tmp_path / "chromium"
    calls: list = []
    monkeypatch.setattr(conftest, "CHROMIUM", str(binary))
    monkeypatch.setattr(conftest, "_apt_get", _apt(calls, {}, binary))
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    conftest.ensure_chromium()
    assert calls == [("install", "-y", "chromium")] and binary.exists()


def test_apt_lists_are_refreshed_once_before_giving_up(monkeypatch, tmp_path):
    calls: list = []
    monkeypatch.setattr(conftest, "CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(conftest, "_apt_get", _apt(calls, {"install": 100}))
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 0)
    with pytest.raises(pytest.fail.Exception, match="could not install chromium"):
        conftest.ensure_chromium()
    assert calls == [("install", "-y", "chromium"), ("update",), ("install", "-y", "chromium")]


def test_without_root_a_missing_chromium_fails_rather_than_skips(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        conftest.ensure_chromium()
