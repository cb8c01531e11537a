"""sr_subscribe end to end on the real RabbitMQ: notices for files on each backend are
downloaded to the right places with the right contents, modes and times; rejected ones are not;
hostile and malformed notices are logged, acknowledged and survived."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest
from pumpkit import (
    MTIME,
    announce,
    file_notice,
    raw_publish,
    running,
    subscriber,
    take,
    wait_for,
    watch,
)
from servers import FTP_USER, FtpServer, HttpServer, SshServer

from sarra.message import v03

pytestmark = pytest.mark.broker


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
        tmp_path,
        exchange,
        f"directory {destination}\nbase_dir {served_root}\nreject .*\\.tmpx$\naccept .*\n",
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
        announce(config, [file_notice("file:", "/etc/hostname", b"")], exchange)  # no base_dir
        announce(config, [file_notice(base, f"good_{exchange}.txt", data)], exchange)
        wait_for(lambda: (destination / f"good_{exchange}.txt").exists(), "the good file")
        wait_for(lambda: loop.counts["refused"] == 2, "two refusals")
        wait_for(lambda: loop.counts["failed"] == 1, "the file: notice refused")
        assert loop.counts["malformed"] == 2
    assert not outside.exists() and not (tmp_path / "escaped.txt").exists()
    assert "refused" in caplog.text and "malformed notice dropped" in caplog.text
    assert "file: notices are read only below base_dir" in caplog.text
    assert not (destination / "hostname").exists()


def test_a_question_mark_names_a_file_and_a_query_comes_with_the_retrieve_path(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    """A file saved as `get.py?station=A` on a static server, announced in v02 and v03: it is
    asked for as that file (the server answers 404 to a query). A retrievePath with a query
    is asked for as written (the server's /query/ answers only a real query), the file named
    after the relPath."""
    source = served_root / f"q_{exchange}"
    source.mkdir()
    files = {"get.py?station=A": b"A" * 300, "get.py?station=B": b"B" * 200}
    for name, data in files.items():
        (source / name).write_bytes(data)
    base = f"http://127.0.0.1:{http_server.port}/"
    first, second = (file_notice(base, f"{source.name}/{n}", d) for n, d in files.items())
    asked = f"query/{source.name}/get.py?station=A"  # the relPath names the local file
    third = dataclasses.replace(first, rel_path=f"{source.name}/A.csv", retrieve_path=asked)
    destination = tmp_path / "out"
    config = subscriber(tmp_path, exchange, f"directory {destination}\naccept .*\n")
    with running(config) as loop:
        announce(config, [first], exchange)
        wait_for(lambda: loop.counts["downloaded"] == 1, "the v02 download")
    (tmp_path / "v03").mkdir()
    config = subscriber(tmp_path / "v03", exchange,
                        f"topic_prefix v03\ndirectory {destination}\naccept .*\n")  # fmt: skip
    with running(config) as loop:
        for notice in (second, third):
            raw_publish(config, exchange, *v03.encode(notice, "v03"))
        wait_for(lambda: loop.counts["downloaded"] == 2, "the v03 downloads")
    got = {p.name: p.read_bytes() for p in destination.iterdir()}
    assert got == {**files, "A.csv": files["get.py?station=A"]}


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


def test_dry_run_logs_what_it_would_download_and_writes_nothing(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"dry_{exchange}.txt"
    (served_root / name).write_bytes(b"data")
    destination = tmp_path / "out"
    config = subscriber(tmp_path, exchange, f"dry_run\ndirectory {destination}\naccept .*\n")
    assert config.warnings == []
    notice = file_notice(f"http://127.0.0.1:{http_server.port}/", name, b"data")
    before = http_server.connections
    with caplog.at_level(logging.INFO), running(config) as loop:
        announce(config, [notice], exchange)
        wait_for(lambda: loop.counts["skipped"] == 1, "the skip")
    assert http_server.connections == before
    assert not (destination / name).exists()
    assert any(
        "dry_run: it would be downloaded" in r.getMessage() and str(destination / name) in
        r.getMessage() for r in caplog.records
    )  # fmt: skip


def test_inline_content_is_written_without_a_download_when_it_matches(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    base = f"http://127.0.0.1:{http_server.port}/"
    text = dataclasses.replace(
        file_notice(base, f"nowhere_{exchange}/t.txt", "é\n".encode()),
        content={"encoding": "utf-8", "value": "é\n"},
    )
    binary = dataclasses.replace(
        file_notice(base, f"nowhere_{exchange}/b.bin", b"\x00\xff"),
        content={"encoding": "base64", "value": "AP8="},
    )
    (served_root / f"wrong_{exchange}.bin").write_bytes(b"served")
    wrong = dataclasses.replace(
        file_notice(base, f"wrong_{exchange}.bin", b"served"),
        content={"encoding": "utf-8", "value": "forged"},
    )
    destination = tmp_path / "out"
    config = subscriber(tmp_path, exchange, f"topic_prefix v03\ndirectory {destination}\n"
                        "accept .*\n")  # fmt: skip
    before = http_server.connections
    with running(config) as loop:
        for notice in (text, binary):
            raw_publish(config, exchange, *v03.encode(notice, "v03"))
        wait_for(lambda: loop.counts["downloaded"] == 2, "two files from their notices")
        assert http_server.connections == before
        raw_publish(config, exchange, *v03.encode(wrong, "v03"))
        wait_for(lambda: loop.counts["downloaded"] == 3, "a download")
    assert (destination / "t.txt").read_bytes() == "é\n".encode()
    assert (destination / "b.bin").read_bytes() == b"\x00\xff"
    assert (destination / f"wrong_{exchange}.bin").read_bytes() == b"served"


def test_missing_file_is_dropped_not_retried_forever(
    tmp_path: Path, exchange: str, credentials: Path, http_server: HttpServer
) -> None:
    config = subscriber(tmp_path, exchange, f"directory {tmp_path / 'out'}\naccept .*\n")
    notice = file_notice(f"http://127.0.0.1:{http_server.port}/", "no/such/file", b"x")
    with running(config) as loop:
        announce(config, [notice], exchange)
        wait_for(lambda: loop.counts["failed"] == 1, "the failure")
        assert len(loop.retry) == 0


@pytest.mark.parametrize("accept_size_wrong", [False, True])
def test_a_file_of_another_size_than_announced_is_not_put_in_place(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer,
    accept_size_wrong: bool,
) -> None:  # fmt: skip
    """A body shorter than the notice says (a server or proxy that cut it, a source still being
    written) never lands under the final name: it is retried; accept_size_wrong keeps it."""
    name = f"short_{exchange}_{accept_size_wrong}.dat"
    (served_root / name).write_bytes(b"x" * 900)
    notice = file_notice(f"http://127.0.0.1:{http_server.port}/", name, b"x" * 1000)
    out = tmp_path / "out"
    option = "accept_size_wrong on\n" if accept_size_wrong else ""
    config = subscriber(tmp_path, exchange, f"directory {out}\nattempts 1\n{option}accept .*\n")
    with running(config) as loop:
        announce(config, [notice], exchange)
        wait_for(lambda: loop.counts["failed"] + loop.counts["downloaded"] == 1, "the outcome")
        if accept_size_wrong:
            assert (out / name).read_bytes() == b"x" * 900
        else:
            wait_for(lambda: len(loop.retry) == 1, "the retry queue")  # kept after it is counted
            assert loop.counts["failed"] == 1
            assert not (out / name).exists() and not list(out.glob("*.tmp"))


def test_reposts_downloaded_files_and_reports_back(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    data = b"to be passed on"
    name = f"onward_{exchange}.txt"
    (served_root / name).write_bytes(data)
    destination = tmp_path / "out"
    onward, reports = f"{exchange}_onward", f"{exchange}_reports"
    config = subscriber(
        tmp_path,
        exchange,
        f"directory {destination}\naccept .*\npost_broker amqp://guest@127.0.0.1/\n"
        f"post_exchange {onward}\npost_base_url http://mirror.example/\n"
        f"post_base_dir {destination}\nreport_back\nreport_exchange {reports}\n",
    )
    watchers = {x: watch(config, x) for x in (onward, reports)}
    try:
        with running(config) as loop:
            notice = file_notice(f"http://127.0.0.1:{http_server.port}/", name, data)
            announce(config, [notice], exchange)
            wait_for(lambda: loop.counts["posted"] == 1, "the onward post")
            [posted] = take(watchers[onward], 1)
            [report] = take(watchers[reports], 1)
    finally:
        for consumer in watchers.values():
            consumer.close()
    assert posted.base_url == "http://mirror.example/" and posted.rel_path == f"/{name}"
    assert posted.identity == notice.identity
    assert report.report is not None and report.report.code == 201
    assert report.rel_path == name


def test_reset_drops_what_waited_in_the_queue_and_delete_removes_the_source(
    tmp_path: Path, exchange: str, credentials: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    old, new = source / "old.txt", source / "new.txt"
    old.write_bytes(b"stale")
    new.write_bytes(b"fresh")
    destination = tmp_path / "out"
    body = f"directory {destination}\nbase_dir {source}\naccept .*\ndelete\n"
    config = subscriber(tmp_path, exchange, body)
    with running(config):
        pass  # the queue now exists
    announce(config, [file_notice("file:", str(old), b"stale")], exchange)
    config = subscriber(tmp_path, exchange, body + "reset\n")
    with running(config) as loop:
        announce(config, [file_notice("file:", str(new), b"fresh")], exchange)
        wait_for(lambda: loop.counts["downloaded"] == 1, "the fresh file")
    assert (destination / "new.txt").read_bytes() == b"fresh" and not new.exists()
    assert not (destination / "old.txt").exists() and old.exists()
