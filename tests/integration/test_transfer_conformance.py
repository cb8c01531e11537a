"""One conformance suite for every transfer backend, each against a real server.

Each test runs once per scheme (file, http, https, ftp, ftps, sftp). A test works in a fresh
directory below the served root, which every server shows, so the test can set up and check
files directly on disk.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import stat
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from servers import FTP_USER, LOCALHOST, PASSWORD, TOKEN, WEB_USER, free_port

from sarra.config.credentials import Credentials
from sarra.transfer import (
    OPERATIONS,
    PermanentError,
    Transfer,
    TransferError,
    TransientError,
    Unsupported,
    open_transfer,
)

SCHEMES = ["file", "http", "https", "ftp", "ftps", "sftp"]
NETWORK = [s for s in SCHEMES if s != "file"]

EXPECTED_CAPABILITIES = {
    "file": set(OPERATIONS),
    "http": {"get", "get_range", "ls"},
    "https": {"get", "get_range", "ls"},
    "ftp": {"get", "put", "put_range", "ls", "mkdir", "delete", "rename", "chmod", "utime"},
    "ftps": {"get", "put", "put_range", "ls", "mkdir", "delete", "rename", "chmod", "utime"},
    "sftp": set(OPERATIONS),
}

ROUND_MTIME = (
    1_700_000_040.0  # a whole minute (2023-11-14 22:34 UTC): http index pages show minutes
)
_dirs = itertools.count()


@dataclass
class Target:
    """A backend under test: how to open it, and where its files are on disk."""

    scheme: str
    url: str
    credentials_text: str
    root: Path
    prefix: str
    secrets: list[str] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)

    @property
    def credentials(self) -> Credentials:
        return Credentials.parse(self.credentials_text, "credentials.conf")

    def open(self, url: str | None = None, **settings: object) -> Transfer:
        kwargs = {"timeout": 10.0, "bufsize": 64 * 1024, **self.options, **settings}
        return open_transfer(url or self.url, self.credentials, **kwargs)

    def remote(self, local: Path) -> str:
        """The server path of a file below the served root."""
        return f"{self.prefix}/{local.relative_to(self.root).as_posix()}"

    def workdir(self) -> Path:
        directory = self.root / f"{self.scheme}-{next(_dirs)}"
        directory.mkdir()
        return directory

    def can(self, operation: str) -> bool:
        return operation in EXPECTED_CAPABILITIES[self.scheme]


def _make_target(scheme: str, request: pytest.FixtureRequest, root: Path) -> Target:
    if scheme == "file":
        return Target("file", "file:///", "", root, str(root))
    if scheme == "http":
        server = request.getfixturevalue("http_server")
        url = f"http://{WEB_USER}@{LOCALHOST}:{server.port}/"
        creds = f"http://{WEB_USER}:{quote(PASSWORD, safe='')}@{LOCALHOST}:{server.port}/"
        return Target("http", url, creds, root, "", [PASSWORD])
    if scheme == "https":
        server = request.getfixturevalue("https_server")
        request.getfixturevalue("trust_test_certificate")
        url = f"https://{LOCALHOST}:{server.port}/"
        return Target("https", url, f"{url} bearer_token={TOKEN}", root, "", [TOKEN])
    if scheme in ("ftp", "ftps"):
        server = request.getfixturevalue(f"{scheme}_server")
        if scheme == "ftps":
            request.getfixturevalue("trust_test_certificate")
        url = f"{scheme}://{FTP_USER}@{LOCALHOST}:{server.port}/"
        creds = f"{scheme}://{FTP_USER}:{quote(PASSWORD, safe='')}@{LOCALHOST}:{server.port}/"
        return Target(
            scheme, url, creds + (" prot_p" if scheme == "ftps" else ""), root, "", [PASSWORD]
        )
    if scheme == "sftp":
        server = request.getfixturevalue("sshd")
        request.getfixturevalue("ssh_home")
        user = request.getfixturevalue("ssh_user")
        url = f"sftp://{user}@{LOCALHOST}:{server.port}/"
        return Target("sftp", url, f"{url} ssh_keyfile={server.client_key}", root, str(root))
    raise AssertionError(scheme)


@pytest.fixture(params=SCHEMES)
def target(request: pytest.FixtureRequest, served_root: Path) -> Target:
    return _make_target(request.param, request, served_root)


@pytest.fixture(params=NETWORK)
def remote_target(request: pytest.FixtureRequest, served_root: Path) -> Target:
    return _make_target(request.param, request, served_root)


def _data(size: int, seed: int = 0) -> bytes:
    """Bytes that differ at every position within 251 (so a shifted range shows)."""
    return bytes((i * 7 + seed) % 251 for i in range(size))


def _get(remote: Transfer, path: str, offset: int = 0, length: int | None = None) -> bytes:
    out = io.BytesIO()
    copied = remote.get(path, out, offset, length)
    assert copied == len(out.getvalue())
    return out.getvalue()


def _error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def _call(remote: Transfer, operation: str, directory: Path, target: Target) -> None:
    """Call one operation with plausible arguments (for checking Unsupported)."""
    path = target.remote(directory / "x")
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: remote.get(path, io.BytesIO()),
        "get_range": lambda: remote.get(path, io.BytesIO(), 0, 1),
        "put": lambda: remote.put(io.BytesIO(b"x"), path),
        "put_range": lambda: remote.put(io.BytesIO(b"x"), path, 1, 1),
        "ls": lambda: remote.ls(target.remote(directory)),
        "mkdir": lambda: remote.mkdir(path),
        "delete": lambda: remote.delete(path),
        "rename": lambda: remote.rename(path, path + ".new"),
        "chmod": lambda: remote.chmod(path, 0o644),
        "utime": lambda: remote.utime(path, ROUND_MTIME),
        "symlink": lambda: remote.symlink("x", path + ".link"),
    }
    calls[operation]()


# --- the suite


def test_capabilities_are_as_documented(target: Target) -> None:
    with target.open() as remote:
        assert set(remote.capabilities) == EXPECTED_CAPABILITIES[target.scheme]


def test_unsupported_operations_say_so(target: Target) -> None:
    directory = target.workdir()
    (directory / "x").write_bytes(b"abc")
    with target.open() as remote:
        for operation in sorted(set(OPERATIONS) - EXPECTED_CAPABILITIES[target.scheme]):
            with pytest.raises(Unsupported):
                _call(remote, operation, directory, target)


def test_get_whole_file_in_chunks_with_progress(target: Target) -> None:
    data = _data(300_000)
    path = target.workdir() / "whole.bin"
    path.write_bytes(data)
    seen: list[int] = []
    out = io.BytesIO()
    with target.open(bufsize=32 * 1024) as remote:
        copied = remote.get(target.remote(path), out, progress=seen.append)
    assert copied == len(data)
    assert out.getvalue() == data
    assert seen == sorted(seen) and seen[-1] == len(data)
    assert len(seen) >= len(data) // (32 * 1024)
    assert all(b - a <= 32 * 1024 for a, b in itertools.pairwise([0, *seen]))


def test_get_appends_at_the_local_files_position(target: Target) -> None:
    path = target.workdir() / "tail.bin"
    path.write_bytes(b"0123456789")
    out = io.BytesIO(b"head:")
    out.seek(0, io.SEEK_END)
    with target.open() as remote:
        remote.get(target.remote(path), out, 4)
    assert out.getvalue() == b"head:456789"


def test_get_a_byte_range(target: Target) -> None:
    data = _data(100_000)
    path = target.workdir() / "ranged.bin"
    path.write_bytes(data)
    with target.open() as remote:
        # From an offset to the end: every protocol can (ftp with REST).
        assert _get(remote, target.remote(path), 70_000) == data[70_000:]
        assert _get(remote, target.remote(path), 99_000, 1_000) == data[99_000:]
        if target.can("get_range"):
            assert _get(remote, target.remote(path), 1_000, 5_000) == data[1_000:6_000]
            assert _get(remote, target.remote(path), 0, 1) == data[:1]
        else:
            with pytest.raises(Unsupported, match="byte range"):
                _get(remote, target.remote(path), 1_000, 5_000)
        # The connection stays usable after a refusal.
        assert _get(remote, target.remote(path)) == data


def test_range_past_the_end_is_transient(target: Target) -> None:
    path = target.workdir() / "short.bin"
    path.write_bytes(_data(1_000))
    with target.open() as remote:
        with pytest.raises(TransientError):
            _get(remote, target.remote(path), 990, 20)
        with pytest.raises(TransientError):
            _get(remote, target.remote(path), 2_000, 10)
        with pytest.raises(TransientError):
            _get(remote, target.remote(path), 2_000)
        assert _get(remote, target.remote(path), 999) == _data(1_000)[999:]


def test_get_of_a_missing_file_is_permanent(target: Target) -> None:
    missing = target.remote(target.workdir() / "no-such-file")
    with target.open() as remote, pytest.raises(PermanentError) as caught:
        _get(remote, missing)
    assert not isinstance(caught.value, Unsupported)
    assert "no-such-file" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_get_from_a_dead_port_is_transient(remote_target: Target) -> None:
    port = free_port()
    dead = urlunsplit(urlsplit(remote_target.url)._replace(netloc=f"{LOCALHOST}:{port}"))
    with remote_target.open(dead, timeout=3) as remote, pytest.raises(TransientError) as caught:
        _get(remote, "/anything")
    assert str(port) in str(caught.value)


def test_put_then_get_back(target: Target) -> None:
    data = _data(200_000, seed=3)
    directory = target.workdir()
    path = directory / "sent.bin"
    with target.open() as remote:
        if not target.can("put"):
            with pytest.raises(Unsupported):
                remote.put(io.BytesIO(data), target.remote(path))
            return
        assert remote.put(io.BytesIO(data), target.remote(path)) == len(data)
        assert path.read_bytes() == data
        assert _get(remote, target.remote(path)) == data
        # A whole file replaces a longer one.
        assert remote.put(io.BytesIO(b"short"), target.remote(path)) == 5
        assert path.read_bytes() == b"short"


def test_put_at_an_offset(target: Target) -> None:
    data = _data(50_000, seed=5)
    path = target.workdir() / "parts.bin"
    with target.open() as remote:
        if not target.can("put"):
            with pytest.raises(Unsupported):
                remote.put(io.BytesIO(data), target.remote(path), 20_000)
            return
        remote.put(io.BytesIO(data[:20_000]), target.remote(path))
        # From an offset to the end of the local file: every protocol that puts can (ftp: REST).
        local = io.BytesIO(data)
        local.seek(20_000)
        assert remote.put(local, target.remote(path), 20_000) == 30_000
        assert path.read_bytes() == data
        if target.can("put_range"):
            local.seek(10_000)
            assert remote.put(local, target.remote(path), 10_000, 100) == 100
            patched = bytearray(data)
            assert path.read_bytes() == bytes(patched)
            assert remote.put(io.BytesIO(b"XY"), target.remote(path), 5, 2) == 2
            patched[5:7] = b"XY"
            assert path.read_bytes() == bytes(patched)
        else:
            with pytest.raises(Unsupported):
                remote.put(io.BytesIO(b"XY"), target.remote(path), 5, 2)


def test_ftp_writes_a_range_only_after_the_bytes_before_it(target: Target) -> None:
    """REST+STOR writes a part at its offset, keeping the rest; it cannot leave a gap, nor
    write the first part without replacing the file."""
    if target.scheme not in ("ftp", "ftps"):
        pytest.skip("the ftp rules for writing ranges")
    path = target.workdir() / "parts.bin"
    with target.open() as remote:
        with pytest.raises(TransientError, match="the file has 0 bytes"):
            remote.put(io.BytesIO(b"late"), target.remote(path), 4, 4)
        assert not path.exists() or path.read_bytes() == b""
        assert remote.put(io.BytesIO(b"0123"), target.remote(path), 0, 4) == 4
        assert remote.put(io.BytesIO(b"4567xx"), target.remote(path), 4, 4) == 4
        assert remote.put(io.BytesIO(b"AB"), target.remote(path), 2, 2) == 2
        assert path.read_bytes() == b"01AB4567"
        with pytest.raises(PermanentError, match="first part into a file of 8 bytes"):
            remote.put(io.BytesIO(b"zz"), target.remote(path), 0, 2)
        assert path.read_bytes() == b"01AB4567"


def test_ls_lists_names_sizes_and_times(target: Target) -> None:
    directory = target.workdir()
    files = {"a.txt": b"alpha", "b c.bin": _data(12_345), "\u00e9t\u00e9.dat": b""}
    for name, content in files.items():
        (directory / name).write_bytes(content)
        os.utime(directory / name, (ROUND_MTIME, ROUND_MTIME))
    (directory / "sub").mkdir()
    os.chmod(directory / "a.txt", 0o640)
    with target.open() as remote:
        entries = {e.name: e for e in remote.ls(target.remote(directory))}
    assert set(entries) == {*files, "sub"}
    for name, content in files.items():
        entry = entries[name]
        assert entry.size == len(content), name
        assert entry.mtime == ROUND_MTIME, name
        assert not entry.is_dir and not entry.is_link
    assert entries["sub"].is_dir
    if entries["a.txt"].mode is not None:
        assert entries["a.txt"].mode == 0o640


def test_ls_of_a_missing_directory_is_permanent(target: Target) -> None:
    with target.open() as remote, pytest.raises(PermanentError):
        remote.ls(target.remote(target.workdir() / "nothing-here"))


def test_mkdir_makes_parents_with_the_mode(target: Target) -> None:
    directory = target.workdir()
    with target.open() as remote:
        if not target.can("mkdir"):
            with pytest.raises(Unsupported):
                remote.mkdir(target.remote(directory / "a"))
            return
        remote.mkdir(target.remote(directory / "a" / "b" / "c"), 0o750)
        remote.mkdir(target.remote(directory / "a" / "b"), 0o700)  # exists: nothing to do
    for made in ("a", "a/b", "a/b/c"):
        assert (directory / made).is_dir()
        assert stat.S_IMODE((directory / made).stat().st_mode) == 0o750


def test_rename_replaces_and_delete_removes(target: Target) -> None:
    directory = target.workdir()
    (directory / "inflight.tmp").write_bytes(b"new")
    (directory / "final").write_bytes(b"old")
    (directory / "empty").mkdir()
    with target.open() as remote:
        if not target.can("rename"):
            with pytest.raises(Unsupported):
                remote.rename(target.remote(directory / "inflight.tmp"), "final")
            with pytest.raises(Unsupported):
                remote.delete(target.remote(directory / "final"))
            return
        remote.rename(target.remote(directory / "inflight.tmp"), target.remote(directory / "final"))
        assert (directory / "final").read_bytes() == b"new"
        assert not (directory / "inflight.tmp").exists()
        remote.delete(target.remote(directory / "final"))
        remote.delete(target.remote(directory / "empty"))
        with pytest.raises(PermanentError):
            remote.delete(target.remote(directory / "final"))
    assert list(directory.iterdir()) == []


def test_chmod_and_utime(target: Target) -> None:
    path = target.workdir() / "f"
    path.write_bytes(b"x")
    with target.open() as remote:
        if not target.can("chmod"):
            with pytest.raises(Unsupported):
                remote.chmod(target.remote(path), 0o604)
            with pytest.raises(Unsupported):
                remote.utime(target.remote(path), ROUND_MTIME)
            return
        remote.chmod(target.remote(path), 0o604)
        remote.utime(target.remote(path), ROUND_MTIME)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    assert path.stat().st_mtime == ROUND_MTIME


def test_symlink(target: Target) -> None:
    directory = target.workdir()
    (directory / "real").write_bytes(b"x")
    with target.open() as remote:
        if not target.can("symlink"):
            with pytest.raises(Unsupported):
                remote.symlink("real", target.remote(directory / "link"))
            return
        remote.symlink("real", target.remote(directory / "link"))
        entries = {e.name: e for e in remote.ls(target.remote(directory))}
    assert os.readlink(directory / "link") == "real"
    assert entries["link"].is_link and not entries["real"].is_link


def test_big_file_streams_in_constant_memory(target: Target) -> None:
    size = 20 << 20
    path = target.workdir() / "big.bin"
    with path.open("wb") as f:
        f.write(os.urandom(size))
    bufsize = 256 * 1024
    with target.open(bufsize=bufsize) as remote, (path.parent / "copy").open("w+b") as out:
        tracemalloc.start()
        try:
            assert remote.get(target.remote(path), out) == size
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # Bounded, whatever the file's size: a few buffers, and for sftp what paramiko's own thread
    # holds of its SSH window (2 MiB) when the machine is busy; a whole file would be 20 MiB.
    assert peak < 24 * bufsize, f"peak {peak} bytes for a {size}-byte file"
    assert (path.parent / "copy").read_bytes() == path.read_bytes()


WRONG = "Wr0ng-s3cret"


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _secret_cases(target: Target) -> list[tuple[str, str]]:
    """(url, credentials.conf text) pairs that put a secret where an error could show it."""
    right, wrong = quote(PASSWORD, safe=""), quote(WRONG, safe="")
    if target.scheme == "https":
        return [(target.url, target.credentials_text.replace(TOKEN, WRONG))]
    if target.scheme == "sftp":  # a password and no key: authentication fails
        return [(_with_password(target.url, WRONG), "")]
    with_wrong = target.credentials_text.replace(right, wrong)
    # The password in the URL itself, then a wrong one from credentials.conf.
    return [
        (_with_password(target.url, PASSWORD), target.credentials_text),
        (target.url, with_wrong),
    ]


def test_secrets_never_appear_in_errors(remote_target: Target) -> None:
    missing = remote_target.remote(remote_target.workdir() / "absent")
    errors: list[TransferError] = []
    cases = [(remote_target.url, remote_target.credentials_text), *_secret_cases(remote_target)]
    for url, credentials in cases:
        remote = open_transfer(url, Credentials.parse(credentials, "c"), timeout=5)
        with remote, pytest.raises(PermanentError) as caught:
            _get(remote, missing)
        errors.append(caught.value)
    assert "absent" in str(errors[0])
    assert re.search(r"\b(401|530|authentication)\b", str(errors[-1])), errors[-1]
    for error in errors:
        text = _error_text(error)
        for secret in (PASSWORD, quote(PASSWORD, safe=""), TOKEN, WRONG):
            assert secret not in text
