"""The figures file of an instance: written whole, read back by any version of sarra."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sarra.broker.state import LinkStatus
from sarra.flow import metrics
from sarra.flow.metrics import Metrics


def test_written_figures_read_back(sarra_home: Path) -> None:
    metrics.metrics_file("sender", "out", 1).parent.mkdir(parents=True)
    link = LinkStatus("amqp://feeder@broker:5672/", "refused", "(403) ACCESS_REFUSED", 5.0, 3)
    written = Metrics({"sent": 1}, bytes=10, done="sent", links={"consumer": link},
                      queue="q_feeder.x", queue_depth=12, lag_median=1.5)  # fmt: skip
    metrics.write("sender", "out", 1, written)
    (found,) = metrics.read("sender", "out", [1, 2])
    assert found == written
    assert found.pid == os.getpid() and found.links["consumer"].reason == "(403) ACCESS_REFUSED"


def test_a_file_of_an_older_version_reads_with_defaults(sarra_home: Path) -> None:
    path = metrics.metrics_file("subscribe", "old", 1)
    path.parent.mkdir(parents=True)
    older = {"counts": {"downloaded": 3}, "bytes": 30, "retry": 1, "done": "downloaded",
             "last_done": 100.0, "started": 50.0, "written": 120.0, "passive": ""}  # fmt: skip
    path.write_text(json.dumps(older))
    (found,) = metrics.read("subscribe", "old", [1])
    assert (found.counts, found.retry, found.links) == ({"downloaded": 3}, 1, {})
    assert found.queue_depth is None and found.lag_median is None


def test_fields_of_a_newer_version_are_ignored(sarra_home: Path) -> None:
    path = metrics.metrics_file("subscribe", "new", 1)
    path.parent.mkdir(parents=True)
    link = {"broker": "b", "state": "connected", "colour": "green"}
    newer = {"counts": {"received": 2}, "some_future_field": [1, 2], "links": {"consumer": link}}
    path.write_text(json.dumps(newer))
    (found,) = metrics.read("subscribe", "new", [1])
    assert found.counts == {"received": 2} and found.links["consumer"].state == "connected"


def test_unreadable_or_absent_files_are_left_out(sarra_home: Path) -> None:
    path = metrics.metrics_file("subscribe", "bad", 1)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    metrics.metrics_file("subscribe", "bad", 2).write_text('["a list"]')
    assert metrics.read("subscribe", "bad", [1, 2, 3]) == []
