"""Acknowledgement bookkeeping for one channel: the fewest basic.ack frames that acknowledge
exactly the deliveries the caller is done with, never one more.

Delivery tags grow by one per delivery on a channel. Done deliveries at the front of the
outstanding ones are acknowledged together with one `multiple=True` frame; a done delivery
behind one still in work is acknowledged alone, at once. A delivery given back (rejected, to be
delivered again) is settled alone, at once, and a later `multiple=True` frame passes over it
(the broker no longer holds it as unacknowledged).
"""

from __future__ import annotations

from collections.abc import Iterable


class AckTracker:
    """The outstanding delivery tags of one channel (a new channel needs a new tracker).

    Tags grow by one per delivery, so the outstanding ones are those above the last tag a
    `multiple` frame covered, up to the last delivered, less those settled since (asked for, or
    sent alone): a delivery costs no bookkeeping of its own, and a run of acknowledgements in
    the order of delivery, the common case, is one comparison.
    """

    def __init__(self) -> None:
        self._covered = 0  # every tag up to this one is settled with the broker
        self._last = 0  # the last tag delivered
        self._settled: set[int] = set()  # above _covered: asked for or given back
        self._sent_alone: set[int] = set()  # of _settled: acknowledged or rejected alone

    def __len__(self) -> int:
        """How many deliveries the caller has not acknowledged yet."""
        return self._last - self._covered - len(self._settled)

    def delivered(self, tag: int) -> None:
        """Record a delivery."""
        self._last = tag

    def _outstanding(self, tag: int) -> bool:
        return self._covered < tag <= self._last and tag not in self._settled

    def rejects(self, tags: Iterable[int]) -> list[int]:
        """The delivery tags to reject (each in a frame of its own) for `tags`, unknown or
        repeated tags left out."""
        frames = sorted({tag for tag in tags if self._outstanding(tag)})
        self._settled.update(frames)
        self._sent_alone.update(frames)
        return frames

    def acks(self, tags: Iterable[int]) -> list[tuple[int, bool]]:
        """The (delivery_tag, multiple) frames acknowledging `tags`, unknown or repeated tags
        left out."""
        tags = list(tags)
        first = self._covered + 1
        if not self._settled and tags == list(range(first, first + len(tags))):
            if not tags or tags[-1] > self._last:
                tags = [tag for tag in tags if tag <= self._last]
            if tags:  # the next ones in order: one frame covers them
                self._covered = tags[-1]
                return [(tags[-1], True)]
            return []
        settled, asked = self._settled, []
        for tag in tags:
            if self._outstanding(tag):
                settled.add(tag)
                asked.append(tag)
        covered, last_asked = self._covered, None
        while covered + 1 in settled:
            covered += 1
            settled.remove(covered)
            if covered in self._sent_alone:
                self._sent_alone.remove(covered)
            else:
                last_asked = covered
        self._covered = covered
        frames = [(last_asked, True)] if last_asked is not None else []
        for tag in sorted(asked):
            if tag > covered:
                frames.append((tag, False))
                self._sent_alone.add(tag)
        return frames
