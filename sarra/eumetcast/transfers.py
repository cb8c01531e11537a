"""Pushing a served file to a client's destination, through sarra's transfer backends.

The destination is the URL of the push request: `file:///dir/`, `ftp://user:pw@host/dir/`,
`sftp://user@host/dir/` or `scp://user@host/dir/` (scp goes through the sftp backend, on the
same ssh server). A path ending in `/` is a directory the file keeps its name in; the file is
written under a hidden `.name.part` and renamed into place when whole. Connections are
kept for `connection_uptime` seconds (default 30) after their last use and reused meanwhile.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sarra.transfer.base import Transfer, TransferSettings
from sarra.transfer.registry import backend_for, server_of

log = logging.getLogger(__name__)

SCHEMES = {"": "file", "file": "file", "ftp": "ftp", "sftp": "sftp", "scp": "sftp", "ssh": "sftp"}


def clean_url(url: str) -> str:
    """The URL without user, password or port, as replies and announcements show it."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def partial_name(name: str) -> str:
    """The hidden name a file is written under until whole (by a push, by unpacking)."""
    return f".{name}.part"


def target_path(destination_path: str, source: str) -> str:
    """The remote path a file goes to: into the directory when the path ends with '/'."""
    if not destination_path or destination_path.endswith("/"):
        return posixpath.join(destination_path or "/", os.path.basename(source))
    return destination_path


class Pusher:
    """Copies local files to destination URLs with reused connections; thread-safe."""

    def __init__(self, connection_parameters: dict[str, Any] | None = None) -> None:
        params = connection_parameters or {}
        self.uptime = float(params.get("connection_uptime", 30))
        self.keyfile = params.get("ssh_private_key_file") or params.get("ssh_key_filename")
        self.timeout = float(params.get("ssh_connection_timeout", 30))
        self._idle: dict[tuple[Any, ...], list[tuple[float, Transfer]]] = {}
        self._lock = threading.Lock()

    def push(self, source: str, destination: str) -> str:
        """Copy `source` to `destination` (a URL); return where it went, without credentials.

        Raises OSError or a sarra TransferError with the reason.
        """
        parts = urlsplit(destination)
        scheme = SCHEMES.get(parts.scheme.lower())
        if scheme is None:
            raise ValueError(f"{parts.scheme}: not a destination scheme (file, ftp, scp, sftp)")
        url = urlunsplit((scheme, parts.netloc, parts.path, "", ""))
        server = server_of(url)
        if scheme == "sftp" and self.keyfile:
            server = replace(server, ssh_keyfile=str(self.keyfile))
        if scheme == "file":
            server = replace(server, host="", port=None, user=None, password=None)
        path = target_path(parts.path, source)
        key = (scheme, server.host, server.port, server.user, server.password)
        transfer = self._take(key, server)
        directory, name = posixpath.split(path)
        hidden = posixpath.join(directory, partial_name(name))
        try:
            transfer.mkdir(directory or "/")
            with open(source, "rb") as local:
                transfer.put(local, hidden)
            transfer.rename(hidden, path)
        except BaseException:
            transfer.close()
            raise
        self._give_back(key, transfer)
        return clean_url(urlunsplit((parts.scheme, parts.netloc, path, "", "")))

    def _take(self, key: tuple[Any, ...], server: Any) -> Transfer:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                since, transfer = idle.pop()
                if now - since < self.uptime:
                    return transfer
                transfer.close()
        settings = TransferSettings(timeout=self.timeout, batch=0)
        return backend_for(key[0])(server, settings)

    def _give_back(self, key: tuple[Any, ...], transfer: Transfer) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append((time.monotonic(), transfer))

    def close(self) -> None:
        with self._lock:
            for idle in self._idle.values():
                for _, transfer in idle:
                    transfer.close()
            self._idle.clear()
