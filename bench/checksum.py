"""Checksum throughput: sarra's streamed checksums of a file against hashlib reading the same
file in one loop, in the same run. Prints MB/s and the ratio to the baseline."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sarra.integrity.checksum import checksum_file

SIZE = 128 << 20
ROUNDS = 3


def best_rate(work: Callable[[], object]) -> float:
    """The best MB/s over a few rounds (the file is in the page cache after the first)."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return SIZE / best / 1e6


def baseline(path: Path, algorithm: str) -> str:
    """hashlib over the file, read in 1 MiB chunks: the fastest plain Python loop."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "data"
        path.write_bytes(os.urandom(SIZE))
        for flag, algorithm in (("d", "md5"), ("s", "sha512")):
            assert checksum_file(path, flag) == baseline(path, algorithm)
            ours = best_rate(lambda: checksum_file(path, flag))  # noqa: B023
            raw = best_rate(lambda: baseline(path, algorithm))  # noqa: B023
            print(
                f"checksum {flag} ({algorithm}) of {SIZE >> 20} MiB: {ours:8.1f} MB/s;"
                f" hashlib loop {raw:8.1f} MB/s; ratio {ours / raw:.2f}"
            )


if __name__ == "__main__":
    main()
