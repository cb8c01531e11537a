"""Value parsers of the configuration language."""

from __future__ import annotations

import pytest

from sarra.config import types


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("1.5", 1.5), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1w", 604800),
     ("10S", 10), ("0", 0)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert types.parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("10b", 10), ("1k", 1024), ("2M", 2 << 20), ("1g", 1 << 30), ("1t", 1 << 40)],
)
def test_sizes_are_powers_of_two(text: str, size: int) -> None:
    assert types.parse_size(text) == size


@pytest.mark.parametrize("text", ["5x", "", "m5", "-"])
def test_bad_duration_says_which_units(text: str) -> None:
    with pytest.raises(ValueError, match="s, m, h, d or w"):
        types.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("yes", True), ("On", True), ("1", True), ("FALSE", False), ("off", False), ("None", False)],
)
def test_booleans(text: str, value: bool) -> None:
    assert types.parse_bool(text) is value


def test_bad_boolean() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        types.parse_bool("maybe")


def test_octal_modes() -> None:
    assert types.parse_octal("644") == 0o644
    assert types.parse_octal("0o775") == 0o775
    with pytest.raises(ValueError, match="octal"):
        types.parse_octal("699")


def test_counts_refuse_negative_and_text() -> None:
    assert types.parse_count("12") == 12
    with pytest.raises(ValueError, match="negative"):
        types.parse_count("-1")
    with pytest.raises(ValueError, match="whole number"):
        types.parse_count("1.5")


@pytest.mark.parametrize("seconds", [1, 59, 60, 300, 3600, 86400, 604800, 90, 1.5])
def test_format_duration_reads_back(seconds: float) -> None:
    assert types.parse_duration(types.format_duration(seconds)) == seconds


@pytest.mark.parametrize("size", [1, 1000, 1024, 3 << 20, 1 << 40, 1536])
def test_format_size_reads_back(size: int) -> None:
    assert types.parse_size(types.format_size(size)) == size
