"""Acknowledgement bookkeeping for one channel: the fewest basic.ack frames that acknowledge
exactly the deliveries the caller is done with, never one more.

Delivery tags grow by one per delivery on a channel. Done deliveries at the front of the
outstanding ones are acknowledged together with one `multiple=True` frame; a done delivery
behind one still in work is acknowledged alone, at once. A delivery given back (rejected, to be
delivered again) is settled alone, at once, and a later `multiple=True` frame passes over it
(the broker no longer holds it as unacknowledged).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class AckTracker:
    """The outstanding delivery tags of one channel (a new channel needs a new tracker)."""

    def __init__(self) -> None:
        self._order: deque[int] = deque()  # delivered, not yet covered by a multiple ack
        self._unacked: set[int] = set()  # delivered, not yet asked for
        self._sent_alone: set[int] = set()  # acknowledged on their own, still in _order

    def __len__(self) -> int:
        """How many deliveries the caller has not acknowledged yet."""
        return len(self._unacked)

    def delivered(self, tag: int) -> None:
        """Record a delivery."""
        self._order.append(tag)
        self._unacked.add(tag)

    def rejects(self, tags: Iterable[int]) -> list[int]:
        """The delivery tags to reject (each in a frame of its own) for `tags`, unknown or
        repeated tags left out."""
        frames = sorted({tag for tag in tags if tag in self._unacked})
        self._unacked.difference_update(frames)
        self._sent_alone.update(frames)
        return frames

    def acks(self, tags: Iterable[int]) -> list[tuple[int, bool]]:
        """The (delivery_tag, multiple) frames acknowledging `tags`, unknown or repeated tags
        left out."""
        asked = set()
        for tag in tags:
            if tag in self._unacked:
                self._unacked.remove(tag)
                asked.add(tag)
        last_asked = None
        while self._order and self._order[0] not in self._unacked:
            tag = self._order.popleft()
            if tag in asked:
                asked.remove(tag)
                last_asked = tag
            else:
                self._sent_alone.remove(tag)
        frames = [(last_asked, True)] if last_asked is not None else []
        for tag in sorted(asked):
            frames.append((tag, False))
            self._sent_alone.add(tag)
        return frames
