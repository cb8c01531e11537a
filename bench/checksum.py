"""Checksum throughput: sarra's streamed checksums of a file against hashlib reading the same
file in one loop, in the same run (in turns, the best of three rounds). Prints MB/s and CPU per
MiB of each, and the ratios (see bench/common.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from common import Side, report, scratch, turns

from sarra.integrity.checksum import checksum_file

SIZE = 128 << 20


def baseline(path: Path, algorithm: str) -> str:
    """hashlib over the file, read in 1 MiB chunks: the fastest plain Python loop."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    with scratch(ram=False) as work:
        path = Path(work) / "data"
        path.write_bytes(os.urandom(SIZE))
        for flag, algorithm in (("d", "md5"), ("s", "sha512")):
            assert checksum_file(path, flag) == baseline(path, algorithm)
            best = turns({
                "hashlib": Side(lambda: baseline(path, algorithm)),  # noqa: B023
                "sarra": Side(lambda: checksum_file(path, flag)),  # noqa: B023
            })  # fmt: skip
            mebibytes = SIZE >> 20
            report(f"checksum {flag} ({algorithm}) of {mebibytes} MiB", mebibytes, "MiB/s",
                   best["sarra"], best["hashlib"], per="MiB")  # fmt: skip


if __name__ == "__main__":
    main()
