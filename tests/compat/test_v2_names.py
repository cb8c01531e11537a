"""A `?` in a file's name posted by the real v2 (2.24.8, from the registry) in a v02 notice: the
relpath is the name, unescaped, and our v02 subscriber fetches that file from a static server
(v2's own subscriber would ask for a query: docs/v2-compat.md, "A `?` in a v02 relpath")."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration.pumpkit import running, subscriber, take, wait_for, watch
from peers import PeerEnv
from servers import HttpServer
from v2peer import run_v2

from sarra.config.loader import load

pytestmark = [pytest.mark.broker, pytest.mark.usefixtures("broker_credentials")]

BROKER = "amqp://guest:guest@127.0.0.1/"


def test_a_name_with_a_question_mark_posted_by_v2_is_fetched_as_that_file(
    v2: PeerEnv, tmp_path: Path, exchange: str, served_root: Path, http_server: HttpServer
) -> None:
    source = served_root / f"q_{exchange}"
    source.mkdir()
    name = "get.py?station=A"
    (source / name).write_bytes(b"A" * 300)
    out = tmp_path / "out"
    config = subscriber(tmp_path, exchange, f"directory {out}\naccept .*\n")
    consumer = watch(load("subscribe", None, name="watcher"), exchange)
    try:
        with running(config) as loop:
            posted = run_v2(v2, tmp_path / "v2home", [
                "sr_post", "-pb", BROKER, "-pe", exchange, "-pbd", str(served_root),
                "-pbu", f"http://127.0.0.1:{http_server.port}/", str(source / name),
            ])  # fmt: skip
            assert posted.returncode == 0, posted.stderr[-2000:]
            (notice,) = take(consumer, 1)
            wait_for(lambda: loop.counts["downloaded"] == 1, "the download")
    finally:
        consumer.close()
    assert notice.rel_path.lstrip("/") == f"{source.name}/{name}"  # as v2 writes it
    assert (out / name).read_bytes() == b"A" * 300
