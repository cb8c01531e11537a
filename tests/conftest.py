"""Shared fixtures: every test gets its own ~/.config/sarra and ~/.cache/sarra."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def sarra_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the XDG directories at a fresh temporary home; returns ~/.config/sarra."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SR_DEV_APPNAME", raising=False)
    home = tmp_path / "config" / "sarra"
    home.mkdir(parents=True)
    return home
