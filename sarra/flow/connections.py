"""Each worker thread's own connection per server (a transfer backend is not thread-safe), all
closed together when the loop ends."""

from __future__ import annotations

import threading

from sarra.config.credentials import Credentials
from sarra.config.loader import Config
from sarra.transfer.base import Transfer
from sarra.transfer.registry import open_transfer


class ThreadTransfers:
    """Transfers opened on demand, one per (thread, server), with the config's settings."""

    def __init__(self, config: Config, credentials: Credentials) -> None:
        self.config = config
        self.credentials = credentials
        self._local = threading.local()
        self._opened: list[Transfer] = []
        self._lock = threading.Lock()

    def get(self, server: str) -> Transfer:
        """The calling thread's transfer to `server` (scheme://host[:port]/)."""
        transfers: dict[str, Transfer] = self._local.__dict__.setdefault("transfers", {})
        transfer = transfers.get(server)
        if transfer is None:
            config = self.config
            transfer = open_transfer(
                server,
                self.credentials,
                timeout=config.timeout,
                bufsize=config.bufsize,
                batch=config.batch,
                kbytes_ps=config.kbytes_ps,
                tls_rigour=config.tls_rigour,
            )
            transfers[server] = transfer
            with self._lock:
                self._opened.append(transfer)
        return transfer

    def close(self) -> None:
        """Close every transfer (once the worker threads are done)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for transfer in opened:
            transfer.close()
