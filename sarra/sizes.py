"""Sizes and durations as people read them, short enough for every file's log line: binary
units with one decimal ("10.0 KiB", "512 Bytes"), seconds to days ("1.2s", "3m05s", "2h10m")."""

from __future__ import annotations

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(size: float) -> str:
    """A number of bytes in the largest binary unit it reaches (as humanize's naturalsize with
    binary=True writes it, at a tenth of its cost: it is on every file's log line)."""
    magnitude = abs(size)
    if magnitude == 1:
        return f"{int(size)} Byte"
    if magnitude < 1024:
        return f"{int(size)} Bytes"
    unit = 1024
    for name in _UNITS:
        # 1048575 bytes is 1.0 MiB, not 1024.0 KiB: the unit is judged after rounding
        if round(magnitude / unit, 1) < 1024 or name == _UNITS[-1]:
            return f"{size / unit:.1f} {name}"
        unit *= 1024
    raise AssertionError("unreachable")


def short_duration(seconds: float) -> str:
    """A duration in its two largest units: 0.35s, 12.1s, 3m05s, 2h10m, 3d04h (negative: a
    clock ahead of ours)."""
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    if round(seconds, 1) < 60:
        return f"{sign}{seconds:.2f}s" if seconds < 1 else f"{sign}{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{sign}{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{sign}{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{sign}{whole // 86400}d{whole % 86400 // 3600:02d}h"
