"""sr_subscribe end to end on the real RabbitMQ: notices for files on each backend are
downloaded to the right places with the right contents, modes and times; rejected ones are not;
hostile and malformed notices are logged, acknowledged and survived."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from servers import FTP_USER, PASSWORD, WEB_USER, FtpServer, HttpServer, SshServer

from sarra.broker import plan
from sarra.broker.publisher import Publisher
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message import v02
from sarra.message.notice import Identity, Notice, epoch_to_time

pytestmark = pytest.mark.broker

MTIME = 1_600_000_000.0


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 20.0) -> None:
    """Wait (bounded) for a condition, polling."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def exchange(tmp_path: Path) -> str:
    """A fresh exchange, declared as the pump's feeder would have."""
    name = f"xtest_{uuid.uuid4().hex[:12]}"
    config = load("subscribe", None, name="declarer")
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [name]) as publisher:
        assert publisher.wait_ready(20)
    return name


@pytest.fixture
def credentials(sarra_home: Path, http_server: HttpServer, ftp_server: FtpServer) -> Path:
    path = sarra_home / "credentials.conf"
    secret = quote(PASSWORD, safe="")
    path.write_text(
        "amqp://guest:guest@127.0.0.1/\n"
        f"http://{WEB_USER}:{secret}@127.0.0.1:{http_server.port}/\n"
        f"ftp://{FTP_USER}:{secret}@127.0.0.1:{ftp_server.port}/\n"
    )
    path.chmod(0o600)
    return path


def subscriber(tmp_path: Path, exchange: str, body: str) -> Config:
    path = tmp_path / "test.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\nheartbeat 1\n" + body
    )
    return load("subscribe", path)


def announce(
    config: Config, notices: list[Notice], exchange: str, prefix: str = "v02.post"
) -> None:
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [exchange]) as publisher:
        for notice in notices:
            key, body, headers = v02.encode(notice, prefix)
            publisher.publish(exchange, key, body.encode(), headers)
        assert publisher.flush(20)


def raw_publish(config: Config, exchange: str, key: str, body: bytes) -> None:
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [exchange]) as publisher:
        publisher.publish(exchange, key, body, {})
        assert publisher.flush(20)


def file_notice(base_url: str, rel_path: str, data: bytes, mode: str = "640") -> Notice:
    method, value = sum_to_identity("d," + checksum_bytes(data, "d"))
    return Notice(
        epoch_to_time(time.time()),
        base_url,
        rel_path,
        identity=Identity(method, value),
        size=len(data),
        mtime=epoch_to_time(MTIME),
        mode=mode,
    )


@contextmanager
def running(config: Config) -> Iterator[ConsumerLoop]:
    stop = threading.Event()
    loop = ConsumerLoop(config, 1, stop)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        assert loop_ready(loop)
        yield loop
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def loop_ready(loop: ConsumerLoop) -> bool:
    wait_for(lambda: loop.consumer is not None, "the consumer")
    assert loop.consumer is not None
    return loop.consumer.wait_ready(20)


def test_downloads_from_every_backend_with_mode_and_time(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    ftp_server: FtpServer,
    sshd: SshServer,
    ssh_home: Path,
) -> None:
    (credentials.parent / "credentials.conf").write_text(
        credentials.read_text() + f"sftp://{os.environ.get('USER', 'root')}@127.0.0.1:{sshd.port}/"
        f" ssh_keyfile={sshd.client_key}\n"
    )
    source = served_root / f"sub_{exchange}"
    source.mkdir()
    files = {f"{name}.dat": os.urandom(1000 + i) for i, name in enumerate("abcdef")}
    files["skip.tmpx"] = b"rejected"
    for name, data in files.items():
        (source / name).write_bytes(data)
    relative = f"sub_{exchange}"
    user = os.environ.get("USER", "root")
    bases = {
        "a.dat": f"http://127.0.0.1:{http_server.port}/",
        "b.dat": f"ftp://{FTP_USER}@127.0.0.1:{ftp_server.port}/",
        "c.dat": f"sftp://{user}@127.0.0.1:{sshd.port}/",
        "d.dat": "file:",
        "e.dat": f"http://127.0.0.1:{http_server.port}/",
        "f.dat": f"ftp://{FTP_USER}@127.0.0.1:{ftp_server.port}/",
        "skip.tmpx": f"http://127.0.0.1:{http_server.port}/",
    }
    notices = []
    for name, base in bases.items():
        absolute = base.startswith(("sftp", "file"))  # paths from the server's root
        rel = str(source / name) if absolute else f"{relative}/{name}"
        notices.append(file_notice(base, rel, files[name]))
    destination = tmp_path / "out"
    config = subscriber(
        tmp_path, exchange, f"directory {destination}\nreject .*\\.tmpx$\naccept .*\n"
    )
    with running(config) as loop:
        announce(config, notices, exchange)
        wanted = [n for n in files if n.endswith(".dat")]
        wait_for(lambda: all((destination / n).exists() for n in wanted), "the downloads")
        wait_for(lambda: loop.counts["rejected"] == 1, "the rejection")
    for name in wanted:
        local = destination / name
        assert local.read_bytes() == files[name], name
        assert local.stat().st_mode & 0o777 == 0o640, name
        assert local.stat().st_mtime == MTIME, name
    assert not (destination / "skip.tmpx").exists()
    assert sorted(p.name for p in destination.iterdir()) == sorted(wanted)  # no inflight left


def test_hostile_and_malformed_notices_are_dropped_and_survived(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = b"good data"
    (served_root / f"good_{exchange}.txt").write_bytes(data)
    base = f"http://127.0.0.1:{http_server.port}/"
    destination = tmp_path / "out" / "deep"
    outside = tmp_path / "out" / "escaped.txt"
    (tmp_path / "out" / "deep").mkdir(parents=True)
    (destination / "link").symlink_to(tmp_path)  # a symlink inside pointing out
    config = subscriber(tmp_path, exchange, f"directory {destination}\nmirror\naccept .*\n")
    caplog.set_level(logging.INFO)
    with running(config) as loop:
        raw_publish(config, exchange, "v02.post.x", b"this is not a notice")
        raw_publish(config, exchange, "v02.post.y", b'{"pubTime": "20240101T000000"}')
        announce(config, [file_notice(base, "../escaped.txt", data)], exchange)
        announce(config, [file_notice(base, "link/escaped.txt", data)], exchange)
        announce(config, [file_notice(base, f"good_{exchange}.txt", data)], exchange)
        wait_for(lambda: (destination / f"good_{exchange}.txt").exists(), "the good file")
        wait_for(lambda: loop.counts["refused"] == 2, "two refusals")
        assert loop.counts["malformed"] == 2
    assert not outside.exists() and not (tmp_path / "escaped.txt").exists()
    assert "refused" in caplog.text and "malformed notice dropped" in caplog.text


def test_a_file_already_present_is_not_fetched_again(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    data = b"same bytes"
    name = f"same_{exchange}.txt"
    (served_root / name).write_bytes(data)
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / name).write_bytes(data)
    config = subscriber(tmp_path, exchange, f"directory {destination}\naccept .*\n")
    notice = file_notice(f"http://127.0.0.1:{http_server.port}/", name, data)
    before = http_server.connections
    with running(config) as loop:
        announce(config, [notice], exchange)
        wait_for(lambda: loop.counts["skipped"] == 1, "the skip")
    assert http_server.connections == before


def test_missing_file_is_dropped_not_retried_forever(
    tmp_path: Path, exchange: str, credentials: Path, http_server: HttpServer
) -> None:
    config = subscriber(tmp_path, exchange, f"directory {tmp_path / 'out'}\naccept .*\n")
    notice = file_notice(f"http://127.0.0.1:{http_server.port}/", "no/such/file", b"x")
    with running(config) as loop:
        announce(config, [notice], exchange)
        wait_for(lambda: loop.counts["failed"] == 1, "the failure")
        assert len(loop.retry) == 0
