"""Established v2 command lines, run as a v2 operator runs them, on the real broker:
`-c config` for every component and action, `-debug` telling each notice's fate, `-no N` on
one instance, and start/status/stop without a config acting on all configs."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from pumpkit import BIN, announce, file_notice, sr, take, wait_for, watch
from servers import HttpServer

from sarra.components import instances
from sarra.config.loader import load

pytestmark = pytest.mark.broker


def test_sr_post_c_names_the_config_with_bare_paths_or_p(
    tmp_path: Path, sarra_home: Path, exchange: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "b.txt").write_text("b")
    config = sarra_home / "post" / "feed.conf"
    config.parent.mkdir()
    config.write_text(f"post_broker amqp://guest:guest@127.0.0.1/\npost_exchange {exchange}\n"
                      f"post_base_url http://pump.example/\npost_base_dir {data}\n")  # fmt: skip
    consumer = watch(load("post", config), exchange)
    try:
        bare = sr("sr_post", "-c", "feed", str(data / "a.txt"))
        with_p = sr("sr_post", "-config", str(config), "-p", str(data / "b.txt"))
        notices = take(consumer, 2)
    finally:
        consumer.close()
    assert bare.returncode == 0, bare.stderr
    assert with_p.returncode == 0, with_p.stderr
    assert sorted(n.url for n in notices) == ["http://pump.example/a.txt",
                                              "http://pump.example/b.txt"]  # fmt: skip


def test_debug_logs_each_notices_fate(
    tmp_path: Path,
    sarra_home: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    config = sarra_home / "subscribe" / "dbg.conf"
    config.parent.mkdir()
    head = f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\n"
    config.write_text(f"{head}directory {tmp_path / 'out'}\nreject .*skip.*\naccept .*take.*\n")
    (served_root / f"take_{exchange}").write_bytes(b"x" * 100)
    base = f"http://127.0.0.1:{http_server.port}/"
    log = tmp_path / "foreground.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([str(BIN / "sr_subscribe"), "-debug", "foreground", "dbg"],
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: "consumer pid" in log.read_text(), "the consumer", deadline=30)
        announce(load("subscribe", config), [
            file_notice(base, f"take_{exchange}", b"x" * 100),
            file_notice(base, f"skip_{exchange}", b"y"),
            file_notice(base, f"other_{exchange}", b"z"),
        ], exchange)  # fmt: skip
        wait_for(lambda: log.read_text().count("acknowledged") == 3, "three acks", deadline=30)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    text = log.read_text()
    take_url = f"{base}take_{exchange}"
    for line in (
        f"[DEBUG] received {take_url} from exchange {exchange} (topic v02.post)",
        f"[DEBUG] accepted {take_url} by accept .*take.* ({config}:6) -> "
        f"{tmp_path / 'out' / f'take_{exchange}'}",
        f"[DEBUG] fetching {take_url} to {tmp_path / 'out'}",
        f"[DEBUG] downloading {take_url} to {tmp_path / 'out'}",
        "[DEBUG] wrote 100 bytes into",
        f"[DEBUG] acknowledged {take_url}",
        f"[DEBUG] rejected {base}skip_{exchange}: matches reject .*skip.* ({config}:5)",
        f"[DEBUG] rejected {base}other_{exchange}: no accept",
    ):
        assert line in text, line


def test_start_status_stop_without_a_config_and_no_n_on_one_instance(
    tmp_path: Path, sarra_home: Path, exchange: str, credentials: Path
) -> None:
    for name in ("one", "two"):
        path = sarra_home / "subscribe" / f"{name}.conf"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\n"
                        f"instances 2\ndirectory {tmp_path / name}\naccept .*\n")  # fmt: skip
    try:
        started = sr("sr_subscribe", "-c", "one", "start")
        assert started.returncode == 0, started.stderr
        assert "sr_subscribe one: 2 of 2 instances running" in started.stdout
        status = sr("sr_subscribe", "status")
        assert "  subscribe/one  running 2/2  " in status.stdout
        assert "  subscribe/two  stopped" in status.stdout
        stopped_two = sr("sr_subscribe", "-no", "2", "stop", "one")
        assert stopped_two.returncode == 0, stopped_two.stderr
        numbers = [i.number for i in instances.instances("subscribe", "one") if i.running]
        assert numbers == [1]
        assert "exited 1/2  instance 02" in sr("sr_subscribe", "status", "one").stdout
        everything = sr("sr_subscribe", "start")
        assert "sr_subscribe two: 2 of 2 instances running" in everything.stdout
        wait_for(lambda: len(instances.running_pids("subscribe", "two")) == 2, "two's instances")
    finally:
        stopped = sr("sr_subscribe", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert instances.running_pids("subscribe", "one") == []
    assert instances.running_pids("subscribe", "two") == []
    for name in ("one", "two"):
        sr("sr_subscribe", "cleanup", name)
