"""What a connection is doing, for the people watching the instance from outside: connecting,
connected, refused by the broker (with the broker's reason), or unable to reach it.

The link (sarra.broker.link) updates it from its I/O thread; anyone may read a `snapshot()`
and be told of each change (`on_change`), so that `sr status` learns of a refused login as
soon as it happens (sarra.flow.recorder writes it into the instance's figures at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CONNECTING = "connecting"
"""Not connected yet, no failure yet."""
CONNECTED = "connected"
REFUSED = "refused"
"""The broker answered and said no: login, vhost, permission, a missing exchange or queue."""
UNREACHABLE = "unreachable"
"""No answer: nothing listens, the host is down, the connection was lost or timed out."""


@dataclass(frozen=True)
class LinkStatus:
    """One connection's state at a moment."""

    broker: str
    """The broker (node) connected to or tried, without password."""
    state: str
    reason: str = ""
    """Why it is not connected, in the words of sarra.broker.errors.describe."""
    since: float = 0.0
    """When it got (or lost) its connection, epoch seconds."""
    failures: int = 0
    """Failed attempts since it was last connected."""


class LinkState:
    """The changing state of one connection."""

    def __init__(self, broker: str) -> None:
        self._lock = threading.Lock()
        self._status = LinkStatus(broker, CONNECTING, since=time.time())
        self._listeners: list[Callable[[], None]] = []

    def snapshot(self) -> LinkStatus:
        """The state now."""
        return self._status

    def on_change(self, listener: Callable[[], None]) -> None:
        """Have `listener()` called (in the link's thread: keep it short) at each change."""
        with self._lock:
            self._listeners.append(listener)

    def connected(self, broker: str) -> None:
        """The connection works (again)."""
        self._set(LinkStatus(broker, CONNECTED, since=time.time()))

    def failed(self, broker: str, refused: bool, reason: str) -> None:
        """An attempt failed, or the connection was lost: `refused` when the broker said no."""
        old = self._status
        since = old.since if old.state != CONNECTED else time.time()
        state = REFUSED if refused else UNREACHABLE
        self._set(LinkStatus(broker, state, reason, since, old.failures + 1))

    def _set(self, status: LinkStatus) -> None:
        with self._lock:
            self._status = status
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
