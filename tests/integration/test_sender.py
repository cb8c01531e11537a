"""sr_sender on the real broker: local files pushed to sftp, ftp and a local directory."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from pathlib import Path

import pytest
from pumpkit import MTIME, announce, file_notice, running, take, wait_for, watch
from servers import FTP_USER, FtpServer, SshServer

from sarra.config import paths
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop
from sarra.integrity.checksum import checksum_bytes, hex_to_b64
from sarra.integrity.parts import partition
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time

pytestmark = pytest.mark.broker


def sender(tmp_path: Path, exchange: str, body: str, post: bool = True) -> Config:
    path = tmp_path / f"sender_{uuid.uuid4().hex[:8]}.conf"
    posting = f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}_out\n"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\n"
        f"{posting if post else ''}{body}accept .*\n"
    )
    return load("sender", path)


def local_files(root: Path, count: int) -> dict[str, bytes]:
    """`count` files below root/src (one in a sub-directory), by their path below root."""
    files = {f"src/f{n}.dat": os.urandom(500 + n) for n in range(count)}
    files["src/deep/er.dat"] = b"deeper"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def notices_of(root: Path, files: dict[str, bytes]) -> list[Notice]:
    return [file_notice("file:", str(root / n), data, mode="600") for n, data in files.items()]


def test_sends_to_sftp_with_mode_time_and_onward_notice(
    tmp_path: Path, exchange: str, credentials: Path, sshd: SshServer, ssh_home: Path
) -> None:
    user = os.environ.get("USER", "root")
    credentials.write_text(
        credentials.read_text()
        + f"sftp://{user}@127.0.0.1:{sshd.port}/ ssh_keyfile={sshd.client_key}\n"
    )
    root, remote = tmp_path / "local", tmp_path / "remote"
    files = local_files(root, 5)
    config = sender(
        tmp_path, exchange,
        f"destination sftp://{user}@127.0.0.1:{sshd.port}/\nbase_dir {root}\n"
        f"directory {remote}\nstrip 1\n",
    )  # fmt: skip
    consumer = watch(config, f"{exchange}_out")
    try:
        with running(config) as loop:
            announce(config, notices_of(root, files), exchange)
            got = take(consumer, len(files))
            assert loop.counts["sent"] == len(files)
    finally:
        consumer.close()
    for name, data in files.items():
        copy = remote / name.removeprefix("src/")
        assert copy.read_bytes() == data
        assert copy.stat().st_mode & 0o777 == 0o600
        assert copy.stat().st_mtime == MTIME
    assert not [p for p in remote.rglob("*.tmp")]  # nothing left under an inflight name
    onward = {n.url for n in got}
    assert f"sftp://{user}@127.0.0.1:{sshd.port}/{remote}/deep/er.dat" in onward


def test_sends_to_ftp_and_applies_remove_and_link_events(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, ftp_server: FtpServer
) -> None:
    root = tmp_path / "local"
    files = local_files(root, 3)
    target = f"sent_{exchange}"
    config = sender(
        tmp_path, exchange,
        f"destination ftp://{FTP_USER}@127.0.0.1:{ftp_server.port}/\nbase_dir {root}\n"
        f"directory {target}\nstrip 1\n",
    )  # fmt: skip
    remove = Notice(epoch_to_time(time.time()), "file:", str(root / "src/f0.dat"),
                    file_op={"remove": ""})  # fmt: skip
    with running(config) as loop:
        announce(config, notices_of(root, files), exchange)
        wait_for(lambda: loop.counts["sent"] == len(files), "the files sent")
        announce(config, [remove], exchange)
        wait_for(lambda: loop.counts["removed"] == 1, "the removal")
    assert not (served_root / target / "f0.dat").exists()
    for name in ("src/f1.dat", "src/f2.dat", "src/deep/er.dat"):
        assert (served_root / target / name.removeprefix("src/")).read_bytes() == files[name]


def test_sends_to_a_local_directory_with_links(
    tmp_path: Path, exchange: str, credentials: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sarra.flow")
    root, remote = tmp_path / "local", tmp_path / "remote"
    files = local_files(root, 2)
    link = Notice(epoch_to_time(time.time()), "file:", str(root / "src/latest.dat"),
                  file_op={"link": "f1.dat"})  # fmt: skip
    config = sender(
        tmp_path, exchange, f"destination file://{remote}\nbase_dir {root}\n", post=False
    )
    with running(config) as loop:
        announce(config, [*notices_of(root, files), link], exchange)
        wait_for(lambda: loop.counts["sent"] == len(files), "the files")
        wait_for(lambda: loop.counts["linked"] == 1, "the link")
    assert (remote / "src/f1.dat").read_bytes() == files["src/f1.dat"]
    assert os.readlink(remote / "src/latest.dat") == "f1.dat"
    steps = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    final = remote / "src/f1.dat"
    assert any(m.startswith(f"sending {root / 'src/f1.dat'} to {final} (inflight ") for m in steps)
    assert any(m.startswith(f"sent {len(files['src/f1.dat'])} bytes to {final}") for m in steps)


def part_notices(path: Path, data: bytes, blocksize: int) -> list[Notice]:
    """The notices of `data` (the file at `path`) in parts of `blocksize` bytes."""
    notices = []
    for p in partition(len(data), blocksize):
        digest = hex_to_b64(checksum_bytes(data[p.offset : p.offset + p.length], "d"))
        notices.append(Notice(epoch_to_time(time.time()), "file:", str(path),
                              identity=Identity("md5", digest), size=p.length,
                              blocks=Blocks.from_parts(p), mode="640",
                              mtime=epoch_to_time(MTIME)))  # fmt: skip
    return notices


@pytest.mark.parametrize("scheme", ["file", "sftp"])
def test_sends_a_file_in_parts_under_its_inflight_name_until_complete(
    tmp_path: Path, exchange: str, credentials: Path, scheme: str, request: pytest.FixtureRequest
) -> None:
    """No part is written under the final name: a remote reader sees the file whole or not at
    all; the onward notice announces it once, whole."""
    root, remote = tmp_path / "local", tmp_path / "remote"
    data = os.urandom(1000)
    (root / "src").mkdir(parents=True)
    (root / "src/big.dat").write_bytes(data)
    (remote / "src").mkdir(parents=True)
    (remote / "src/big.dat.tmp").write_bytes(b"stale, longer than the file: " + bytes(2000))
    parts = part_notices(root / "src/big.dat", data, 400)
    if scheme == "sftp":
        sshd: SshServer = request.getfixturevalue("sshd")
        request.getfixturevalue("ssh_home")
        user = os.environ.get("USER", "root")
        server = f"sftp://{user}@127.0.0.1:{sshd.port}/"
        credentials.write_text(
            credentials.read_text() + f"{server} ssh_keyfile={sshd.client_key}\n"
        )
        destination = f"destination {server}\ndirectory {remote}\n"
    else:
        destination = f"destination file://{remote}\n"
    config = sender(tmp_path, exchange, f"{destination}base_dir {root}\n")
    consumer = watch(config, f"{exchange}_out")
    final = remote / "src/big.dat"
    try:
        with running(config) as loop:
            announce(config, [parts[2], parts[0]], exchange)
            wait_for(lambda: loop.counts["sent"] == 2, "two parts of three")
            assert not final.exists()  # never under its final name while incomplete
            assert (remote / "src/big.dat.tmp").exists()  # the parts are written there
            announce(config, [parts[1]], exchange)
            wait_for(lambda: loop.counts["sent"] == 3, "the last part")
            got = take(consumer, 1)
    finally:
        consumer.close()
    assert final.read_bytes() == data
    assert final.stat().st_mode & 0o777 == 0o640
    assert final.stat().st_mtime == MTIME
    assert sorted(p.name for p in remote.rglob("*")) == ["big.dat", "src"]
    assert not list((paths.state_dir("sender", config.name) / "sent-parts").iterdir())
    (onward,) = got
    assert onward.blocks is None and onward.size == len(data)
    assert onward.identity == Identity("md5", hex_to_b64(checksum_bytes(data, "d")))


def test_sends_a_file_in_parts_to_ftp_each_part_after_the_bytes_before_it(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    ftp_server: FtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """pyftpdlib writes each part at its offset (REST then STOR) into the inflight name; a part
    whose bytes before it are not there yet is transient, and sent when it comes again."""
    root, target = tmp_path / "local", f"parts_{exchange}"
    data = os.urandom(1000)
    (root / "src").mkdir(parents=True)
    (root / "src/big.dat").write_bytes(data)
    parts = part_notices(root / "src/big.dat", data, 400)
    config = sender(
        tmp_path, exchange,
        f"destination ftp://{FTP_USER}@127.0.0.1:{ftp_server.port}/\nbase_dir {root}\n"
        f"directory {target}\nstrip 1\n",
    )  # fmt: skip
    final = served_root / target / "big.dat"
    caplog.set_level(logging.INFO)
    with running(config) as loop:
        announce(config, [parts[0], parts[2]], exchange)
        wait_for(lambda: loop.counts["sent"] == 1 and loop.counts["failed"] == 1, "1 sent, 1 not")
        assert "the file has 400 bytes: ftp writes the part at 800 after them" in caplog.text
        assert not final.exists()
        announce(config, [parts[1], parts[2]], exchange)
        wait_for(lambda: final.exists(), "the file complete")
    assert final.read_bytes() == data
    assert sorted(p.name for p in (served_root / target).iterdir()) == ["big.dat"]


def parts_destination(
    scheme: str, tmp_path: Path, credentials: Path, request: pytest.FixtureRequest
) -> tuple[str, Path]:
    """A sender's destination lines for `scheme` (file, sftp or ftp), and the local directory
    the server writes into."""
    if scheme == "ftp":
        ftp: FtpServer = request.getfixturevalue("ftp_server")
        served: Path = request.getfixturevalue("served_root")
        target = f"parts_{uuid.uuid4().hex[:8]}"
        server = f"ftp://{FTP_USER}@127.0.0.1:{ftp.port}/"
        return f"destination {server}\ndirectory {target}\n", served / target
    remote = tmp_path / "remote"
    if scheme == "file":
        return f"destination file://{remote}\n", remote
    sshd: SshServer = request.getfixturevalue("sshd")
    request.getfixturevalue("ssh_home")
    server = f"sftp://{os.environ.get('USER', 'root')}@127.0.0.1:{sshd.port}/"
    credentials.write_text(credentials.read_text() + f"{server} ssh_keyfile={sshd.client_key}\n")
    return f"destination {server}\ndirectory {remote}\n", remote


def one_by_one(config: Config, loop: ConsumerLoop, exchange: str, notices: list[Notice]) -> None:
    """Announce each notice once the one before it is sent or skipped (in order: ftp writes
    no part past the end of the file), none failing."""
    for notice in notices:
        done = loop.counts["sent"] + loop.counts["skipped"]
        announce(config, [notice], exchange)
        wait_for(
            lambda done=done: (
                loop.counts["sent"] + loop.counts["skipped"] > done or loop.counts["failed"] > 0
            ),
            f"part {notice.blocks and notice.blocks.number}",
        )
        assert loop.counts["failed"] == 0


@pytest.mark.parametrize("scheme", ["file", "sftp", "ftp"])
def test_a_file_changed_while_its_parts_are_in_flight_is_sent_as_its_new_version(
    tmp_path: Path, exchange: str, credentials: Path, scheme: str, request: pytest.FixtureRequest
) -> None:
    """Two parts of a file are sent, then the file changes (its first two blocks) and is
    announced again: the parts of the new version, and a late part of the old one, complete
    the new version, never a mix of both (ftp: the first part, which replaces the file, starts
    it again)."""
    root = tmp_path / "local"
    old = os.urandom(1000)
    new = os.urandom(800) + old[800:]
    (root / "src").mkdir(parents=True)
    (root / "src/big.dat").write_bytes(old)
    destination, remote = parts_destination(scheme, tmp_path, credentials, request)
    config = sender(tmp_path, exchange, f"{destination}base_dir {root}\nstrip 1\n", post=False)
    before = part_notices(root / "src/big.dat", old, 400)
    after = part_notices(root / "src/big.dat", new, 400)
    final = remote / "big.dat"
    with running(config) as loop:
        one_by_one(config, loop, exchange, before[:2])
        (root / "src/big.dat").write_bytes(new)
        one_by_one(config, loop, exchange, [after[1], before[2], after[2], after[0]])
    assert final.read_bytes() == new
    assert sorted(p.name for p in remote.iterdir()) == ["big.dat"]
    assert not list((paths.state_dir("sender", config.name) / "sent-parts").iterdir())


def test_to_ftp_the_first_part_of_a_new_version_begins_the_inflight_file_again(
    tmp_path: Path, exchange: str, credentials: Path, request: pytest.FixtureRequest
) -> None:
    """ftp writes at offset 0 only by replacing the file: the new version's first part, come
    while the old version's parts are in the inflight file, begins it again (it was a
    permanent failure, the file left under its inflight name)."""
    root = tmp_path / "local"
    old, new = os.urandom(1000), os.urandom(1000)
    (root / "src").mkdir(parents=True)
    (root / "src/big.dat").write_bytes(old)
    destination, remote = parts_destination("ftp", tmp_path, credentials, request)
    config = sender(tmp_path, exchange, f"{destination}base_dir {root}\nstrip 1\n", post=False)
    before = part_notices(root / "src/big.dat", old, 400)
    after = part_notices(root / "src/big.dat", new, 400)
    with running(config) as loop:
        one_by_one(config, loop, exchange, before[:2])
        (root / "src/big.dat").write_bytes(new)
        one_by_one(config, loop, exchange, after)
    assert (remote / "big.dat").read_bytes() == new
    assert sorted(p.name for p in remote.iterdir()) == ["big.dat"]


def test_refuses_files_outside_base_dir_and_keeps_going(
    tmp_path: Path, exchange: str, credentials: Path
) -> None:
    root, remote = tmp_path / "local", tmp_path / "remote"
    files = local_files(root, 1)
    secret = tmp_path / "secret.txt"
    secret.write_text("not to be sent")
    hostile = [
        file_notice("file:", str(secret), b"not to be sent"),
        file_notice("file:", f"{root}/../secret.txt", b"not to be sent"),
        file_notice("file:", str(root / "src/../../secret.txt"), b"not to be sent"),
    ]
    config = sender(
        tmp_path, exchange, f"destination file://{remote}\nbase_dir {root}\n", post=False
    )
    with running(config) as loop:
        announce(config, [*hostile, *notices_of(root, files)], exchange)
        wait_for(lambda: loop.counts["sent"] == len(files), "the good files")
        wait_for(lambda: loop.counts["refused"] == len(hostile), "the refusals")
    assert not list(remote.rglob("secret.txt"))
    assert (remote / "src/f0.dat").read_bytes() == files["src/f0.dat"]


def test_a_push_to_a_local_directory_never_writes_outside_it(
    tmp_path: Path, exchange: str, credentials: Path
) -> None:
    """Hostile paths (climbing, absolute, through symlinked directories, as renames, as a
    base URL that fills the directory, as link targets, as removals) are refused or kept below
    the destination; the good files still go."""
    root, remote, outside = tmp_path / "local", tmp_path / "remote", tmp_path / "outside"
    data = local_files(root, 1)["src/f0.dat"]
    (root / "src/planted.dat").write_bytes(data)
    outside.mkdir()
    (outside / "gone").write_text("must stay")
    sub = remote / "sub/src"
    sub.mkdir(parents=True)
    (sub / "out").symlink_to(outside)  # a directory that leads out
    (sub / "abs").symlink_to("/")
    (sub / "up").symlink_to("../../..")
    (sub / "planted.dat.tmp").symlink_to(outside / "victim")
    now = epoch_to_time(time.time())
    renames = ["../../outside/r1", "/../outside/r2", f"{outside}/r3", "src/out/r4",
               "src/abs/tmp/r5", "src/up/outside/r6", "src/../../../outside/r7"]  # fmt: skip
    hostile = [
        *(dataclasses.replace(file_notice("file:", f"{root}/src/f0.dat", data), rename=r)
          for r in renames),
        file_notice("http://pump.example.com/../../outside", "src/f0.dat", data),
        file_notice("http://pump.example.com/../../../../../../../../../../..", "src/f0.dat",
                    data),
        Notice(now, "file:", f"{root}/src/l1", file_op={"link": "../../.."}),
        Notice(now, "file:", f"{root}/src/out/l2", file_op={"link": "x"}),
        Notice(now, "file:", f"{root}/src/out/gone", file_op={"remove": ""}),
    ]  # fmt: skip
    good = [file_notice("file:", f"{root}/src/{n}", data) for n in ("f0.dat", "planted.dat")]
    config = sender(
        tmp_path, exchange,
        f"destination file://{remote}\nbase_dir {root}\ndirectory sub/${{BUP}}\n", post=False,
    )  # fmt: skip
    with running(config) as loop:
        announce(config, [*hostile, *good], exchange)
        total = len(hostile) + len(good)

        def handled() -> int:
            kinds = ("sent", "refused", "failed", "linked", "removed", "skipped")
            return sum(loop.counts[kind] for kind in kinds)

        wait_for(lambda: handled() >= total, "every notice handled")
    assert sorted(p.name for p in outside.iterdir()) == ["gone"]
    assert not (sub / "planted.dat.tmp").exists()  # replaced, never written through
    assert (sub / "f0.dat").read_bytes() == data
    assert (sub / "planted.dat").read_bytes() == data
    assert (remote / "sub" / str(outside).lstrip("/") / "r3").read_bytes() == data  # kept below
    assert loop.counts["sent"] == len(good) + 1
    assert not list(Path("/").glob("outside"))
