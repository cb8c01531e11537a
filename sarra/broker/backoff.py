"""Delays between reconnection attempts: doubling from `first` up to `cap`, with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """1, 2, 4 … `cap` seconds, each spread by ±`jitter` so instances do not retry in step."""

    def __init__(
        self,
        first: float = 1.0,
        cap: float = 60.0,
        jitter: float = 0.2,
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
        return base * (1 + self.jitter * (2 * self._rng() - 1))

    def reset(self) -> None:
        """After a success: the next failure waits `first` again."""
        self._attempts = 0
