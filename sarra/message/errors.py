"""Errors of the notice codecs."""

from __future__ import annotations


class MalformedNotice(ValueError):
    """A received notice that cannot be decoded; `reason` is one line for the log."""

    def __init__(self, reason: str) -> None:
        self.reason = " ".join(reason.splitlines())
        super().__init__(self.reason)


class NotEncodable(ValueError):
    """A notice that cannot be written in the requested format."""


class HeaderTooLong(NotEncodable):
    """A v02 header value longer than v2 peers accept; `name` is the header."""

    def __init__(self, name: str, size: int, limit: int) -> None:
        self.name = name
        self.size = size
        self.limit = limit
        super().__init__(f"header {name!r} is {size} bytes, v2 peers accept at most {limit}")


def excerpt(text: str | bytes, limit: int = 80) -> str:
    """A short printable rendering of received input, for error reasons: at most about `limit`
    characters, however many escapes the input needs, with its length when it is cut."""
    shown = repr(text[:limit])
    if len(shown) > limit + 3:
        shown = shown[:limit]
    elif len(text) <= limit:
        return shown
    unit = "bytes" if isinstance(text, bytes) else "characters"
    return f"{shown}... ({len(text)} {unit})"
