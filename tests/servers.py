"""Real servers for the transfer tests, each on 127.0.0.1 and a free port.

- HttpServer: serves a directory over HTTP/1.1 (keep-alive), honours Range (206, 416), writes an
  nginx-style index page for directories, may require Basic auth and/or a bearer token, may speak
  TLS. Paths under /norange/ ignore Range; under /stall/head/ nothing is answered and under
  /stall/body/ half the body is sent, until `release` is set. Under /query/, the file named
  `name?query` is served for `name` with that query (not for a `?` escaped in the path), and
  index pages link it so.
- FtpServer: pyftpdlib with one user in a home directory; optionally FTPS (explicit TLS required
  on control and data connections).
- SshServer: OpenSSH's sshd with its own configuration, host key and authorized client key.
- MosquittoServer: a Mosquitto of its own (persistence in its directory), to stop and restart:
  plain MQTT, and optionally websockets, TLS (its own certificate) and a password file.

Each start() returns once the server answers; stop() ends it. An HttpServer stopped may be
started again, on the same port (a source outage).
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hmac
import html
import ipaddress
import logging
import socket
import ssl
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCALHOST = "127.0.0.1"
WEB_USER = "web"
FTP_USER = "ftpuser"
PASSWORD = "pa55:w/rd@secret"  # characters that must be URL-encoded; never in error text
TOKEN = "tok3n-never-shown"
SSHD = Path("/usr/sbin/sshd")
MOSQUITTO = Path("/usr/sbin/mosquitto")
STALL_LIMIT = 30.0  # a stalled handler gives up by itself after this long


def free_port() -> int:
    """A TCP port that nothing listens on just now."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def wait_until_listening(
    port: int,
    *,
    deadline: float = 10.0,
    expect: bytes = b"",
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait (bounded) until a connection to the port succeeds and, if given, reads `expect`.

    Gives up at once if `process`, the server, has ended.
    """
    give_up = time.monotonic() + deadline
    while True:
        if process is not None and process.poll() is not None:
            raise TimeoutError(f"the server ended (exit status {process.returncode})")
        try:
            with socket.create_connection((LOCALHOST, port), timeout=1) as s:
                if not expect or s.recv(len(expect)).startswith(expect):
                    return
        except OSError:
            pass
        if time.monotonic() > give_up:
            raise TimeoutError(f"nothing answered on port {port} within {deadline} s")
        time.sleep(0.02)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key) PEM paths.

    The certificate is its own CA, so it can be given to clients as a CA bundle.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sarra test server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOCALHOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --- HTTP


@dataclass
class HttpServer:
    """A threaded HTTP(S) server of `root`; see the module docstring for its switches. It
    listens on `port`, or on a free port when that is 0."""

    root: Path
    user: str | None = None
    password: str | None = None
    token: str | None = None
    tls: tuple[Path, Path] | None = None
    port: int = 0
    connections: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOCALHOST}:{self.port}"

    def start(self) -> HttpServer:
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        self._server = _HttpListener((LOCALHOST, self.port), _HttpHandler, self, context)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        wait_until_listening(self.port)
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def authorized(self, header: str | None) -> bool:
        if self.user is None and self.token is None:
            return True
        kind, _, value = (header or "").partition(" ")
        if kind == "Bearer" and self.token is not None:
            return hmac.compare_digest(value, self.token)
        if kind == "Basic" and self.user is not None:
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return hmac.compare_digest(value, expected)
        return False


class _HttpListener(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: HttpServer,
        context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(address, handler)
        self.owner = owner
        self.context = context

    def process_request(self, request: socket.socket, client_address: object) -> None:
        self.owner.count_connection()
        super().process_request(request, client_address)

    def finish_request(self, request: socket.socket, client_address: object) -> None:
        # The TLS handshake happens here, in the connection's own thread.
        if self.context is not None:
            request.settimeout(10)
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)


class _HttpHandler(BaseHTTPRequestHandler):
    server: _HttpListener
    protocol_version = "HTTP/1.1"
    timeout = STALL_LIMIT
    disable_nagle_algorithm = True  # headers and body go out at once, as real servers do

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        owner = self.server.owner
        if not owner.authorized(self.headers.get("Authorization")):
            self._reply(401, b"unauthorized\n", {"WWW-Authenticate": 'Basic realm="test"'})
            return
        target = urlsplit(self.path)
        path = unquote(target.path)
        mode = ""
        for prefix in ("/norange", "/stall/head", "/stall/body", "/query"):
            if path.startswith(prefix + "/"):
                mode, path = prefix, path[len(prefix) :]
        if mode == "/stall/head":
            owner.release.wait(STALL_LIMIT)
            self.close_connection = True
            return
        if mode == "/query":  # the file named `name?query` is served for that query only
            if "?" in path:
                self._reply(404, b"a query comes as a query, not escaped in the path\n")
                return
            path += f"?{target.query}" if target.query else ""
        local = (owner.root / path.lstrip("/")).resolve()
        if not local.is_relative_to(owner.root.resolve()) or not local.exists():
            self._reply(404, b"not found\n")
        elif local.is_dir():
            page = _index_page(local, path, queries=mode == "/query").encode()
            self._reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
        else:
            self._send_file(local, ranges=mode != "/norange", stall=mode == "/stall/body")

    def _send_file(self, local: Path, *, ranges: bool, stall: bool) -> None:
        size = local.stat().st_size
        first, last = 0, size - 1
        header = self.headers.get("Range") if ranges else None
        status = 200
        extra: dict[str, str] = {}
        if header:
            wanted = _byte_range(header, size)
            if wanted is None:
                self._reply(416, b"", {"Content-Range": f"bytes */{size}"})
                return
            first, last = wanted
            status = 206
            extra["Content-Range"] = f"bytes {first}-{last}/{size}"
        length = last - first + 1
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", "application/octet-stream")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        with local.open("rb") as f:
            f.seek(first)
            if stall:
                self.wfile.write(f.read(length // 2))
                self.wfile.flush()
                owner = self.server.owner
                owner.release.wait(STALL_LIMIT)
                self.close_connection = True
                return
            self.wfile.flush()
            if self.server.owner.tls is None:
                # sendfile, as real web servers do: the server costs the client no CPU
                self.request.sendfile(f, first, length)
                return
            left = length
            while left > 0:
                chunk = f.read(min(left, 1 << 16))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single `bytes=` range, or None when it cannot be satisfied."""
    unit, _, spec = header.partition("=")
    first_text, _, last_text = spec.strip().partition("-")
    if unit.strip() != "bytes" or "," in spec:
        return 0, size - 1
    if not first_text:  # bytes=-N: the last N bytes
        first, last = max(0, size - int(last_text)), size - 1
    else:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        return None
    return first, last


def _index_page(directory: Path, path: str, *, queries: bool = False) -> str:
    """An index page as nginx's autoindex writes it (UTC times, sizes in bytes); with
    `queries`, a file named `name?query` is linked as the name with that query."""
    rows = ['<a href="../">../</a>']
    for entry in sorted(directory.iterdir()):
        try:
            st = entry.stat()
        except OSError:
            continue
        is_dir = entry.is_dir()
        name = entry.name + ("/" if is_dir else "")
        when = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).strftime("%d-%b-%Y %H:%M")
        size = "-" if is_dir else str(st.st_size)
        href = quote(name, safe="/?=&" if queries else "/")
        link = f'<a href="{html.escape(href)}">{html.escape(name)}</a>'
        rows.append(f"{link}{' ' * max(1, 51 - len(name))}{when} {size:>19}")
    title = html.escape(f"Index of {path}")
    listing = "\n".join(rows)
    return (
        f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1><hr><pre>"
        f"{listing}\n</pre><hr></body>\n</html>\n"
    )


# --- FTP


@dataclass
class FtpServer:
    """pyftpdlib serving `home` to one user; with `tls`, FTPS demanding TLS on every connection;
    without `mlsd`, a server that lists with LIST only."""

    home: Path
    user: str
    password: str
    tls: tuple[Path, Path] | None = None
    mlsd: bool = True
    port: int = 0
    connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'ftps' if self.tls else 'ftp'}://{self.user}@{LOCALHOST}:{self.port}"

    def start(self) -> FtpServer:
        with warnings.catch_warnings():  # pyftpdlib imports asyncore and asynchat
            warnings.simplefilter("ignore", DeprecationWarning)
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.ioloop import IOLoop
            from pyftpdlib.servers import FTPServer

        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.user, self.password, str(self.home), perm="elradfmwMT")
        owner = self
        base: type[FTPHandler] = FTPHandler
        settings: dict[str, object] = {
            "authorizer": authorizer,
            "timeout": STALL_LIMIT,
            "auth_failed_timeout": 0.05,  # pyftpdlib waits 3 s after a wrong password
        }
        if self.tls:
            from pyftpdlib.handlers import TLS_FTPHandler

            base = TLS_FTPHandler
            settings |= {
                "certfile": str(self.tls[0]),
                "keyfile": str(self.tls[1]),
                "tls_control_required": True,
                "tls_data_required": True,
                "ssl_context": None,
            }

        def on_connect(handler: FTPHandler) -> None:
            owner.connections += 1

        if not self.mlsd:
            settings["proto_cmds"] = {k: v for k, v in base.proto_cmds.items() if k != "MLSD"}
        handler = type("Handler", (base,), {**settings, "on_connect": on_connect})
        # An IOLoop of its own: pyftpdlib's default one is shared by every server in the process.
        ioloop = IOLoop()
        server = FTPServer((LOCALHOST, 0), handler, ioloop=ioloop)
        self.port = server.address[1]

        def serve() -> None:
            while not self._stop.is_set():
                ioloop.loop(timeout=0.05, blocking=False)
            server.close_all()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        wait_until_listening(self.port, expect=b"220")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


# --- SSH


@dataclass
class SshServer:
    """OpenSSH's sshd on 127.0.0.1, letting the holder of `client_key` log in as any user."""

    directory: Path
    port: int = 0
    host_public_key: str = ""
    client_key: Path = Path()
    _process: subprocess.Popen[bytes] | None = None

    @property
    def known_hosts_line(self) -> str:
        return f"[{LOCALHOST}]:{self.port} {self.host_public_key}"

    def start(self) -> SshServer:
        host_key = self.directory / "ssh_host_ed25519_key"
        self.host_public_key = write_ssh_key(host_key)
        self.client_key = self.directory / "client_ed25519_key"
        authorized_keys = self.directory / "authorized_keys"
        authorized_keys.write_text(write_ssh_key(self.client_key) + "\n")
        # sshd refuses to start without its privilege separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for _ in range(3):  # another process may take the free port first
            self.port = free_port()
            config = self.directory / "sshd_config"
            config.write_text(
                f"Port {self.port}\n"
                f"ListenAddress {LOCALHOST}\n"
                f"HostKey {host_key}\n"
                f"PidFile {self.directory / 'sshd.pid'}\n"
                f"AuthorizedKeysFile {authorized_keys}\n"
                "StrictModes no\n"
                "UsePAM no\n"
                "PermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "Subsystem sftp internal-sftp\n"
                "LogLevel ERROR\n"
            )
            log = (self.directory / "sshd.log").open("wb")
            self._process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log
            )
            try:
                wait_until_listening(self.port, expect=b"SSH-2.0", process=self._process)
                return self
            except TimeoutError:
                self.stop()
        raise RuntimeError(f"sshd did not start: {(self.directory / 'sshd.log').read_text()}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def write_ssh_key(path: Path) -> str:
    """Write a new ed25519 private key (OpenSSH format, mode 600); return its public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


class MosquittoServer:
    """`mosquitto -c <conf>` on free ports of 127.0.0.1, persistence in `directory`.

    `port` speaks MQTT; `ws_port` MQTT over websockets and `tls_port` MQTT over TLS when asked
    for; with `users` ({name: password}) anonymous clients are refused, and `acl` is the text of
    its access control list. stop() ends it (its state saved), start() brings it back on the
    same ports with that state.
    """

    def __init__(
        self,
        directory: Path,
        *,
        websockets: bool = False,
        tls: tuple[Path, Path] | None = None,
        users: dict[str, str] | None = None,
        acl: str | None = None,
        max_queued: int = 100_000,
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.ws_port = free_port() if websockets else None
        self.tls_port = free_port() if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        lines = [
            f"user {getpass.getuser()}",  # as root, it would become user mosquitto otherwise
            "persistence true",
            f"persistence_location {directory}/",
            f"log_dest file {directory / 'mosquitto.log'}",
            "log_type all",
            f"max_queued_messages {max_queued}",
            "per_listener_settings false",
            f"allow_anonymous {'false' if users else 'true'}",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.ws_port:
            lines += [f"listener {self.ws_port} 127.0.0.1", "protocol websockets"]
        if tls:
            cert, key = tls
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"certfile {cert}",
                f"keyfile {key}",
            ]
        if users:
            passwords = directory / "passwords"
            passwords.write_text("".join(f"{name}:{pw}\n" for name, pw in users.items()))
            passwords.chmod(0o600)
            subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True, timeout=30)
            lines.append(f"password_file {passwords}")
        if acl is not None:
            (directory / "acl").write_text(acl)
            lines.append(f"acl_file {directory / 'acl'}")
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> MosquittoServer:
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in filter(None, (self.port, self.ws_port, self.tls_port)):
            wait_until_listening(port, process=self.process)
        return self

    def stop(self) -> None:
        """End it as a service manager would (SIGTERM: it saves its state first)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
