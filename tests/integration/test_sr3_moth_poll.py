"""sr3's machinery as callbacks use it (sarracenia.moth, sarracenia.flowcb.poll.Poll), served by
the `sarracenia` shim from sarra's own, on the real RabbitMQ and a real HTTP server."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import pytest
from pumpkit import BROKER, declare, in_thread, take, wait_for, watch
from servers import LOCALHOST, WEB_USER, HttpServer

from sarra.compat.sr3 import shim
from sarra.components.poll import Poll
from sarra.config.loader import Config, load
from sarra.transfer.listing import DEEPEST

pytestmark = pytest.mark.broker


def _sarracenia(name: str = "sarracenia") -> Any:
    shim.install()
    return importlib.import_module(name)


def test_moth_publishes_and_consumes_sr3_messages(tmp_path: Path, exchange: str) -> None:
    moth = _sarracenia("sarracenia.moth")
    sarracenia = _sarracenia()
    declare(load("subscribe", None, name="declarer"), exchange)
    broker = SimpleNamespace(url=urlparse(BROKER))
    sub_props = moth.default_options() | {"broker": broker, "exchange": exchange, "subtopic": ["#"]}
    consumer = moth.Moth.subFactory(sub_props)
    poster = moth.Moth.pubFactory(moth.default_options() | {"broker": broker, "exchange": exchange})
    try:
        assert consumer._consumer.wait_ready(20)
        (tmp_path / "data").mkdir()
        path = tmp_path / "data" / "a.dat"
        path.write_bytes(b"some bytes")
        o = SimpleNamespace(post_baseUrl="http://here/", post_baseDir=str(tmp_path))
        msg = sarracenia.Message.fromFileData(str(path), o, os.stat(path))
        assert poster.putNewMessage(msg)
        received: list[dict[str, object]] = []
        wait_for(lambda: bool(received.extend(consumer.newMessages()) or received), "the message")
        [got] = received
        assert (got["baseUrl"], got["relPath"], got["size"]) == ("http://here/", "data/a.dat", 10)
        assert got["identity"] == msg["identity"]
        assert consumer.ack(got) and "ack_id" not in got
        assert poster.metricsReport()["txGoodCount"] == 1
        assert consumer.metricsReport()["rxGoodCount"] == 1
    finally:
        consumer.close()
        poster.close()
    assert moth.Moth.pubFactory(moth.default_options()) is None


LISTED = '''
import paramiko
from sarracenia.flowcb.poll import Poll


class Listed(Poll):
    """Our Poll base, as sr3's polls subclass it{extra}."""
{body}
'''

NAMED_BY_TEXT = '''
    def handle_data(self, data):
        """Every link text that ends in .dat is a file (as sr3's nasa_mls_nrt reads pages)."""
        if data.strip().endswith(".dat"):
            entry = paramiko.SFTPAttributes()
            entry.st_mode, entry.st_mtime = 0o644, 0
            self.entries[data.strip()] = entry
'''


def listed_poll(
    sarra_home: Path, tmp_path: Path, exchange: str, poll_url: str, path: str,
    extra: str = "", body: str = "    pass",
) -> Config:  # fmt: skip
    """The config of a poll of `path` below `poll_url` by the `listed` callback (LISTED with
    `extra` in its docstring and `body`), posting to `exchange`."""
    plugins = sarra_home.parent / "sr3" / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "listed.py").write_text(LISTED.format(extra=extra, body=body))
    config = tmp_path / "listed.conf"
    config.write_text(
        f"broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\npollUrl {poll_url}\n"
        f"path {path}\nsleep 0.1\naccept .*\ncallback listed\n"
    )
    return load("poll", config)


@pytest.mark.parametrize("override", [False, True], ids=["sarra's index reader", "handle_data"])
def test_a_callback_on_the_poll_base_lists_and_posts(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
    override: bool,
) -> None:
    folder = f"listed_{exchange}"
    (served_root / folder).mkdir()
    for name in ("a.dat", "b.dat"):
        (served_root / folder / name).write_bytes(name.encode() * 10)
    url = f"http://{LOCALHOST}:{http_server.port}/"
    config = listed_poll(sarra_home, tmp_path, exchange, url, f"/{folder}",
                         extra=", reading index pages itself" if override else "",
                         body=NAMED_BY_TEXT if override else "    pass")  # fmt: skip
    watcher = watch(config, exchange)
    try:
        with in_thread(lambda stop: Poll(config, 1, stop)) as poll:
            posted = take(watcher, 2)
            wait_for(lambda: poll.passes >= 1, "a pass")
    finally:
        watcher.close()
    assert sorted(n.rel_path.lstrip("/") for n in posted) == [f"{folder}/a.dat", f"{folder}/b.dat"]
    # the base URL is the pollUrl's, with the user credentials.conf gives it, not its password
    assert {n.base_url for n in posted} == {f"http://{WEB_USER}@{LOCALHOST}:{http_server.port}/"}


def test_a_callback_on_the_poll_base_descends_at_most_deepest_levels(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = f"deep_{exchange}"
    deepest = served_root.joinpath(folder, *["d"] * DEEPEST)
    (deepest / "d").mkdir(parents=True)
    (deepest / "in.dat").write_bytes(b"DEEPEST levels below: listed")
    (deepest / "d" / "out.dat").write_bytes(b"one level more: not listed")
    url = f"http://{LOCALHOST}:{http_server.port}/"
    config = listed_poll(sarra_home, tmp_path, exchange, url, f"/{folder}")
    watcher = watch(config, exchange)
    try:
        with in_thread(lambda stop: Poll(config, 1, stop)) as poll:
            wait_for(lambda: poll.passes >= 2, "two passes")  # what they posted is confirmed
        [first] = take(watcher, 1)
        assert first.rel_path.endswith("/d" * DEEPEST + "/in.dat")
        rest = []  # the passes' notices, all in the queue by now
        while batch := watcher.get_batch(100, timeout=0.5):
            rest += [delivery.body for delivery in batch]
    finally:
        watcher.close()
    assert not [body for body in rest if b"out.dat" in body]
    too_deep = [r.getMessage() for r in caplog.records if "not listed, nor any" in r.getMessage()]
    assert len(too_deep) == 1, too_deep


def test_a_callback_on_the_poll_base_posts_a_link_with_a_query_in_retrieve_path(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    """A page of /query/ links `get.py?station=A` (a query): the message names the file in
    relPath and fetches it from the link (retrievePath), as sarra's own poll posts it."""
    folder = f"query_{exchange}"
    (served_root / folder).mkdir()
    (served_root / folder / "get.py?station=A").write_bytes(b"A" * 10)
    url = f"http://{LOCALHOST}:{http_server.port}/query/"
    config = listed_poll(sarra_home, tmp_path, exchange, url, folder)
    watcher = watch(config, exchange)
    try:
        with in_thread(lambda stop: Poll(config, 1, stop)):
            [posted] = take(watcher, 1)
    finally:
        watcher.close()
    assert posted.rel_path.endswith(f"{folder}/get.py?station=A")
    assert posted.retrieve_path == posted.rel_path
