"""Errors of transfers, classified where they happen so that callers decide by class alone.

    TransferError              one log line: "<operation> <redacted URL>: <reason>"
    ├── TransientError         may succeed later: retry (timeouts, refused or reset connections,
    │                          HTTP 5xx/408/429, FTP 4xx, SSH disconnects, short reads)
    └── PermanentError         will not succeed by retrying: report once and drop (HTTP 404/410,
        │                      401/403, FTP 5xx such as 550, no such file, permission denied,
        │                      refused host keys and certificates)
        └── Unsupported        the protocol cannot do the operation at all

The text of every error is redacted: it never holds a password or a token.
"""

from __future__ import annotations

import errno
import ssl

from sarra.config.credentials import redact_text, redact_url


class TransferError(Exception):
    """A failed transfer operation; `str()` is one redacted log line."""

    def __init__(self, operation: str, url: str, reason: str) -> None:
        self.operation = operation
        self.url = redact_url(url)
        self.reason = redact_text(" ".join(reason.split()) or "failed")
        super().__init__(f"{operation} {self.url}: {self.reason}")


class TransientError(TransferError):
    """A failure that may go away: the caller should retry later."""


class PermanentError(TransferError):
    """A failure that retrying will not fix: the caller should report it and drop the file."""


class Unsupported(PermanentError):
    """An operation the protocol (or this server) cannot do."""


# Local or remote file-system errors that retrying cannot fix.
_PERMANENT_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EEXIST,
        errno.ENOTEMPTY,
        errno.EROFS,
        errno.ELOOP,
        errno.ENAMETOOLONG,
        errno.EINVAL,
        errno.EXDEV,
    }
)


def os_error_class(exc: OSError) -> type[TransferError]:
    """The class of an OSError: file-system refusals are permanent, the rest (network) transient.

    A certificate that fails verification is permanent: it needs a person to fix it.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError
    if isinstance(exc, TimeoutError | ConnectionError | ssl.SSLError):
        return TransientError
    return PermanentError if exc.errno in _PERMANENT_ERRNOS else TransientError


def os_error_reason(exc: OSError) -> str:
    """A short reason for an OSError, without the file name it may repeat."""
    if isinstance(exc, TimeoutError):
        return "timed out (no progress within the timeout)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {exc.verify_message or exc.reason}"
    return exc.strerror or str(exc) or type(exc).__name__
