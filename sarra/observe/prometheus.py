"""The status records (sarra.observe.status) as Prometheus metrics: one custom collector, read
afresh at each scrape from the files the instances write, so that the instances themselves
never touch prometheus_client (and no multiprocess mode is needed).

Series are labelled component, config (and instance for an instance's own). Counters are the
instance's own since it started (a restart resets them, as Prometheus expects of a counter);
an instance whose figures are stale, or whose process is gone, has its state and nothing else.
The names are listed in docs/operations.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from sarra.broker import state as link_state
from sarra.observe.status import STATES, ConfigStatus

FRESH = frozenset({"running", "passive", "connecting", "refused", "unreachable"})
"""Instance states whose figures are current: their counters and gauges are exported."""


class StatusCollector(Collector):
    """Yields the metrics of every config `source()` gives, at each scrape."""

    def __init__(self, source: Callable[[], list[ConfigStatus]]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        statuses = self.source()
        now = time.time()
        yield from _config_families(statuses)
        yield from _instance_families(statuses, now)


def registry(source: Callable[[], list[ConfigStatus]]) -> CollectorRegistry:
    """A registry holding only the status collector."""
    found = CollectorRegistry(auto_describe=True)
    found.register(StatusCollector(source))
    return found


def _config_families(statuses: list[ConfigStatus]) -> Iterator[Metric]:
    labels = ["component", "config"]
    state = GaugeMetricFamily(
        "sarra_config_state",
        "1 for the config's state (the worst of its instances), 0 for the others",
        labels=[*labels, "state"],
    )
    enabled = GaugeMetricFamily(
        "sarra_config_enabled", "1 if enabled, 0 if disabled", labels=labels
    )
    problems = GaugeMetricFamily(
        "sarra_config_problems", "How many things about the config need a look", labels=labels
    )
    expected = GaugeMetricFamily(
        "sarra_config_instances_expected", "Instances started (0 when stopped)", labels=labels
    )
    running = GaugeMetricFamily(
        "sarra_config_instances_running", "Instances whose process runs", labels=labels
    )
    for status in statuses:
        names = [status.component, status.config]
        for each in STATES:
            state.add_metric([*names, each], 1.0 if status.state == each else 0.0)
        enabled.add_metric(names, 1.0 if status.enabled else 0.0)
        problems.add_metric(names, len(status.problems))
        expected.add_metric(names, status.expected)
        running.add_metric(names, status.running)
    yield from (state, enabled, problems, expected, running)


def _instance_families(statuses: list[ConfigStatus], now: float) -> Iterator[Metric]:
    labels = ["component", "config", "instance"]

    def gauge(name: str, text: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, labels=[*labels, *extra])

    def counter(name: str, text: str, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
        return CounterMetricFamily(name, text, labels=[*labels, *extra])

    state = gauge("sarra_instance_state", "1 for the instance's state, 0 for others", ("state",))
    events = counter(
        "sarra_events",
        "Notices by what became of them since the instance started (received, downloaded,"
        " sent, posted, rejected, duplicates, failed, ...)",
        ("event",),
    )
    files = counter("sarra_files", "Files handled (downloaded, sent, posted) since it started")
    size = counter("sarra_bytes", "Bytes of the files handled since it started")
    retry = gauge("sarra_retry_queue_notices", "Notices in the instance's retry queue")
    depth = gauge(
        "sarra_queue_depth_messages",
        "Messages ready in the broker queue it consumes, as the broker last said",
        ("queue",),
    )
    lag_median = gauge(
        "sarra_lag_median_seconds",
        "Median time from a notice's time to its file in place, over the last minutes",
    )
    lag_max = gauge("sarra_lag_max_seconds", "Worst such time over the last minutes")
    notice_lag_median = gauge(
        "sarra_notice_lag_median_seconds",
        "Median time from a notice's time (WIS2: its pubtime) to its receipt, over the last"
        " minutes",
    )
    notice_lag_max = gauge("sarra_notice_lag_max_seconds", "Worst such time over the last minutes")
    last_done = gauge(
        "sarra_last_done_timestamp_seconds", "When it last handled a file (epoch seconds)"
    )
    last_error = gauge(
        "sarra_last_error_timestamp_seconds", "When it last logged an error (epoch seconds)"
    )
    started = gauge("sarra_started_timestamp_seconds", "When the instance started")
    passive = gauge("sarra_passive", "1 while it waits for its vip, 0 while it works")
    connected = gauge(
        "sarra_connection_up", "1 if the broker connection works, 0 if not", ("role",)
    )
    age = gauge("sarra_figures_age_seconds", "How old the instance's figures are")
    for status in statuses:
        for instance in status.instances:
            names = [status.component, status.config, f"{instance.number:02d}"]
            for each in STATES:
                state.add_metric([*names, each], 1.0 if instance.state == each else 0.0)
            found = instance.figures
            if found is None or instance.state not in FRESH:
                continue
            for what, number in sorted(found.counts.items()):
                events.add_metric([*names, what.replace(" ", "_")], number)
            files.add_metric(names, found.counts.get(found.done, 0))
            size.add_metric(names, found.bytes)
            retry.add_metric(names, found.retry)
            if found.queue_depth is not None:
                depth.add_metric([*names, found.queue], found.queue_depth)
            if found.lag_median is not None and found.lag_max is not None:
                lag_median.add_metric(names, found.lag_median)
                lag_max.add_metric(names, found.lag_max)
            if found.notice_lag_median is not None and found.notice_lag_max is not None:
                notice_lag_median.add_metric(names, found.notice_lag_median)
                notice_lag_max.add_metric(names, found.notice_lag_max)
            if found.last_done is not None:
                last_done.add_metric(names, found.last_done)
            if instance.last_error_at is not None:
                last_error.add_metric(names, instance.last_error_at)
            started.add_metric(names, found.started)
            passive.add_metric(names, 1.0 if found.passive else 0.0)
            for role, link in sorted(found.links.items()):
                up = 1.0 if link.state == link_state.CONNECTED else 0.0
                connected.add_metric([*names, role], up)
            age.add_metric(names, max(0.0, now - found.written))
    yield from (state, events, files, size, retry, depth, lag_median, lag_max, last_done)
    yield from (notice_lag_median, notice_lag_max)
    yield from (last_error, started, passive, connected, age)
