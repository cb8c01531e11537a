"""An instance's live figures: rates and lag over the last minutes, its last error, and the
state of its connections written at once when it changes."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import pytest
from pika import exceptions as pika_exceptions

from sarra.broker.errors import describe, refused_by_broker
from sarra.broker.state import CONNECTED, CONNECTING, REFUSED, UNREACHABLE, LinkState, LinkStatus
from sarra.flow import metrics
from sarra.flow.metrics import Metrics
from sarra.flow.recorder import LagWindow, LastError, RateWindow, Recorder
from sarra.message.notice import epoch_to_time, time_to_epoch


def test_rates_are_over_the_window() -> None:
    window = RateWindow(window=60)
    assert window.add(0.0, (0, 0)) == (0.0, [0.0, 0.0])
    assert window.add(10.0, (100, 50)) == (10.0, [10.0, 5.0])
    for second in range(20, 200, 10):  # 1 notice a second from here on
        seconds, rates = window.add(float(second), (100 + second - 10, 50))
    assert seconds <= 70 and rates == [1.0, 0.0]


def test_lag_median_and_worst_over_the_window() -> None:
    lags = LagWindow(window=60, bucket=5, samples=8)
    for lag in (1.0, 2.0, 3.0, 4.0, 100.0):
        lags.add(lag, now=1000.0)
    assert lags.figures(now=1001.0) == (3.0, 100.0, 5)
    assert lags.figures(now=1061.0) == (None, None, 0)  # gone out of the window


def test_lag_memory_stays_bounded_however_many_files() -> None:
    lags = LagWindow(window=60, bucket=5, samples=64, rng=random.Random(7))
    for number in range(10_000):  # lags of 0 to 99 s, evenly: the median is about 50
        lags.add(float(number % 100), now=1000.0 + number / 1000)
    median, worst, count = lags.figures(now=1010.0)
    assert median is not None and 35 <= median <= 65
    assert (worst, count) == (99.0, 10_000)
    assert all(len(bucket[2]) <= 64 for bucket in lags._buckets)


def test_a_batch_of_notices_gives_the_worst_lag_exactly_and_a_fair_sample() -> None:
    lags = LagWindow(window=60, bucket=5, samples=64, rng=random.Random(7))
    now = time_to_epoch("20240101T000200")
    for start in range(0, 10_000, 500):  # lags of 0 to 99.9 s, evenly, in batches of 500
        times = [epoch_to_time(now - (n % 1000) / 10) for n in range(start, start + 500)]
        lags.add_times(times, now)
    median, worst, count = lags.figures(now=now + 1)
    assert median is not None and 35 <= median <= 65
    assert (worst, count) == (pytest.approx(99.9), 10_000)
    assert len(lags._buckets[0][2]) == 64
    lags.add_times(["not a time", epoch_to_time(now - 500)], now)  # counted, not sampled
    assert lags.figures(now=now + 1)[1:] == (pytest.approx(500), 10_002)
    lags.add_times(["0", epoch_to_time(now - 600)], now)  # the earliest no time: each read
    assert lags.figures(now=now + 1)[1:] == (pytest.approx(600), 10_003)


def test_the_last_error_is_kept_without_its_password() -> None:
    caught = LastError()
    logger = logging.getLogger("test.recorder")
    logger.addHandler(caught)
    try:
        logger.warning("not an error")
        logger.error("failed http://me:secret@host/x: 503")
    finally:
        logger.removeHandler(caught)
    assert caught.text == "failed http://me:***@host/x: 503" and caught.at is not None


def test_a_connection_refused_reaches_the_file_at_once(sarra_home: Path) -> None:
    metrics.metrics_file("subscribe", "feed", 1).parent.mkdir(parents=True)
    link = LinkState("amqp://nobody@127.0.0.1:5672/")
    recorder = Recorder("subscribe", "feed", 1, lambda: Metrics({"received": 0}))
    recorder.watch("consumer", link)
    recorder.start()
    try:
        assert _written_link("feed").state == CONNECTING
        refusal = pika_exceptions.ProbableAuthenticationError("ConnectionClosedByBroker: (403)")
        link.failed(link.snapshot().broker, refused_by_broker(refusal), describe(refusal))
        deadline = time.monotonic() + metrics.EVERY / 2  # well before the periodic write
        while _written_link("feed").state != REFUSED:
            assert time.monotonic() < deadline, "the refusal was not written at once"
            time.sleep(0.01)
        assert "Login was refused" in _written_link("feed").reason
    finally:
        recorder.close()


def test_instance_0_in_the_foreground_writes_nothing(sarra_home: Path) -> None:
    recorder = Recorder("subscribe", "fg", 0, Metrics).start()
    recorder.close()
    assert metrics.read("subscribe", "fg", [0]) == []


def test_link_state_keeps_when_it_went_down() -> None:
    link = LinkState("amqp://b/")
    link.connected("amqp://b/")
    link.failed("amqp://b/", False, "Connection refused")
    down = link.snapshot()
    link.failed("amqp://b/", True, "(403) ACCESS_REFUSED")
    again = link.snapshot()
    assert (down.state, again.state, again.since, again.failures) == (
        UNREACHABLE,
        REFUSED,
        down.since,
        2,
    )
    link.connected("amqp://b/")
    assert link.snapshot().state == CONNECTED and link.snapshot().failures == 0


def test_which_failures_are_the_broker_saying_no() -> None:
    closed = pika_exceptions.ConnectionClosedByBroker
    assert refused_by_broker(closed(530, "NOT_ALLOWED - vhost x not found"))
    assert refused_by_broker(pika_exceptions.ChannelClosedByBroker(404, "NOT_FOUND - no exchange"))
    assert not refused_by_broker(closed(320, "CONNECTION_FORCED - broker forced connection"))
    assert not refused_by_broker(ConnectionRefusedError(111, "Connection refused"))
    assert not refused_by_broker(pika_exceptions.AMQPHeartbeatTimeout("no heartbeat"))


def _written_link(config: str) -> LinkStatus:
    (found,) = metrics.read("subscribe", config, [1])
    return found.links["consumer"]
