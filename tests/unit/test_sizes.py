"""human_size writes sizes as humanize's binary naturalsize does, which log readers know (as its
recent releases do: the unit is judged after rounding; Debian 12's 4.4 writes 1024.0 KiB)."""

from __future__ import annotations

import pytest

from sarra.sizes import human_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 Bytes"),
        (1, "1 Byte"),
        (2, "2 Bytes"),
        (1023, "1023 Bytes"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (10240, "10.0 KiB"),
        (1048575, "1.0 MiB"),
        (1048576, "1.0 MiB"),
        (3.5e9, "3.3 GiB"),
        (2**50, "1.0 PiB"),
        (2**62, "4.0 EiB"),
        (-2048, "-2.0 KiB"),
        (7.25, "7 Bytes"),
    ],
)
def test_human_size_reads_as_naturalsize(size: float, shown: str) -> None:
    assert human_size(size) == shown
