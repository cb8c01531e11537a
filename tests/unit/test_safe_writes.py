"""Every file the pump writes is opened so that it never goes through a symlink or climbs out:
a symlink planted at an inflight name (or a tempdir name, a state file, the final name) is
removed and replaced, never written through; a directory on the way swapped for a symlink that
leads out, after the placement was checked, is refused; downloads, parts, inline contents,
links, renames, removals and a sender to file: alike. A part that fails leaves nothing behind."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.flow.download import Downloader, Outcome
from sarra.flow.placement import Placement
from sarra.flow.send import Sender
from sarra.integrity.checksum import checksum_bytes, checksum_file, hex_to_b64
from sarra.integrity.parts import partition
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time

DATA = b"the product's bytes\n" * 100
PRECIOUS = b"precious, not to be touched"
BLOCK = 512


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside every destination that a hostile notice would like to overwrite."""
    path = tmp_path / "victim"
    path.write_bytes(PRECIOUS)
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """The destination directory, with a sub-directory `data`."""
    (tmp_path / "out" / "data").mkdir(parents=True)
    return tmp_path / "out"


def downloader(tmp_path: Path, *options: tuple[str, str]) -> Downloader:
    overrides = [("directory", str(tmp_path / "out")), ("base_dir", str(tmp_path)), *options]
    return Downloader(load("subscribe", None, overrides=overrides), Credentials())


def identity_of(data: bytes) -> Identity:
    return Identity("md5", hex_to_b64(checksum_bytes(data, "d")))


def source_notice(tmp_path: Path, data: bytes = DATA, **fields: object) -> Notice:
    """A file: notice of src/x.bin (written with `data`)."""
    source = tmp_path / "src" / "x.bin"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return Notice(epoch_to_time(time.time()), "file:", str(source), identity=identity_of(data),
                  size=len(data), mode="640", **fields)  # type: ignore[arg-type]  # fmt: skip


def placed(out: Path, relative: str = "data/x.bin") -> Placement:
    """A placement as the loop makes it; one made while the tree was still harmless is how a
    symlink swapped in afterwards is simulated."""
    return Placement(out, out / relative)


def symlink_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "removed a symlink at" in r.getMessage()]


def assert_untouched(victim: Path) -> None:
    assert victim.read_bytes() == PRECIOUS
    assert not victim.is_symlink()


@pytest.mark.parametrize(
    ("options", "planted"),
    [
        ((), "data/x.bin.tmp"),
        ((("inflight", "."),), "data/.x.bin"),
        ((("inflight", "tmp/"),), "data/tmp/x.bin"),
        ((("inflight", "NONE"),), "data/x.bin"),
        ((("tempdir", "{tmp}/work"),), "../work/x.bin"),
    ],
    ids=["suffix", "dot", "subdirectory", "none", "tempdir"],
)
@pytest.mark.parametrize("inline", [False, True], ids=["download", "inline"])
def test_a_symlink_at_the_inflight_name_is_replaced_never_written_through(
    tmp_path: Path,
    out: Path,
    victim: Path,
    caplog: pytest.LogCaptureFixture,
    options: tuple[tuple[str, str], ...],
    planted: str,
    inline: bool,
) -> None:
    options = tuple((k, v.format(tmp=tmp_path)) for k, v in options)
    link = Path(os.path.normpath(out / planted))
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(victim)
    notice = source_notice(tmp_path)
    if inline:
        notice.content = {"encoding": "utf-8", "value": DATA.decode()}
    caplog.set_level(logging.WARNING)
    outcome = downloader(tmp_path, *options).handle(notice, placed(out))
    assert outcome.status == "done", outcome
    assert_untouched(victim)
    final = out / "data" / "x.bin"
    assert not final.is_symlink() and final.read_bytes() == DATA
    assert final.stat().st_mode & 0o777 == 0o640
    [line] = symlink_warnings(caplog)
    assert f"removed a symlink at {link}" in line and str(victim) in line
    assert not link.is_symlink()


@pytest.mark.parametrize("inplace", [True, False])
def test_symlinks_at_the_work_and_state_files_of_parts_are_replaced(
    tmp_path: Path, out: Path, victim: Path, caplog: pytest.LogCaptureFixture, inplace: bool
) -> None:
    data = os.urandom(5 * BLOCK + 7)
    source = tmp_path / "src" / "x.bin"
    source.parent.mkdir()
    source.write_bytes(data)
    notices = [
        Notice(
            epoch_to_time(time.time()),
            "file:",
            str(source),
            identity=Identity("md5", hex_to_b64(checksum_file(source, "d", p.offset, p.length))),
            size=p.length,
            blocks=Blocks.from_parts(p),
        )
        for p in partition(len(data), BLOCK)
    ]
    other = tmp_path / "other_victim"  # two victims: one file locked twice would deadlock
    other.write_bytes(PRECIOUS)
    (out / "data" / "x.bin.tmp").symlink_to(victim)
    (out / "data" / ".x.bin.sarra-parts").symlink_to(other)
    caplog.set_level(logging.WARNING)
    worker = downloader(tmp_path, ("inplace", str(inplace)))
    outcomes = [worker.handle(n, placed(out)) for n in notices]
    assert [o.status for o in outcomes] == ["done"] * len(notices), outcomes
    assert_untouched(victim)
    assert_untouched(other)
    assert (out / "data" / "x.bin").read_bytes() == data
    assert sorted(p.name for p in (out / "data").iterdir()) == ["x.bin"]
    assert len(symlink_warnings(caplog)) == 2


def link_notice(tmp_path: Path, **file_op: str) -> Notice:
    return Notice(epoch_to_time(time.time()), "file:", str(tmp_path / "src" / "x.bin"),
                  file_op=file_op)  # fmt: skip


@pytest.mark.parametrize("kind", ["download", "inline", "parts", "link", "rename", "directory"])
def test_a_directory_swapped_for_a_symlink_out_is_refused(
    tmp_path: Path, out: Path, kind: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "data").rmdir()
    (out / "data").symlink_to(outside)  # after the placement was checked
    (out / "old.bin").write_bytes(b"to be renamed")
    notice = source_notice(tmp_path)
    if kind == "inline":
        notice.content = {"encoding": "utf-8", "value": DATA.decode()}
    elif kind == "parts":
        [first, *_] = partition(len(DATA), BLOCK)
        notice.blocks = Blocks.from_parts(first)
        notice.identity = Identity("md5", hex_to_b64(checksum_bytes(DATA[:BLOCK], "d")))
    elif kind == "link":
        notice = link_notice(tmp_path, link="../old.bin")
    elif kind == "rename":
        notice = link_notice(tmp_path, rename="old.bin")
    elif kind == "directory":
        notice = link_notice(tmp_path, directory="")
    placement = placed(out, "data/deeper/x.bin" if kind == "directory" else "data/x.bin")
    outcome = downloader(tmp_path).handle(notice, placement)
    assert outcome.status == "permanent", outcome
    assert "outside" in outcome.reason
    assert list(outside.iterdir()) == []
    assert (out / "old.bin").read_bytes() == b"to be renamed"


def test_a_removal_never_acts_through_a_symlink_out(tmp_path: Path, out: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.bin").write_bytes(PRECIOUS)
    (out / "data").rmdir()
    (out / "data").symlink_to(outside)
    outcome = downloader(tmp_path).handle(link_notice(tmp_path, remove=""), placed(out))
    assert outcome.status == "permanent" and "outside" in outcome.reason
    assert (outside / "x.bin").read_bytes() == PRECIOUS


def test_a_symlink_inside_the_tree_is_still_followed(tmp_path: Path, out: Path) -> None:
    """A link to a directory inside the tree (as link notices make) is established practice."""
    (out / "latest").symlink_to("data")
    outcome = downloader(tmp_path).handle(source_notice(tmp_path), placed(out, "latest/x.bin"))
    assert outcome.status == "done", outcome
    assert (out / "data" / "x.bin").read_bytes() == DATA


def test_a_removal_takes_the_link_itself_not_its_target(tmp_path: Path, out: Path) -> None:
    (out / "data" / "real.bin").write_bytes(b"stays")
    (out / "data" / "x.bin").symlink_to("real.bin")
    outcome = downloader(tmp_path).handle(link_notice(tmp_path, remove=""), placed(out))
    assert outcome.status == "done"
    assert not (out / "data" / "x.bin").is_symlink()
    assert (out / "data" / "real.bin").read_bytes() == b"stays"


def test_a_renamed_symlink_must_still_point_inside_from_its_new_place(
    tmp_path: Path, out: Path
) -> None:
    (out / "data" / "deep").mkdir()
    (out / "data" / "x.bin").write_bytes(DATA)
    (out / "data" / "deep" / "link").symlink_to("../x.bin")  # out/data/x.bin: inside
    notice = link_notice(tmp_path, rename="data/deep/link")
    outcome = downloader(tmp_path).handle(notice, placed(out, "moved"))  # ../x.bin from out/
    assert outcome.status == "permanent" and "outside" in outcome.reason
    assert (out / "data" / "deep" / "link").is_symlink()
    assert not (out / "moved").is_symlink()


def test_links_below_a_root_that_is_itself_a_symlink(tmp_path: Path, out: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(out)
    notice = link_notice(tmp_path, link="x.bin")
    outcome = downloader(tmp_path).handle(notice, Placement(alias, out / "data" / "latest"))
    assert outcome.status == "done", outcome
    assert os.readlink(out / "data" / "latest") == "x.bin"


def test_a_final_name_that_is_a_link_is_replaced_by_the_file(tmp_path: Path, out: Path) -> None:
    (out / "data" / "other.bin").write_bytes(b"the link's target stays")
    (out / "data" / "x.bin").symlink_to("other.bin")
    outcome = downloader(tmp_path, ("overwrite", "on")).handle(source_notice(tmp_path), placed(out))
    assert outcome.status == "done"
    assert not (out / "data" / "x.bin").is_symlink()
    assert (out / "data" / "x.bin").read_bytes() == DATA
    assert (out / "data" / "other.bin").read_bytes() == b"the link's target stays"


@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("what", ["beyond the end", "wrong checksum"])
def test_a_failing_part_leaves_no_state_or_work_file(
    tmp_path: Path, out: Path, inplace: bool, what: str
) -> None:
    notice = source_notice(tmp_path, b"short")
    if what == "beyond the end":  # a hostile cut: 3 blocks of 4 KiB of a 5-byte file
        notice.blocks = Blocks.from_parts(partition(3 * 4096, 4096)[1])
    else:
        notice.blocks = Blocks.from_parts(partition(12, 4)[0])
        notice.identity = identity_of(b"not this")
    outcome = downloader(tmp_path, ("inplace", str(inplace))).handle(notice, placed(out))
    assert outcome.status == "transient", outcome
    assert list((out / "data").iterdir()) == []


def test_a_failing_part_keeps_the_parts_already_recorded(tmp_path: Path, out: Path) -> None:
    data = os.urandom(3 * BLOCK)
    notice = source_notice(tmp_path, data)
    parts = partition(len(data), BLOCK)
    worker = downloader(tmp_path)
    notice.blocks = Blocks.from_parts(parts[0])
    notice.identity = identity_of(data[:BLOCK])
    assert worker.handle(notice, placed(out)).status == "done"
    notice.blocks = Blocks.from_parts(parts[1])
    notice.identity = identity_of(b"not this")
    assert worker.handle(notice, placed(out)).status == "transient"
    assert sorted(p.name for p in (out / "data").iterdir()) == [".x.bin.sarra-parts", "x.bin.tmp"]


@contextlib.contextmanager
def writes_cut_at(size: int) -> Iterator[None]:
    """Every file write past `size` bytes fails (EFBIG), as a full disk would fail it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_inflight_none_leaves_nothing_under_the_final_name_after_a_failure(
    tmp_path: Path, out: Path
) -> None:
    worker = downloader(tmp_path, ("inflight", "NONE"))
    notice = source_notice(tmp_path)
    with writes_cut_at(len(DATA) // 2):
        cut = worker.handle(notice, placed(out))
    assert cut.status == "transient" and "too large" in cut.reason, cut
    (tmp_path / "src" / "x.bin").unlink()  # gone at the source: fails before any byte
    gone = worker.handle(notice, placed(out))
    assert gone.status == "permanent", gone
    assert list((out / "data").iterdir()) == []


def test_inflight_none_replaces_a_short_file_left_by_a_crash(tmp_path: Path, out: Path) -> None:
    (out / "data" / "x.bin").write_bytes(DATA[:10])  # cut short by a kill -9
    worker = downloader(tmp_path, ("inflight", "NONE"))
    outcome = worker.handle(source_notice(tmp_path), placed(out))
    assert outcome.status == "done"
    assert (out / "data" / "x.bin").read_bytes() == DATA


def sender(tmp_path: Path, destination: Path, *options: tuple[str, str]) -> Sender:
    overrides = [("destination", f"file://{destination}"), ("base_dir", str(tmp_path)), *options]
    return Sender(load("sender", None, overrides=overrides), Credentials())


def test_a_sender_to_file_replaces_a_symlink_at_the_inflight_name(
    tmp_path: Path, out: Path, victim: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (out / "data" / "x.bin.tmp").symlink_to(victim)
    caplog.set_level(logging.WARNING)
    outcome = sender(tmp_path, out).handle(source_notice(tmp_path), placed(out))
    assert outcome.status == "done", outcome
    assert_untouched(victim)
    assert (out / "data" / "x.bin").read_bytes() == DATA
    assert not (out / "data" / "x.bin").is_symlink()
    assert len(symlink_warnings(caplog)) == 1


def test_a_sender_with_inflight_none_leaves_nothing_after_a_failure(
    tmp_path: Path, out: Path
) -> None:
    worker = sender(tmp_path, out, ("inflight", "NONE"))
    notice = source_notice(tmp_path)
    with writes_cut_at(len(DATA) // 2):
        outcome = worker.handle(notice, placed(out))
    assert outcome.status == "transient" and "too large" in outcome.reason, outcome
    assert list((out / "data").iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "link", "remove"])
def test_a_sender_to_file_refuses_a_directory_that_leads_out(
    tmp_path: Path, out: Path, kind: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.bin").write_bytes(PRECIOUS)
    (out / "data").rmdir()
    (out / "data").symlink_to(outside)  # names alone cannot see it
    notice = source_notice(tmp_path)
    if kind != "file":
        notice = link_notice(tmp_path, **({"link": "y.bin"} if kind == "link" else {"remove": ""}))
    outcome: Outcome = sender(tmp_path, out).handle(notice, placed(out))
    assert outcome.status == "permanent", outcome
    assert "data is a symlink to" in outcome.reason
    assert sorted(p.name for p in outside.iterdir()) == ["x.bin"]
    assert (outside / "x.bin").read_bytes() == PRECIOUS


def test_open_folder_walks_inside_links_and_refuses_those_out(tmp_path: Path) -> None:
    from sarra.transfer.safe_fs import open_folder

    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "in").symlink_to("a/b")
    (root / "abs").symlink_to(root / "a")
    (root / "out").symlink_to(tmp_path)
    (root / "a" / "up").symlink_to("../../..")
    with open_folder(root, root / "in" / "c") as folder:
        assert (root / "a" / "b" / "c").is_dir() and folder.path == root / "in" / "c"
    with open_folder(root, "abs/b", create=False):
        pass
    for hostile in ("out/x", "a/up/x", "../x", "in/../../../x"):
        with pytest.raises(ValueError, match="refused"):
            open_folder(root, hostile)
    assert not (tmp_path / "x").exists()


def test_a_tempdir_on_another_file_system_is_copied_across_never_through_a_symlink(
    tmp_path: Path, out: Path, victim: Path
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system for the tempdir")
    with tempfile.TemporaryDirectory(dir=shm) as tempdir:
        (out / "data" / ".x.bin.sarra-copy").symlink_to(victim)
        notice = source_notice(tmp_path)
        notice.mtime = epoch_to_time(1_600_000_000.0)
        outcome = downloader(tmp_path, ("tempdir", tempdir)).handle(notice, placed(out))
        assert outcome.status == "done", outcome
        assert os.listdir(tempdir) == []
    assert_untouched(victim)
    final = out / "data" / "x.bin"
    assert final.read_bytes() == DATA and not final.is_symlink()
    assert final.stat().st_mode & 0o777 == 0o640 and final.stat().st_mtime == 1_600_000_000.0
    assert sorted(p.name for p in (out / "data").iterdir()) == ["x.bin"]


def test_option_delete_never_removes_a_source_through_a_symlink_out(
    tmp_path: Path, out: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}_outside"  # outside base_dir (tmp_path)
    outside.mkdir()
    (outside / "x.bin").write_bytes(PRECIOUS)
    notice = source_notice(tmp_path)
    worker = downloader(tmp_path, ("delete", "on"))

    def swap(data: bytes) -> bytes:
        """While the file is copied, its source directory becomes a symlink that leads out."""
        if not (tmp_path / "src").is_symlink():
            (tmp_path / "src").rename(tmp_path / "moved")
            (tmp_path / "src").symlink_to(outside)
        return data

    worker.on_data = swap
    caplog.set_level(logging.WARNING)
    outcome = worker.handle(notice, placed(out))
    assert outcome.status == "done", outcome
    assert (outside / "x.bin").read_bytes() == PRECIOUS
    assert "source not deleted: refused" in caplog.text
