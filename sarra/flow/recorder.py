"""An instance's live figures, kept for the people watching it: rates and lags (of files in
place, and of notices received) over the last minutes, the state of its broker connections,
its queue's depth, its last file and last error.

A `Recorder` writes them into the instance's metrics file (sarra.flow.metrics) from a thread of
its own: every EVERY seconds, and at once when a connection changes state, so that `sr status`
tells of a refused login or a broker gone within moments, whatever the loop is busy with. The
component gives its counts through a callable (taken under its own lock); the recorder adds
the rest.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace

from sarra.broker.interface import QueueDepth
from sarra.broker.state import LinkState
from sarra.config.credentials import RedactingFilter
from sarra.flow import metrics
from sarra.flow.metrics import Metrics
from sarra.message.notice import time_to_epoch

WINDOW = 300.0
"""Seconds (the last minutes) that rates and lag are measured over."""

SAMPLES = 128
"""Most lags kept per EVERY seconds for the median (chosen at random when there are more)."""

ERROR_LENGTH = 300
"""Most characters of the last error kept."""


class RateWindow:
    """Rates of counters over the last `window` seconds, from samples taken as they go."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, tuple[float, ...]]] = deque()

    def add(self, now: float, values: tuple[float, ...]) -> tuple[float, list[float]]:
        """Take a sample; returns the seconds measured over and the rate of each counter."""
        samples = self._samples
        samples.append((now, values))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        then, old = samples[0]
        seconds = now - then
        if seconds <= 0:
            return 0.0, [0.0] * len(values)
        return seconds, [max(0.0, (v - o) / seconds) for v, o in zip(values, old, strict=True)]


class LagWindow:
    """How late files land over the last `window` seconds: the worst exactly, the median from a
    bounded random sample of each `bucket` seconds (so that memory stays small however many
    files go through)."""

    def __init__(
        self,
        window: float = WINDOW,
        bucket: float = metrics.EVERY,
        samples: int = SAMPLES,
        rng: random.Random | None = None,
    ) -> None:
        self.window = window
        self.bucket = bucket
        self.samples = samples
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        # (bucket start, worst, sampled lags, lags seen) per bucket, oldest first
        self._buckets: deque[tuple[float, list[float], list[float], list[int]]] = deque()

    def add(self, lag: float, now: float | None = None) -> None:
        """A file landed `lag` seconds after its notice's time (any thread)."""
        now = time.time() if now is None else now
        with self._lock:
            _, worst, sampled, seen = self._bucket(now, lag)
            worst[0] = max(worst[0], lag)
            seen[0] += 1
            if len(sampled) < self.samples:
                sampled.append(lag)
            else:  # reservoir sampling: every lag of the bucket equally likely to be kept
                slot = self._rng.randrange(seen[0])
                if slot < self.samples:
                    sampled[slot] = lag

    def add_times(self, times: Sequence[str], now: float) -> None:
        """Things of these times (v03 time strings, as decoded notices have them: their order
        as text is their order in time), all seen at `now` (any thread). The worst lag is that
        of the earliest, exactly; of the others only the lags the sample keeps are worked out
        (a batch of notices costs a comparison each, not a reading of its time). A text that is
        no time is counted, never sampled; when it sorts first, each time is read and it is
        left out."""
        if not times:
            return
        earliest = _lag(min(times), now)
        if earliest is None:  # not a time as decoded notices have them: each read
            for text in times:
                lag = _lag(text, now)
                if lag is not None:
                    self.add(lag, now)
            return
        samples, draw = self.samples, self._rng.random
        with self._lock:
            _, worst, sampled, seen = self._bucket(now, earliest)
            worst[0] = max(worst[0], earliest)
            first = seen[0] + 1
            seen[0] += len(times)
            for number, text in enumerate(times, first):  # reservoir sampling, as in add
                if len(sampled) < samples:
                    lag = _lag(text, now)
                    if lag is not None:
                        sampled.append(lag)
                elif draw() * number < samples:
                    lag = _lag(text, now)
                    if lag is not None:
                        sampled[int(draw() * samples)] = lag

    def _bucket(self, now: float, lag: float) -> tuple[float, list[float], list[float], list[int]]:
        """The bucket of `now` (a new one, its worst `lag`, when the last is over)."""
        buckets = self._buckets
        if not buckets or now - buckets[-1][0] >= self.bucket:
            buckets.append((now, [lag], [], [0]))
        return buckets[-1]

    def figures(self, now: float | None = None) -> tuple[float | None, float | None, int]:
        """The median and the worst lag of the window, and how many files it saw."""
        now = time.time() if now is None else now
        with self._lock:
            buckets = self._buckets
            while buckets and now - buckets[0][0] >= self.window:
                buckets.popleft()
            if not buckets:
                return None, None, 0
            worst = max(b[1][0] for b in buckets)
            count = sum(b[3][0] for b in buckets)
            weighted = sorted(
                (lag, b[3][0] / len(b[2])) for b in buckets for lag in b[2]
            )  # each sample stands for seen/len(sampled) files of its bucket
        half, total = count / 2, 0.0
        median = weighted[-1][0]
        for lag, weight in weighted:
            total += weight
            if total >= half:
                median = lag
                break
        return median, worst, count


def _lag(time_text: str, now: float) -> float | None:
    """Seconds from a time string to `now`; None when it is no time."""
    try:
        return now - time_to_epoch(time_text)
    except (ValueError, TypeError):
        return None


class LastError(logging.Handler):
    """Keeps the last record logged at ERROR or above in this process (without password)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.addFilter(RedactingFilter())
        self.text = ""
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split())
        self.text = text[:ERROR_LENGTH]
        self.at = record.created


class Recorder:
    """Writes one instance's figures (instance 0, in the foreground, writes none)."""

    def __init__(
        self, component: str, config: str, number: int, figures: Callable[[], Metrics]
    ) -> None:
        """`figures()` gives the counts, bytes, retry length, verb, last_done and started of
        the instance, from any thread."""
        self.component = component
        self.config = config
        self.number = number
        self._figures = figures
        self._links: dict[str, LinkState] = {}
        self._queue = ""
        self._depth: Callable[[], QueueDepth | None] | None = None
        self._rates = RateWindow()
        self.lags = LagWindow()
        self.notice_lags = LagWindow()
        self._last_file = ""
        self._errors = LastError()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, role: str, state: LinkState) -> None:
        """Report this connection (consumer, publisher, reporter) and write at each change."""
        self._links[role] = state
        state.on_change(self._wake.set)
        self._wake.set()

    def queue(self, name: str, depth: Callable[[], QueueDepth | None]) -> None:
        """Report the queue consumed and its depth, as `depth()` gives it."""
        self._queue = name
        self._depth = depth

    def landed(self, name: str, lag: float | None = None) -> None:
        """A file was handled (its path, or URL without password), `lag` seconds after its
        notice's time when known (any thread)."""
        self._last_file = name
        if lag is not None:
            self.lags.add(lag)

    def received(self, pubtimes: Sequence[str], now: float) -> None:
        """Notices of these pubtimes were received together at `now` (any thread)."""
        self.notice_lags.add_times(pubtimes, now)

    def start(self) -> Recorder:
        """Write now, then from a thread of its own until `close()`."""
        if not self.number or self._thread is not None:
            return self
        logging.getLogger().addHandler(self._errors)
        self._write()
        name = f"figures {self.config}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and write a last time."""
        if self._thread is None:
            return
        self._closed.set()
        self._wake.set()
        self._thread.join(10)
        self._thread = None
        logging.getLogger().removeHandler(self._errors)
        self._write()

    def snapshot(self, now: float | None = None) -> Metrics:
        """The figures now (taking a sample for the rates: once per write)."""
        now = time.time() if now is None else now
        figures = self._figures()
        received = figures.counts.get("received", 0)
        done = figures.counts.get(figures.done, 0)
        window, rates = self._rates.add(now, (received, done, figures.bytes))
        median, worst, count = self.lags.figures(now)
        notice_median, notice_worst, notices = self.notice_lags.figures(now)
        depth = self._depth() if self._depth is not None else None
        return replace(
            figures,
            links={role: state.snapshot() for role, state in self._links.items()},
            queue=self._queue,
            queue_depth=depth.messages if depth else None,
            queue_depth_at=depth.at if depth else None,
            window=window,
            received_rate=rates[0],
            done_rate=rates[1],
            bytes_rate=rates[2],
            lag_median=median,
            lag_max=worst,
            lag_files=count,
            notice_lag_median=notice_median,
            notice_lag_max=notice_worst,
            lag_notices=notices,
            last_file=self._last_file or figures.last_file,
            last_error=self._errors.text,
            last_error_at=self._errors.at,
        )

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(metrics.EVERY)
            self._wake.clear()
            if not self._closed.is_set():
                self._write()

    def _write(self) -> None:
        with self._write_lock:
            try:
                figures = self.snapshot()
            except Exception:  # the figures are never worth an instance's life
                logging.getLogger(__name__).exception("figures not written")
                return
            metrics.write(self.component, self.config, self.number, figures)
