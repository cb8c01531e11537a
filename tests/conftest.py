"""Shared fixtures: every test gets its own ~/.config/sarra and ~/.cache/sarra; the test
servers (tests/servers.py) that more than one suite uses, once per session."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from servers import FTP_USER, PASSWORD, SSHD, FtpServer, SshServer

# Property tests are deterministic (the same examples every run) and never fail on time alone:
# the machine is shared, and a slow example is not a wrong one. HYPOTHESIS_PROFILE=explore
# draws new examples each run, for looking further by hand.
settings.register_profile("sarra", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "sarra"))


@pytest.fixture(autouse=True)
def sarra_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the XDG directories at a fresh temporary home; returns ~/.config/sarra."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SR_DEV_APPNAME", raising=False)
    home = tmp_path / "config" / "sarra"
    home.mkdir(parents=True)
    return home


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory every test server serves (http root, ftp home, a directory sftp reaches)."""
    return tmp_path_factory.mktemp("served").resolve()


@pytest.fixture(scope="session")
def ftp_server(served_root: Path) -> Iterator[FtpServer]:
    """pyftpdlib FTP on 127.0.0.1, FTP_USER / PASSWORD, home served_root."""
    server = FtpServer(served_root, FTP_USER, PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """OpenSSH's sshd on 127.0.0.1 with a generated host key; `client_key` logs in as us."""
    if not SSHD.exists():
        pytest.skip(f"{SSHD} is absent (install openssh-server)")
    try:
        server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    except PermissionError as exc:
        pytest.skip(f"cannot prepare sshd here: {exc}")
    yield server
    server.stop()


@pytest.fixture
def ssh_user() -> str:
    """Who the tests log in to sshd as: the user running them."""
    return getpass.getuser()


@pytest.fixture
def ssh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: SshServer) -> Path:
    """A fresh HOME whose ~/.ssh/known_hosts holds sshd's host key; no ssh agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts_line + "\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home
