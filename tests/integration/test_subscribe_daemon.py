"""sr_subscribe as an operator runs it: daemons started, watched, killed and restarted; the
broker dropping every connection mid-flow. Nothing is lost, nothing half-written is seen."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from pumpkit import (
    BIN,
    announce,
    complete_files,
    ctl,
    declare,
    file_notice,
    running,
    scratch_vhost,
    sr,
    subscriber,
    wait_for,
)
from servers import HttpServer

from sarra.components import instances
from sarra.config.loader import load

pytestmark = pytest.mark.broker

COUNT = 2000


def many_files(served_root: Path, exchange: str) -> dict[str, bytes]:
    directory = served_root / f"many_{exchange}"
    directory.mkdir()
    files = {}
    for number in range(COUNT):
        name = f"f{number:05d}.dat"
        data = os.urandom(2048) + name.encode()
        (directory / name).write_bytes(data)
        files[name] = data
    return files


def config_file(sarra_home: Path, exchange: str, destination: Path, instances: int) -> Path:
    path = sarra_home / "subscribe" / "daemon.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\n"
        f"instances {instances}\ndirectory {destination}\naccept .*\n"
    )
    return path


def test_daemons_start_report_and_stop(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    config = config_file(sarra_home, exchange, tmp_path / "out", instances=2)
    started = sr("sr_subscribe", "start", "daemon")
    try:
        assert started.returncode == 0, started.stderr
        assert "2 of 2 instances running" in started.stdout
        (served_root / f"status_{exchange}").write_bytes(b"x" * 2048)
        notice = file_notice(f"http://127.0.0.1:{http_server.port}/", f"status_{exchange}",
                             b"x" * 2048)  # fmt: skip
        announce(load("subscribe", config), [notice], exchange)
        wait_for(lambda: "; last file " in sr("sr_subscribe", "status", "daemon").stdout,
                 "the download in the status", deadline=30)  # fmt: skip
        status = sr("sr_subscribe", "status", "daemon")
        assert status.returncode == 0 and "subscribe/daemon  running 2/2" in status.stdout
        assert "downloaded " in status.stdout and "retry" not in status.stdout
        assert "subscribe/daemon  running 2/2" in sr("sr", "status").stdout
        pids = instances.running_pids("subscribe", "daemon")
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        wait_for(lambda: len(instances.running_pids("subscribe", "daemon")) == 1, "one death")
        partial = sr("sr_subscribe", "status", "daemon")
        assert partial.returncode == 1 and "crashed 1/2" in partial.stdout
        sanity = sr("sr_subscribe", "sanity", "daemon")
        assert "restarted missing instances" in sanity.stdout
        assert len(instances.running_pids("subscribe", "daemon")) == 2
        logs = sorted(p.name for p in (tmp_path / "cache" / "sarra" / "log").iterdir())
        assert logs == ["sr_subscribe_daemon_01.log", "sr_subscribe_daemon_02.log"]
        refused = sr("sr_subscribe", "cleanup", "daemon")
        assert refused.returncode == 1 and "stop it first" in refused.stderr
    finally:
        stopped = sr("sr_subscribe", "stop", "daemon")
    assert stopped.returncode == 0
    assert instances.running_pids("subscribe", "daemon") == []
    assert "stopped" in sr("sr_subscribe", "status", "daemon").stdout
    cleaned = sr("sr_subscribe", "cleanup", "daemon")
    assert cleaned.returncode == 0 and "delete queue q_guest.sr_subscribe.daemon." in cleaned.stdout
    queues = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    deleted = cleaned.stdout.split("delete queue ", 1)[1].split()[0]
    assert deleted not in queues.split()


def test_a_daemon_started_beside_a_sarra_folder_runs_the_installed_sarra(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    """Started from a directory holding a `sarra` package of its own, and with a config path
    relative to it, a daemon imports the installed sarra and moves files."""
    here = tmp_path / "workdir"
    (here / "sarra").mkdir(parents=True)
    (here / "sarra" / "__init__.py").write_text('raise ImportError("the sarra of the cwd")\n')
    (here / "beside.conf").write_text(
        config_file(sarra_home, exchange, tmp_path / "out", instances=1).read_text()
    )
    data = os.urandom(2048)
    (served_root / f"beside_{exchange}").write_bytes(data)
    notice = file_notice(f"http://127.0.0.1:{http_server.port}/", f"beside_{exchange}", data)

    def sr_here(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=here, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip

    started = sr_here("sr_subscribe", "start", "beside.conf")
    try:
        assert started.returncode == 0, started.stderr
        announce(load("subscribe", here / "beside.conf"), [notice], exchange)
        wait_for(lambda: (tmp_path / "out" / f"beside_{exchange}").is_file(), "the file", 30)
    finally:
        sr_here("sr_subscribe", "stop", "beside.conf")
        sr_here("sr_subscribe", "cleanup", "beside.conf")
    assert (tmp_path / "out" / f"beside_{exchange}").read_bytes() == data


def test_sanity_restarts_an_instance_whose_log_went_silent(
    sarra_home: Path, tmp_path: Path, exchange: str, credentials: Path
) -> None:
    path = config_file(sarra_home, exchange, tmp_path / "out", instances=1)
    path.write_text(path.read_text() + "heartbeat 1h\nsanity_log_dead 1\n")
    assert sr("sr_subscribe", "start", "daemon").returncode == 0
    try:
        [before] = instances.running_pids("subscribe", "daemon")
        log = tmp_path / "cache" / "sarra" / "log" / "sr_subscribe_daemon_01.log"
        # its last line at start, written by the connection's thread once connected: after it,
        # the log is silent (a line written after the utime below made sanity see a live log)
        wait_for(lambda: log.exists() and "' connected" in log.read_text(), "connected")
        os.utime(log, (0, 0))  # as if it had written nothing for a long time
        sanity = sr("sr_subscribe", "sanity", "daemon")
        assert "wrote no log line for too long" in sanity.stdout, sanity.stdout
        [after] = instances.running_pids("subscribe", "daemon")
        assert after != before
    finally:
        sr("sr_subscribe", "stop", "daemon")
        sr("sr_subscribe", "cleanup", "daemon")


def test_kill_9_in_the_middle_then_restart_loses_nothing(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    files = many_files(served_root, exchange)
    destination = tmp_path / "out"
    config_file(sarra_home, exchange, destination, instances=2)
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = [file_notice(base, f"many_{exchange}/{n}", d) for n, d in files.items()]
    assert sr("sr_subscribe", "start", "daemon").returncode == 0
    try:
        announce(subscriber(tmp_path, exchange, ""), notices, exchange)
        wait_for(lambda: complete_files(destination, files) >= COUNT // 10, "some downloads")
        for pid in instances.running_pids("subscribe", "daemon"):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not instances.running_pids("subscribe", "daemon"), "the kills")
        assert complete_files(destination, files) < COUNT, "too fast to test a crash"
        assert sr("sr_subscribe", "start", "daemon").returncode == 0
        wait_for(lambda: complete_files(destination, files) == COUNT, "every file", 120)
    finally:
        sr("sr_subscribe", "stop", "daemon")
        sr("sr_subscribe", "cleanup", "daemon")
    leftovers = [p.name for p in destination.iterdir() if p.name not in files]
    assert leftovers == []


def test_broker_closing_every_connection_mid_flow_loses_nothing(
    tmp_path: Path, exchange: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    """Every connection of a virtual host of the test's own is closed by the broker (the
    shared broker's other users keep theirs)."""
    files = many_files(served_root, exchange)
    destination = tmp_path / "out"
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = [file_notice(base, f"many_{exchange}/{n}", d) for n, d in files.items()]
    with scratch_vhost() as vhost:
        broker = f"amqp://guest:guest@127.0.0.1/{vhost}"
        config = subscriber(tmp_path, exchange, f"broker {broker}\ndirectory {destination}\n"
                            "accept .*\n")  # fmt: skip
        declare(config, exchange, broker=broker)
        with running(config) as loop:
            publishing = threading.Thread(
                target=announce, args=(config, notices, exchange), kwargs={"broker": broker}
            )
            publishing.start()
            wait_for(lambda: complete_files(destination, files) >= COUNT // 10, "some downloads")
            ctl("close_all_connections", "-p", vhost, "test: connection dropped")
            publishing.join(60)
            wait_for(lambda: complete_files(destination, files) == COUNT, "every file", 120)
            assert loop.consumer is not None
            wait_for(lambda: loop.counts["downloaded"] + loop.counts["skipped"] >= COUNT, "acks")
    assert sorted(p.name for p in destination.iterdir()) == sorted(files)
