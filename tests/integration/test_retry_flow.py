"""The retry queue through the real loop (the local broker, a real HTTP source that goes away
for a while): every file arrives in the end and no notice is left unacknowledged, whether
housekeeping compacts the queue every few milliseconds while the workers fill it, or the queue
cannot be written at all (then the notices go back to the broker and come again)."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest
from pumpkit import announce, file_notice, queue_state, running, wait_for
from servers import HttpServer

from sarra.broker import admin
from sarra.config import paths
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop

pytestmark = pytest.mark.broker


def subscriber(sarra_home: Path, tmp_path: Path, exchange: str, body: str) -> Config:
    credentials = sarra_home / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    path = tmp_path / f"retry_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\nattempts 1\n"
        f"directory {tmp_path / 'out'}\naccept .*\n{body}"
    )
    return load("subscribe", path)


def sources(root: Path, count: int) -> dict[str, bytes]:
    root.mkdir()
    files = {}
    for number in range(count):
        name = f"f{number:04d}.dat"
        files[name] = os.urandom(200 + number) + name.encode()
        (root / name).write_bytes(files[name])
    return files


def arrived(out: Path, files: dict[str, bytes]) -> bool:
    return all((out / n).is_file() and (out / n).read_bytes() == d for n, d in files.items())


def outage_then_back(
    loop: ConsumerLoop, config: Config, exchange: str, files: dict[str, bytes], copies: int
) -> None:
    """The source is down: announce every file (`copies` of the first ones twice, the copy
    waiting behind the first for the same file), let every try fail, bring the source back."""
    source = HttpServer(Path(config.directory).parent / "src").start()
    source.stop()
    names = sorted(files)
    notices = [file_notice(source.url, name, files[name]) for name in names]
    announce(config, notices + notices[:copies], exchange)
    failed = len(names) + copies
    wait_for(lambda: loop.counts["failed"] >= failed, f"{failed} failures", 60)
    source.start()  # back, on the same port
    try:
        wait_for(lambda: arrived(Path(config.directory), files), "every file", 60)
        wait_for(lambda: len(loop.retry) == 0, "an empty retry queue", 30)
        wait_for(lambda: queue_state(config) == (0, 0), "nothing left unacknowledged", 30)
    finally:
        source.stop()


def test_housekeeping_racing_the_workers_loses_no_notice(
    sarra_home: Path, tmp_path: Path, exchange: str
) -> None:
    config = subscriber(sarra_home, tmp_path, exchange, "heartbeat 0.005\nthreads 4\n")
    files = sources(tmp_path / "src", 300)
    try:
        with running(config) as loop:
            outage_then_back(loop, config, exchange, files, copies=30)
            assert loop.counts["retried"] >= len(files)
    finally:
        admin.cleanup(config)


def test_a_retry_queue_that_cannot_be_written_gives_the_notices_back(
    sarra_home: Path, tmp_path: Path, exchange: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A directory in the way of the queue's file: neither a put nor a compaction can write
    it; the notices go back to the broker, and the loop lives on to download them."""
    config = subscriber(sarra_home, tmp_path, exchange, "heartbeat 0.2\n")
    files = sources(tmp_path / "src", 20)
    retry_file = paths.state_dir("subscribe", config.name) / f"sr_subscribe_{config.name}_01.retry"
    try:
        with running(config) as loop:
            while not retry_file.is_dir():  # (a compaction may put the file back meanwhile)
                retry_file.unlink(missing_ok=True)
                with contextlib.suppress(FileExistsError):
                    retry_file.mkdir()
            outage_then_back(loop, config, exchange, files, copies=5)
            assert loop.counts["retried"] == 0
    finally:
        admin.cleanup(config)
    assert "not kept for retry" in caplog.text and "it will come again" in caplog.text
    assert "not compacted" in caplog.text


EXITER = """
import sys, threading

class Exiter:
    def __init__(self):
        self.seen = set()
        self.lock = threading.Lock()

    def do_task(self, parent):
        with self.lock:
            first = parent.msg.new_file not in self.seen
            self.seen.add(parent.msg.new_file)
        if first:
            sys.exit("an established plugin that exits on error")
        return None  # the built-in download

self.do_task = Exiter().do_task
"""


def test_a_worker_stopped_by_an_error_gives_back_its_file_and_those_waiting(
    sarra_home: Path, tmp_path: Path, exchange: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What escapes a worker (here SystemExit, past every handler) releases the file's slot:
    the notice in hand and the copies waiting behind it go back to the broker, come again,
    and are done."""
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "exiter.py").write_text(EXITER)
    config = subscriber(sarra_home, tmp_path, exchange, "do_task exiter\nthreads 1\n")
    files = sources(tmp_path / "src", 5)
    source = HttpServer(tmp_path / "src").start()
    notices = [file_notice(source.url, name, files[name]) for name in sorted(files)]
    try:
        with running(config):
            announce(config, notices * 3, exchange)  # two copies wait behind each first
            wait_for(lambda: arrived(Path(config.directory), files), "every file", 30)
            wait_for(lambda: queue_state(config) == (0, 0), "nothing left unacknowledged", 30)
    finally:
        source.stop()
        admin.cleanup(config)
    assert "a worker stopped on an error: SystemExit" in caplog.text
    assert "its worker stopped on an error; it will come again" in caplog.text
