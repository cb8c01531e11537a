"""`sr status`, `sr status --json` and the metrics endpoint tell the truth about real daemons on
the real broker: refused by it, unable to reach it, killed, disabled while running, a config
that cannot be read among good ones; and the figures of real files moved."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest
from observekit import (
    configs_by_name,
    free_port,
    get,
    observing,
    status_json,
    subscribe_config,
    wait_for_state,
)
from pumpkit import announce, file_notice, sr, wait_for
from servers import PASSWORD, WEB_USER, HttpServer

from sarra.broker import plan
from sarra.broker.consumer import Consumer
from sarra.broker.topology import QueueSpec
from sarra.components import instances
from sarra.config.loader import load
from sarra.message.notice import epoch_to_time

pytestmark = pytest.mark.broker

GOOD = ("good1", "good2", "good3", "crashed", "disabled")


def test_status_json_and_metrics_say_the_right_thing_for_each_config(
    sarra_home: Path, tmp_path: Path, exchange: str
) -> None:
    down = free_port()
    credentials = sarra_home / "credentials.conf"
    credentials.write_text(
        "amqp://guest:guest@127.0.0.1/\n"
        "amqp://nobody:n0tThePassw0rd@127.0.0.1/\n"
        f"amqp://guest:guest@127.0.0.1:{down}/\n"
    )
    credentials.chmod(0o600)
    out = tmp_path / "out"
    for name in GOOD:
        subscribe_config(sarra_home, name, "amqp://guest@127.0.0.1/", exchange, out)
    subscribe_config(sarra_home, "refused", "amqp://nobody@127.0.0.1/", exchange, out)
    subscribe_config(sarra_home, "down", f"amqp://guest@127.0.0.1:{down}/", exchange, out)
    subscribe_config(sarra_home, "regex", "amqp://guest@127.0.0.1/", exchange, out,
                     "reject .*(unclosed\n")  # fmt: skip
    names = [*GOOD, "refused", "down"]
    try:
        for name in names:
            started = sr("sr_subscribe", "start", name)
            assert started.returncode == 0, started.stderr
        # the connection states reach the figures within moments of the attempt
        refused = wait_for_state("subscribe/refused", "refused", deadline=10)
        assert "(403) ACCESS_REFUSED - Login was refused" in refused["reason"]
        unreachable = wait_for_state("subscribe/down", "unreachable", deadline=10)
        assert unreachable["reason"].endswith("Connection refused")
        for name in GOOD:
            wait_for_state(f"subscribe/{name}", "running", deadline=10)
        [crashed_pid] = instances.running_pids("subscribe", "crashed")
        os.kill(crashed_pid, signal.SIGKILL)
        wait_for(lambda: not instances.running_pids("subscribe", "crashed"), "the kill")
        # disabled by hand while running (`sr_subscribe disable` stops it)
        running = sarra_home / "subscribe" / "disabled.conf"
        running.rename(running.with_name("disabled.conf.off"))

        people = sr("sr", "status")
        assert people.returncode == 1, people.stdout
        lines = {line[2:].split()[0]: line for line in people.stdout.splitlines()[:-1]}
        assert set(lines) == {f"subscribe/{n}" for n in [*names, "regex"]}
        for name in ("good1", "good2", "good3"):
            assert re.match(rf"  subscribe/{name} +running 1/1  ", lines[f"subscribe/{name}"])
        assert re.match(r"! subscribe/refused +refused 1/1 +consumer amqp://nobody@127.0.0.1:5672/:"
                        r" \(403\) ACCESS_REFUSED", lines["subscribe/refused"])  # fmt: skip
        assert re.match(r"! subscribe/down +unreachable 1/1 .*Connection refused",
                        lines["subscribe/down"])  # fmt: skip
        assert re.match(rf"! subscribe/crashed +crashed 0/1 +process {crashed_pid} is gone",
                        lines["subscribe/crashed"])  # fmt: skip
        assert re.match(r"! subscribe/disabled +running 1/1 .*disabled while running",
                        lines["subscribe/disabled"])  # fmt: skip
        assert re.match(r"! subscribe/regex +bad config +\S+regex.conf:7: reject: missing \)",
                        lines["subscribe/regex"])  # fmt: skip
        assert people.stdout.splitlines()[-1].startswith(
            "8 configs: 1 bad config, 1 crashed, 1 refused, 1 unreachable, 4 running;"
        )
        assert people.stdout.splitlines()[-1].endswith("; 5 need a look")

        problems = sr("sr", "status", "--problems")
        shown = [line[2:].split()[0] for line in problems.stdout.splitlines() if line[0] == "!"]
        assert sorted(shown) == [f"subscribe/{n}" for n in
                                 ("crashed", "disabled", "down", "refused", "regex")]  # fmt: skip

        document = status_json()
        assert document["schema"] == 1
        configs = configs_by_name(document)
        states = {label: (c["state"], c["enabled"]) for label, c in configs.items()}
        assert states == {
            "subscribe/good1": ("running", True),
            "subscribe/good2": ("running", True),
            "subscribe/good3": ("running", True),
            "subscribe/crashed": ("crashed", True),
            "subscribe/disabled": ("running", False),
            "subscribe/refused": ("refused", True),
            "subscribe/down": ("unreachable", True),
            "subscribe/regex": ("bad config", True),
        }
        assert configs["subscribe/disabled"]["problems"] == ["disabled, but still running"]
        consumer = configs["subscribe/refused"]["instances"][0]["links"]["consumer"]
        assert (consumer["state"], consumer["broker"]) == (
            "refused",
            "amqp://nobody@127.0.0.1:5672/",
        )
        assert "n0tThePassw0rd" not in json.dumps(document)  # no password anywhere

        with observing() as url:
            assert url.startswith("http://127.0.0.1:")  # this host only, by default
            status, headers, body = get(url + "metrics")
            assert status == 200 and headers["Content-Type"].startswith("text/plain")
            scraped = body.decode().splitlines()
            for name, state in (("good1", "running"), ("refused", "refused"),
                                ("down", "unreachable"), ("crashed", "crashed"),
                                ("disabled", "running"), ("regex", "bad config")):  # fmt: skip
                labels = f'component="subscribe",config="{name}",state="{state}"'
                wanted = f"sarra_config_state{{{labels}}} 1.0"
                assert wanted in scraped, wanted
            assert 'sarra_config_enabled{component="subscribe",config="disabled"} 0.0' in scraped
            assert ('sarra_connection_up{component="subscribe",config="refused",instance="01",'
                    'role="consumer"} 0.0') in scraped  # fmt: skip
            assert ('sarra_connection_up{component="subscribe",config="good1",instance="01",'
                    'role="consumer"} 1.0') in scraped  # fmt: skip
            assert not any("config=\"crashed\"" in line and line.startswith("sarra_events")
                           for line in scraped)  # fmt: skip

            status, _, body = get(url + "api/status")
            assert status == 200
            assert configs_by_name(json.loads(body))["subscribe/down"]["state"] == "unreachable"
            status, _, body = get(url + "api/log/subscribe/refused")
            [log] = json.loads(body)["logs"]
            assert status == 200 and log["file"] == "sr_subscribe_refused_01.log"
            assert any("ACCESS_REFUSED" in line for line in log["lines"])
            assert not any("n0tThePassw0rd" in line for line in log["lines"])
            for path in ("api/log/subscribe/nothere", "api/log/subscribe/..%2F..%2Fcredentials",
                         "api/log/..%2Fsubscribe/good1", "api/log/subscribe/good1/x",
                         "static/../status.py", "nothing"):  # fmt: skip
                assert get(url + path)[0] == 404, path
            refused_post = urllib.request.Request(url + "api/status", data=b"x", method="POST")
            with pytest.raises(urllib.error.HTTPError) as posted:
                urllib.request.urlopen(refused_post, timeout=10)
            assert posted.value.code == 405
    finally:
        for name in names:
            instances.stop("subscribe", name)


def test_figures_of_real_files_lag_rates_and_queue_depth(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    out = tmp_path / "out"
    config = subscribe_config(sarra_home, "lagging", "amqp://guest@127.0.0.1/", exchange, out)
    base = f"http://{WEB_USER}@127.0.0.1:{http_server.port}/"
    notices = []
    for number in range(5):
        name = f"lag_{exchange}_{number}"
        (served_root / name).write_bytes(name.encode())
        notice = file_notice(base, name, name.encode())
        notice.pubtime = epoch_to_time(time.time() - 90)  # announced a minute and a half ago
        notices.append(notice)
    try:
        assert sr("sr_subscribe", "start", "lagging").returncode == 0
        wait_for_state("subscribe/lagging", "running")
        announce(load("subscribe", config), notices, exchange)
        found: dict = {}

        def counted() -> bool:
            found.update(configs_by_name(status_json())["subscribe/lagging"])
            return found["counts"].get("downloaded") == 5 and found["lag_max"] is not None

        wait_for(counted, "the five files in the figures", deadline=30)
        assert 90 <= found["lag_median"] <= found["lag_max"] < 120
        assert found["done_rate"] > 0 and found["received_rate"] > 0
        assert found["queue_depth"] == 0 and found["retry"] == 0
        assert Path(found["last_file"]).parent == out
        line = sr("sr_subscribe", "status", "lagging").stdout
        assert re.search(r"lag 1m3\ds, worst 1m3\ds; queue 0; last file \S+ seconds? ago", line)
        log = (tmp_path / "cache" / "sarra" / "log" / "sr_subscribe_lagging_01.log").read_text()
        assert re.search(rf"{re.escape(base)}lag_\S+ \(\d+ Bytes in [\d.]+s, [^,]+/s, lag 1m3\ds\)"
                         rf" downloaded to: {out}/lag_\S+$", log, re.M), log  # fmt: skip
        assert PASSWORD not in log
    finally:
        sr("sr_subscribe", "stop", "lagging")


def test_the_consumer_reports_its_queues_depth(tmp_path: Path, exchange: str) -> None:
    config = load("subscribe", None, name="depth")
    spec = QueueSpec(name=f"q_guest.depth.{exchange}", durable=False, expire=60, message_ttl=0,
                     bindings=((exchange, "#"),), declare=True, bind=True)  # fmt: skip
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "consumer")
    with Consumer(settings, spec, prefetch=1) as consumer:  # declares and binds the queue
        assert consumer.wait_ready(20)
    notices = [file_notice("http://h/", f"f{n}", b"x") for n in range(30)]
    announce(config, notices, exchange)
    with Consumer(settings, spec, prefetch=1) as consumer:
        assert consumer.wait_ready(20)
        # one is delivered (prefetch 1, never acknowledged): 29 wait in the queue
        wait_for(lambda: consumer.depth is not None and consumer.depth.messages == 29,
                 "the depth of the queue", deadline=15)  # fmt: skip
        assert consumer.depth is not None and consumer.depth.consumers == 1
        assert consumer.state.snapshot().state == "connected"
