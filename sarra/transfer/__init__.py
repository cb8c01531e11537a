"""Transfers: one backend per URL scheme behind one small interface, and path confinement.

    with open_transfer("sftp://alice@example.org/", credentials, timeout=60) as remote:
        with open("local.dat", "wb") as f:
            remote.get("/data/file.dat", f)

Failures are TransientError (retry) or PermanentError (drop; Unsupported is one).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "OPERATIONS": "base", "Entry": "base", "Transfer": "base", "TransferSettings": "base",
    "PermanentError": "errors", "TransferError": "errors", "TransientError": "errors",
    "Unsupported": "errors", "backend_for": "registry", "open_transfer": "registry",
    "register_transfer": "registry", "server_of": "registry", "transfer_schemes": "registry",
    "Progress": "stream",
}  # fmt: skip
"""Each name of the package's surface and its module, imported on first use: a module of the
package (confine, safe_fs) is used without the backends' machinery."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
