"""Files in parts, without a broker: Downloader.fetch is given file: notices of parts, in any
order, from several threads, twice over; the file appears whole under its final name only when
every part is here and verified, and a changed file moves only its changed parts."""

from __future__ import annotations

import dataclasses
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.flow import connections
from sarra.flow.download import Downloader, Outcome
from sarra.flow.placement import Placement
from sarra.integrity.checksum import checksum_file, hex_to_b64
from sarra.integrity.parts import partition
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time

BLOCK = 4096
SIZE = 10 * BLOCK + 123  # 11 parts, the last one short
MTIME = 1_600_000_000.0


class Recording:
    """A transfer that notes the offset of every get, and may pretend it cannot do ranges."""

    def __init__(self, transfer: Any, offsets: list[int], ranges: bool) -> None:
        self.transfer = transfer
        self.offsets = offsets
        if not ranges:
            self.capabilities = frozenset({"get"})

    def get(self, path: str, file: BinaryIO, offset: int = 0, length: int | None = None) -> int:
        self.offsets.append(offset)
        return self.transfer.get(path, file, offset, length)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transfer, name)


def record_transfers(monkeypatch: pytest.MonkeyPatch, ranges: bool = True) -> list[int]:
    """Make every Downloader of the test use Recording transfers; the offsets they fetch."""
    offsets: list[int] = []
    real = connections.open_transfer

    def opened(*args: Any, **kwargs: Any) -> Recording:
        return Recording(real(*args, **kwargs), offsets, ranges)

    monkeypatch.setattr(connections, "open_transfer", opened)
    return offsets


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The offsets fetched by every Downloader made in the test."""
    return record_transfers(monkeypatch)


def downloader(tmp_path: Path, inplace: bool, *options: tuple[str, str]) -> Downloader:
    overrides = [
        ("inplace", str(inplace)),
        ("directory", str(tmp_path / "out")),
        ("base_dir", str(tmp_path)),
        *options,
    ]
    return Downloader(load("subscribe", None, overrides=overrides), Credentials())


def source_file(tmp_path: Path, data: bytes) -> Path:
    source = tmp_path / "src" / "big.dat"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return source


def part_notices(source: Path, method: str = "i") -> list[Notice]:
    """One notice per block of the source file, each with the md5 of its block."""
    notices = []
    for part in partition(source.stat().st_size, BLOCK, method):
        digest = checksum_file(source, "d", part.offset, part.length)
        notices.append(
            Notice(
                epoch_to_time(time.time()),
                "file:",
                str(source),
                identity=Identity("md5", hex_to_b64(digest)),
                size=part.length,
                blocks=Blocks.from_parts(part),
                mtime=epoch_to_time(source.stat().st_mtime),
                mode="640",
            )
        )
    return notices


def placement(tmp_path: Path) -> Placement:
    root = tmp_path / "out"
    return Placement(root, root / "big.dat")


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != "big.dat")


@pytest.fixture
def data() -> bytes:
    return os.urandom(SIZE)


@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("order", ["forward", "reversed", "shuffled"])
def test_parts_in_any_order_make_the_file_only_when_all_are_here(
    tmp_path: Path, data: bytes, inplace: bool, order: str
) -> None:
    source = source_file(tmp_path, data)
    os.utime(source, (MTIME, MTIME))
    notices = part_notices(source)
    if order == "reversed":
        notices.reverse()
    elif order == "shuffled":
        random.Random(4).shuffle(notices)
    worker, place = downloader(tmp_path, inplace), placement(tmp_path)
    outcomes = []
    for notice in notices:
        assert not place.path.exists(), "the final name appeared before the last part"
        outcomes.append(worker.handle(notice, place))
    assert [o.status for o in outcomes] == ["done"] * len(notices), outcomes
    assert "file complete" in outcomes[-1].reason
    assert all("file complete" not in o.reason for o in outcomes[:-1])
    assert sum(o.size for o in outcomes) == SIZE
    assert place.path.read_bytes() == data
    assert place.path.stat().st_mode & 0o777 == 0o640
    assert place.path.stat().st_mtime == MTIME
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("inplace", [True, False])
def test_part_files_or_the_work_file_hold_the_parts_until_the_end(
    tmp_path: Path, data: bytes, inplace: bool
) -> None:
    notices = part_notices(source_file(tmp_path, data))
    worker, place = downloader(tmp_path, inplace), placement(tmp_path)
    for notice in notices[:3]:
        assert worker.handle(notice, place).reason.endswith(f"of {len(notices)} parts here")
    kept = leftovers(tmp_path)
    if inplace:
        assert kept == [".big.dat.sarra-parts", "big.dat.tmp"]
    else:
        assert kept == [".big.dat.sarra-parts"] + [
            f"big.dat.{BLOCK}.11.{n}.d.Part" for n in range(3)
        ]


@pytest.mark.parametrize("inplace", [True, False])
def test_parts_from_several_threads_twice_over(tmp_path: Path, data: bytes, inplace: bool) -> None:
    notices = part_notices(source_file(tmp_path, data)) * 2
    random.Random(7).shuffle(notices)
    worker, place = downloader(tmp_path, inplace), placement(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda n: worker.handle(n, place), notices))
    statuses = sorted(o.status for o in outcomes)
    assert statuses == ["done"] * 11 + ["skipped"] * 11, outcomes
    assert sum("file complete" in o.reason for o in outcomes) == 1
    assert place.path.read_bytes() == data
    assert leftovers(tmp_path) == []


def test_a_part_redelivered_after_the_file_is_complete_is_skipped(
    tmp_path: Path, data: bytes, fetched: list[int]
) -> None:
    notices = part_notices(source_file(tmp_path, data))
    worker, place = downloader(tmp_path, True), placement(tmp_path)
    for notice in notices:
        worker.handle(notice, place)
    again = worker.handle(notices[4], place)
    assert again.status == "skipped" and "this version" in again.reason
    assert len(fetched) == len(notices)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("inplace", [True, False])
def test_a_part_corrupted_at_the_source_is_refused_then_fetched_again(
    tmp_path: Path, data: bytes, inplace: bool
) -> None:
    source = source_file(tmp_path, data)
    notices = part_notices(source)
    worker, place = downloader(tmp_path, inplace), placement(tmp_path)
    for notice in notices[:-1]:
        worker.handle(notice, place)
    spoiled = bytearray(data)
    spoiled[-5] ^= 0xFF
    source.write_bytes(spoiled)
    refused = worker.handle(notices[-1], place)
    assert refused.status == "transient" and "checksum" in refused.reason
    assert not place.path.exists()
    source.write_bytes(data)
    assert worker.handle(notices[-1], place).status == "done"
    assert place.path.read_bytes() == data


@pytest.mark.parametrize("inplace", [True, False])
def test_a_changed_file_moves_only_its_changed_part(
    tmp_path: Path, data: bytes, inplace: bool, fetched: list[int]
) -> None:
    source = source_file(tmp_path, data)
    worker, place = downloader(tmp_path, inplace), placement(tmp_path)
    for notice in part_notices(source):
        worker.handle(notice, place)
    changed = bytearray(data)
    changed[5 * BLOCK + 10 : 5 * BLOCK + 20] = os.urandom(10)
    source.write_bytes(changed)
    os.utime(source, (MTIME + 60, MTIME + 60))
    fetched.clear()
    outcomes = [worker.handle(n, place) for n in reversed(part_notices(source))]
    assert fetched == [5 * BLOCK]
    assert sorted(o.status for o in outcomes) == ["done"] + ["skipped"] * 10, outcomes
    assert "file complete" in outcomes[-1].reason
    assert place.path.read_bytes() == changed
    assert place.path.stat().st_mtime == MTIME + 60
    assert leftovers(tmp_path) == []


def test_the_old_file_stays_whole_until_the_changed_file_is(tmp_path: Path, data: bytes) -> None:
    source = source_file(tmp_path, data)
    worker, place = downloader(tmp_path, True), placement(tmp_path)
    for notice in part_notices(source):
        worker.handle(notice, place)
    changed = bytes(reversed(data))
    source.write_bytes(changed)
    os.utime(source, (MTIME, MTIME))
    notices = part_notices(source)
    for notice in notices[:-1]:
        worker.handle(notice, place)
        assert place.path.read_bytes() == data
    worker.handle(notices[-1], place)
    assert place.path.read_bytes() == changed


@pytest.mark.parametrize("inplace", [True, False])
def test_a_file_changed_while_its_parts_come_is_never_a_mix_of_two_versions(
    tmp_path: Path, data: bytes, inplace: bool
) -> None:
    """All parts but the last are here when the source changes (its first two blocks): once
    a part of the new version is here, the old version's last part (its block unchanged)
    does not complete the file with the old first block; the new version's parts do."""
    source = source_file(tmp_path, data)
    old = part_notices(source)
    worker, place = downloader(tmp_path, inplace), placement(tmp_path)
    for notice in old[:-1]:
        assert worker.handle(notice, place).status == "done"
    changed, later = os.urandom(2 * BLOCK) + data[2 * BLOCK :], source.stat().st_mtime + 60
    source.write_bytes(changed)
    os.utime(source, (later, later))
    new = part_notices(source)
    assert worker.handle(new[1], place).status == "done"
    late = worker.handle(old[-1], place)
    assert late.status == "skipped" and "older version" in late.reason, late
    assert not place.path.exists()
    outcomes = [worker.handle(n, place) for n in new]
    assert "file complete" in outcomes[-1].reason, outcomes
    assert place.path.read_bytes() == changed
    assert leftovers(tmp_path) == []


def test_a_file_that_grew_is_cut_anew(tmp_path: Path, data: bytes, fetched: list[int]) -> None:
    source = source_file(tmp_path, data)
    worker, place = downloader(tmp_path, False), placement(tmp_path)
    for notice in part_notices(source):
        worker.handle(notice, place)
    grown = data + os.urandom(BLOCK)
    source.write_bytes(grown)
    fetched.clear()
    for notice in part_notices(source):
        worker.handle(notice, place)
    assert place.path.read_bytes() == grown
    assert fetched == [10 * BLOCK, 11 * BLOCK]  # the short last block, and the new one
    assert leftovers(tmp_path) == []


def sr3_v02(notice: Notice) -> Notice:
    """The notice as read from sr3's v02 parts: a block other than the last does not tell the
    remainder (sr3 writes the block's length in its place)."""
    blocks = notice.blocks
    assert blocks is not None
    if blocks.number == blocks.count - 1:
        return notice
    return dataclasses.replace(
        notice, blocks=dataclasses.replace(blocks, remainder=None, unchecked=True)
    )


@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("last", [0, 5, 10])
def test_parts_that_do_not_tell_the_remainder_until_the_last(
    tmp_path: Path, data: bytes, inplace: bool, last: int
) -> None:
    notices = [sr3_v02(n) for n in part_notices(source_file(tmp_path, data))]
    notices.insert(last, notices.pop())  # the last block comes at the start, middle or end
    place = placement(tmp_path)
    outcomes = [downloader(tmp_path, inplace).handle(n, place) for n in notices[:7]]
    state = (tmp_path / "out" / ".big.dat.sarra-parts").read_text()  # a restart, then the rest
    outcomes += [downloader(tmp_path, inplace).handle(n, place) for n in notices[7:]]
    assert [o.status for o in outcomes] == ["done"] * 11, outcomes
    layouts = [line for line in state.splitlines() if line.startswith("layout")]
    told = [f"layout {BLOCK} 11 {SIZE % BLOCK}"]
    assert (
        layouts == {0: told, 5: [f"layout {BLOCK} 11 ?", *told], 10: [f"layout {BLOCK} 11 ?"]}[last]
    )
    assert "file complete" in outcomes[-1].reason
    assert place.path.read_bytes() == data
    assert leftovers(tmp_path) == []


def test_sr3_s_parts_are_taken_as_fetched(tmp_path: Path, data: bytes) -> None:
    # sr3 3.3.1 sums a block from its offset to past its end: not the block's checksum
    notices = [
        dataclasses.replace(
            n,
            identity=Identity("md5", hex_to_b64("0" * 32)),
            blocks=dataclasses.replace(n.blocks, unchecked=True),  # type: ignore[arg-type]
        )
        for n in part_notices(source_file(tmp_path, data))
    ]
    worker, place = downloader(tmp_path, False), placement(tmp_path)
    outcomes = [worker.handle(n, place) for n in notices]
    assert [o.status for o in outcomes] == ["done"] * 11, outcomes
    assert "nothing to verify" in outcomes[0].reason
    assert place.path.read_bytes() == data
    assert leftovers(tmp_path) == []


def test_a_restart_resumes_from_the_files_on_disk(
    tmp_path: Path, data: bytes, fetched: list[int]
) -> None:
    notices = part_notices(source_file(tmp_path, data))
    place = placement(tmp_path)
    first = downloader(tmp_path, True)
    for notice in notices[:6]:
        first.handle(notice, place)
    fetched.clear()
    second = downloader(tmp_path, True)  # a new process: only the disk remembers
    redelivered = second.handle(notices[5], place)
    assert redelivered.status == "skipped" and "already here" in redelivered.reason
    for notice in notices[6:]:
        second.handle(notice, place)
    assert fetched == [n.blocks.to_parts().offset for n in notices[6:]]  # type: ignore[union-attr]
    assert place.path.read_bytes() == data


def test_a_part_spoiled_on_disk_is_dropped_not_published(tmp_path: Path, data: bytes) -> None:
    notices = part_notices(source_file(tmp_path, data))
    worker, place = downloader(tmp_path, True), placement(tmp_path)
    for notice in notices[:-1]:
        worker.handle(notice, place)
    with open(tmp_path / "out" / "big.dat.tmp", "r+b") as work:
        work.write(b"spoiled")
    last = worker.handle(notices[-1], place)
    assert last.status == "done" and "no longer match" in last.reason
    assert not place.path.exists()
    assert worker.handle(notices[0], place).status == "done"  # announced again: fetched
    assert place.path.read_bytes() == data


def test_inflight_none_still_assembles_under_a_hidden_name(tmp_path: Path, data: bytes) -> None:
    notices = part_notices(source_file(tmp_path, data))
    worker, place = downloader(tmp_path, True, ("inflight", "NONE")), placement(tmp_path)
    worker.handle(notices[0], place)
    assert leftovers(tmp_path) == [".big.dat.sarra-parts", ".big.dat.sarra-work"]
    assert not place.path.exists()


def test_a_scheme_without_ranges_is_permanent(
    tmp_path: Path, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_transfers(monkeypatch, ranges=False)
    notices = part_notices(source_file(tmp_path, data))
    outcome = downloader(tmp_path, True).handle(notices[0], placement(tmp_path))
    assert outcome.status == "permanent" and "cannot fetch a byte range" in outcome.reason


def test_parts_without_a_data_checksum_are_permanent(tmp_path: Path, data: bytes) -> None:
    notice = part_notices(source_file(tmp_path, data))[0]
    notice.identity = Identity("random", "1234")
    outcome: Outcome = downloader(tmp_path, True).handle(notice, placement(tmp_path))
    assert outcome.status == "permanent" and "md5 or sha512" in outcome.reason


def test_workers_of_one_file_do_not_wait_for_each_others_downloads(
    tmp_path: Path, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two parts are in flight at once: writing in place shares the work file."""
    both = threading.Barrier(2, timeout=10)
    real = connections.open_transfer

    class Slow(Recording):
        def get(self, path: str, file: BinaryIO, offset: int = 0, length: int | None = None) -> int:
            both.wait()
            return super().get(path, file, offset, length)

    monkeypatch.setattr(connections, "open_transfer", lambda *a, **k: Slow(real(*a, **k), [], True))
    notices = part_notices(source_file(tmp_path, data))[:2]
    worker, place = downloader(tmp_path, True), placement(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda n: worker.handle(n, place), notices))
    assert [o.status for o in outcomes] == ["done", "done"]


def test_a_state_line_cut_short_by_a_crash_is_forgotten(tmp_path: Path, data: bytes) -> None:
    notices = part_notices(source_file(tmp_path, data))
    worker, place = downloader(tmp_path, True), placement(tmp_path)
    for notice in notices[:-1]:
        worker.handle(notice, place)
    with open(tmp_path / "out" / ".big.dat.sarra-parts", "a") as state:
        state.write("have 10 wo")  # the crash came mid-line, before the part was acknowledged
    assert worker.handle(notices[-1], place).status == "done"
    assert place.path.read_bytes() == data
