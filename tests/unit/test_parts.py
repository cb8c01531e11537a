"""Partitioned files: the parts string, block arithmetic, automatic block size, partitioning."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarra.integrity.parts import MiB, Parts, auto_blocksize, partition


@pytest.mark.parametrize(
    ("text", "offset", "length", "file_size"),
    [
        ("i,1024,3,100,2", 2048, 100, 2148),
        ("i,1024,3,100,0", 0, 1024, 2148),
        ("p,1024,3,0,2", 2048, 1024, 3072),
        ("1,256,1,0,0", 0, 256, 256),
        ("1,0,1,0,0", 0, 0, 0),
    ],
)
def test_parse_and_arithmetic(text, offset, length, file_size):
    parts = Parts.parse(text)
    assert str(parts) == text
    assert (parts.offset, parts.length, parts.file_size) == (offset, length, file_size)


def test_fields():
    assert Parts.parse("i,1024,3,100,2") == Parts("i", 1024, 3, 100, 2)
    assert Parts.whole(256) == Parts("1", 256, 1, 0, 0)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("i,1024,3,100", "5 comma-separated fields"),
        ("i,1024,3,100,2,7", "5 comma-separated fields"),
        ("x,1024,3,100,2", "method must be one of 1, i, p"),
        ("i,1024,-3,100,2", "non-negative integers"),
        ("i,10k,3,100,2", "non-negative integers"),
        ("i,1024,3,100,3", "block 3 does not exist in 3 blocks"),
        ("i,1024,3,1024,0", "remainder must be smaller"),
        ("i,0,1,0,0", "block size must be positive"),
        ("p,1024,0,0,0", "block count must be positive"),
        ("1,256,2,0,0", "whole file is 1,<size>,1,0,0"),
        ("", "5 comma-separated fields"),
    ],
)
def test_bad_parts_say_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        Parts.parse(text)


T = 50 * MiB


@pytest.mark.parametrize(
    ("size", "block_size"),
    [
        (0, 0),
        (1, 1),
        (T, T),  # exactly 50 MiB: whole file
        (T + 1, (T + 1 + 2) // 3),  # a third, rounded up
        (10 * T, -(-10 * T // 3)),  # exactly 500 MiB: still a third
        (10 * T + 1, -(-(10 * T + 1) // 10)),  # a tenth, rounded up
        (100 * T, 10 * T),  # exactly 5000 MiB: a tenth = 500 MiB
        (100 * T + 1, 10 * T),  # above: fixed 500 MiB
        (10**15, 10 * T),
    ],
)
def test_auto_blocksize_boundaries(size, block_size):
    assert auto_blocksize(size) == block_size


def test_zero_length_file_is_one_whole_block():
    assert partition(0, 0) == [Parts("1", 0, 1, 0, 0)]
    assert partition(0, 1024) == [Parts("1", 0, 1, 0, 0)]


def test_blocksize_one_means_whole_file():
    assert partition(10 * T, 1) == [Parts.whole(10 * T)]


def test_file_that_fits_in_one_block_is_whole():
    assert partition(1000, 1000) == [Parts.whole(1000)]
    assert partition(T, 0) == [Parts.whole(T)]


def test_fixed_block_size_with_remainder():
    assert [str(p) for p in partition(2500, 1000)] == [
        "i,1000,3,500,0",
        "i,1000,3,500,1",
        "i,1000,3,500,2",
    ]


def test_fixed_block_size_exact_multiple_partitioned():
    assert [str(p) for p in partition(2000, 1000, "p")] == ["p,1000,2,0,0", "p,1000,2,0,1"]


def test_auto_just_above_threshold_makes_three_blocks():
    blocks = partition(T + 1, 0)
    assert len(blocks) == 3
    assert sum(p.length for p in blocks) == T + 1


@pytest.mark.parametrize(
    ("args", "reason"),
    [((-1, 0), "negative"), ((10, -1), "negative"), ((10, 3, "1"), "'i' or 'p'")],
)
def test_bad_partition_arguments(args, reason):
    with pytest.raises(ValueError, match=reason):
        partition(*args)


@st.composite
def sizes_and_options(draw):
    """A file size and a blocksize option giving at most a few hundred blocks."""
    size = draw(st.integers(0, 10**7))
    option = draw(st.sampled_from([0, 1]) | st.integers(max(2, size // 300), 10**6))
    return size, option


@settings(max_examples=200)
@given(sizes_and_options())
def test_blocks_tile_the_file(size_and_option):
    size, option = size_and_option
    blocks = partition(size, option)
    position = 0
    for number, parts in enumerate(blocks):
        assert parts.number == number
        assert parts.offset == position
        assert parts.file_size == size
        assert Parts.parse(str(parts)) == parts
        position += parts.length
    assert position == size
