"""Sizes as people read them: binary units, one decimal ("10.0 KiB", "512 Bytes")."""

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
