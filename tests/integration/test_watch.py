"""sr_watch on the real RabbitMQ: a file is announced once when complete (closed after
writing, or renamed into place), never per write; removals, links, renames and files moved in
are announced as such; inflight names, reject rules and inflight seconds are respected; the
polling observer; the daemon's life cycle."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest
from pumpkit import take, wait_for, watch
from watchdog.events import FileClosedEvent

from sarra.broker.consumer import Consumer
from sarra.components import instances
from sarra.components.watch import Watch
from sarra.config.loader import Config, load
from sarra.flow.inflight import Inflight
from sarra.flow.parts_download import PartDownloader
from sarra.flow.placement import Placement
from sarra.integrity.checksum import hex_to_b64
from sarra.integrity.parts import partition
from sarra.message.notice import Blocks, Identity, Notice, time_to_epoch

pytestmark = pytest.mark.broker

BIN = Path(sys.executable).parent
QUIET = 1.0
"""How long the tests make sure that no further notice comes."""


def watcher(tmp_path: Path, exchange: str, body: str = "") -> Config:
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    path = tmp_path / "watch.conf"
    path.write_text(
        f"post_broker amqp://guest:guest@127.0.0.1/\npost_exchange {exchange}\n"
        f"path {tree}\nheartbeat 1\n{body}"
    )
    return load("watch", path)


@contextmanager
def watching(config: Config) -> Iterator[tuple[Watch, Consumer]]:
    """A running watch, and a consumer of what it posts."""
    consumer = watch(config, config.post_exchange)
    stop = threading.Event()
    instance = Watch(config, 0, stop)
    thread = threading.Thread(target=instance.run)
    thread.start()
    try:
        assert instance.ready.wait(20)
        yield instance, consumer
    finally:
        stop.set()
        thread.join(30)
        consumer.close()
    assert not thread.is_alive()


def nothing_more(consumer: Consumer) -> None:
    extra = consumer.get_batch(10, timeout=QUIET)
    assert not extra, f"{len(extra)} notices more than expected: {[d.body for d in extra]}"


def md5(data: bytes) -> str:
    return hex_to_b64(hashlib.md5(data).hexdigest())


def test_a_file_written_slowly_is_announced_once_after_it_is_complete(
    tmp_path: Path, exchange: str
) -> None:
    config = watcher(tmp_path, exchange, "post_topic_prefix v03\n")
    path = tmp_path / "tree" / "slow.dat"
    chunks = [os.urandom(1000) for _ in range(10)]
    with watching(config) as (_, consumer):
        with open(path, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                out.flush()
                time.sleep(0.3)  # the scenario: a slow writer
            assert not consumer.get_batch(1, timeout=0.1)  # nothing while it is open
            closed = time.time()
        [notice] = take(consumer, 1)
        nothing_more(consumer)
    data = b"".join(chunks)
    assert notice.topic == "v03" + str(path.parent).replace("/", ".")
    assert notice.rel_path == str(path) and notice.size == len(data)
    assert notice.identity is not None and notice.identity.value == md5(data)
    assert notice.mode == f"{path.stat().st_mode & 0o7777:o}"
    assert notice.mtime is not None
    assert time_to_epoch(notice.pubtime) >= closed - 0.01


def test_rename_into_place_symlink_and_removal(tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    with watching(watcher(tmp_path, exchange)) as (_, consumer):
        (tree / "product.dat.tmp").write_bytes(b"complete")
        (tree / ".hidden").write_bytes(b"other tool's inflight name")
        os.rename(tree / "product.dat.tmp", tree / "product.dat")
        [placed] = take(consumer, 1)
        (tree / "latest").symlink_to("product.dat")
        [linked] = take(consumer, 1)
        (tree / "product.dat").unlink()
        [removed] = take(consumer, 1)
        nothing_more(consumer)
    assert placed.rel_path == str(tree / "product.dat") and placed.size == 8
    assert placed.identity is not None and placed.identity.value == md5(b"complete")
    assert linked.rel_path == str(tree / "latest") and linked.file_op == {"link": "product.dat"}
    assert removed.rel_path == str(tree / "product.dat") and removed.file_op == {"remove": ""}


def test_files_moved_into_the_tree_are_announced_once(tmp_path: Path, exchange: str) -> None:
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "single.dat").write_bytes(b"one")
    (outside / "dir" / "a.dat").write_bytes(b"a")
    (outside / "dir" / "b.dat").write_bytes(b"b")
    with watching(watcher(tmp_path, exchange)) as (_, consumer):
        os.rename(outside / "single.dat", tree / "single.dat")
        [single] = take(consumer, 1)
        os.rename(outside / "dir", tree / "dir")
        inside = take(consumer, 2)
        nothing_more(consumer)
    assert single.rel_path == str(tree / "single.dat") and single.size == 3
    assert sorted(n.rel_path for n in inside) == [str(tree / "dir" / n) for n in ("a.dat", "b.dat")]


@pytest.mark.parametrize("inflight", [".tmp", ".", "NONE"])
def test_files_a_subscriber_writes_into_the_tree_are_announced_once(
    tmp_path: Path, exchange: str, inflight: str
) -> None:
    """A pump that re-announces what its subscriber writes (sr_watch on sr_subscribe's
    directory) sees each file once: the writer closes it before it takes its final name."""
    tree = tmp_path / "tree"
    writer = Inflight(inflight)
    with watching(watcher(tmp_path, exchange)) as (_, consumer):
        for number in range(3):
            final = tree / f"got{number}.dat"
            with writer.open(Placement(tree, final)) as destination:
                destination.write(
                    lambda file, n=number: file.write(b"data %d" % n), lambda fd: None
                )
        notices = take(consumer, 3)
        nothing_more(consumer)
    assert sorted(n.rel_path for n in notices) == [str(tree / f"got{n}.dat") for n in range(3)]


@pytest.mark.parametrize("inflight", [".tmp", "NONE"])
def test_a_file_a_subscriber_assembles_from_parts_is_announced_once(
    tmp_path: Path, exchange: str, inflight: str
) -> None:
    """The assembled file is closed before it takes its final name (it was renamed under the
    work file's lock, then closed: a watcher saw the close of the final name too)."""
    tree = tmp_path / "tree"
    data = os.urandom(3000)
    parts = partition(len(data), 1024)
    assembler = PartDownloader(inplace=True, overwrite=False, bufsize=1 << 16)

    def fetch_range(file: BinaryIO, offset: int, length: int, flag: str) -> str:
        file.write(data[offset : offset + length])
        return hashlib.md5(data[offset : offset + length]).hexdigest()

    with watching(watcher(tmp_path, exchange)) as (_, consumer):
        for part in parts:
            block = data[part.offset : part.offset + part.length]
            identity, blocks = Identity("md5", md5(block)), Blocks.from_parts(part)
            notice = Notice("20240101T000000", "file:", "/big.dat", identity, part.length,
                            blocks=blocks)  # fmt: skip
            with Inflight(inflight).open(Placement(tree, tree / "big.dat")) as destination:
                result = assembler.fetch(notice, destination, fetch_range, lambda fd: None)
            assert result.status == "done", result
        notices = take(consumer, 1)
        nothing_more(consumer)
    assert (tree / "big.dat").read_bytes() == data
    assert [n.rel_path for n in notices] == [str(tree / "big.dat")]


def test_a_rename_within_the_tree(tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "old.dat").write_bytes(b"same data")
    config = watcher(tmp_path, exchange, "events create|delete|link|modify|move\n")
    config_default = watcher(tmp_path, exchange, "post_on_start off\n")
    with watching(config) as (_, consumer):
        [_start] = take(consumer, 1)  # post_on_start
        os.rename(tree / "old.dat", tree / "new.dat")
        [renamed] = take(consumer, 1)
        nothing_more(consumer)
    with watching(config_default) as (_, consumer):
        os.rename(tree / "new.dat", tree / "newer.dat")
        removed, created = take(consumer, 2)
        nothing_more(consumer)
    assert renamed.rel_path == str(tree / "new.dat")
    assert renamed.file_op == {"rename": str(tree / "old.dat")}
    assert renamed.identity is not None and renamed.identity.value == md5(b"same data")
    assert removed.file_op == {"remove": ""} and removed.rel_path == str(tree / "new.dat")
    assert created.file_op is None and created.rel_path == str(tree / "newer.dat")


def test_reject_rules_and_inflight_names_apply_to_events(tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    config = watcher(tmp_path, exchange, "reject .*\\.log$\ninflight .part\n")
    with watching(config) as (_, consumer):
        (tree / "noise.log").write_bytes(b"rejected")
        (tree / "x.part").write_bytes(b"inflight")
        (tree / ".staging").mkdir()
        (tree / ".staging" / "y.dat").write_bytes(b"in a hidden directory")
        (tree / "wanted.dat").write_bytes(b"accepted")
        [notice] = take(consumer, 1)
        nothing_more(consumer)
    assert notice.rel_path == str(tree / "wanted.dat")


def test_files_there_at_start_and_inflight_seconds(tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "old.dat").write_bytes(b"there before")
    config = watcher(tmp_path, exchange, "inflight 1\n")
    with watching(config) as (_, consumer):
        [old] = take(consumer, 1)  # there at start, announced once 1 s old
        for number in range(4):
            with open(tree / "appended.dat", "ab") as out:  # closed after every write
                out.write(b"%d" % number)
            time.sleep(0.3)  # the scenario: a writer that comes back
        [appended] = take(consumer, 1)
        nothing_more(consumer)
    assert old.rel_path == str(tree / "old.dat")
    assert appended.rel_path == str(tree / "appended.dat") and appended.size == 4


def test_polling_announces_a_file_once(tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    config = watcher(tmp_path, exchange, "force_polling\nsleep 0.5\n")
    with watching(config) as (_, consumer):
        with open(tree / "polled.dat", "wb") as out:
            for _ in range(6):
                out.write(b"x" * 50)
                out.flush()
                time.sleep(0.15)  # the scenario: a writer seen by polling passes mid-way
        [notice] = take(consumer, 1)
        nothing_more(consumer)
    assert notice.rel_path == str(tree / "polled.dat") and notice.size == 300


def test_an_event_for_a_vanished_file_is_skipped(tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    with watching(watcher(tmp_path, exchange)) as (instance, consumer):
        instance.source.forward.events.put(FileClosedEvent(str(tree / "vanished.dat")))
        instance.source.forward.events.put(FileClosedEvent(b"\xff/not/even/text"))
        (tree / "after.dat").write_bytes(b"still watching")
        [notice] = take(consumer, 1)
    assert notice.rel_path == str(tree / "after.dat")


def sr_watch(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sr_watch"), *argv], capture_output=True, text=True, timeout=120, check=False
    )


def test_daemon_start_status_stop(sarra_home: Path, tmp_path: Path, exchange: str) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    path = sarra_home / "watch" / "tree.conf"
    path.parent.mkdir(parents=True)
    path.write_text(
        f"post_broker amqp://guest:guest@127.0.0.1/\npost_exchange {exchange}\npath {tree}\n"
    )
    consumer = watch(load("watch", path), exchange)
    try:
        started = sr_watch("start", "tree")
        assert started.returncode == 0, started.stderr
        assert "1 of 1 instances running" in started.stdout
        log = tmp_path / "cache" / "sarra" / "log" / "sr_watch_tree_01.log"
        wait_for(lambda: "watching" in log.read_text(), "the watch to start")
        (tree / "daemon.dat").write_bytes(b"seen by the daemon")
        notices: list[Notice] = take(consumer, 1)
        status = sr_watch("status", "tree")
        assert status.returncode == 0 and "running 1/1" in status.stdout
    finally:
        stopped = sr_watch("stop", "tree")
        consumer.close()
    assert stopped.returncode == 0
    assert instances.running_pids("watch", "tree") == []
    assert notices[0].rel_path == str(tree / "daemon.dat")
    posted = rf"posted to \S+ \(\d+ bytes\): file:{tree / 'daemon.dat'}$"  # the URL last
    assert re.search(posted, log.read_text(), re.M)
