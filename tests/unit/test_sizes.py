"""human_size writes sizes as humanize's binary naturalsize does, which log readers know."""

from __future__ import annotations

import humanize
import pytest

from sarra.sizes import human_size


@pytest.mark.parametrize(
    "size", [0, 1, 2, 1023, 1024, 1536, 10240, 1048575, 1048576, 3.5e9, 2**50, 2**62, -2048, 7.25]
)
def test_human_size_reads_as_naturalsize(size: float) -> None:
    assert human_size(size) == humanize.naturalsize(size, binary=True)
