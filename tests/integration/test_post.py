"""sr_post on the real RabbitMQ: the notices it posts (v02 and v03) carry the right topic,
path, size, checksum, time and mode, and a subscriber downloads every file; a tree of 5,000
files goes through one connection; the command line as operators write it."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import pika
import pytest
from pumpkit import running, subscriber, take, wait_for, watch

from sarra.broker import link
from sarra.broker.publisher import Publisher
from sarra.components import post
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.flow import loop, settle, sources
from sarra.integrity.checksum import hex_to_b64
from sarra.message.notice import time_to_epoch

pytestmark = pytest.mark.broker

BIN = Path(sys.executable).parent
MTIME = 1_600_000_000.5


@pytest.fixture
def amqp_credentials(sarra_home: Path) -> Credentials:
    path = sarra_home / "credentials.conf"
    path.write_text("amqp://guest:guest@127.0.0.1/\n")
    path.chmod(0o600)
    return Credentials.load(path)


def poster(tmp_path: Path, exchange: str, body: str = "") -> Config:
    path = tmp_path / "poster.conf"
    path.write_text(f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n{body}")
    return load("post", path)


def tree(root: Path, count: int, size: int = 100) -> dict[Path, bytes]:
    files = {}
    for number in range(count):
        path = root / f"d{number % 3}" / f"f{number:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size) + path.name.encode()
        path.write_bytes(data)
        path.chmod(0o640)
        os.utime(path, (MTIME, MTIME))
        files[path] = data
    return files


@pytest.mark.parametrize("prefix", ["v02.post", "v03"])
def test_notices_are_right_and_a_subscriber_downloads_every_file(
    tmp_path: Path, exchange: str, amqp_credentials: Credentials, prefix: str
) -> None:
    files = tree(tmp_path / "src", 6)
    config = poster(tmp_path, exchange, f"post_topic_prefix {prefix}\nsum s\n")
    destination = tmp_path / "out"
    fetcher = subscriber(
        tmp_path,
        exchange,
        f"topic_prefix {prefix}\nbase_dir {tmp_path / 'src'}\ndirectory {destination}\naccept .*\n",
    )
    consumer = watch(config, exchange)
    try:
        with running(fetcher) as loop:
            status = post.post_once(config, amqp_credentials, [str(tmp_path / "src")])
            notices = take(consumer, len(files))
            wait_for(lambda: loop.counts["downloaded"] == len(files), "the downloads")
    finally:
        consumer.close()
    assert status == 0
    by_path = {Path(n.rel_path): n for n in notices}
    assert set(by_path) == set(files)
    for path, data in files.items():
        notice = by_path[path]
        assert notice.base_url == "file:"
        assert notice.topic == f"{prefix}{str(path.parent).replace('/', '.')}"
        assert notice.size == len(data)
        assert notice.identity is not None and notice.identity.method == "sha512"
        assert notice.identity.value == hex_to_b64(hashlib.sha512(data).hexdigest())
        assert notice.mtime is not None and time_to_epoch(notice.mtime) == MTIME
        assert notice.mode == "640"
        copy = destination / path.name
        assert copy.read_bytes() == data and copy.stat().st_mtime == MTIME


def test_small_files_travel_inline_and_arrive_without_a_download(
    tmp_path: Path, exchange: str, amqp_credentials: Credentials
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    files = {"text.txt": "été\n".encode(), "bytes.bin": b"\xff\x00" * 8, "big.dat": b"b" * 200}
    for name, data in files.items():
        (source / name).write_bytes(data)
    config = poster(tmp_path, exchange, "post_topic_prefix v03\ninline\ninline_max 100\n")
    assert config.warnings == []
    destination = tmp_path / "out"
    # no base_dir: the file: URL of the big file cannot be read, the inline ones need not be
    body = f"topic_prefix v03\ndirectory {destination}\naccept .*\n"
    fetcher = subscriber(tmp_path, exchange, body)
    consumer = watch(config, exchange)
    try:
        with running(fetcher) as loop:
            assert post.post_once(config, amqp_credentials, [str(source)]) == 0
            notices = {Path(n.rel_path).name: n for n in take(consumer, 3)}
            wait_for(lambda: loop.counts["downloaded"] + loop.counts["failed"] == 3, "all three")
            assert (loop.counts["downloaded"], loop.counts["failed"]) == (2, 1)
    finally:
        consumer.close()
    assert notices["text.txt"].content == {"encoding": "utf-8", "value": "été\n"}
    binary = base64.b64encode(files["bytes.bin"]).decode()
    assert notices["bytes.bin"].content == {"encoding": "base64", "value": binary}
    assert notices["big.dat"].content is None
    assert (destination / "text.txt").read_bytes() == files["text.txt"]
    assert (destination / "bytes.bin").read_bytes() == files["bytes.bin"]
    assert not (destination / "big.dat").exists()


def test_a_file_posted_in_parts_is_put_together_by_a_subscriber(
    tmp_path: Path, exchange: str, amqp_credentials: Credentials
) -> None:
    source = tmp_path / "src" / "big.dat"
    source.parent.mkdir()
    data = os.urandom(10_000)
    source.write_bytes(data)
    config = poster(tmp_path, exchange, "blocksize 4k\n")
    destination = tmp_path / "out"
    fetcher = subscriber(
        tmp_path, exchange, f"base_dir {source.parent}\ndirectory {destination}\naccept .*\n"
    )
    consumer = watch(config, exchange)
    try:
        with running(fetcher):
            assert post.post_once(config, amqp_credentials, [str(source)]) == 0
            notices = take(consumer, 3)
            wait_for(lambda: (destination / "big.dat").exists(), "the reassembled file")
    finally:
        consumer.close()
    assert sorted(n.blocks.number for n in notices if n.blocks) == [0, 1, 2]
    assert (destination / "big.dat").read_bytes() == data


def test_a_tree_of_5000_files_goes_through_one_connection_one_wait_and_one_thread(
    tmp_path: Path,
    exchange: str,
    amqp_credentials: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = tree(tmp_path / "big", 5000, size=10)
    config = poster(tmp_path, exchange)
    consumer = watch(config, exchange)
    connections: list[object] = []
    waits: list[float | None] = []

    class Counted(link.DirectConnection):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            connections.append(self)
            super().__init__(*args, **kwargs)

    real_flush = Publisher.flush

    def counted_flush(self: Publisher, timeout: float | None = None) -> bool:
        waits.append(timeout)
        return real_flush(self, timeout)

    real_send = Publisher._send
    written: Counter[int] = Counter()  # notices written to the socket, by thread

    def noted_send(self: Publisher) -> None:
        waiting = len(self._backlog)
        real_send(self)
        written[threading.get_ident()] += waiting - len(self._backlog)

    monkeypatch.setattr(link, "DirectConnection", Counted)
    monkeypatch.setattr(Publisher, "flush", counted_flush)
    monkeypatch.setattr(Publisher, "_send", noted_send)
    try:
        status = post.post_once(config, amqp_credentials, [str(tmp_path / "big")])
        notices = take(consumer, len(files))
    finally:
        consumer.close()
    assert status == 0
    assert len(connections) == 1
    assert len(waits) <= 2  # the end of the run (and the close), never one per file
    # the loop's thread borrowed the connection: (nearly) no hand-off to the I/O thread
    assert written[threading.get_ident()] >= 0.9 * len(files)
    assert {n.rel_path for n in notices} == {str(p) for p in files}


def test_files_are_worked_within_a_window_and_settled_only_once_confirmed(
    tmp_path: Path,
    exchange: str,
    amqp_credentials: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the broker holds its confirms (a full queue that nacks every notice), the loop
    works at most its window of files ahead (and a batch) and settles none; once the broker
    takes them, each is settled."""
    monkeypatch.setattr(sources, "BATCH", 5)
    monkeypatch.setattr(loop, "WINDOW", 10)
    files = tree(tmp_path / "src", 40, size=10)
    settled: list[str] = []
    monkeypatch.setattr(
        sources.PathSource, "settled", lambda _s, job: settled.append(job.local.path)
    )
    waiting = threading.Event()
    real_await = settle.Settling._await_confirms

    def awaited(self: settle.Settling, timeout: float) -> None:
        waiting.set()
        real_await(self, timeout)

    monkeypatch.setattr(settle.Settling, "_await_confirms", awaited)
    queue = f"q_guest.full.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1/"))
    channel = connection.channel()
    channel.queue_declare(queue, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    channel.queue_bind(queue, exchange, "#")
    run = post.Post(poster(tmp_path, exchange), [str(tmp_path / "src")],
                    credentials=amqp_credentials)  # fmt: skip
    thread = threading.Thread(target=run.run)
    thread.start()
    try:
        assert waiting.wait(30), "the loop never waited for confirms"
        assert 10 <= run.source.files <= 10 + 5
        assert settled == []
    finally:
        channel.queue_delete(queue)  # unroutable from now on: confirmed
        connection.close()
        thread.join(60)
    assert not thread.is_alive()
    assert run.failed == 0
    assert sorted(settled) == sorted(str(p) for p in files)


def test_repost_every_sleep_seconds_until_stopped(
    tmp_path: Path, exchange: str, amqp_credentials: Credentials
) -> None:
    files = tree(tmp_path / "src", 2)
    config = poster(tmp_path, exchange, f"path {tmp_path / 'src'}\nsleep 0.2\n")
    consumer = watch(config, exchange)
    stop = threading.Event()
    thread = threading.Thread(target=post.run, args=(config, 0, stop))
    thread.start()
    try:
        notices = take(consumer, 3 * len(files))
    finally:
        stop.set()
        thread.join(30)
        consumer.close()
    assert not thread.is_alive()
    assert {n.rel_path for n in notices} == {str(p) for p in files}


def sr_post(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sr_post"), *argv], input=stdin, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_command_line_with_base_url_base_dir_and_bare_paths(tmp_path: Path, exchange: str) -> None:
    files = tree(tmp_path / "data", 3)
    a, b, c = sorted(files)
    consumer = watch(poster(tmp_path, exchange), exchange)
    try:
        result = sr_post(
            "-pb", "amqp://guest:guest@127.0.0.1/", "-pe", exchange,
            "-pbu", "sftp://host/", "-pbd", str(tmp_path / "data"),
            "-p", str(a), str(b), str(tmp_path / "missing"),
        )  # fmt: skip
        piped = sr_post(
            "-pb", "amqp://guest:guest@127.0.0.1/", "-pe", exchange, "-pipe", stdin=f"{c}\n",
        )  # fmt: skip
        notices = take(consumer, 3)
    finally:
        consumer.close()
    assert result.returncode == 1, result.stderr  # the missing path
    assert f"cannot post {tmp_path / 'missing'}" in result.stderr
    posted = f"posted to {exchange} (110 bytes): sftp://host/{a.relative_to(tmp_path / 'data')}\n"
    assert posted in result.stderr  # the URL last, as v2's post_log ended with the path
    assert "posted 2 files" in result.stderr
    assert piped.returncode == 0, piped.stderr
    urls = sorted(n.url for n in notices)
    assert urls == sorted(
        [f"sftp://host/{p.relative_to(tmp_path / 'data')}" for p in (a, b)] + [f"file:{c}"]
    )


def test_a_notice_the_broker_refuses_makes_a_non_zero_exit_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "refused.txt"
    path.write_text("x")
    result = sr_post(
        "-pb", "amqp://guest:guest@127.0.0.1/", "-pe", "xno_such_exchange", "-dx", "false",
        str(path),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"not confirmed by the broker: file:{path}" in result.stderr
    assert "no exchange 'xno_such_exchange'" in result.stderr


def test_without_paths_it_says_what_to_give() -> None:
    result = sr_post("-pb", "amqp://guest:guest@127.0.0.1/")
    assert result.returncode == 2 and "nothing to post" in result.stderr
    assert "Traceback" not in result.stderr
