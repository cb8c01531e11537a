"""A large file announced in parts, end to end: RabbitMQ, the consumer loop and HTTP ranges.

A 300 MiB file in blocks of 32 MiB arrives byte-identical; after one block changes at the source
and every part is announced again, only that block crosses the network."""

from __future__ import annotations

import filecmp
import os
import time
from pathlib import Path

import pytest
from pumpkit import announce, running, subscriber, wait_for
from servers import HttpServer

from sarra.integrity.checksum import checksum_file, hex_to_b64
from sarra.integrity.parts import MiB, partition
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time

pytestmark = pytest.mark.broker

SIZE = 300 * MiB
BLOCK = 32 * MiB


def part_notices(source: Path, base_url: str, rel_path: str) -> list[Notice]:
    """One notice per block of the source, with the md5 of that block."""
    mtime = epoch_to_time(source.stat().st_mtime)
    return [
        Notice(
            epoch_to_time(time.time()),
            base_url,
            rel_path,
            identity=Identity("md5", hex_to_b64(checksum_file(source, "d", p.offset, p.length))),
            size=p.length,
            blocks=Blocks.from_parts(p),
            mtime=mtime,
            mode="644",
        )
        for p in partition(SIZE, BLOCK)
    ]


def test_a_large_file_in_parts_then_only_its_changed_block(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    rel_path = f"parts_{exchange}/big.dat"
    source = served_root / rel_path
    source.parent.mkdir()
    with open(source, "wb") as out:
        for _ in range(SIZE // (4 * MiB)):
            out.write(os.urandom(4 * MiB))
    base = f"http://127.0.0.1:{http_server.port}/"
    destination = tmp_path / "out"
    final = destination / "big.dat"
    config = subscriber(tmp_path, exchange, f"directory {destination}\naccept .*\n")
    try:
        with running(config) as loop:
            announce(config, part_notices(source, base, rel_path), exchange)
            wait_for(lambda: loop.counts["downloaded"] == 10, "ten parts", deadline=60)
            assert final.exists() and filecmp.cmp(source, final, shallow=False)
            assert loop.bytes == SIZE
            assert sorted(p.name for p in destination.iterdir()) == ["big.dat"]

            with open(source, "r+b") as changing:
                changing.seek(5 * BLOCK + 1000)
                changing.write(os.urandom(1000))
            os.utime(source, (time.time() + 60, time.time() + 60))
            announce(config, part_notices(source, base, rel_path), exchange)
            wait_for(lambda: loop.counts["skipped"] == 9, "nine parts skipped", deadline=60)
            wait_for(lambda: loop.counts["downloaded"] == 11, "the changed part", deadline=60)
            assert loop.bytes == SIZE + BLOCK  # one block more crossed the network
        assert filecmp.cmp(source, final, shallow=False)
        assert sorted(p.name for p in destination.iterdir()) == ["big.dat"]
        assert final.stat().st_mtime == pytest.approx(source.stat().st_mtime, abs=1e-3)
    finally:
        source.unlink()
        final.unlink(missing_ok=True)
