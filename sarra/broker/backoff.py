"""Waiting for a server that went away (a broker, Redis): the delays between attempts, and what
is worth a log line while it lasts.

The delays double from `first` up to a low cap (4 s), so that a component is back within a
few seconds of its server's return however long it was gone; each is drawn at random in the
upper half of its step, so that the many instances that lost a server at the same instant do
not come back at the same instant.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

CAP = 4.0
"""Longest delay between two attempts, in seconds."""

LOG_EVERY = 60.0
"""Seconds between two log lines of one outage, while its reason stays the same."""


class Backoff:
    """1, 2, 4 … `cap` seconds, each drawn between (1 - `jitter`) times that and that."""

    def __init__(
        self,
        first: float = 1.0,
        cap: float = CAP,
        jitter: float = 0.5,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self._rng = rng
        self._attempts = 0

    def next(self) -> float:
        """The delay before the next attempt (each call doubles the base, up to the cap)."""
        base = min(self.cap, self.first * 2**self._attempts)
        self._attempts = min(self._attempts + 1, 64)
        return base * (1 - self.jitter * self._rng())

    def reset(self) -> None:
        """After a success: the next failure waits `first` again."""
        self._attempts = 0


class Outage:
    """The failed attempts to reach a server since it was last reached, for the log: the first
    failure is worth a line, then one when the reason changes or every `log_every` seconds, and
    the recovery one that says how long the server was away."""

    def __init__(
        self, log_every: float = LOG_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log_every = log_every
        self._clock = clock
        self.attempts = 0
        self._since: float | None = None
        self._logged_at = 0.0
        self._reason = ""

    @property
    def away(self) -> float:
        """Seconds since the first failure of this outage (0 when there is none)."""
        return 0.0 if self._since is None else self._clock() - self._since

    def failed(self, reason: str) -> bool:
        """Count a failed attempt; True when it deserves a log line."""
        now = self._clock()
        self.attempts += 1
        if self._since is None:
            self._since = now
        if self.attempts == 1 or reason != self._reason or now - self._logged_at >= self.log_every:
            self._reason, self._logged_at = reason, now
            return True
        return False

    def recovered(self) -> float | None:
        """The server was reached: how long it was away (None when there was no failure);
        the next failure starts a new outage."""
        away = None if self._since is None else self.away
        self.attempts, self._since, self._reason = 0, None, ""
        return away
