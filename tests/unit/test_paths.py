"""Where configs and state live: the XDG rule, as platformdirs has it on Linux (sarra.config.paths
applies it itself, not to import platformdirs at every start)."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from sarra.config import paths


@pytest.mark.parametrize("value", [None, "", "relative/dir", "/somewhere/else"])
def test_user_dirs_are_those_platformdirs_gives(
    value: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SR_DEV_APPNAME", "sarra-dev")
    for variable in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    config = platformdirs.user_config_dir("sarra-dev", appauthor=False)
    assert paths.config_dir() == Path(config)
    assert paths.cache_dir() == Path(platformdirs.user_cache_dir("sarra-dev", appauthor=False))
    assert paths.sr3_config_dir() == Path(platformdirs.user_config_dir("sr3", appauthor=False))
