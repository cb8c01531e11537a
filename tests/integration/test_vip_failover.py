"""vip (active/passive) on the real RabbitMQ: a passive subscriber daemon leaves its notices in
its queue and one holding the vip takes them; an active loop that loses the vip stops cleanly
and resumes when it is back; a passive poll keeps its listing state and announces nothing, so
that on taking over it announces only what appeared since.

The addresses are real ones (127.0.0.1 is held; ELSEWHERE, a documentation address, is not),
except where the vip comes and goes: there `vip.held` is replaced, its documented seam.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from pumpkit import announce, ctl, file_notice, sr, subscriber, take, wait_for, watch
from servers import LOCALHOST, HttpServer

from sarra.components.poll import Poll
from sarra.components.run import run_with_vip, runner_for
from sarra.config import paths
from sarra.config.loader import load
from sarra.flow import vip

pytestmark = pytest.mark.broker

ELSEWHERE = "198.51.100.1"  # a documentation address (RFC 5737): on no host's interface


def queued(prefix: str) -> int:
    """Notices ready or unacknowledged in the queue whose name starts with prefix."""
    for line in ctl("list_queues", "name", "messages").splitlines():
        name, _, count = line.rpartition("\t")
        if name.startswith(prefix):
            return int(count)
    raise AssertionError(f"no queue {prefix}*")


def served_files(served_root: Path, directory: str, count: int) -> dict[str, bytes]:
    local = served_root / directory
    local.mkdir()
    files = {f"f{n}.dat": f"file {n} of {directory}".encode() for n in range(count)}
    for name, data in files.items():
        (local / name).write_bytes(data)
    return files


def arrived(destination: Path) -> set[str]:
    return {p.name for p in destination.iterdir()} if destination.is_dir() else set()


def test_a_passive_subscriber_leaves_its_notices_queued_until_it_holds_the_vip(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    name = f"vipsub_{exchange}"
    files = served_files(served_root, name, 3)
    destination = tmp_path / "out"
    path = sarra_home / "subscribe" / f"{name}.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    common = f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\nheartbeat 1\n"
    common += f"directory {destination}\naccept .*\n"
    path.write_text(common + f"vip {ELSEWHERE}\n")
    assert sr("sr_subscribe", "setup", name).returncode == 0
    base = f"http://{LOCALHOST}:{http_server.port}/"
    notices = [file_notice(base, f"{name}/{f}", data) for f, data in files.items()]
    announce(subscriber(tmp_path, exchange, ""), notices, exchange)
    log = tmp_path / "cache" / "sarra" / "log" / f"sr_subscribe_{name}_01.log"
    queue = f"q_guest.sr_subscribe.{name}."
    try:
        assert sr("sr_subscribe", "start", name).returncode == 0
        wait_for(lambda: log.is_file() and "passive: vip" in log.read_text(), "passive")
        time.sleep(1)  # were it consuming, it would have taken them by now
        assert queued(queue) == 3
        assert arrived(destination) == set()
        status = sr("sr_subscribe", "status", name).stdout
        assert f"passive: vip {ELSEWHERE} not on this host (for " in status
        started = time.monotonic()
        assert sr("sr_subscribe", "stop", name).returncode == 0  # TERM works while passive
        assert time.monotonic() - started < 10
        path.write_text(common + f"vip {ELSEWHERE},127.0.0.1\n")
        assert sr("sr_subscribe", "start", name).returncode == 0
        wait_for(lambda: arrived(destination) == set(files), "the downloads")
        active = "active: vip 198.51.100.1,127.0.0.1 is on this host"
        wait_for(lambda: active in log.read_text(), "the active line (written within 0.1 s)")
        wait_for(lambda: queued(queue) == 0, "the acknowledgements")
    finally:
        sr("sr_subscribe", "stop", name)
        sr("sr_subscribe", "cleanup", name)
    for f, data in files.items():
        assert (destination / f).read_bytes() == data


def test_losing_the_vip_stops_the_loop_cleanly_and_regaining_it_resumes(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"viplost_{exchange}"
    files = served_files(served_root, name, 2)
    destination = tmp_path / "out"
    here = threading.Event()
    here.set()
    monkeypatch.setattr(vip, "held", lambda addresses: here.is_set())
    monkeypatch.setattr(vip, "CHECK_EVERY", 0.1)
    path = sarra_home / "subscribe" / f"{name}.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\nheartbeat 1\n"
        f"directory {destination}\nvip 10.9.9.9\naccept .*\n"
    )
    assert sr("sr_subscribe", "setup", name).returncode == 0  # bound before anything is posted
    config = load("subscribe", path)
    base = f"http://{LOCALHOST}:{http_server.port}/"
    first, second = (file_notice(base, f"{name}/{f}", d) for f, d in files.items())
    stop = threading.Event()
    loop = threading.Thread(target=run_with_vip, args=(runner_for("subscribe"), config, 1, stop))
    caplog.set_level("INFO")
    loop.start()
    try:
        announce(config, [first], exchange)
        wait_for(lambda: arrived(destination) == {"f0.dat"}, "the first download")
        here.clear()
        wait_for(lambda: "passive: vip 10.9.9.9 not on this host" in caplog.text, "waiting")
        assert "vip 10.9.9.9 lost: stopping, work in hand is finished" in caplog.text
        announce(config, [second], exchange)
        time.sleep(1)
        assert arrived(destination) == {"f0.dat"}
        assert queued(f"q_guest.sr_subscribe.{name}.") == 1
        here.set()
        wait_for(lambda: arrived(destination) == set(files), "the second download")
    finally:
        stop.set()
        loop.join(30)
    assert not loop.is_alive()
    assert (destination / "f1.dat").read_bytes() == files["f1.dat"]


def test_a_passive_poll_keeps_its_listing_and_announces_only_what_is_new_on_taking_over(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    name = f"vippoll_{exchange}"
    served_files(served_root, name, 2)
    path = tmp_path / f"{name}.conf"
    common = (
        f"broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
        f"destination http://{LOCALHOST}:{http_server.port}/\nsleep 0.1\nheartbeat 1\n"
        f"directory {name}\naccept .*\n"
    )
    path.write_text(common + f"vip {ELSEWHERE}\n")
    config = load("poll", path)
    consumer = watch(config, exchange)
    stop = threading.Event()
    poll = Poll(config, 1, stop)
    thread = threading.Thread(target=poll.run)
    thread.start()
    try:
        wait_for(lambda: poll.passes >= 2, "two passive passes")
        assert not poll.active
    finally:
        stop.set()
        thread.join(30)
    state = json.loads((paths.state_dir("poll", name) / f"ls{name}").read_text())
    assert sorted(state["files"]) == ["f0.dat", "f1.dat"]
    (served_root / name / "new.dat").write_bytes(b"appeared while passive")
    path.write_text(common + f"vip {ELSEWHERE},127.0.0.1\n")
    stop = threading.Event()
    poll = Poll(load("poll", path), 1, stop)
    thread = threading.Thread(target=poll.run)
    thread.start()
    try:
        [notice] = take(consumer, 1)
        assert notice.rel_path == f"/{name}/new.dat"
        wait_for(lambda: poll.passes >= 3, "more passes")
        assert poll.active
    finally:
        stop.set()
        thread.join(30)
    assert consumer.get_batch(10, timeout=1) == []  # nothing else was ever announced
    consumer.close()


def test_sr_post_without_the_vip_posts_nothing(tmp_path: Path, exchange: str) -> None:
    passive, active = tmp_path / "passive.txt", tmp_path / "active.txt"
    passive.write_text("on the passive host")
    active.write_text("on the active host")
    consumer = watch(subscriber(tmp_path, exchange, ""), exchange)
    broker = ("-pb", "amqp://guest:guest@127.0.0.1/", "-pe", exchange)
    try:
        skipped = sr("sr_post", *broker, "-vip", ELSEWHERE, str(passive))
        assert skipped.returncode == 0, skipped.stderr
        assert f"passive: vip {ELSEWHERE} not on this host, nothing posted" in skipped.stderr
        posted = sr("sr_post", *broker, "-vip", "127.0.0.1", str(active))
        assert posted.returncode == 0, posted.stderr
        [notice] = take(consumer, 1)
        assert notice.url == f"file:{active}"
        assert consumer.get_batch(10, timeout=1) == []
    finally:
        consumer.close()
