"""sr_shovel, sr_winnow and sr_sarra: the consumer loop with their presets, on the real broker."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from pathlib import Path

import pytest
from pumpkit import announce, declare, file_notice, running, subscriber, take, wait_for, watch
from servers import HttpServer

from sarra.config.loader import Config, load
from sarra.flow.placement import onward_rel_path
from sarra.integrity.checksum import checksum_file, hex_to_b64
from sarra.integrity.parts import partition
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time

pytestmark = pytest.mark.broker


def relay(tmp_path: Path, component: str, exchange: str, body: str) -> Config:
    path = tmp_path / f"{component}_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\n"
        f"post_exchange {exchange}_out\n{body}"
    )
    return load(component, path)


def test_shovel_passes_notices_on_unchanged(
    tmp_path: Path, exchange: str, credentials: Path
) -> None:
    config = relay(tmp_path, "shovel", exchange, "")
    consumer = watch(config, f"{exchange}_out")
    notices = [file_notice("http://example.org/", f"a/f{n}.txt", b"x" * n) for n in range(5)]
    try:
        with running(config) as loop:
            announce(config, notices, exchange)
            wait_for(lambda: loop.counts["posted"] == 5, "five posts")
            got = take(consumer, 5)
    finally:
        consumer.close()
    assert sorted(n.rel_path for n in got) == sorted(n.rel_path for n in notices)
    assert {n.identity for n in got} == {n.identity for n in notices}


def test_source_from_exchange_names_the_exchanges_user_whatever_the_notice_says(
    tmp_path: Path, credentials: Path
) -> None:
    exchange = f"xs_alice_{uuid.uuid4().hex[:8]}"
    config = relay(tmp_path, "shovel", exchange, "source_from_exchange True\n")
    declare(config, exchange)
    assert config.warnings == []
    consumer = watch(config, f"{exchange}_out")
    forged = [
        dataclasses.replace(file_notice("http://example.org/", f"f{n}", b"x"), source="mallory")
        for n in range(3)
    ]
    try:
        with running(config) as loop:
            announce(config, forged, exchange)
            wait_for(lambda: loop.counts["posted"] == 3, "three posts")
            got = take(consumer, 3)
    finally:
        consumer.close()
    assert {n.source for n in got} == {"alice"}


def test_winnow_passes_the_first_copy_only(
    tmp_path: Path, exchange: str, credentials: Path
) -> None:
    config = relay(tmp_path, "winnow", exchange, "")
    assert config.suppress_duplicates == 1200
    consumer = watch(config, f"{exchange}_out")
    first = [file_notice("http://feed1.example/", f"obs/f{n}.txt", b"%d" % n) for n in range(4)]
    again = [file_notice("http://feed2.example/", f"obs/f{n}.txt", b"%d" % n) for n in range(4)]
    try:
        with running(config) as loop:
            announce(config, first + again, exchange)
            wait_for(lambda: loop.counts["duplicates"] == 4, "four duplicates")
            got = take(consumer, 4)
            # counted when the broker's confirm comes back, which may follow the delivery
            wait_for(lambda: loop.counts["posted"] == 4, "four confirmed posts")
    finally:
        consumer.close()
    assert {n.base_url for n in got} == {"http://feed1.example/"}


def test_sarra_downloads_then_announces_its_copy(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    data = b"product body"
    name = f"sarra_{exchange}.txt"
    docroot = tmp_path / "docroot"
    config = relay(
        tmp_path,
        "sarra",
        exchange,
        f"directory {docroot}\npost_base_url http://pump.example/\npost_base_dir {docroot}\n",
    )
    assert config.mirror is True
    consumer = watch(config, f"{exchange}_out")
    try:
        with running(config) as loop:
            notice = file_notice(f"http://127.0.0.1:{http_server.port}/", f"in/{name}", data)
            (served_root / "in").mkdir(exist_ok=True)
            (served_root / "in" / name).write_bytes(data)
            announce(config, [notice], exchange)
            [posted] = take(consumer, 1)
            assert loop.counts["downloaded"] == 1
    finally:
        consumer.close()
    assert (docroot / "in" / name).read_bytes() == data
    assert posted.base_url == "http://pump.example/" and posted.rel_path == f"/in/{name}"


def test_sarra_fills_in_post_base_dir_per_notice_as_directory(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    """post_base_dir's per-notice variables are filled in for each notice, as directory's: the
    onward notice's path is below it, not the whole local path; a name that merely begins as
    post_base_dir does is not cut."""
    data = b"product body"
    name = f"sarra_{exchange}.txt"
    docroot = tmp_path / "docroot"
    (served_root / "feedA" / "in").mkdir(parents=True, exist_ok=True)
    (served_root / "feedA" / "in" / name).write_bytes(data)
    config = relay(
        tmp_path,
        "sarra",
        exchange,
        f"directory {docroot}/${{BUP}}\npost_base_url http://pump.example/\n"
        f"post_base_dir {docroot}/${{BUP}}\n",
    )
    consumer = watch(config, f"{exchange}_out")
    try:
        with running(config):
            base = f"http://127.0.0.1:{http_server.port}/feedA/"
            announce(config, [file_notice(base, f"in/{name}", data)], exchange)
            [posted] = take(consumer, 1)
    finally:
        consumer.close()
    assert (docroot / "feedA" / "in" / name).read_bytes() == data
    # post_base_dir ends with '/' (${BUP} does): the path below it has no leading '/'
    assert posted.base_url == "http://pump.example/" and posted.rel_path == f"in/{name}"
    assert onward_rel_path(f"{docroot}/feedAB/x", f"{docroot}/feedA", "v2") == f"{docroot}/feedAB/x"


def test_sarra_announces_a_file_received_in_parts_once_whole(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    source = served_root / f"parts_{exchange}.dat"
    source.write_bytes(os.urandom(10_000))
    size = source.stat().st_size
    notices = [
        Notice(
            epoch_to_time(time.time()),
            f"http://127.0.0.1:{http_server.port}/",
            source.name,
            identity=Identity("md5", hex_to_b64(checksum_file(source, "d", p.offset, p.length))),
            size=p.length,
            blocks=Blocks.from_parts(p),
        )
        for p in partition(size, 4096)
    ]
    docroot = tmp_path / "docroot"
    config = relay(
        tmp_path,
        "sarra",
        exchange,
        f"directory {docroot}\npost_base_url http://pump.example/\npost_base_dir {docroot}\n",
    )
    consumer = watch(config, f"{exchange}_out")
    try:
        with running(config) as loop:
            announce(config, notices, exchange)
            wait_for(lambda: loop.counts["downloaded"] == 3, "three parts")
            [posted] = take(consumer, 1)
            assert consumer.get_batch(10, timeout=0.5) == []  # the parts are not announced
    finally:
        consumer.close()
    assert (docroot / source.name).read_bytes() == source.read_bytes()
    assert posted.blocks is None and posted.size == size
    assert posted.identity == Identity("md5", hex_to_b64(checksum_file(source, "d")))


def test_report_reads_what_a_subscriber_reports_back(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "sarra.flow")
    reports = f"{exchange}_reports"
    (served_root / f"rep_{exchange}.txt").write_bytes(b"reported")
    path = tmp_path / "report.conf"
    path.write_text(f"broker amqp://guest@127.0.0.1/\nexchange {reports}\nexpire 1m\n")
    report_config = load("report", path)
    assert report_config.topic_prefix == "v02.report" and report_config.notify_only
    sub = subscriber(
        tmp_path, exchange,
        f"directory {tmp_path / 'out'}\naccept .*\nreport_back\nreport_exchange {reports}\n",
    )  # fmt: skip
    declare(sub, reports)
    found = file_notice(f"http://127.0.0.1:{http_server.port}/", f"rep_{exchange}.txt", b"reported")
    missing = file_notice(f"http://127.0.0.1:{http_server.port}/", "no/such/file", b"x")
    with running(report_config) as report_loop, running(sub):
        announce(sub, [found, missing], exchange)
        wait_for(
            lambda: report_loop.counts["reports 2xx"] == 1 and report_loop.counts["reports 4xx"],
            "a report of each",
        )
    assert any(
        r.getMessage().startswith("report 201 Downloaded:")
        and f"rep_{exchange}.txt" in r.getMessage()
        for r in caplog.records
    )
