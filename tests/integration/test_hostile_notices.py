"""Hostile notices on the real broker: file operations logged as what was done, unexpected
errors logged once per kind and not retried for ever, notices under a routing key that matches
no topic prefix logged once and counted; and a flood of thousands of malformed notices through
a running sr_subscribe daemon that costs a few lines of log a minute (sarra.flow.log_budget)."""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path

import pika
import pytest
from hostile import malformed
from pumpkit import BROKER, announce, file_notice, running, sr, subscriber, wait_for
from servers import HttpServer

from sarra.broker import plan
from sarra.broker.publisher import Message, Publisher
from sarra.config import paths
from sarra.config.loader import load
from sarra.flow import metrics
from sarra.flow.log_budget import BURST, WINDOW
from sarra.message import v02
from sarra.message.notice import Notice, epoch_to_time

pytestmark = pytest.mark.broker


def serve(served_root: Path, folder: str, count: int) -> dict[str, bytes]:
    (served_root / folder).mkdir()
    files = {f"f{n:04d}.dat": os.urandom(64) + str(n).encode() for n in range(count)}
    for name, data in files.items():
        (served_root / folder / name).write_bytes(data)
    return files


def test_file_operations_are_logged_as_what_was_done(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path,
    http_server: HttpServer, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    (out / "ops").mkdir(parents=True)
    (out / "ops" / "gone.txt").write_text("to be removed")
    (out / "ops" / "old.txt").write_text("to be renamed")
    base = f"http://127.0.0.1:{http_server.port}/"
    now = epoch_to_time(time.time())
    operations = [
        Notice(now, base, "ops/gone.txt", file_op={"remove": ""}),
        Notice(now, base, "ops/latest.txt", file_op={"link": "old.txt"}),
        Notice(now, base, "ops/made", file_op={"directory": ""}),
        Notice(now, base, "ops/new.txt", file_op={"rename": "ops/old.txt"}),
    ]
    config = subscriber(tmp_path, exchange, f"directory {out}\nmirror\naccept .*\n")
    caplog.set_level(logging.INFO, logger="sarra.flow")
    with running(config) as loop:
        for number, notice in enumerate(operations, start=1):  # in order: link, then rename
            announce(config, [notice], exchange)
            wait_for(lambda n=number: loop.counts["received"] == n, "the notice")
        wait_for(lambda: (out / "ops" / "new.txt").exists(), "the rename")
    assert not (out / "ops" / "gone.txt").exists() and (out / "ops" / "made").is_dir()
    assert os.readlink(out / "ops" / "latest.txt") == "old.txt"
    lines = [r.getMessage() for r in caplog.records if r.name == "sarra.flow"]
    assert not [line for line in lines if line.startswith("downloaded")]
    assert f"{out}/ops/gone.txt: removed (notice {base}ops/gone.txt)" in lines
    assert f"{out}/ops/latest.txt: linked to old.txt (notice {base}ops/latest.txt)" in lines
    assert f"{out}/ops/made: directory made (notice {base}ops/made)" in lines
    assert f"{out}/ops/new.txt: renamed from {out}/ops/old.txt (notice {base}ops/new.txt)" in lines
    assert (loop.counts["removed"], loop.counts["linked"], loop.counts["renamed"]) == (1, 1, 1)
    assert loop.counts["directories made"] == 1 and loop.counts["downloaded"] == 0


def test_a_path_too_long_for_the_destination_is_dropped_not_retried(
    tmp_path: Path, exchange: str, credentials: Path, http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # within the limits of a notice (4095 bytes), too long once below the directory
    rel_path = "/".join(["n" * 254] * 16)
    base = f"http://127.0.0.1:{http_server.port}/"
    config = subscriber(tmp_path, exchange, f"directory {tmp_path / 'out'}\nmirror\naccept .*\n")
    with running(config) as loop:
        announce(config, [file_notice(base, rel_path, b"x")], exchange)
        wait_for(lambda: loop.counts["failed"] == 1, "the failure")
        assert len(loop.retry) == 0
    assert "File name too long; dropped" in caplog.text


BROKEN_DOWNLOAD = """
class Broken:
    def registered_as(self):  # without it, as in v2, the built-in transfer takes http
        return ["http"]

    def perform(self, parent):
        parent.msg.new_file = 7  # a defect: a name that is no name
        return True

self.do_download = Broken().perform
"""


def test_an_unexpected_error_is_logged_once_and_the_notice_dropped_after_three_tries(
    tmp_path: Path, sarra_home: Path, exchange: str, credentials: Path, served_root: Path,
    http_server: HttpServer, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "broken.py").write_text(BROKEN_DOWNLOAD)
    files = serve(served_root, f"broken_{exchange}", 4)
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = [file_notice(base, f"broken_{exchange}/{n}", d) for n, d in files.items()]
    config = subscriber(
        tmp_path, exchange, f"directory {tmp_path / 'out'}\naccept .*\ndo_download broken\n"
    )
    caplog.set_level(logging.INFO, logger="sarra.flow")
    with running(config) as loop:
        announce(config, notices, exchange)
        wait_for(lambda: loop.counts["unexpected errors"] == 3 * len(files), "three tries each",
                 deadline=60)  # fmt: skip
        wait_for(lambda: len(loop.retry) == 0, "an empty retry queue")
    failures = [r for r in caplog.records if "TypeError" in r.getMessage()]
    assert len(failures) == 3 * len(files)
    assert len([r for r in failures if r.exc_info]) == 1  # the traceback, once
    last = f"(same error as before, {3 * len(files)} times)"  # counted, whichever thread logs last
    assert any(r.getMessage().endswith(last) for r in failures)
    dropped = [r.getMessage() for r in failures if "(try 3); dropped" in r.getMessage()]
    assert len(dropped) == len(files)


BROKEN_MESSAGE = """
def broken(parent):
    parent.msg.new_file = 7  # a defect: a name that is no name
    return True

self.on_message = broken
"""


def test_an_unexpected_error_in_the_filter_does_not_stop_the_instance(
    tmp_path: Path, sarra_home: Path, exchange: str, credentials: Path, served_root: Path,
    http_server: HttpServer, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "broken.py").write_text(BROKEN_MESSAGE)
    files = serve(served_root, f"filter_{exchange}", 2)
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = [file_notice(base, f"filter_{exchange}/{n}", d) for n, d in files.items()]
    config = subscriber(
        tmp_path, exchange, f"directory {tmp_path / 'out'}\naccept .*\non_message broken\n"
    )
    with running(config) as loop:
        announce(config, notices, exchange)
        wait_for(lambda: loop.counts["unexpected errors"] == 3 * len(files), "three tries each",
                 deadline=60)  # fmt: skip
        wait_for(lambda: len(loop.retry) == 0, "an empty retry queue")
        assert loop.consumer is not None and loop.consumer.wait_ready(1)  # still consuming
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_notices_under_a_routing_key_of_no_topic_prefix_are_logged_once_and_counted(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path,
    http_server: HttpServer, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    files = serve(served_root, f"stray_{exchange}", 30)
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = [file_notice(base, f"stray_{exchange}/{n}", d) for n, d in files.items()]
    config = subscriber(tmp_path, exchange, f"directory {tmp_path / 'out'}\naccept .*\n")
    caplog.set_level(logging.INFO, logger="sarra.flow")
    with running(config) as loop:
        queue = plan.queue_spec(config).name  # type: ignore[union-attr]
        with pika.BlockingConnection(pika.URLParameters(BROKER)) as connection:
            # a binding the config does not make (left by an older config, or made by hand)
            connection.channel().queue_bind(queue, exchange, routing_key="stray.#")
        announce(config, notices[:20], exchange, prefix="stray.old")
        announce(config, notices[20:25], exchange, prefix="stray.other")
        announce(config, notices[25:], exchange)
        wait_for(lambda: loop.counts["downloaded"] == len(files), "every file")
    assert loop.counts["unmatched topic"] == 25
    warnings = [
        r.getMessage() for r in caplog.records if "matches no topic prefix" in r.getMessage()
    ]
    assert warnings == [  # one line for each kind
        f"notice under routing key stray.{kind}.stray_{exchange} matches no topic prefix"
        " (v02.post): handled all the same; more like it are counted as 'unmatched topic'"
        for kind in ("old", "other")
    ]


# --- a flood of malformed notices through daemons -----------------------------------------------

HOSTILE = 2400
GOOD = 200


def log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def read(log: Path) -> str:
    return log.read_text(encoding="utf-8") if log.exists() else ""


def received_all(component: str, count: int) -> bool:
    figures = metrics.read(component, "flood", [1])
    return bool(figures) and figures[0].counts.get("received", 0) == count


def test_a_flood_of_malformed_notices_costs_a_few_lines_of_log_a_minute(
    sarra_home: Path, tmp_path: Path, exchange: str, credentials: Path, served_root: Path,
    http_server: HttpServer,
) -> None:  # fmt: skip
    """2,400 malformed notices (tests/hostile.py) and 200 good ones, mixed, through a running
    sr_subscribe and a running sr_shovel that both read the exchange."""
    folder = f"flood_{exchange}"
    files = serve(served_root, folder, GOOD)
    base = f"http://127.0.0.1:{http_server.port}/"
    rng = random.Random(14)
    messages = [Message(exchange, w.routing_key, w.body, w.headers, w.content_type or "", True)
                for w in malformed(rng, HOSTILE, base)]  # fmt: skip
    for position, (name, data) in zip(
        sorted(rng.sample(range(HOSTILE), GOOD)), files.items(), strict=True
    ):
        key, body, headers = v02.encode(file_notice(base, f"{folder}/{name}", data))
        messages.insert(position, Message(exchange, key, body.encode(), headers))
    out = tmp_path / "out"
    common = (f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\n"
              "topic_prefix v02.post\nsubtopic #\ntopic_prefix v03\nsubtopic #\n")  # fmt: skip
    bodies = {
        "subscribe": f"directory {out}\nmirror\naccept .*\n",
        "shovel": f"post_exchange {exchange}_out\n",
    }
    for component, body in bodies.items():
        (sarra_home / component).mkdir()
        (sarra_home / component / "flood.conf").write_text(common + body)
    logs = {component: paths.log_file(component, "flood", 1) for component in bodies}
    try:
        for component, log in logs.items():
            assert sr(f"sr_{component}", "start", "flood").returncode == 0
            wait_for(lambda log=log: "consuming queue" in read(log), f"sr_{component} consuming")
        before, started = {c: log_size(log) for c, log in logs.items()}, time.monotonic()
        config = load("subscribe", sarra_home / "subscribe" / "flood.conf")
        with Publisher(
            plan.connection_settings(config, BROKER, "publisher"), [exchange]
        ) as publisher:
            publisher.publish_many(messages)
            assert publisher.flush(60)
        for component in logs:
            wait_for(lambda c=component: received_all(c, len(messages)), f"sr_{component}",
                     deadline=180)  # fmt: skip
        wait_for(lambda: all((out / folder / n).exists() for n in files), "every good file")
        elapsed = time.monotonic() - started
        figures = {c: metrics.read(c, "flood", [1])[0] for c in logs}
    finally:
        for component in logs:
            assert sr(f"sr_{component}", "stop", "flood").returncode == 0
    for name, data in files.items():
        assert (out / folder / name).read_bytes() == data
    assert figures["shovel"].counts["posted"] == GOOD
    for component, log in logs.items():
        grown = log_size(log) - before[component]
        counts, retry = figures[component].counts, figures[component].retry
        print(f"\nsr_{component}: {HOSTILE} malformed + {GOOD} good notices in {elapsed:.1f} s;"
              f" log grew by {grown} bytes ({grown / HOSTILE:.0f} a malformed notice);"
              f" {counts}; {retry} in the retry queue")  # fmt: skip
        assert counts["malformed"] == HOSTILE and retry == 0
        text = read(log)
        dropped = text.count("malformed notice dropped")
        assert dropped <= BURST * (2 + int(elapsed // WINDOW)), (
            f"{dropped} lines of malformed notices"
        )
        assert "more malformed notice lines in the next" in text
        assert "Traceback" not in read(log) and "Logging error" not in read(log)
