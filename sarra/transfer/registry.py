"""Which backend serves which URL scheme, and `open_transfer`, the one way to get a backend.

Backends are named by "module:Class" and imported on first use, so a scheme costs nothing until
it is used; plugins add schemes with `register_transfer`.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from dataclasses import replace
from urllib.parse import unquote, urlsplit

from sarra.config.credentials import DEFAULT_PORTS, Credential, Credentials
from sarra.transfer.base import Transfer, TransferSettings
from sarra.transfer.errors import PermanentError, Unsupported

_BUILTIN: dict[str, str] = {
    "file": "sarra.transfer.local:LocalTransfer",
    "http": "sarra.transfer.http:HttpTransfer",
    "https": "sarra.transfer.http:HttpTransfer",
    "ftp": "sarra.transfer.ftp:FtpTransfer",
    "ftps": "sarra.transfer.ftp:FtpTransfer",
    "sftp": "sarra.transfer.sftp:SftpTransfer",
}
_backends: dict[str, str | type[Transfer]] = dict(_BUILTIN)
_lock = threading.Lock()


def register_transfer(scheme: str, backend: str | type[Transfer]) -> None:
    """Serve `scheme` with `backend`: a Transfer subclass, or "module:Class" to import on use."""
    with _lock:
        _backends[scheme.lower()] = backend


def transfer_schemes() -> list[str]:
    """The schemes a backend is registered for."""
    return sorted(_backends)


def backend_for(scheme: str) -> type[Transfer]:
    """The backend class of a scheme; Unsupported (with the likely one meant) when there is none."""
    scheme = scheme.lower()
    with _lock:
        backend = _backends.get(scheme)
    if backend is None:
        close = difflib.get_close_matches(scheme, list(_backends), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        known = ", ".join(transfer_schemes())
        raise Unsupported(
            "open", f"{scheme}:", f"no transfer for this scheme{hint}; known: {known}"
        )
    if isinstance(backend, str):
        module, _, name = backend.partition(":")
        backend = getattr(importlib.import_module(module), name)
        if not (isinstance(backend, type) and issubclass(backend, Transfer)):
            raise TypeError(f"{_backends[scheme]} is not a Transfer")
        with _lock:
            _backends[scheme] = backend
    return backend


def open_transfer(
    url: str,
    credentials: Credentials | None = None,
    *,
    timeout: float = 300.0,
    bufsize: int = 1 << 20,
    batch: int = 100,
    kbytes_ps: float = 0,
    tls_rigour: str = "normal",
) -> Transfer:
    """A backend for the server of `url` (its path is not used), with the password and options
    that credentials.conf holds for it. It connects on first use.
    """
    settings = TransferSettings(
        timeout=timeout, bufsize=bufsize, batch=batch, kbytes_ps=kbytes_ps, tls_rigour=tls_rigour
    )
    scheme = urlsplit(url).scheme.lower()
    backend = backend_for(scheme)
    return backend(server_of(url, credentials), settings)


def server_of(url: str, credentials: Credentials | None = None) -> Credential:
    """The server a URL names: its scheme, host, port (default filled in), user and password,
    completed from the matching credentials entry, whose options it takes.
    """
    resolved, entry = credentials.resolve(url) if credentials else (url, None)
    parts = urlsplit(resolved)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise PermanentError("open", url, "the port is not a number from 0 to 65535") from None
    base = entry or Credential(scheme=scheme, user=None, password=None, host="", port=None)
    return replace(
        base,
        scheme=scheme,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname or "",
        port=port if port is not None else DEFAULT_PORTS.get(scheme),
        path=unquote(parts.path),
    )
