"""The Debian package, built once per session by tools/build-deb (skipped where
dpkg-buildpackage or debhelper are absent; tools/system-packages installs them when run as root,
as in CI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def built_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sarra_<version>_all.deb, built from this tree."""
    if shutil.which("dpkg-buildpackage") is None or shutil.which("dh") is None:
        pytest.skip("dpkg-buildpackage and debhelper are not installed (tools/system-packages)")
    out = tmp_path_factory.mktemp("deb")
    built = subprocess.run(
        [str(ROOT / "tools" / "build-deb"), str(out)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    deb = Path(built.stdout.split()[-1])
    assert deb.name.endswith("_all.deb") and deb.is_file()
    return deb
