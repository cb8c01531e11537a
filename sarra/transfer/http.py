"""http and https: downloads and index-page listings, one kept-alive connection each.

Each backend holds one connection to its server (kept alive and reused, renewed after `batch`
files) and sends every GET straight to it. Straight to a server, that connection is a
WireConnection (sarra.transfer.http_wire), which costs a small file a third of urllib3's CPU and
bounds what a hostile server can make it wait for or hold; through a proxy, requests go through
urllib3's pools. The environment (proxies, CA bundle) is read once, when the backend first
connects.

Byte ranges use `Range: bytes=a-b`, and a 206's Content-Range must be the range asked for. A
server that ignores Range answers 200 with the whole file: then the bytes before the offset are
read and thrown away, so the right bytes are written all the same (at the cost of reading them; a
warning says so once per server). Bodies are fetched with `Accept-Encoding: identity` and written
as they come, so a .gz file stays the file it is (one that comes with a Content-Encoding all the
same is written as it came, with a warning once per server).

A path is a file's path (a `?` in it is part of a name), percent-encoded on the request line with
what RFC 3986 allows in a path kept as it is; a notice's retrievePath comes as a `Target` and is
sent as written, its query with it (sarra.message.http_path).

Redirects are followed (at most _MAX_REDIRECTS, all within one `timeout`) to http and https URLs,
never from https to http; the credentials are sent to the server's own scheme, host and port
only, never to another host a redirect leads to.
"""

from __future__ import annotations

import codecs
import ipaddress
import logging
import os
import re
import ssl
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote, urljoin, urlsplit
from urllib.request import getproxies_environment

import urllib3
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util import Retry, Timeout, make_headers
from urllib3.util.ssl_ import create_urllib3_context

from sarra import __version__
from sarra.config.credentials import DEFAULT_PORTS, Credential, redact_url
from sarra.message import http_path
from sarra.transfer.base import Entry, Transfer, TransferSettings, check_range
from sarra.transfer.errors import (
    PermanentError,
    TransferError,
    TransientError,
    os_error_class,
    os_error_reason,
)
from sarra.transfer.http_wire import (
    WireConnection,
    WireProtocolError,
    WireResponse,
    WireTimeout,
)
from sarra.transfer.listing import parse_index
from sarra.transfer.stream import Progress, Read

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(
    r"bytes[ \t]+(?P<first>[0-9]{1,18})-(?P<last>[0-9]{1,18})/(?P<size>[0-9]{1,18}|\*)"
)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
_TRANSIENT_4XX = frozenset({408, 425, 429})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_WHOLE = frozenset({200, 203})  # the replies that carry a whole file (and 206 a range of one)
_MAX_REDIRECTS = 10
_MAX_ELSEWHERE = 4  # connections kept to the other hosts redirects lead to
_DRAIN_LIMIT = 64 * 1024  # an error page or redirect body up to this is read to keep the connection
_MAX_INDEX = 64 << 20  # the largest index page read by ls
_HOST = re.compile(r"[a-z0-9._-]+", re.ASCII)  # a host name a redirect may lead to (or an IP)
# urllib3 neither retries nor follows redirects itself: errors come out as they happen.
_NO_RETRIES = Retry(total=False, redirect=False)
# How every request goes through urllib3: the body left to read as it is on the wire.
_URLOPEN: dict[str, Any] = {
    "retries": _NO_RETRIES,
    "redirect": False,
    "assert_same_host": False,
    "preload_content": False,
    "decode_content": False,
}
_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
# Servers warned about (once each): those ignoring Range, those reached without TLS checks,
# those sending encoded bodies.
_warned: set[tuple[str, str]] = set()


if TYPE_CHECKING:  # a reply of either connection; urllib3 1.26 has no BaseHTTPResponse
    Reply = urllib3.BaseHTTPResponse | WireResponse


class HttpStatus(Exception):
    """An HTTP reply other than success, before it is classified."""

    def __init__(self, response: Reply) -> None:
        self.status = response.status
        super().__init__(f"{response.status} {response.reason or ''}".strip())


class _Failure(Exception):
    """A failure found here (not by urllib3), already classified."""

    def __init__(self, kind: type[TransferError], reason: str) -> None:
        self.kind = kind
        super().__init__(reason)


class HttpTransfer(Transfer):
    """The `http` and `https` schemes: get (with ranges) and ls; nothing is written remotely."""

    capabilities = frozenset({"get", "get_range", "ls"})

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        super().__init__(server, settings)
        self.index_parser: Callable[[str, str], list[Entry]] = parse_index
        """Turns a directory's index page into its entries (a poll's on_html_page plugins)."""
        self._port = server.port or DEFAULT_PORTS.get(server.scheme, 80)
        # The connection to the server: a WireConnection, or a urllib3 pool through a proxy.
        self._wire: WireConnection | None = None
        self._pool: urllib3.HTTPConnectionPool | None = None
        # What is asked for before a path: "" or, through a plain-http proxy, the origin.
        self._prefix = ""
        # Connections to the other hosts redirects lead to, by (scheme, host, port), the latest
        # used last; and urllib3's managers, by proxy.
        self._elsewhere: dict[tuple[str, str, int], WireConnection] = {}
        self._managers: dict[str, urllib3.PoolManager] = {}
        self._headers = _headers(server)  # what every request carries
        self._proxies: dict[str, str] | None = None  # the environment's, read once
        self._ca: str | None = None
        self._tls: dict[str, Any] | None = None

    def get(
        self,
        remote_path: str,
        local_file: BinaryIO,
        offset: int = 0,
        length: int | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        check_range(offset, length)
        if length == 0:
            return 0
        ranged = offset > 0 or length is not None
        try:
            with self._failing("get", remote_path):
                headers = self._headers
                if ranged:
                    last = "" if length is None else str(offset + length - 1)
                    headers = {**headers, "Range": f"bytes={offset}-{last}"}
                response = self._request(remote_path, headers)
                try:
                    expected = length
                    if ranged:
                        expected = self._start_at(response, remote_path, offset, length)
                    copied = self._copy(_reader(response), local_file.write, expected, progress)
                except BaseException:
                    _release(response)
                    raise
                # A range may leave the end of its body (a last chunk) to read: cheaply if here.
                _release(response, drain=True)
        finally:
            self._file_done()
        # Short of the length asked for (the file is shorter), or of the range a 206 said.
        self._check_copied("get", remote_path, copied, expected if length is None else length)
        return copied

    def ls(self, remote_dir: str) -> list[Entry]:
        directory = remote_dir if remote_dir.endswith("/") else remote_dir + "/"
        with self._failing("ls", directory):
            response = self._request(directory, self._headers)
            try:
                page = self._page(response)
            finally:
                _release(response)
            text = _text(page, response.headers.get("Content-Type", ""))
            return self.index_parser(text, directory)

    # --- requests

    def _request(self, path: str, headers: dict[str, str]) -> Reply:
        """GET a path of this server, following redirects; any reply but one with the file (or
        the range asked for) raises HttpStatus. The body is left to read."""
        if self._wire is None and self._pool is None:
            self._connect()
        timeout = self.settings.socket_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        response = self._own_get(self._prefix + http_path.request_target(path), headers, deadline)
        if response.status in _REDIRECTS:
            response = self._follow(response, self._address(path), headers, deadline)
        if response.status not in _WHOLE and not (response.status == 206 and "Range" in headers):
            _release(response, drain=True)
            raise HttpStatus(response)
        coding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if coding != "identity":
            self._warn_once("coding", f"{self.url()} sends Content-Encoding {coding[:40]} though"
                            " identity was asked for: bodies written as they come")  # fmt: skip
        return response

    def _own_get(self, target: str, headers: dict[str, str], deadline: float | None) -> Reply:
        """GET `target` from this server, on its own connection (its reply's head by
        `deadline`, when it is a WireConnection)."""
        if self._wire is not None:
            return self._wire.get(target, headers, deadline)
        assert self._pool is not None
        return self._pool.urlopen("GET", target, headers=headers, **_URLOPEN)

    def _follow(
        self, response: Reply, url: str, headers: dict[str, str], deadline: float | None
    ) -> Reply:
        """Follow the redirects that `response` (from `url`) starts; return the first other
        reply. Those to this server go on its own connection, the others on connections of
        their own (or through their proxy), without the credentials."""
        same_server = True
        for _ in range(_MAX_REDIRECTS):
            location = response.headers.get("Location")
            if not location:
                return response
            _release(response, drain=True)
            scheme, host, port, target, url = _redirect(url, location)
            same_server = same_server and (scheme, host, port) == (
                self.server.scheme,
                self.server.host.lower(),
                self._port,
            )
            if same_server:
                response = self._own_get(self._prefix + target, headers, deadline)
            else:
                # Another host: it gets no credentials, now or after any further redirect.
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
                proxy = self._proxy_for(scheme, host, port)
                if proxy is None:
                    wire = self._wire_elsewhere(scheme, host, port)
                    response = wire.get(target, headers, deadline)
                else:
                    origin = f"{scheme}://{_netloc(host, port, scheme)}"
                    response = self._manager(proxy).urlopen(
                        "GET", origin + target, headers=headers, **_URLOPEN
                    )
            if response.status not in _REDIRECTS:
                return response
        _release(response)
        raise _Failure(TransientError, f"more than {_MAX_REDIRECTS} redirects")

    def _start_at(self, response: Reply, path: str, offset: int, length: int | None) -> int | None:
        """Make the body start at `offset`: check a 206's Content-Range (the range asked for,
        or a shorter one ending at the end of the file), or skip through a 200. The bytes to
        copy: those of the range, at most `length` (None: to the end of a 200's body)."""
        if response.status == 206:
            content_range = response.headers.get("Content-Range", "").strip()
            found = _CONTENT_RANGE.fullmatch(content_range)
            if found is not None:
                first, last, size = int(found["first"]), int(found["last"]), found["size"]
                total = None if size == "*" else int(size)
                at_end = total is not None and last == total - 1
                if first == offset <= last and (total is None or last < total):
                    if length is None and at_end:
                        return last - first + 1
                    if length is not None and (last == offset + length - 1 or at_end):
                        return min(length, last - first + 1)
            asked = f"bytes {offset}-{'' if length is None else offset + length - 1}"
            got = content_range[:80] or "no Content-Range"
            raise TransientError("get", self.url(path), f"asked for {asked}, got {got}")
        self._warn_once("range", f"{self.url()} ignores Range: reading from the start instead")
        skipped = 0
        read = _reader(response)
        while skipped < offset:
            chunk = read(min(self.settings.bufsize, offset - skipped))
            if not chunk:
                break
            skipped += len(chunk)
        if skipped < offset:
            reason = f"the file ends at byte {skipped}, before offset {offset}"
            raise TransientError("get", self.url(path), reason)
        return length

    def _page(self, response: Reply) -> bytes:
        """The body of an index page, at most _MAX_INDEX bytes."""
        pieces: list[bytes] = []
        size = 0
        read = _reader(response)
        while piece := read(min(self.settings.bufsize, _MAX_INDEX + 1 - size)):
            pieces.append(piece)
            size += len(piece)
            if size > _MAX_INDEX:
                raise _Failure(TransientError, f"index page longer than {_MAX_INDEX >> 20} MiB")
        return b"".join(pieces)

    def _address(self, path: str) -> str:
        return f"{self.server.scheme}://{self.host_port}{http_path.request_target(path)}"

    # --- connections

    def _connect(self) -> None:
        """Make the connection to this server, reading the environment the first time:
        a WireConnection straight to it, or a urllib3 pool through its proxy."""
        if self._proxies is None:
            self._read_environment()
        server = self.server
        proxy = self._proxy_for(server.scheme, server.host, self._port)
        if proxy is None:
            tls = self._tls_options()["ssl_context"] if server.scheme == "https" else None
            self._wire = WireConnection(
                server.host,
                self._port,
                timeout=self.settings.socket_timeout,
                tls=tls,
                default_port=DEFAULT_PORTS.get(server.scheme, 80),
            )
            self._prefix = ""
        else:
            self._pool = self._manager(proxy).connection_from_host(
                server.host, self._port, server.scheme
            )
            # A plain-http proxy is asked for the whole URL; https goes through a CONNECT tunnel.
            plain = server.scheme == "http" and not proxy.startswith("socks")
            self._prefix = f"http://{self.host_port}" if plain else ""
        if self.settings.lax and server.scheme == "https":
            self._warn_once("lax", f"{self.url()}: tls_rigour lax, certificates not checked")

    def _wire_elsewhere(self, scheme: str, host: str, port: int) -> WireConnection:
        """The connection to another host a redirect leads to (the oldest of those kept is
        closed when there are too many)."""
        key = (scheme, host, port)
        wire = self._elsewhere.pop(key, None)
        if wire is None:
            if len(self._elsewhere) >= _MAX_ELSEWHERE:
                self._elsewhere.pop(next(iter(self._elsewhere))).close()
            wire = WireConnection(
                host,
                port,
                timeout=self.settings.socket_timeout,
                tls=self._tls_options()["ssl_context"] if scheme == "https" else None,
                default_port=DEFAULT_PORTS[scheme],
            )
        self._elsewhere[key] = wire
        return wire

    def _read_environment(self) -> None:
        """Take the proxies and the CA bundle from the environment."""
        self._proxies = getproxies_environment()
        self._ca = next((os.environ[v] for v in _CA_VARIABLES if os.environ.get(v)), None)

    def _pool_options(self) -> dict[str, Any]:
        timeout = self.settings.socket_timeout
        return {
            "timeout": Timeout(connect=timeout, read=timeout),
            "retries": _NO_RETRIES,
            "maxsize": 1,
            "block": False,
        }

    def _tls_options(self) -> dict[str, Any]:
        """How https connections are checked, made once: the context loads the CA bundle."""
        if self._tls is None:
            if self.settings.lax:
                context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
                self._tls = {
                    "ssl_context": context,
                    "cert_reqs": "CERT_NONE",
                    "assert_hostname": False,
                }
            else:
                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                ca = self._ca or _default_ca()
                try:
                    if ca is None:
                        context.load_default_certs()
                    elif os.path.isdir(ca):
                        context.load_verify_locations(capath=ca)
                    else:
                        context.load_verify_locations(cafile=ca)
                except (OSError, ssl.SSLError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    raise _Failure(PermanentError, f"CA bundle {ca}: {reason}") from exc
                self._tls = {"ssl_context": context, "cert_reqs": "CERT_REQUIRED"}
        return self._tls

    def _manager(self, proxy: str) -> urllib3.PoolManager:
        """The pool manager for a proxy, made on first use."""
        manager = self._managers.get(proxy)
        if manager is None:
            options = {**self._pool_options(), **self._tls_options()}
            if proxy.startswith("socks"):
                try:
                    from urllib3.contrib.socks import SOCKSProxyManager
                except ImportError as exc:
                    reason = "a socks proxy is set, which needs PySocks (not installed)"
                    raise _Failure(PermanentError, reason) from exc
                manager = SOCKSProxyManager(proxy, num_pools=4, **options)
            else:
                parts = urlsplit(proxy)
                auth = {}
                if parts.username is not None:
                    user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                    auth = make_headers(proxy_basic_auth=user_pass)
                manager = urllib3.ProxyManager(
                    proxy, num_pools=4, proxy_headers=auth or None, **options
                )
            self._managers[proxy] = manager
        return manager

    def _proxy_for(self, scheme: str, host: str, port: int) -> str | None:
        """The proxy URL the environment gives for a server, or None to connect directly."""
        proxies = self._proxies or {}
        proxy = proxies.get(scheme) or proxies.get("all")
        if not proxy or _bypassed(host, port, proxies.get("no", "")):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def _disconnect(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.close()
        elsewhere, self._elsewhere = list(self._elsewhere.values()), {}
        for wire in elsewhere:
            wire.close()
        pool, self._pool = self._pool, None
        managers, self._managers = list(self._managers.values()), {}
        if pool is not None:
            pool.close()
        for manager in managers:
            manager.clear()

    def _warn_once(self, what: str, message: str) -> None:
        key = (what, self.url())
        if key not in _warned:
            _warned.add(key)
            log.warning(message)

    def _classify(self, exc: Exception) -> tuple[type[TransferError], str] | None:
        if isinstance(exc, HttpStatus):
            if exc.status == 416:
                return TransientError, f"{exc} (the file is shorter than the range asked for)"
            if exc.status < 300:
                return TransientError, f"{exc}, not the file asked for"
            if exc.status >= 500 or exc.status in _TRANSIENT_4XX:
                return TransientError, str(exc)
            return PermanentError, str(exc)
        if isinstance(exc, _Failure):
            return exc.kind, str(exc)
        if isinstance(exc, WireProtocolError | WireTimeout):
            return TransientError, str(exc)
        cause = _os_error_in(exc)
        if cause is not None:
            return os_error_class(cause), os_error_reason(cause)
        if isinstance(exc, urllib3.exceptions.TimeoutError):
            return TransientError, "timed out (no progress within the timeout)"
        if isinstance(exc, urllib3.exceptions.HTTPError):
            return TransientError, _last_line(exc)
        return None


def _reader(response: Reply) -> Read:
    """Read the body as it is on the wire (no content decoding)."""
    read = response.read
    return lambda n: read(n, decode_content=False)


def _release(response: Reply, *, drain: bool = False) -> None:
    """Give the connection back to the pool. A body read to its end has done so already; a
    short rest is read when `drain` (an error page, the end of a range), otherwise the
    connection is closed."""
    if response.connection is None:
        return
    left = response.length_remaining
    # urllib3 drains all there is; a WireResponse drains at most as much, by its head's deadline
    short = isinstance(response, WireResponse) if left is None else left <= _DRAIN_LIMIT
    if drain and short:
        response.drain_conn()
    else:
        response.close()
    response.release_conn()


def _redirect(url: str, location: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, request target, URL) of where a Location leads from `url`. Only
    http(s) URLs with a plain host name or IP address are followed, and never from https
    to http."""
    try:
        new = urljoin(url, location.strip())
        parts = urlsplit(new)
        scheme = parts.scheme.lower()
        port = parts.port or DEFAULT_PORTS.get(scheme)
        host = parts.hostname or ""
    except ValueError:  # a bad port, or a bad IPv6 literal
        raise _Failure(PermanentError, f"redirected to a bad URL {location[:80]!r}") from None
    if scheme not in ("http", "https") or port is None:
        raise _Failure(PermanentError, f"redirected to {redact_url(new)[:200]}, not an http URL")
    if urlsplit(url).scheme.lower() == "https" and scheme == "http":
        raise _Failure(PermanentError, f"redirected from https to {redact_url(new)[:200]}")
    if not _HOST.fullmatch(host) and not _ip_literal(host):
        raise _Failure(PermanentError, f"redirected to a bad host name {host[:80]!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # What the Location leaves unencoded (spaces, controls, bytes past ASCII) is encoded.
    target = quote(path.encode("latin-1", "replace"), safe="/%?=&;:@!$'()*+,~[]")
    return scheme, host, port, target, new


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _netloc(host: str, port: int, scheme: str) -> str:
    """host[:port] as a URL writes it."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"


def _headers(server: Credential) -> dict[str, str]:
    """The headers of every request to the server: bodies as stored, and its credentials."""
    headers = {
        "User-Agent": f"sarra/{__version__}",
        "Accept": "*/*",
        "Accept-Encoding": "identity",
    }
    if server.bearer_token:
        headers["Authorization"] = f"Bearer {server.bearer_token}"
    elif server.user is not None and server.password is not None:
        headers["Authorization"] = _basic(server.user, server.password)
    return headers


def _text(page: bytes, content_type: str) -> str:
    """An index page as text: in its declared charset, else UTF-8, else Latin-1."""
    declared = _CHARSET.search(content_type)
    if declared:
        try:
            return page.decode(codecs.lookup(declared[1]).name, errors="replace")
        except LookupError:
            pass
    try:
        return page.decode()
    except UnicodeDecodeError:
        return page.decode("latin-1")


def _basic(user: str, password: str) -> str:
    """The Basic Authorization value (Latin-1 as usual, UTF-8 for what Latin-1 cannot write)."""
    pair = f"{user}:{password}"
    try:
        raw = pair.encode("latin-1")
    except UnicodeEncodeError:
        raw = pair.encode()
    return make_headers(basic_auth=raw.decode("latin-1"))["authorization"]


def _default_ca() -> str | None:
    """certifi's bundle where it is installed (as requests used), else None: the system's."""
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether no_proxy exempts a host: `*`, a name or domain suffix (`.example.org` or
    `example.org`), optionally with `:port`, an IP address or a CIDR network."""
    host = host.lower().strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.strip("[]").lstrip(".")
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
        if host == name or host.endswith("." + name):
            return True
    return False


def _has_port(entry: str) -> bool:
    """Whether a no_proxy entry ends in :port (an IPv6 address alone has colons too)."""
    head, colon, tail = entry.rpartition(":")
    if not colon or not tail.isdigit():
        return False
    return head.endswith("]") or ":" not in head


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OSError at the root of a urllib3 exception, if any (refused, reset, TLS...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and not isinstance(current, urllib3.exceptions.HTTPError):
            return current
        reason = getattr(current, "reason", None)
        inner = [a for a in current.args if isinstance(a, BaseException)]
        if isinstance(reason, BaseException):
            current = reason
        elif inner:
            current = inner[0]
        else:
            current = current.__cause__ or current.__context__
    return None


def _last_line(exc: BaseException) -> str:
    """The library's message, shortened to what says what happened."""
    text = str(exc) or type(exc).__name__
    return text.rsplit(": ", 1)[-1] if len(text) > 200 else text
