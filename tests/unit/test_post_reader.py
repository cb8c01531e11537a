"""sr_post's reader process: outcomes come back in order and equal to those made in process;
if the process is lost, the files it did not answer for are prepared in process, each once."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from sarra.components.post_reader import BATCH, Posted, Preparer, Reader, Skipped
from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.flow.announce import Announcer, walk
from sarra.flow.publish import NoticePublisher


def preparer(tmp_path: Path) -> Preparer:
    path = tmp_path / "reader.conf"
    path.write_text("post_broker amqp://guest:guest@127.0.0.1/\npost_exchange xreader\nsum s\n")
    config = load("post", path)
    return Preparer(Announcer(config), NoticePublisher(config, Credentials()))


def files(root: Path, count: int) -> list[tuple[str, os.stat_result]]:
    for number in range(count):
        path = root / f"d{number % 3}" / f"f{number:04d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(50))
    return list(walk(str(root)))


def comparable(outcome: object) -> object:
    """An outcome without its pubtime (the time it was prepared)."""
    if isinstance(outcome, Posted):
        return outcome.url, outcome.size, outcome.what, [m.headers for m in outcome.messages]
    return outcome


def test_outcomes_come_in_order_as_made_in_process(tmp_path: Path) -> None:
    found = files(tmp_path / "tree", 2 * BATCH + 7)
    gone = str(tmp_path / "gone")
    found.insert(5, (gone, found[0][1]))
    prepare = preparer(tmp_path)
    reader = Reader(prepare)
    try:
        outcomes = list(reader.read(iter(found)))
    finally:
        reader.close()
    assert [comparable(o) for o in outcomes] == [comparable(prepare(p, st)) for p, st in found]
    assert outcomes[5] == Skipped(logging.WARNING, f"skipped {gone}: it vanished")
    assert all(isinstance(o, Posted) for i, o in enumerate(outcomes) if i != 5)


def test_a_lost_reader_leaves_the_rest_to_this_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    found = files(tmp_path / "tree", 5 * BATCH)
    reader = Reader(preparer(tmp_path))
    outcomes = []
    try:
        for outcome in reader.read(iter(found)):
            if not outcomes:
                assert reader.pid is not None
                os.kill(reader.pid, signal.SIGKILL)
            outcomes.append(outcome)
    finally:
        reader.close()
    urls = [o.url for o in outcomes if isinstance(o, Posted)]
    assert urls == [f"file:{path}" for path, _ in found]  # each once, in order
    assert "the reader process is lost" in caplog.text


def test_a_read_abandoned_midway_leaves_the_next_one_right(tmp_path: Path) -> None:
    found = files(tmp_path / "tree", 3 * BATCH)
    reader = Reader(preparer(tmp_path))
    try:
        abandoned = reader.read(iter(found))
        next(abandoned)
        abandoned.close()
        urls = [o.url for o in reader.read(iter(found[:3])) if isinstance(o, Posted)]
    finally:
        reader.close()
    assert urls == [f"file:{path}" for path, _ in found[:3]]
