"""Plugins on the real broker: plugins written against the established interface, in both
forms, run unchanged in sr_subscribe (renaming, skipping, options, a named pipe fed by
file_rxpipe, msg_speedo's rates), and a plugin that raises sends its notices to the retry
queue while the others are delivered and the component goes on."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

import pytest
from pumpkit import announce, file_notice, in_thread, running, subscriber, take, wait_for, watch
from servers import LOCALHOST, HttpServer

from sarra.components.poll import Poll
from sarra.components.post import post_once
from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.flow.announce import Announcer
from sarra.message.notice import Notice

pytestmark = pytest.mark.broker

RENAMER = """
# the entry point form, as established: a class, an instance, self.on_message
class Renamer:
    def __init__(self, parent):
        parent.declare_option("renamer_prefix")
        parent.declare_option("renamer_dir")
        self.prefix = parent.renamer_prefix[0]
        self.directory = parent.renamer_dir[0]

    def on_message(self, parent):
        msg = parent.msg
        msg.new_dir = self.directory
        msg.new_file = self.prefix + msg.new_file
        return True

renamer = Renamer(self)
self.on_message = renamer.on_message
"""

SKIPPER = """
# the class form, as established: self.plugin names the class
import re

class Skipper:
    def __init__(self, parent):
        parent.declare_option("skipper_pattern")
        self.pattern = re.compile(parent.skipper_pattern[0])
        self.skipped = []

    def on_message(self, parent):
        if self.pattern.search(parent.msg.relpath):
            parent.logger.info("skipper: skipping %s", parent.msg.urlstr)
            return False
        return True

    def on_file(self, parent):
        parent.logger.info("skipper saw file %s", parent.msg.local_file)
        return True

self.plugin = 'Skipper'
"""

FLAKY = """
import threading

class Flaky:
    def __init__(self, parent):
        self.calls = 0
        self.lock = threading.Lock()

    def on_message(self, parent):
        with self.lock:
            self.calls += 1
            calls = self.calls
        if calls % 10 == 0:
            raise RuntimeError(f"call {calls} fails, as every tenth does")
        return True

self.on_message = Flaky(self).on_message
"""


def _serve(served_root: Path, folder: str, names: list[str]) -> dict[str, bytes]:
    source = served_root / folder
    source.mkdir()
    files = {name: os.urandom(200 + i) for i, name in enumerate(names)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    return files


def test_established_plugins_in_both_forms_rename_skip_and_read_options(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "renamer.py").write_text(RENAMER)
    (sarra_home / "plugins" / "skipper.py").write_text(SKIPPER)
    folder = f"plug_{exchange}"
    names = ["a.dat", "b.dat", "skip_c.dat", "d.dat"]
    files = _serve(served_root, folder, names)
    base = f"http://127.0.0.1:{http_server.port}/"
    renamed = tmp_path / "renamed"
    config = subscriber(
        tmp_path, exchange,
        f"directory {tmp_path / 'out'}\naccept .*\n"
        f"skipper_pattern skip_\nplugin skipper\n"
        f"renamer_prefix new_\nrenamer_dir {renamed}\non_message renamer\n",
    )  # fmt: skip
    with running(config) as loop:
        announce(config, [file_notice(base, f"{folder}/{n}", files[n]) for n in names], exchange)
        wait_for(lambda: loop.counts["downloaded"] == 3, "the downloads")
        wait_for(lambda: loop.counts["stopped by plugin"] == 1, "the skip")
    assert sorted(p.name for p in renamed.iterdir()) == ["new_a.dat", "new_b.dat", "new_d.dat"]
    for name in ("a.dat", "b.dat", "d.dat"):
        assert (renamed / f"new_{name}").read_bytes() == files[name]
    assert not (tmp_path / "out").exists()


def test_file_rxpipe_feeds_a_named_pipe_that_a_reader_tails(
    tmp_path: Path, credentials: Path, exchange: str, served_root: Path, http_server: HttpServer
) -> None:
    fifo = tmp_path / "received.pipe"
    os.mkfifo(fifo)
    lines: list[str] = []

    def tail() -> None:
        with open(fifo, encoding="utf-8") as reader:
            for line in reader:
                lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=tail, daemon=True)
    reader.start()
    folder = f"pipe_{exchange}"
    names = ["one.dat", "two.dat", "three.dat"]
    files = _serve(served_root, folder, names)
    base = f"http://127.0.0.1:{http_server.port}/"
    out = tmp_path / "out"
    config = subscriber(
        tmp_path, exchange,
        f"directory {out}\naccept .*\nfile_rxpipe_name {fifo}\non_file file_rxpipe\n",
    )  # fmt: skip
    with running(config):
        announce(config, [file_notice(base, f"{folder}/{n}", files[n]) for n in names], exchange)
        wait_for(lambda: len(lines) == 3, "three names from the pipe")
    assert sorted(lines) == sorted(str(out / n) for n in names)
    assert all(Path(line).read_bytes() == files[Path(line).name] for line in lines)


def test_msg_speedo_prints_rates(
    tmp_path: Path, credentials: Path, exchange: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sarra.plugins")
    config = subscriber(
        tmp_path, exchange, "notify_only\naccept .*\nmsg_speedo_interval 0\nplugin msg_speedo\n"
    )
    notices = [file_notice("http://example.com/", f"speedo/{i}.dat", b"x" * 100) for i in range(50)]
    with running(config) as loop:
        announce(config, notices, exchange)
        wait_for(lambda: loop.counts["received"] == 50, "the notices")
    lines = [r.getMessage() for r in caplog.records if "msg_speedo:" in r.getMessage()]
    assert lines, "no rate printed"
    assert all("notices/s" in line and "bytes/s" in line and "lag" in line for line in lines)


def test_a_plugin_raising_on_every_tenth_notice_sends_those_to_retry(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "flaky.py").write_text(FLAKY)
    folder = f"flaky_{exchange}"
    names = [f"f{i:02d}.dat" for i in range(30)]
    files = _serve(served_root, folder, names)
    base = f"http://127.0.0.1:{http_server.port}/"
    out = tmp_path / "out"
    config = subscriber(tmp_path, exchange, f"directory {out}\naccept .*\non_message flaky\n")
    with running(config) as loop:
        announce(config, [file_notice(base, f"{folder}/{n}", files[n]) for n in names], exchange)
        wait_for(lambda: loop.counts["failed"] >= 3, "the failures")
        wait_for(lambda: loop.counts["downloaded"] == 30, "every file, the failed after a retry")
        assert loop.counts["retried"] >= 3
        late = _serve(served_root, f"{folder}_late", ["late.dat"])
        announce(config, [file_notice(base, f"{folder}_late/late.dat", late["late.dat"])],
                 exchange)  # fmt: skip
        wait_for(lambda: (out / "late.dat").exists(), "a notice after the failures")
    for name in names:
        assert (out / name).read_bytes() == files[name]
    tracebacks = [r for r in caplog.records if r.exc_info and "flaky" in r.getMessage()]
    assert len(tracebacks) == 1  # the traceback once; one line for the later failures
    assert len([r for r in caplog.records if "same error as before" in r.getMessage()]) >= 2


SKIP_POST = """
def no_skips(parent):
    return "skip" not in parent.msg.relpath

self.on_post = no_skips
"""

SMALL_ONLY = """
class SmallOnly:
    def __init__(self, parent):
        parent.declare_option("small_only_max")
        self.largest = int(parent.small_only_max[0])

    def on_line(self, parent):
        return int(parent.line.split()[4]) <= self.largest

self.plugin = 'SmallOnly'
"""

LISTER = """
class Lister:
    def __init__(self, parent):
        self.passes = 0

    def registered_as(self):
        return ["http"]

    def do_poll(self, parent):
        self.passes += 1
        if self.passes == 1:
            for name in ("x.dat", "y.dat"):
                parent.post(parent.destination, "listed/" + name, {"sum": "0,1234"})
        return True

self.plugin = 'Lister'
"""


def test_on_post_plugins_change_and_hold_back_what_sr_post_posts(
    tmp_path: Path, sarra_home: Path, credentials: Path, exchange: str
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "no_skips.py").write_text(SKIP_POST)
    source = tmp_path / "src"
    source.mkdir()
    for name in ("a.dat", "skip.dat", "b.dat"):
        (source / name).write_bytes(name.encode())
    path = tmp_path / "poster.conf"
    path.write_text(
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
        "post_override to_clusters DDI\non_post post_override\non_post no_skips\n"
    )
    config = load("post", path)
    consumer = watch(config, exchange)
    try:
        assert post_once(config, Credentials.load(credentials), [str(source)]) == 0
        posted = take(consumer, 2)
        assert not consumer.get_batch(1, timeout=0.5)
    finally:
        consumer.close()
    assert sorted(Path(n.rel_path).name for n in posted) == ["a.dat", "b.dat"]
    assert all(n.to_clusters == "DDI" for n in posted)


SKIP_UNREAD = """
def no_skips(parent):
    return "skip" not in parent.msg.relpath

def local_file(parent):
    parent.msg.headers["local"] = parent.msg.local_file
    return True

self.on_message = no_skips
self.on_post = local_file
"""


def test_sr_post_runs_on_message_before_reading_a_file_and_on_post_sees_it(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sr_post runs the loop's filter stage: on_message plugins see each file's notice before
    its checksum, and a file they drop is never read; on_post sees the file in local_file."""
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "skip_unread.py").write_text(SKIP_UNREAD)
    source = tmp_path / "src"
    source.mkdir()
    for name in ("a.dat", "skip.dat"):
        (source / name).write_bytes(name.encode())
    read: list[str] = []
    complete = Announcer.complete

    def reading(self: Announcer, notice: Notice, path: str, st: os.stat_result) -> list[Notice]:
        read.append(Path(path).name)
        return complete(self, notice, path, st)

    monkeypatch.setattr(Announcer, "complete", reading)
    path = tmp_path / "poster.conf"
    path.write_text(
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\nplugin skip_unread\n"
    )
    config = load("post", path)
    consumer = watch(config, exchange)
    try:
        assert post_once(config, Credentials.load(credentials), [str(source)]) == 0
        (posted,) = take(consumer, 1)
        assert not consumer.get_batch(1, timeout=0.5)
    finally:
        consumer.close()
    assert posted.rel_path == str(source / "a.dat")
    assert posted.extra["local"] == str(source / "a.dat")
    assert read == ["a.dat"]


def test_poll_plugins_filter_lines_and_poll_by_themselves(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "small_only.py").write_text(SMALL_ONLY)
    (sarra_home / "plugins" / "lister.py").write_text(LISTER)
    local = served_root / f"pollplug_{exchange}"
    local.mkdir()
    (local / "small.dat").write_bytes(b"s" * 10)
    (local / "large.dat").write_bytes(b"l" * 5000)
    destination = f"http://{LOCALHOST}:{http_server.port}/"
    head = (
        f"broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\ndestination {destination}\n"
        "sleep 0.1\nheartbeat 1\n"
    )
    (tmp_path / "lines.conf").write_text(
        head + f"directory {local.name}\naccept .*\nsmall_only_max 100\nplugin small_only\n"
    )
    (tmp_path / "own.conf").write_text(head + "accept .*\ndo_poll lister\n")
    by_lines = load("poll", tmp_path / "lines.conf")
    consumer = watch(by_lines, exchange)
    try:
        with in_thread(lambda stop: Poll(by_lines, 1, stop)) as poll:
            [small] = take(consumer, 1)
            wait_for(lambda: poll.passes >= 2, "a pass after the first")
        assert Path(small.rel_path).name == "small.dat"
        assert not consumer.get_batch(1, timeout=0.3)
        own = load("poll", tmp_path / "own.conf")
        with in_thread(lambda stop: Poll(own, 1, stop)) as poll:
            listed = take(consumer, 2)
            wait_for(lambda: poll.passes >= 2, "two passes of the plugin")
        expected = [f"{destination}listed/{name}" for name in ("x.dat", "y.dat")]
        assert sorted(n.url for n in listed) == expected
    finally:
        consumer.close()


COPIER = """
import shutil

class Copier:
    def __init__(self, parent):
        parent.declare_option("copier_min")
        self.smallest = int(parent.copier_min[0])

    def registered_as(self):
        return ["file"]

    def do_send(self, parent):
        msg = parent.msg
        if msg.length < self.smallest:
            return None  # the built-in sender does it
        shutil.copyfile(msg.local_file, msg.new_dir + "/" + msg.new_file + ".by_plugin")
        return True

self.plugin = 'Copier'
"""


def test_a_do_send_plugin_sends_the_files_it_takes_and_leaves_the_others(
    tmp_path: Path, sarra_home: Path, credentials: Path, exchange: str
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "copier.py").write_text(COPIER)
    root, remote = tmp_path / "local", tmp_path / "remote"
    (root / "src").mkdir(parents=True)
    remote.mkdir()
    files = {"small.dat": b"s" * 10, "large.dat": b"l" * 3000}
    for name, data in files.items():
        (root / "src" / name).write_bytes(data)
    path = tmp_path / f"sender_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\n"
        f"destination file://{remote}\nbase_dir {root}\ncopier_min 1000\nplugin copier\n"
        "accept .*\n"
    )
    config = load("sender", path)
    notices = [file_notice("file:", str(root / "src" / n), d) for n, d in files.items()]
    with running(config) as loop:
        announce(config, notices, exchange)
        wait_for(lambda: loop.counts["sent"] == 2, "both files sent")
    assert (remote / "src/small.dat").read_bytes() == files["small.dat"]
    assert (remote / "src/large.dat.by_plugin").read_bytes() == files["large.dat"]
    assert not (remote / "src/large.dat").exists()


UPPER = """
class Upper:
    def on_data(self, parent, chunk):
        return chunk.upper()

self.on_data = Upper().on_data
"""

TASK = """
class Task:
    def do_task(self, parent):
        msg = parent.msg
        if not msg.new_file.startswith("task_"):
            return None  # the built-in download
        with open(msg.new_dir + "/" + msg.new_file, "w") as out:
            out.write("made by do_task")
        return True

self.do_task = Task().do_task
"""

PAGE = """
import re

class Page:
    def on_html_page(self, parent):
        # the established form: file name -> an `ls -l` line
        for name in re.findall(r'href="([^"/?]+\\.dat)"', parent.inline):
            parent.entries[name] = f"-rw-r--r-- 1 web web 4 Jan  2  2025 {name}"
        return True

self.on_html_page = Page().on_html_page
"""


def test_on_data_transforms_and_do_task_replaces_the_download(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "upper.py").write_text(UPPER)
    (sarra_home / "plugins" / "task.py").write_text(TASK)
    folder = f"data_{exchange}"
    (served_root / folder).mkdir()
    (served_root / folder / "low.txt").write_bytes(b"lower case words")
    base = f"http://127.0.0.1:{http_server.port}/"
    out = tmp_path / "out"
    onward = f"{exchange}_onward"
    config = subscriber(
        tmp_path, exchange,
        f"directory {out}\naccept .*\non_data upper\ndo_task task\n"
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {onward}\npost_base_url file:\n",
    )  # fmt: skip
    consumer = watch(config, onward)
    notices = [
        file_notice(base, f"{folder}/low.txt", b"lower case words"),
        file_notice(base, f"{folder}/task_x.txt", b"never fetched"),
    ]
    try:
        with running(config) as loop:
            announce(config, notices, exchange)
            posted = {n.rel_path.rsplit("/", 1)[-1]: n for n in take(consumer, 2)}
            assert loop.counts["downloaded"] == 2
    finally:
        consumer.close()
    assert (out / "low.txt").read_bytes() == b"LOWER CASE WORDS"
    assert (out / "task_x.txt").read_text() == "made by do_task"
    transformed = posted["low.txt"]
    assert transformed.size == 16 and transformed.identity != notices[0].identity


def test_on_html_page_reads_index_pages_for_a_poll(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "page.py").write_text(PAGE)
    local = served_root / f"page_{exchange}"
    local.mkdir()
    for name in ("one.dat", "two.dat", "other.txt"):
        (local / name).write_bytes(b"data")
    (tmp_path / "page.conf").write_text(
        f"broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
        f"destination http://{LOCALHOST}:{http_server.port}/\nsleep 0.1\nheartbeat 1\n"
        f"file_time_limit 0\ndirectory {local.name}\naccept .*\non_html_page page\n"
    )
    config = load("poll", tmp_path / "page.conf")
    consumer = watch(config, exchange)
    try:
        with in_thread(lambda stop: Poll(config, 1, stop)) as poll:
            listed = take(consumer, 2)
            wait_for(lambda: poll.passes >= 2, "a pass after the first")
        assert not consumer.get_batch(1, timeout=0.3)  # other.txt: the plugin left it out
    finally:
        consumer.close()
    assert sorted(n.rel_path.rsplit("/", 1)[-1] for n in listed) == ["one.dat", "two.dat"]
    assert all(n.mtime is not None and n.mtime.startswith("20250102") for n in listed)
