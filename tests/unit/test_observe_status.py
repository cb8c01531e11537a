"""What `sr status`, its JSON and the metrics endpoint make of a config's instances: the state
that tells the truth, the figures added up, what needs a look."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from sarra.broker.state import LinkStatus
from sarra.components.instances import Instance
from sarra.config import paths
from sarra.flow.metrics import Metrics
from sarra.observe import prometheus, text
from sarra.observe.status import GRACE, STALE, ConfigStatus, assess, look_at, to_json

NOW = 2_000_000_000.0
BROKER = "amqp://feeder@broker:5672/"


def figures(pid: int = 100, **links: LinkStatus) -> Metrics:
    """Fresh figures of a connected instance (override what a test looks at)."""
    return Metrics(
        counts={"received": 40, "downloaded": 30},
        bytes=3 << 20,
        written=NOW - 1,
        pid=pid,
        links=links or {"consumer": LinkStatus(BROKER, "connected", since=NOW - 600)},
        queue="q_feeder.feed",
        queue_depth=7,
        queue_depth_at=NOW - 2,
        window=300.0,
        received_rate=4.0,
        done_rate=3.0,
        bytes_rate=3 * 1024.0,
        lag_median=1.5,
        lag_max=4.0,
        lag_files=30,
        last_file="/data/incoming/a.txt",
        last_done=NOW - 3,
    )


def status_of(*found: tuple[Instance, Metrics | None], enabled: bool = True,
              config_error: str = "", expected: int = 1) -> ConfigStatus:  # fmt: skip
    looked = [look_at("subscribe", "feed", i, expected, f, NOW) for i, f in found]
    return assess("subscribe", "feed", enabled, config_error, expected, looked, NOW)


def test_a_connected_instance_is_running_with_its_figures(sarra_home: Path) -> None:
    status = status_of((Instance(1, 100, True), figures()))
    assert (status.state, status.problems, status.running, status.expected) == ("running", [], 1, 1)
    assert (status.done_rate, status.lag_median, status.queue_depth) == (3.0, 1.5, 7)


def test_a_refused_login_is_refused_with_the_brokers_reason(sarra_home: Path) -> None:
    refused = LinkStatus(BROKER, "refused", "(403) ACCESS_REFUSED - Login was refused", NOW - 60, 4)
    status = status_of((Instance(1, 100, True), figures(consumer=refused)))
    assert status.state == "refused"
    assert status.reason == f"consumer {BROKER}: (403) ACCESS_REFUSED - Login was refused"
    assert status.problems == [f"instance 01 refused: {status.reason}"]


def test_a_broker_that_does_not_answer_is_unreachable(sarra_home: Path) -> None:
    connected = LinkStatus(BROKER, "connected", since=NOW - 600)
    down = LinkStatus("amqp://feeder@other:5999/", "unreachable", "Connection refused", NOW - 5)
    status = status_of((Instance(1, 100, True), figures(consumer=connected, publisher=down)))
    assert status.state == "unreachable" and status.reason.startswith("publisher amqp://")
    assert status.problems


def test_connecting_is_fine_for_a_while_then_needs_a_look(sarra_home: Path) -> None:
    young = LinkStatus(BROKER, "connecting", since=NOW - 2)
    assert status_of((Instance(1, 100, True), figures(consumer=young))).problems == []
    old = LinkStatus(BROKER, "connecting", since=NOW - GRACE - 1)
    status = status_of((Instance(1, 100, True), figures(consumer=old)))
    assert status.state == "connecting" and status.problems


def test_figures_no_longer_written_are_stale(sarra_home: Path) -> None:
    old = figures()
    old.written = NOW - STALE - 1
    status = status_of((Instance(1, 100, True), old))
    assert status.state == "stale" and status.problems
    assert status.done_rate == 0.0  # old rates are not added up


def test_figures_of_a_previous_process_are_not_this_ones(sarra_home: Path) -> None:
    status = status_of((Instance(1, 200, True), figures(pid=100)))
    assert status.state == "starting" and status.counts == {}


def test_a_pid_file_without_its_process_is_a_crash_with_the_last_error_logged(
    sarra_home: Path,
) -> None:
    log = paths.log_file("subscribe", "feed", 1)
    log.parent.mkdir(parents=True)
    log.write_text(
        "2026-01-01 10:00:00,001 [ERROR] failed http://me:secret@host/a: 503; kept for retry\n"
        "2026-01-01 10:00:01,002 [INFO] so far: 1 failed\n"
    )
    status = status_of((Instance(1, 4242, False), None), (Instance(2, 4243, True), figures(4243)),
                       expected=2)  # fmt: skip
    assert (status.state, status.running, status.expected) == ("crashed", 1, 2)
    assert status.last_error == "failed http://me:***@host/a: 503; kept for retry"
    assert status.problems[0].startswith("instance 01 crashed: process 4242 is gone; its last")


def test_an_instance_started_and_gone_without_pid_file_exited(sarra_home: Path) -> None:
    status = status_of((Instance(1, None, False), None))
    assert status.state == "exited" and status.problems


def test_a_disabled_config_still_running_needs_a_look(sarra_home: Path) -> None:
    status = status_of((Instance(1, 100, True), figures()), enabled=False)
    assert status.state == "running" and status.problems == ["disabled, but still running"]
    stopped = status_of(enabled=False, expected=0)
    assert (stopped.state, stopped.problems) == ("disabled", [])


def test_a_config_that_cannot_be_read(sarra_home: Path) -> None:
    error = "feed.conf:5: accept: missing ), unterminated subpattern at position 2"
    status = status_of(config_error=error, expected=0)
    assert (status.state, status.reason, status.problems) == ("bad config", error, [error])
    running = status_of((Instance(1, 100, True), figures()), config_error=error)
    assert running.state == "running"
    assert running.problems == [f"the config has errors: {error}"]


def test_an_error_of_the_last_minutes_needs_a_look(sarra_home: Path) -> None:
    erring = figures()
    erring.last_error, erring.last_error_at = "failed x: 404; dropped", NOW - 30
    assert status_of((Instance(1, 100, True), erring)).problems == [
        "error 30 s ago: failed x: 404; dropped"
    ]
    erring.last_error_at = NOW - 3600
    assert status_of((Instance(1, 100, True), erring)).problems == []


def test_an_instance_that_refused_a_reload_runs_its_old_config_and_needs_a_look(
    sarra_home: Path,
) -> None:
    kept = figures()
    kept.not_reloaded = "config feed.conf not reloaded: feed.conf:8: plugin x: not found"
    status = status_of((Instance(1, 100, True), kept))
    assert (status.state, status.problems) == ("running", [
        "instance 01 runs its old config: config feed.conf not reloaded: feed.conf:8: plugin x:"
        " not found"
    ])  # fmt: skip
    (instance,) = to_json([status], NOW)["configs"][0]["instances"]
    assert instance["not_reloaded"] == kept.not_reloaded
    kept.not_reloaded = ""  # a reload took since
    assert status_of((Instance(1, 100, True), kept)).problems == []


def test_instances_add_up(sarra_home: Path) -> None:
    first, second = figures(100), figures(101)
    second.lag_median, second.lag_files, second.lag_max = 4.5, 10, 9.0
    second.queue_depth, second.queue_depth_at = 5, NOW - 1  # the same queue, said later
    status = status_of((Instance(1, 100, True), first), (Instance(2, 101, True), second),
                       expected=2)  # fmt: skip
    assert (status.received_rate, status.done_rate, status.counts["downloaded"]) == (8.0, 6.0, 60)
    assert (status.state, status.reason, status.since) == ("running", "", NOW - 600)
    assert (status.lag_median, status.lag_max) == ((1.5 * 30 + 4.5 * 10) / 40, 9.0)
    assert status.queue_depth == 5


def test_the_lines_for_people(sarra_home: Path) -> None:
    running = status_of((Instance(1, 100, True), figures()))
    refused = status_of((Instance(1, 100, True), figures(
        consumer=LinkStatus(BROKER, "refused", "(403) ACCESS_REFUSED", NOW - 60))))  # fmt: skip
    refused.config = "other"
    lines = text.render([running, refused], NOW)
    assert lines == [
        "  subscribe/feed   running 1/1  received 4.0/s; downloaded 3.0 files/s (3.0 KiB/s);"
        " lag 1.5s, worst 4.0s; queue 7; last file 3 seconds ago",
        f"! subscribe/other  refused 1/1  consumer {BROKER}: (403) ACCESS_REFUSED (for a minute);"
        " received"
        " 4.0/s; downloaded 3.0 files/s (3.0 KiB/s); lag 1.5s, worst 4.0s; queue 7; last file"
        " 3 seconds ago",
        "2 configs: 1 refused, 1 running; 6.0 files/s (6.0 KiB/s); 14 queued; 1 needs a look",
    ]
    assert text.render([running, refused], NOW, problems=True) == [lines[1], lines[2]]
    refused_link = LinkStatus(BROKER, "refused", "(403) ACCESS_REFUSED", NOW - 60)
    two = status_of((Instance(1, 300, False), None), (Instance(2, 100, True), figures(
        consumer=refused_link)), expected=2)  # fmt: skip
    assert text.render([two], NOW, problems=True, totals=False) == [
        "! subscribe/feed  crashed 1/2  instance 01: process 300 is gone; received 4.0/s;"
        " downloaded 3.0 files/s (3.0 KiB/s); lag 1.5s, worst 4.0s; queue 7; last file 3"
        " seconds ago",
        f"    ! instance 02 refused: consumer {BROKER}: (403) ACCESS_REFUSED",
    ]


def test_the_json_fields_are_those_documented(sarra_home: Path) -> None:
    document = to_json([status_of((Instance(1, 100, True), figures()))], NOW)
    assert set(document) == {"schema", "host", "time", "totals", "configs"}
    (config,) = document["configs"]
    assert set(config) == {
        "component", "config", "enabled", "state", "reason", "since", "problems",
        "instances_expected", "instances_running", "done", "counts", "bytes", "window",
        "received_rate", "done_rate",
        "bytes_rate", "lag_median", "lag_max", "notice_lag_median", "notice_lag_max",
        "queue_depth", "retry", "last_file", "last_done", "last_error", "last_error_at",
        "instances",
    }  # fmt: skip
    (instance,) = config["instances"]
    assert instance["links"]["consumer"]["state"] == "connected"
    assert {"instance", "pid", "state", "since", "queue", "queue_depth", "written"} <= set(instance)


def test_the_prometheus_metrics(sarra_home: Path) -> None:
    good = status_of((Instance(1, 100, True), figures()))
    gone = status_of((Instance(1, 4242, False), figures(4242)))
    gone.config = "gone"
    scraped = generate_latest(prometheus.registry(lambda: [good, gone])).decode()
    names = 'component="subscribe",config="feed",instance="01"'  # labels come sorted
    for line in (
        'sarra_config_state{component="subscribe",config="feed",state="running"} 1.0',
        'sarra_config_state{component="subscribe",config="gone",state="crashed"} 1.0',
        'sarra_events_total{component="subscribe",config="feed",event="downloaded",instance="01"}'
        " 30.0",
        f"sarra_files_total{{{names}}} 30.0",
        f"sarra_bytes_total{{{names}}} 3.145728e+06",
        f'sarra_queue_depth_messages{{{names},queue="q_feeder.feed"}} 7.0',
        f"sarra_lag_median_seconds{{{names}}} 1.5",
        f'sarra_connection_up{{{names},role="consumer"}} 1.0',
        'sarra_instance_state{component="subscribe",config="gone",instance="01",state="crashed"}'
        " 1.0",
    ):
        assert line in scraped.splitlines(), line
    assert (
        'sarra_files_total{component="subscribe",config="gone"' not in scraped
    )  # gone: no figures


def test_the_docs_and_the_grafana_dashboard_say_what_there_is(sarra_home: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "operations.md").read_text()
    scraped = generate_latest(prometheus.registry(lambda: [status_of()])).decode()
    exported = set(re.findall(r"^# HELP (\S+)", scraped, re.M))
    assert set(re.findall(r"`(sarra_[a-z_]+)`", docs)) == exported
    grafana = (root / "docs" / "grafana-sarra.json").read_text()
    assert set(re.findall(r"sarra_[a-z_]+", grafana)) <= exported
    json.loads(grafana)
    document = to_json([status_of((Instance(1, 100, True), figures()))], NOW)
    (config,) = document["configs"]
    fields = {*document, *document["totals"], *config, *config["instances"][0]}
    fields |= set(config["instances"][0]["links"]["consumer"])
    assert {f for f in fields if f"`{f}`" not in docs} == set()


def test_the_status_line_gives_the_share_of_notices_rejected_as_sr3_s_rej(
    sarra_home: Path,
) -> None:
    found = figures()
    found.counts["rejected"] = 10
    line = text.line(status_of((Instance(1, 100, True), found)), NOW)
    assert "received 4.0/s; 25.0% rejected; downloaded" in line
    assert "rejected" not in text.line(status_of((Instance(1, 100, True), figures())), NOW)


def test_without_files_the_status_line_gives_the_lag_of_the_notices(sarra_home: Path) -> None:
    shovel = figures()
    shovel.lag_median, shovel.lag_max, shovel.lag_files = None, None, 0
    shovel.notice_lag_median, shovel.notice_lag_max, shovel.lag_notices = 2.0, 9.0, 40
    both = figures(pid=200)
    both.notice_lag_median, both.notice_lag_max, both.lag_notices = 4.0, 5.0, 120
    status = status_of((Instance(1, 100, True), shovel), (Instance(2, 200, True), both))
    assert (status.notice_lag_median, status.notice_lag_max) == (3.5, 9.0)  # weighted by count
    assert "lag 1.5s, worst 4.0s" in text.line(status, NOW)  # files: their lag
    alone = status_of((Instance(1, 100, True), shovel))
    assert "notice lag 2.0s, worst 9.0s" in text.line(alone, NOW)
