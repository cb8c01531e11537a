"""A `?` in a file's name and a query in a retrievePath, against the real sr3 (metpx-sr3 3.3.1,
from the registry) on the local RabbitMQ: sr3's post and ours write such a name alike, and sr3's
subscriber and ours fetch the same files (docs/sr3-compat.md, "File names, queries and request
paths")."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from integration.pumpkit import running, subscriber, take, wait_for, watch
from peers import PeerEnv
from servers import HttpServer
from sr3peer import BROKER, Sr3Home, publish

from sarra.config.loader import load

pytestmark = [pytest.mark.broker, pytest.mark.usefixtures("broker_credentials")]

OURS = Path(sys.executable).parent


def test_a_question_mark_names_a_file_and_a_retrieve_path_carries_a_query_as_in_sr3(
    sr3: PeerEnv, tmp_path: Path, exchange: str, served_root: Path, http_server: HttpServer
) -> None:
    source = served_root / f"q_{exchange}"
    source.mkdir()
    name = "get.py?station=A"
    (source / name).write_bytes(b"A" * 300)
    base = f"http://127.0.0.1:{http_server.port}/"
    home = Sr3Home.make(sr3, tmp_path / "sr3")

    # the notice each post writes for the file: the same relPath, nothing escaped
    consumer = watch(load("subscribe", None, name="watcher"), exchange)
    try:
        home.config(
            "post/q",
            f"post_broker {BROKER}\npost_exchange {exchange}\npost_baseUrl {base}\n"
            f"post_baseDir {served_root}\npath {source / name}\n",
        )
        home.run("post/q")
        (from_sr3,) = take(consumer, 1)
        posted = subprocess.run(
            [str(OURS / "sr_post"), "-pb", BROKER, "-pe", exchange, "-topic_prefix", "v03",
             "-pbu", base, "-pbd", str(served_root), str(source / name)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert posted.returncode == 0, posted.stderr[-2000:]
        (from_ours,) = take(consumer, 1)
    finally:
        consumer.close()
    assert from_sr3.rel_path.lstrip("/") == from_ours.rel_path.lstrip("/")
    assert from_ours.rel_path.lstrip("/") == f"{source.name}/{name}"

    # both subscribers fetch it as a file (a static server answers a query with 404), and
    # fetch a retrievePath as written, its query with it (/query/ answers only a real one)
    asked = f"query/{source.name}/{name}"
    queried = dataclasses.replace(from_sr3, rel_path=f"{source.name}/A.csv", retrieve_path=asked)
    outs = {"sr3": tmp_path / "out_sr3", "ours": tmp_path / "out_ours"}
    home.config(
        "subscribe/q",
        f"broker {BROKER}\nexchange {exchange}\ntopicPrefix v03\nexpire 2m\n"
        f"directory {outs['sr3']}\naccept .*\n",
    )
    config = subscriber(
        tmp_path, exchange, f"topic_prefix v03\ndirectory {outs['ours']}\naccept .*\n"
    )
    expected = {name: b"A" * 300, "A.csv": b"A" * 300}
    with home.running("subscribe/q", tmp_path / "sub.log"), running(config):
        publish(exchange, [from_sr3, queried])
        for who, out in outs.items():
            wait_for(
                lambda out=out: (
                    out.is_dir()
                    and {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == expected
                ),
                f"{who}: the file named with '?' and the one asked for with a query",
                deadline=30,
            )
