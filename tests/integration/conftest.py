"""Session-wide test servers (see tests/servers.py), all serving one directory, `served_root`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from pumpkit import declare
from servers import (
    FTP_USER,
    MOSQUITTO,
    PASSWORD,
    TOKEN,
    WEB_USER,
    FtpServer,
    HttpServer,
    MosquittoServer,
    make_certificate,
)

from sarra.config.loader import load


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for 127.0.0.1; the cert is its own CA."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def http_server(served_root: Path) -> Iterator[HttpServer]:
    """HTTP on 127.0.0.1, Basic auth as WEB_USER / PASSWORD."""
    server = HttpServer(served_root, user=WEB_USER, password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_server(served_root: Path, tls_certificate: tuple[Path, Path]) -> Iterator[HttpServer]:
    """HTTPS on 127.0.0.1 with the self-signed certificate, bearer token TOKEN."""
    server = HttpServer(served_root, token=TOKEN, tls=tls_certificate).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ftp_server_without_mlsd(served_root: Path) -> Iterator[FtpServer]:
    """Like ftp_server, but without MLSD (as vsftpd): listings come from LIST."""
    server = FtpServer(served_root, FTP_USER, PASSWORD, mlsd=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ftps_server(served_root: Path, tls_certificate: tuple[Path, Path]) -> Iterator[FtpServer]:
    """pyftpdlib FTPS (explicit TLS on control and data) on 127.0.0.1, FTP_USER / PASSWORD."""
    pytest.importorskip("OpenSSL", reason="pyftpdlib's FTPS server needs pyOpenSSL")
    server = FtpServer(served_root, FTP_USER, PASSWORD, tls=tls_certificate).start()
    yield server
    server.stop()


@pytest.fixture
def trust_test_certificate(
    monkeypatch: pytest.MonkeyPatch, tls_certificate: tuple[Path, Path]
) -> Path:
    """Make the self-signed certificate trusted (by OpenSSL's and requests' CA variables)."""
    cert = tls_certificate[0]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    return cert


@pytest.fixture
def exchange(tmp_path: Path) -> str:
    """A fresh exchange, declared as the pump's feeder would have."""
    name = f"xtest_{uuid.uuid4().hex[:12]}"
    declare(load("subscribe", None, name="declarer"), name)
    return name


@pytest.fixture
def credentials(sarra_home: Path, http_server: HttpServer, ftp_server: FtpServer) -> Path:
    path = sarra_home / "credentials.conf"
    secret = quote(PASSWORD, safe="")
    path.write_text(
        "amqp://guest:guest@127.0.0.1/\n"
        f"http://{WEB_USER}:{secret}@127.0.0.1:{http_server.port}/\n"
        f"ftp://{FTP_USER}:{secret}@127.0.0.1:{ftp_server.port}/\n"
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def open_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """HTTP on 127.0.0.1 without authentication (WIS2 core data needs no login), serving a
    directory of its own."""
    server = HttpServer(tmp_path_factory.mktemp("open_web").resolve()).start()
    yield server
    server.stop()


@pytest.fixture
def second_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A Mosquitto of the test's own on a spare port (a second WIS2 Global Broker beside the
    machine's)."""
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent (apt-get install mosquitto)")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    server = MosquittoServer(directory).start()
    yield server
    server.stop()
