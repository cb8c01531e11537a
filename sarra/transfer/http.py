"""http and https: downloads and index-page listings with requests, one keep-alive Session each.

Byte ranges use `Range: bytes=a-b`. A server that ignores it answers 200 with the whole file:
then the bytes before the offset are read and thrown away, so the right bytes are written all the
same (at the cost of reading them; a warning says so once per server). Bodies are fetched with
`Accept-Encoding: identity` and written as they come, so a .gz file stays the file it is.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import BinaryIO
from urllib.parse import quote

import requests
import urllib3
from urllib3.exceptions import InsecureRequestWarning

from sarra.config.credentials import Credential
from sarra.transfer.base import Entry, Transfer, TransferSettings, check_range
from sarra.transfer.errors import (
    PermanentError,
    TransferError,
    TransientError,
    os_error_class,
    os_error_reason,
)
from sarra.transfer.listing import parse_index
from sarra.transfer.stream import Progress, Read

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(?P<first>\d+)-(?P<last>\d+)/(?P<size>\d+|\*)")
_TRANSIENT_4XX = frozenset({408, 425, 429})
# Servers warned about (once each): those ignoring Range, those reached without TLS checks.
_warned: set[tuple[str, str]] = set()


class HttpStatus(Exception):
    """An HTTP reply other than success, before it is classified."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        super().__init__(f"{response.status_code} {response.reason or ''}".strip())


class HttpTransfer(Transfer):
    """The `http` and `https` schemes: get (with ranges) and ls; nothing is written remotely."""

    capabilities = frozenset({"get", "get_range", "ls"})

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        super().__init__(server, settings)
        self._session: requests.Session | None = None

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
        headers = {"Accept-Encoding": "identity"}
        ranged = offset > 0 or length is not None
        if ranged:
            last = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"
        try:
            with (
                self._failing("get", remote_path),
                self._request(remote_path, headers, stream=True) as response,
            ):
                if ranged:
                    self._skip_to(response, remote_path, offset)
                copied = self._copy(_reader(response), local_file.write, length, progress)
        finally:
            self._file_done()
        self._check_copied("get", remote_path, copied, length)
        return copied

    def ls(self, remote_dir: str) -> list[Entry]:
        directory = remote_dir if remote_dir.endswith("/") else remote_dir + "/"
        with (
            self._failing("ls", directory),
            self._request(directory, {"Accept-Encoding": "identity"}, stream=False) as response,
        ):
            return parse_index(response.text, directory)

    def _request(self, path: str, headers: dict[str, str], *, stream: bool) -> requests.Response:
        """GET a path; any reply but a success raises HttpStatus."""
        timeout = self.settings.socket_timeout
        response = self._connection().get(
            self._address(path),
            headers=headers,
            stream=stream,
            timeout=(timeout, timeout),
            # Given per request: requests lets REQUESTS_CA_BUNDLE override a Session's verify.
            verify=not self.settings.lax,
        )
        if response.status_code >= 300:
            response.close()
            raise HttpStatus(response)
        return response

    def _skip_to(self, response: requests.Response, path: str, offset: int) -> None:
        """Make the body start at `offset`: check a 206's Content-Range, or skip through a 200."""
        if response.status_code == 206:
            found = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if found is None or int(found["first"]) != offset:
                got = response.headers.get("Content-Range", "no Content-Range")
                raise TransientError("get", self.url(path), f"asked from byte {offset}, got {got}")
            return
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

    def _address(self, path: str) -> str:
        return f"{self.server.scheme}://{self.host_port}{quote(path)}"

    def _connection(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            server = self.server
            if server.bearer_token:
                session.headers["Authorization"] = f"Bearer {server.bearer_token}"
            elif server.user is not None and server.password is not None:
                session.auth = (server.user, server.password)
            if self.settings.lax and server.scheme == "https":
                self._warn_once("lax", f"{self.url()}: tls_rigour lax, certificates not checked")
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
            self._session = session
        return self._session

    def _disconnect(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _warn_once(self, what: str, message: str) -> None:
        key = (what, self.url())
        if key not in _warned:
            _warned.add(key)
            log.warning(message)

    def _classify(self, exc: Exception) -> tuple[type[TransferError], str] | None:
        if isinstance(exc, HttpStatus):
            if exc.status == 416:
                return TransientError, f"{exc} (the file is shorter than the range asked for)"
            if exc.status >= 500 or exc.status in _TRANSIENT_4XX:
                return TransientError, str(exc)
            return PermanentError, str(exc)
        cause = _os_error_in(exc)
        if cause is not None:
            return os_error_class(cause), os_error_reason(cause)
        if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError):
            return TransientError, "timed out (no progress within the timeout)"
        if isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError):
            return TransientError, _last_line(exc)
        return None


def _reader(response: requests.Response) -> Read:
    """Read the body as it is on the wire (no content decoding)."""
    return lambda n: response.raw.read(n, decode_content=False)


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OSError at the root of a requests/urllib3 exception, if any (refused, reset, TLS...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and not isinstance(
            current, requests.RequestException | urllib3.exceptions.HTTPError
        ):
            return current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        else:
            current = current.__cause__ or current.__context__
    return None


def _last_line(exc: BaseException) -> str:
    """The library's message, shortened to what says what happened."""
    text = str(exc) or type(exc).__name__
    return text.rsplit(": ", 1)[-1] if len(text) > 200 else text
