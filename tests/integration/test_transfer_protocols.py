"""What only some protocols have: Range quirks, stalls, auth and TLS (http), modes (ftp), host
keys (sftp), connection reuse (batch), and rate limits."""

from __future__ import annotations

import io
import logging
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from servers import (
    FTP_USER,
    LOCALHOST,
    PASSWORD,
    TOKEN,
    WEB_USER,
    FtpServer,
    HttpServer,
    SshServer,
    write_ssh_key,
)

from sarra.config.credentials import Credentials
from sarra.transfer import PermanentError, Transfer, TransientError, Unsupported, open_transfer

SECRET = quote(PASSWORD, safe="")


def _workdir(root: Path, name: str) -> Path:
    directory = root / name
    directory.mkdir()
    return directory


def _get(remote: Transfer, path: str, offset: int = 0, length: int | None = None) -> bytes:
    out = io.BytesIO()
    remote.get(path, out, offset, length)
    return out.getvalue()


def _http(server: HttpServer, **settings: object) -> Transfer:
    creds = Credentials.parse(f"http://{WEB_USER}:{SECRET}@{LOCALHOST}:{server.port}/", "c")
    return open_transfer(f"http://{LOCALHOST}:{server.port}/", creds, **settings)


def _ftp(server: FtpServer, options: str = "", **settings: object) -> Transfer:
    scheme = "ftps" if server.tls else "ftp"
    line = f"{scheme}://{FTP_USER}:{SECRET}@{LOCALHOST}:{server.port}/ {options}"
    url = f"{scheme}://{FTP_USER}@{LOCALHOST}:{server.port}/"
    return open_transfer(url, Credentials.parse(line, "c"), timeout=10, **settings)


def _sftp(server: SshServer, user: str, options: str = "", **settings: object) -> Transfer:
    url = f"sftp://{user}@{LOCALHOST}:{server.port}/"
    return open_transfer(url, Credentials.parse(f"{url} {options}", "c"), timeout=10, **settings)


# --- http(s)


def test_a_server_ignoring_range_still_gives_the_right_bytes(
    http_server: HttpServer, served_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytes(range(256)) * 40
    directory = _workdir(served_root, "ranges")
    (directory / "f").write_bytes(data)
    with caplog.at_level(logging.WARNING), _http(http_server) as remote:
        assert _get(remote, "/norange/ranges/f", 1000, 300) == data[1000:1300]
        assert _get(remote, "/norange/ranges/f", 9000) == data[9000:]
        assert _get(remote, "/ranges/f", 1000, 300) == data[1000:1300]  # the server honours it
        with pytest.raises(TransientError, match="before offset"):
            _get(remote, "/norange/ranges/f", 20_000)
    assert sum("ignores Range" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_stalled_server_times_out(http_server: HttpServer, served_root: Path, where: str) -> None:
    directory = _workdir(served_root, f"stall-{where}")
    (directory / "f").write_bytes(b"x" * 100_000)
    start = time.monotonic()
    with _http(http_server, timeout=0.5) as remote, pytest.raises(TransientError) as caught:
        _get(remote, f"/stall/{where}/stall-{where}/f")
    assert time.monotonic() - start < 5
    assert "timed out" in str(caught.value)


def test_http_wrong_password_or_token_is_permanent(
    http_server: HttpServer, https_server: HttpServer, trust_test_certificate: Path
) -> None:
    wrong = Credentials.parse(f"http://{WEB_USER}:nope@{LOCALHOST}:{http_server.port}/", "c")
    with (
        open_transfer(http_server.url + "/", wrong) as remote,
        pytest.raises(PermanentError, match="401"),
    ):
        remote.ls("/")
    with (
        open_transfer(https_server.url + "/") as remote,
        pytest.raises(PermanentError, match="401"),
    ):
        remote.ls("/")
    right = Credentials.parse(f"{https_server.url}/ bearer_token={TOKEN}", "c")
    with open_transfer(https_server.url + "/", right) as remote:
        assert isinstance(remote.ls("/"), list)


def test_https_certificate_is_checked_unless_lax(
    https_server: HttpServer,
    served_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    (_workdir(served_root, "tls") / "f").write_bytes(b"secret data")
    creds = Credentials.parse(f"{https_server.url}/ bearer_token={TOKEN}", "c")
    with (
        open_transfer(https_server.url + "/", creds) as remote,
        pytest.raises(PermanentError, match="certificate"),
    ):
        _get(remote, "/tls/f")
    with (
        caplog.at_level(logging.WARNING),
        open_transfer(https_server.url + "/", creds, tls_rigour="lax") as remote,
    ):
        assert _get(remote, "/tls/f") == b"secret data"
    assert any("lax" in r.getMessage() for r in caplog.records)


def test_http_keeps_the_connection_and_renews_it_after_a_batch(
    http_server: HttpServer, served_root: Path
) -> None:
    directory = _workdir(served_root, "batch-http")
    (directory / "f").write_bytes(b"abc")
    before = http_server.connections
    with _http(http_server, batch=3) as remote:
        for _ in range(5):
            assert _get(remote, "/batch-http/f") == b"abc"
    assert http_server.connections - before == 2


# --- ftp(s)


def test_ftp_renews_the_connection_after_a_batch(ftp_server: FtpServer, served_root: Path) -> None:
    directory = _workdir(served_root, "batch-ftp")
    (directory / "f").write_bytes(b"abc")
    before = ftp_server.connections
    with _ftp(ftp_server, batch=2) as remote:
        for _ in range(4):
            assert _get(remote, "/batch-ftp/f") == b"abc"
    assert ftp_server.connections - before == 2


def test_ftp_active_mode(ftp_server: FtpServer, served_root: Path) -> None:
    directory = _workdir(served_root, "active")
    with _ftp(ftp_server, "active") as remote:
        remote.put(io.BytesIO(b"sent actively"), "/active/f")
        assert _get(remote, "/active/f") == b"sent actively"
        assert [e.name for e in remote.ls("/active")] == ["f"]
    assert (directory / "f").read_bytes() == b"sent actively"


def test_ftp_ascii_mode_converts_line_ends(ftp_server: FtpServer, served_root: Path) -> None:
    text = b"line one\nline two\n" * 5000  # line ends fall on every chunk boundary
    directory = _workdir(served_root, "ascii")
    with _ftp(ftp_server, "ascii", bufsize=4097) as remote:
        remote.put(io.BytesIO(text), "/ascii/f")
        assert (directory / "f").read_bytes() == text  # the server stores its own line ends
        assert _get(remote, "/ascii/f") == text
        with pytest.raises(Unsupported, match="ascii"):
            _get(remote, "/ascii/f", 5)


def test_ftp_listing_without_mlsd(ftp_server_without_mlsd: FtpServer, served_root: Path) -> None:
    directory = _workdir(served_root, "list")
    (directory / "f").write_bytes(b"12345")
    (directory / "d").mkdir()
    with _ftp(ftp_server_without_mlsd) as remote:
        entries = {e.name: e for e in remote.ls("/list")}
    assert set(entries) == {"f", "d"}
    assert entries["f"].size == 5 and not entries["f"].is_dir
    assert entries["d"].is_dir
    mtime = (directory / "f").stat().st_mtime
    assert entries["f"].mtime is not None and abs(entries["f"].mtime - mtime) < 60


def test_ftps_data_must_be_protected_when_the_server_says_so(
    ftps_server: FtpServer, served_root: Path, trust_test_certificate: Path
) -> None:
    (_workdir(served_root, "prot") / "f").write_bytes(b"x")
    with _ftp(ftps_server) as remote, pytest.raises(PermanentError, match="550"):
        _get(remote, "/prot/f")
    with _ftp(ftps_server, "prot_p") as remote:
        assert _get(remote, "/prot/f") == b"x"


def test_ftps_certificate_is_checked_unless_lax(
    ftps_server: FtpServer, served_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    (_workdir(served_root, "ftps-tls") / "f").write_bytes(b"x")
    with (
        _ftp(ftps_server, "prot_p") as remote,
        pytest.raises(PermanentError, match="certificate"),
    ):
        _get(remote, "/ftps-tls/f")
    with _ftp(ftps_server, "prot_p", tls_rigour="lax") as remote:
        assert _get(remote, "/ftps-tls/f") == b"x"


# --- sftp


def test_sftp_refuses_an_unknown_host_key_saying_how_to_add_it(
    sshd: SshServer, ssh_home: Path, ssh_user: str
) -> None:
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    with (
        _sftp(sshd, ssh_user, f"ssh_keyfile={sshd.client_key}") as remote,
        pytest.raises(PermanentError) as caught,
    ):
        remote.ls("/")
    message = str(caught.value)
    assert f"ssh-keyscan -p {sshd.port} -t ssh-ed25519 {LOCALHOST}" in message
    assert str(ssh_home / ".ssh" / "known_hosts") in message


def test_sftp_refuses_a_changed_host_key(sshd: SshServer, ssh_home: Path, ssh_user: str) -> None:
    impostor = write_ssh_key(ssh_home / "other_key")
    (ssh_home / ".ssh" / "known_hosts").write_text(f"[{LOCALHOST}]:{sshd.port} {impostor}\n")
    with (
        _sftp(sshd, ssh_user, f"ssh_keyfile={sshd.client_key}") as remote,
        pytest.raises(PermanentError, match="ssh-keygen -R"),
    ):
        remote.ls("/")


def test_sftp_lax_accepts_an_unknown_host_key_with_one_warning(
    sshd: SshServer, ssh_home: Path, ssh_user: str, caplog: pytest.LogCaptureFixture
) -> None:
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            with _sftp(sshd, ssh_user, f"ssh_keyfile={sshd.client_key}", tls_rigour="lax") as r:
                assert isinstance(r.ls("/"), list)
    assert sum("unchecked" in r.getMessage() for r in caplog.records) == 1


def test_sftp_uses_the_default_key_without_ssh_keyfile(
    sshd: SshServer, ssh_home: Path, ssh_user: str
) -> None:
    shutil.copy(sshd.client_key, ssh_home / ".ssh" / "id_ed25519")
    with _sftp(sshd, ssh_user) as remote:
        assert isinstance(remote.ls("/"), list)


def test_sftp_missing_keyfile_is_permanent(sshd: SshServer, ssh_home: Path, ssh_user: str) -> None:
    missing = ssh_home / "no-such-key"
    with (
        _sftp(sshd, ssh_user, f"ssh_keyfile={missing}") as remote,
        pytest.raises(PermanentError, match="no such file"),
    ):
        remote.ls("/")


# --- rate limit


def test_kbytes_ps_limits_the_rate(http_server: HttpServer, served_root: Path) -> None:
    data = b"r" * (96 * 1024)
    (_workdir(served_root, "throttle") / "f").write_bytes(data)
    for remote in (
        _http(http_server, kbytes_ps=256, bufsize=16 * 1024),
        open_transfer("file:///", kbytes_ps=256, bufsize=16 * 1024),
    ):
        path = "/throttle/f" if remote.server.scheme == "http" else str(served_root / "throttle/f")
        start = time.monotonic()
        with remote:
            assert _get(remote, path) == data
        # 96 KiB at 256 KiB/s: the first 16 KiB go at once, the other 80 KiB take 0.31 s.
        assert time.monotonic() - start >= 0.3
