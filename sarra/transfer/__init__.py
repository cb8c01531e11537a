"""Transfers: one backend per URL scheme behind one small interface, and path confinement.

    with open_transfer("sftp://alice@example.org/", credentials, timeout=60) as remote:
        with open("local.dat", "wb") as f:
            remote.get("/data/file.dat", f)

Failures are TransientError (retry) or PermanentError (drop; Unsupported is one).
"""

from sarra.transfer.base import OPERATIONS, Entry, Transfer, TransferSettings
from sarra.transfer.errors import PermanentError, TransferError, TransientError, Unsupported
from sarra.transfer.registry import (
    backend_for,
    open_transfer,
    register_transfer,
    server_of,
    transfer_schemes,
)
from sarra.transfer.stream import Progress

__all__ = [
    "OPERATIONS",
    "Entry",
    "PermanentError",
    "Progress",
    "Transfer",
    "TransferError",
    "TransferSettings",
    "TransientError",
    "Unsupported",
    "backend_for",
    "open_transfer",
    "register_transfer",
    "server_of",
    "transfer_schemes",
]
