"""sr3 flow callbacks on the real RabbitMQ and a real HTTP server: after_work and after_post
decide and see what a relay posts; `callback scheduled` brings URLs into a subscriber's flow
at its appointments; `callback scheduled.poll` lets a poll list only at its appointments."""

from __future__ import annotations

from pathlib import Path

import pytest
from pumpkit import (
    announce,
    file_notice,
    in_thread,
    running,
    serve_files,
    subscriber,
    take,
    wait_for,
    watch,
)
from servers import LOCALHOST, HttpServer

from sarra.components.poll import Poll
from sarra.config.loader import load

pytestmark = pytest.mark.broker

WORKED = '''
import sarracenia
from sarracenia.flowcb import FlowCB


class Worked(FlowCB):
    """Keeps the .tmp files it was sent from being posted; notes what was posted."""

    posted = []

    def after_work(self, worklist):
        for msg in list(worklist.ok):
            if msg["new_file"].endswith(".tmp"):
                worklist.ok.remove(msg)
                worklist.rejected.append(msg)
            else:
                msg["worked_by"] = "worked"  # a field of its own: posted with the notice

    def after_post(self, worklist):
        for msg in worklist.ok:
            Worked.posted.append((msg["relPath"], msg["report"]["code"], msg.get("worked_by")))
'''


def test_after_work_keeps_files_from_being_posted_and_after_post_sees_the_posted(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    plugins = sarra_home.parent / "sr3" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "worked.py").write_text(WORKED)
    folder = f"worked_{exchange}"
    names = ["a.dat", "b.tmp", "c.dat"]
    files = serve_files(served_root, folder, names)
    out = tmp_path / "out"
    posted_to = f"{exchange}_out"
    config = subscriber(
        tmp_path, exchange,
        f"directory {out}\npost_broker amqp://guest@127.0.0.1/\npost_exchange {posted_to}\n"
        f"post_base_url http://here/\npost_base_dir {out}\naccept .*\ncallback worked\n",
    )  # fmt: skip
    watcher = watch(config, posted_to)
    base = f"http://{LOCALHOST}:{http_server.port}/"
    with running(config) as loop:
        announce(config, [file_notice(base, f"{folder}/{n}", files[n]) for n in names], exchange)
        posted = take(watcher, 2)
        wait_for(lambda: loop.counts["stopped by plugin"] == 1, "the .tmp file kept back")
    watcher.close()
    assert {(out / n).read_bytes() for n in names} == set(files.values())
    assert sorted(n.rel_path for n in posted) == ["/a.dat", "/c.dat"]
    assert all(n.extra.get("worked_by") == "worked" for n in posted)
    worked = __import__("worked").Worked
    assert sorted(worked.posted) == [("/a.dat", 201, "worked"), ("/c.dat", 201, "worked")]


def test_scheduled_brings_its_urls_into_a_subscriber_s_flow(
    tmp_path: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    folder = f"sched_{exchange}"
    files = serve_files(served_root, folder, ["one.txt", "two.txt"])
    out = tmp_path / "out"
    config = subscriber(
        tmp_path, exchange,
        f"directory {out}\naccept .*\npost_base_url http://{LOCALHOST}:{http_server.port}/\n"
        f"path {folder}/one.txt\npath {folder}/two.txt\nscheduled_interval 1h\n"
        "callback scheduled\n",
    )  # fmt: skip
    with running(config) as loop:
        wait_for(lambda: loop.counts["downloaded"] == 2, "the scheduled downloads")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


def test_a_scheduled_poll_lists_only_at_its_appointments(
    tmp_path: Path, credentials: Path, exchange: str, served_root: Path, http_server: HttpServer
) -> None:
    folder = f"spoll_{exchange}"
    serve_files(served_root, folder, ["first.dat"])
    path = tmp_path / "spoll.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
        f"destination http://{LOCALHOST}:{http_server.port}/\nsleep 0.1\nheartbeat 1\n"
        f"directory {folder}\naccept .*\nscheduled_interval 1h\ncallback scheduled.poll\n"
    )
    config = load("poll", path)
    watcher = watch(config, exchange)
    with in_thread(lambda stop: Poll(config, 1, stop)) as poll:
        [first] = take(watcher, 1)
        wait_for(lambda: poll.passes == 1, "the first pass")
        (served_root / folder / "second.dat").write_bytes(b"after the appointment")
        wait_for(lambda: poll.waited >= 5, "passes waiting for the next appointment")
        assert poll.passes == 1
    assert watcher.get_batch(1, timeout=0.5) == []
    watcher.close()
    assert first.rel_path.endswith("first.dat")


NOTED = '''
from sarracenia.flowcb import FlowCB


class {cls}(FlowCB):
    """Marks what it is given to post, and notes what after_post sees posted."""

    def post(self, worklist):
        for msg in worklist.ok:
            msg["noted_by"] = "noted"

    def after_post(self, worklist):
        with open({out!r}, "a") as out:
            for msg in worklist.ok:
                out.write(f"{{msg['relPath']}} {{msg.get('noted_by')}}\\n")
'''


def test_sr_post_and_a_shovel_run_on_post_and_after_post_alike(
    tmp_path: Path, sarra_home: Path, credentials: Path, exchange: str
) -> None:
    from sarra.components.post import post_once
    from sarra.config.credentials import Credentials

    plugins = sarra_home.parent / "sr3" / "plugins"
    plugins.mkdir(parents=True)
    seen = {side: tmp_path / f"{side}.seen" for side in ("post", "shovel")}
    source = tmp_path / "src"
    source.mkdir()
    names = ["a.dat", "b.dat"]
    for name in names:
        (source / name).write_bytes(name.encode())
    # sr_post, on one exchange
    (plugins / "notedpost.py").write_text(NOTED.format(cls="Notedpost", out=str(seen["post"])))
    (tmp_path / "p.conf").write_text(
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
        f"post_base_url http://here/\npost_base_dir {source}\ncallback notedpost\n"
    )
    poster = load("post", tmp_path / "p.conf")
    consumer = watch(poster, exchange)
    try:
        assert post_once(poster, Credentials.load(credentials), [str(source)]) == 0
        posted = take(consumer, 2)
    finally:
        consumer.close()
    # a shovel taking those notices to another exchange, with the same callback
    (plugins / "notedshovel.py").write_text(
        NOTED.format(cls="Notedshovel", out=str(seen["shovel"]))
    )
    (tmp_path / "s.conf").write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\nheartbeat 1\n"
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}_out\n"
        "accept .*\ncallback notedshovel\n"
    )
    shovel = load("shovel", tmp_path / "s.conf")
    watcher = watch(shovel, f"{exchange}_out")
    try:
        with running(shovel):
            announce(shovel, posted, exchange)
            onward = take(watcher, 2)
            wait_for(lambda: seen["shovel"].exists() and
                     len(seen["shovel"].read_text().splitlines()) == 2, "after_post")  # fmt: skip
    finally:
        watcher.close()
    expected = sorted(f"{name} noted" for name in names)
    for side in ("post", "shovel"):  # the relative path as posted, a.dat, on both sides
        assert sorted(seen[side].read_text().splitlines()) == expected
    assert sorted(n.rel_path for n in [*posted, *onward]) == ["a.dat", "a.dat", "b.dat", "b.dat"]
    assert all(n.extra.get("noted_by") == "noted" for n in [*posted, *onward])


GATHERED = '''
from sarracenia.flowcb import FlowCB


class Gathered(FlowCB):
    """As sr3's rename.raw2bulletin: a new name for each notice gathered, before the filter;
    those it cannot name go to rejected."""

    def after_gather(self, worklist):
        kept = []
        for msg in worklist.incoming:
            if msg["relPath"].endswith(".bad"):
                worklist.rejected.append(msg)
                continue
            msg["relPath"] = msg["relPath"].replace(".dat", ".renamed")
            kept.append(msg)
        worklist.incoming = kept
'''


def test_after_gather_renames_and_rejects_before_the_filter(
    tmp_path: Path, sarra_home: Path, credentials: Path, exchange: str
) -> None:
    plugins = sarra_home.parent / "sr3" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "gathered.py").write_text(GATHERED)
    (tmp_path / "s.conf").write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\nheartbeat 1\n"
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}_out\n"
        "accept .*\\.renamed$\nreject .*\ncallback gathered\n"  # after_gather's names pass
    )
    shovel = load("shovel", tmp_path / "s.conf")
    watcher = watch(shovel, f"{exchange}_out")
    base = "http://example.com/"
    try:
        with running(shovel) as loop:
            names = ["a.dat", "b.bad", "c.dat"]
            announce(shovel, [file_notice(base, f"in/{n}", n.encode()) for n in names], exchange)
            onward = take(watcher, 2)
            wait_for(lambda: loop.counts["stopped by plugin"] == 1, "b.bad stopped")
    finally:
        watcher.close()
    assert sorted(n.rel_path for n in onward) == ["in/a.renamed", "in/c.renamed"]
