"""The figures line of `sr status`: what the running instances did together."""

from __future__ import annotations

from pathlib import Path

from sarra.flow import metrics
from sarra.flow.metrics import Metrics


def test_summary_adds_the_instances_up_and_says_how_old_it_is() -> None:
    now = 1_000_000.0
    first = Metrics({"received": 10, "downloaded": 8, "failed": 2}, bytes=8 << 20, retry=2,
                    last_done=now - 30, written=now - 3)  # fmt: skip
    second = Metrics({"received": 5, "downloaded": 5, "rejected": 0}, bytes=5 << 20, retry=0,
                     last_done=now - 400, written=now - 4)  # fmt: skip
    assert metrics.summary([first, second], now) == (
        "downloaded 13 (13.0 MiB), received 15, failed 2; 2 in the retry queue;"
        " last downloaded 30 s ago (figures since start, 4 s old)"
    )


def test_nothing_written_says_nothing(sarra_home: Path) -> None:
    assert metrics.summary(metrics.read("subscribe", "never", [1, 2])) is None


def test_written_figures_read_back(sarra_home: Path) -> None:
    metrics.metrics_file("sender", "out", 1).parent.mkdir(parents=True)
    metrics.write("sender", "out", 1, Metrics({"sent": 1}, bytes=10, done="sent"))
    (found,) = metrics.read("sender", "out", [1, 2])
    assert (found.counts, found.done, found.last_done) == ({"sent": 1}, "sent", None)
    summary = metrics.summary([found])
    assert summary is not None and summary.startswith("sent 1 (10 Bytes); 0 in the retry queue")


def test_passive_instances_say_why_they_wait() -> None:
    now = 1_000_000.0
    waiting = Metrics(passive="passive: vip 10.0.0.5 not on this host", written=now - 180)
    assert metrics.summary([waiting, waiting], now) == (
        "passive: vip 10.0.0.5 not on this host (for 3 min)"
    )
