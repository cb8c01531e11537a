"""The Debian package: tools/build-deb builds it; installed into a scratch root, its commands
run, its man pages are there and render, its systemd user unit runs sr start and sr stop.

Skipped where dpkg-buildpackage or debhelper are absent (tools/system-packages installs them
when run as root, as in CI).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sarra.cli import commands

ROOT = Path(__file__).resolve().parents[2]
DEPENDENCIES = ("pika", "paramiko", "urllib3", "platformdirs", "humanize", "watchdog", "redis",
                "prometheus_client")  # fmt: skip


@pytest.fixture(scope="module")
def installed(built_deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package unpacked into a scratch root."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(built_deb), str(root)], check=True)
    return root


def _python() -> str:
    """Debian's python3 when its packages of sarra's dependencies are installed, else ours."""
    probe = "import " + ", ".join(DEPENDENCIES)
    debian = subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True, check=False)
    return "/usr/bin/python3" if debian.returncode == 0 else sys.executable


def _run(root: Path, *words: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "usr/lib/python3/dist-packages")}
    return subprocess.run(
        [_python(), str(root / "usr/bin" / words[0]), *words[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=False,
        timeout=60,
    )


def test_the_commands_run_from_the_package(installed: Path) -> None:
    result = _run(installed, "sr_subscribe", "help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sr_subscribe [options] action [config ...]")
    where = subprocess.run(
        [_python(), "-c", "import sarra; print(sarra.__file__)"],
        env={**os.environ, "PYTHONPATH": str(installed / "usr/lib/python3/dist-packages")},
        capture_output=True,
        text=True,
        cwd=installed,
        check=True,
    )
    assert where.stdout.startswith(str(installed)), "sarra was not imported from the package"
    examples = _run(installed, "sr", "check", "--examples")
    assert examples.returncode == 0, examples.stdout + examples.stderr
    assert "0 with errors" in examples.stdout


def test_every_console_script_is_installed_with_its_man_page(installed: Path) -> None:
    entry_points = configparser.ConfigParser()
    (info,) = (installed / "usr/lib/python3/dist-packages").glob("sarra-*-info")
    entry_points.read(info / "entry_points.txt")
    scripts = set(entry_points["console_scripts"])
    assert {c.name for c in commands.COMMANDS} == scripts
    for name in scripts:
        assert (installed / "usr/bin" / name).is_file(), name
        assert (installed / "usr/share/man/man1" / f"{name}.1.gz").is_file(), name
    assert (installed / "usr/share/man/man5/sr_config.5.gz").is_file()
    assert (installed / "usr/share/man/man7/sarra-options.7.gz").is_file()


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_the_man_pages_render_without_a_warning(installed: Path) -> None:
    pages = sorted((installed / "usr/share/man").glob("man*/*.gz"))
    assert len(pages) == len(commands.COMMANDS) + 2
    for page in pages:
        result = subprocess.run(
            ["man", "--warnings", "-l", str(page)],
            capture_output=True,
            text=True,
            env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""},
            check=False,
        )
        assert (result.returncode, result.stderr) == (0, ""), page.name
        assert "NAME" in result.stdout and "SEE ALSO" in result.stdout, page.name


def test_the_systemd_user_unit_runs_sr_start_and_sr_stop(installed: Path) -> None:
    unit = configparser.ConfigParser()
    unit.read(installed / "usr/lib/systemd/user/sarra.service")
    assert unit["Service"]["ExecStart"] == "/usr/bin/sr start"
    assert unit["Service"]["ExecStop"] == "/usr/bin/sr stop"
    assert unit["Install"]["WantedBy"] == "default.target"


def test_sr_observe_serves_the_dashboard_shipped_in_the_package(
    installed: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed / "usr/lib/python3/dist-packages")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_CACHE_HOME": str(tmp_path / "h")}
    server = subprocess.Popen(
        [_python(), str(installed / "usr/bin/sr"), "observe", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=installed,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("serving ", 1)[1].split()[0]
        for path, wanted in (("", "dashboard.js"), ("static/dashboard.js", "/api/status"),
                             ("metrics", "sarra_config_state")):  # fmt: skip
            with urllib.request.urlopen(url + path, timeout=10) as answer:
                assert wanted in answer.read().decode(), path
    finally:
        server.terminate()
        server.wait(10)
    assert (installed / "usr/share/doc/sarra/dashboard.png").is_file()
