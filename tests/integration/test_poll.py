"""sr_poll end to end on the real RabbitMQ, polling real sftp and http servers: each new file is
announced once, again only when its size or mtime changes (also across a restart), never when
rejected, too old or unreadable; a server that is down, or a directory that is missing, is
logged once and survived.

Every wait is bounded. "Nothing else was announced" is checked by order: once two passes have
ended, whatever they announced is already in the watching queue, so the next notice taken is
the one for the change made after them only if nothing was announced in between.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import threading
import time
from contextlib import AbstractContextManager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pumpkit import announce, in_thread, running, sr, subscriber, take, wait_for, watch
from servers import LOCALHOST, HttpServer, SshServer, free_port

from sarra.broker.consumer import Consumer
from sarra.components.poll import Poll
from sarra.config import paths
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.message.notice import Identity, Notice, epoch_to_time
from sarra.transfer.listing import DEEPEST

pytestmark = pytest.mark.broker

DAY = 86400.0


def poller(tmp_path: Path, exchange: str, destination: str, body: str) -> Config:
    path = tmp_path / "polltest.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\ndestination {destination}\n"
        "sleep 0.1\nheartbeat 1\n" + body
    )
    return load("poll", path)


def polling(config: Config) -> AbstractContextManager[Poll]:
    """The poll's loop running in a thread, stopped (and checked to end) on the way out."""
    return in_thread(lambda stop: Poll(config, 1, stop))


def settle(poll: Poll) -> None:
    """Wait until a whole pass began and ended after this call."""
    start = poll.passes
    wait_for(lambda: poll.passes >= start + 2, "two more passes")


def next_notice(consumer: Consumer) -> Notice:
    [notice] = take(consumer, 1)
    return notice


def name_of(notice: Notice) -> str:
    return notice.rel_path.rsplit("/", 1)[-1]


@pytest.fixture(params=["sftp", "http"])
def remote(
    request: pytest.FixtureRequest, credentials: Path, served_root: Path, exchange: str
) -> tuple[str, str, Path]:
    """(destination, directory to poll, its local path) on the sftp or the http server."""
    local = served_root / f"poll_{exchange}"
    local.mkdir()
    if request.param == "http":
        server: HttpServer = request.getfixturevalue("http_server")
        return f"http://{LOCALHOST}:{server.port}/", local.name, local
    sshd: SshServer = request.getfixturevalue("sshd")
    request.getfixturevalue("ssh_home")
    destination = f"sftp://{request.getfixturevalue('ssh_user')}@{LOCALHOST}:{sshd.port}/"
    with credentials.open("a") as out:
        out.write(f"{destination} ssh_keyfile={sshd.client_key}\n")
    return destination, str(local), local


def test_new_and_changed_files_are_announced_once_across_restarts(
    tmp_path: Path, exchange: str, remote: tuple[str, str, Path]
) -> None:
    destination, directory, local = remote
    now = time.time()
    for name in ("a.dat", "b.dat", "skip.tmp", "old.dat"):
        (local / name).write_bytes(name.encode() * 10)
    os.utime(local / "old.dat", (now - 90 * DAY, now - 90 * DAY))
    (local / "sub" / "deeper").mkdir(parents=True)
    (local / "sub" / "deeper" / "deep.dat").write_bytes(b"found below")
    (local / "sub" / "skip.tmp").write_bytes(b"rejected below too")
    (local / "tmp").mkdir()
    (local / "tmp" / "partial.dat").write_bytes(b"kept out by reject ^tmp/")
    if destination.startswith("sftp"):  # the only listing here that gives modes
        (local / "secret.dat").write_bytes(b"mode 200: lacks the chmod 400 bits")
        (local / "secret.dat").chmod(0o200)
    config = poller(
        tmp_path,
        exchange,
        destination,
        f"directory {directory}\nreject .*\\.tmp$\nreject ^tmp/\naccept .*\n",
    )
    consumer = watch(config, exchange)
    with polling(config) as poll:
        first = sorted(take(consumer, 3), key=lambda n: n.rel_path)
        # without post_base_url: the server's root as base URL, the whole path as relative path
        names = ("a.dat", "b.dat", "sub/deeper/deep.dat")
        assert [n.rel_path for n in first] == [posixpath.join("/", directory, n) for n in names]
        for notice, name in zip(first, names, strict=True):
            stat = (local / name).stat()
            assert notice.base_url == destination
            assert notice.size == stat.st_size
            assert notice.identity == Identity("cod", "md5")
            if destination.startswith("sftp"):
                assert notice.mtime == epoch_to_time(int(stat.st_mtime))
                assert notice.mode == f"{stat.st_mode & 0o7777:o}"
        settle(poll)
        with (local / "a.dat").open("ab") as grown:
            grown.write(b"more")
        grown_notice = next_notice(consumer)
        assert name_of(grown_notice) == "a.dat"
        assert grown_notice.size == (local / "a.dat").stat().st_size
        settle(poll)
        os.utime(local / "b.dat", (now - 3600, now - 3600))  # mtime alone changes
        assert name_of(next_notice(consumer)) == "b.dat"
        settle(poll)
        (local / "b.dat").rename(tmp_path / "b.dat")  # forgotten once gone ...
        settle(poll)
        (tmp_path / "b.dat").rename(local / "b.dat")  # ... so announced when back
        assert name_of(next_notice(consumer)) == "b.dat"
        settle(poll)
    state = paths.state_dir("poll", config.name) / ("ls" + directory.replace("/", "_"))
    assert state.is_file()
    with (local / "a.dat").open("ab") as grown:
        grown.write(b"changed while the poll was stopped")
    with polling(config) as poll:
        assert name_of(next_notice(consumer)) == "a.dat"
        settle(poll)
        (local / "c.dat").write_bytes(b"new after the restart")
        assert name_of(next_notice(consumer)) == "c.dat"
    consumer.close()


def test_recursive_off_lists_only_the_directories_named(
    tmp_path: Path, exchange: str, remote: tuple[str, str, Path]
) -> None:
    destination, directory, local = remote
    (local / "sub").mkdir()
    (local / "sub" / "below.dat").write_bytes(b"in a sub-directory: not listed")
    (local / "top.dat").write_bytes(b"listed")
    body = f"directory {directory}\nrecursive off\naccept .*\n"
    config = poller(tmp_path, exchange, destination, body)
    consumer = watch(config, exchange)
    with polling(config) as poll:
        assert name_of(next_notice(consumer)) == "top.dat"
        settle(poll)
        (local / "later.dat").write_bytes(b"after two passes")
        assert name_of(next_notice(consumer)) == "later.dat"  # nothing from sub/ between
    consumer.close()


def test_a_poll_descends_at_most_deepest_levels(
    tmp_path: Path,
    exchange: str,
    remote: tuple[str, str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    destination, directory, local = remote
    deepest = local.joinpath(*["d"] * DEEPEST)
    (deepest / "d").mkdir(parents=True)
    (deepest / "in.dat").write_bytes(b"DEEPEST levels below: listed")
    (deepest / "d" / "out.dat").write_bytes(b"one level more: not listed")
    config = poller(tmp_path, exchange, destination, f"directory {directory}\naccept .*\n")
    consumer = watch(config, exchange)
    caplog.set_level(logging.INFO)
    with polling(config) as poll:
        assert next_notice(consumer).rel_path.endswith("/d" * DEEPEST + "/in.dat")
        settle(poll)
        (local / "later.dat").write_bytes(b"after two passes")
        assert name_of(next_notice(consumer)) == "later.dat"  # out.dat never came
    consumer.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    too_deep = [w for w in warnings if f"deeper than {DEEPEST} levels" in w]
    assert len(too_deep) == 1, warnings
    assert too_deep[0].startswith(posixpath.join(directory, *["d"] * (DEEPEST + 1)))


def test_an_sr3_poll_without_path_is_refused(tmp_path: Path) -> None:
    """sr3's poll lists the directories of its path lines: none without one (not the
    server's whole tree, as a poll of "/" with acceptUnmatched would)."""
    tree = tmp_path / "config" / "sr3" / "poll"
    tree.mkdir(parents=True)
    path = tree / "nopath.conf"
    path.write_text(
        f"pollUrl sftp://someone@{LOCALHOST}/\npost_broker amqp://guest@127.0.0.1/\n"
        "post_exchange xs_guest\nacceptUnmatched on\n"
    )
    config = load("poll", path)
    assert config.dialect == "sr3"
    reason = (
        "nopath: nothing to poll: no path line (an sr3 poll lists the directories its path"
        " lines name)"
    )
    with pytest.raises(ConfigError, match=re.escape(reason)):
        Poll(config, 1, threading.Event())
    checked = sr("sr", "check")
    assert checked.returncode == 1
    assert f"ERROR poll/nopath.conf (sr3)\n      {reason}\n" in checked.stdout


def test_times_of_day_in_listings_are_read_in_destination_timezone(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    local = served_root / f"zone_{exchange}"
    local.mkdir()
    (local / "f.dat").write_bytes(b"x")
    written = int(time.time()) - 7200  # the test server's pages write times of day in UTC ...
    os.utime(local / "f.dat", (written, written))
    destination = f"http://{LOCALHOST}:{http_server.port}/"
    body = f"directory {local.name}\ndestination_timezone Asia/Tokyo\naccept .*\n"
    config = poller(tmp_path, exchange, destination, body)
    consumer = watch(config, exchange)
    with polling(config):
        notice = next_notice(consumer)
    consumer.close()
    # ... so read as Tokyo's (UTC+9, no summer time), to the minute the page gives
    assert notice.mtime == epoch_to_time(written - written % 60 - 9 * 3600)


def test_index_links_with_a_query_are_announced_and_downloaded_with_it(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    """An index page linking `get.py?station=A`: the poll announces the link with its query
    as the retrievePath, and a subscriber downloads it (the server answers only the real
    query) under the relPath's name."""
    local = served_root / f"links_{exchange}"
    local.mkdir()
    files = {"get.py?station=A": b"first", "get.py?station=B": b"second"}
    for name, data in files.items():
        (local / name).write_bytes(data)
    destination = f"http://{LOCALHOST}:{http_server.port}/query/"
    config = poller(tmp_path, exchange, destination, f"directory {local.name}\naccept .*\n")
    consumer = watch(config, exchange)
    with polling(config):
        notices = sorted(take(consumer, 2), key=lambda n: n.rel_path)
    consumer.close()
    # the relPath names the local file, the retrievePath is the link, its query with it
    assert [n.rel_path for n in notices] == [f"/query/{local.name}/{name}" for name in files]
    assert [n.retrieve_path for n in notices] == [n.rel_path for n in notices]
    (tmp_path / "sub").mkdir()
    out = tmp_path / "out"
    subscribe = subscriber(tmp_path / "sub", exchange, f"directory {out}\naccept .*\n")
    with running(subscribe) as loop:
        announce(subscribe, notices, exchange)
        wait_for(lambda: loop.counts["downloaded"] == 2, "the downloads")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_a_server_down_is_logged_once_and_survived(
    tmp_path: Path, exchange: str, credentials: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "www"
    root.mkdir()
    (root / "late.dat").write_bytes(b"served once the server is up")
    port = free_port()
    config = poller(tmp_path, exchange, f"http://{LOCALHOST}:{port}/", "accept .*\n")
    consumer = watch(config, exchange)
    caplog.set_level(logging.INFO)
    with polling(config) as poll:
        wait_for(lambda: poll.passes >= 3, "three passes against a server that is down")
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        down = [r.getMessage() for r in warnings if "cannot list" in r.getMessage()]
        assert len(down) == 1 and f":{port}/" in down[0], down
        server = ThreadingHTTPServer((LOCALHOST, port), partial(_QuietHandler, directory=root))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            assert next_notice(consumer).rel_path == "/late.dat"
        finally:
            server.shutdown()
            server.server_close()
    assert "works again" in caplog.text
    consumer.close()


def test_a_missing_directory_is_logged_once_while_the_others_are_polled(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    present = served_root / f"present_{exchange}"
    present.mkdir()
    (present / "here.dat").write_bytes(b"here")
    config = poller(
        tmp_path,
        exchange,
        f"http://{LOCALHOST}:{http_server.port}/",
        f"directory missing_{exchange}\naccept .*\ndirectory {present.name}\naccept .*\n",
    )
    consumer = watch(config, exchange)
    caplog.set_level(logging.INFO)
    with polling(config) as poll:
        assert next_notice(consumer).rel_path == f"/{present.name}/here.dat"
        wait_for(lambda: poll.passes >= 3, "three passes")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"missing_{exchange}: 404 Not Found" in errors[0], errors
    consumer.close()
