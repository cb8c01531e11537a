"""sr_sarra writes into a tree others read (its post_base_url is served to subscribers): a file
under its final name is complete, whatever happens. A poller lists the tree as fast as it can
while sr_sarra daemons download, are killed with kill -9 and restarted, and some notices name
files that do not exist (404); it never sees a short or empty file under a final name."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pumpkit import (
    LOADED,
    announce,
    complete_files,
    declare,
    file_notice,
    running,
    sr,
    wait_for,
)
from servers import HttpServer

from sarra.components import instances
from sarra.config.loader import load

pytestmark = pytest.mark.broker

COUNT = 1500
MISSING = 60  # notices of files the server does not have


@dataclass
class Poller:
    """Lists a tree as fast as it can, noting every file seen under a final name that is not
    complete (size other than its final one; a name that should never appear at all)."""

    root: Path
    sizes: dict[str, int]  # final name: size
    forbidden: set[str]
    checked: int = 0
    short: list[tuple[str, int]] = field(default_factory=list)
    appeared: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.scan()

    def scan(self) -> None:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name in self.forbidden:
                self.appeared.add(entry.name)
            wanted = self.sizes.get(entry.name)
            if wanted is None:
                continue
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
            self.checked += 1
            if size != wanted:
                self.short.append((entry.name, size))


def pump_config(sarra_home: Path, exchange: str, destination: Path) -> Path:
    path = sarra_home / "sarra" / "pump.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 2m\ninstances 2\n"
        f"post_exchange {exchange}_out\npost_base_url http://pump.example/\n"
        f"post_base_dir {destination}\ndirectory {destination}\nmirror off\naccept .*\n"
    )
    return path


def logged(tmp_path: Path) -> str:
    logs = tmp_path / "cache" / "sarra" / "log"
    return "".join(p.read_text(errors="replace") for p in logs.glob("sr_sarra_pump_*.log"))


def test_a_poller_never_sees_a_short_file_through_kill_9_and_404s(
    sarra_home: Path,
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    source = served_root / f"pump_{exchange}"
    source.mkdir()
    files = {f"f{n:05d}.dat": os.urandom(16384 + n) for n in range(COUNT)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    missing = {f"gone{n:03d}.dat" for n in range(MISSING)}
    destination = tmp_path / "public"
    config = load("sarra", pump_config(sarra_home, exchange, destination))
    assert config.inflight == ".tmp"
    declare(config, f"{exchange}_out")
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = [file_notice(base, f"{source.name}/{n}", d) for n, d in files.items()]
    for number, name in enumerate(sorted(missing)):  # among the others, all along
        notices.insert(number * COUNT // MISSING, file_notice(base, f"{source.name}/{name}", b"x"))
    poller = Poller(destination, {n: len(d) for n, d in files.items()}, missing)
    polling = threading.Thread(target=poller.run)
    polling.start()
    assert sr("sr_sarra", "start", "pump").returncode == 0
    try:
        announce(config, notices, exchange)
        wait_for(
            lambda: complete_files(destination, files) >= COUNT // 5, "some downloads", 2 * LOADED
        )
        for pid in instances.running_pids("sarra", "pump"):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not instances.running_pids("sarra", "pump"), "the kills", LOADED)
        assert complete_files(destination, files) < COUNT, "too fast to test a crash"
        assert sr("sr_sarra", "start", "pump").returncode == 0
        wait_for(lambda: complete_files(destination, files) == COUNT, "every file", 10 * LOADED)
        wait_for(lambda: all(f"{n}: " in logged(tmp_path) for n in missing), "the 404s", 2 * LOADED)
    finally:
        sr("sr_sarra", "stop", "pump")
        sr("sr_sarra", "cleanup", "pump")
        poller.stop.set()
        polling.join(30)
    poller.scan()
    shorts = len({name for name, _ in poller.short})
    print(f"poller: {poller.checked} looks at files under final names, {len(poller.short)} short "
          f"({shorts} files); {len(poller.appeared)} files of a 404 appeared")  # fmt: skip
    assert poller.checked > COUNT
    assert poller.short == []
    assert poller.appeared == set()
    assert complete_files(destination, files) == COUNT
    assert sorted(p.name for p in destination.iterdir()) == sorted(files)


@pytest.mark.parametrize("component", ["sarra", "subscribe"])
def test_inflight_none_leaves_nothing_under_the_final_name_after_a_failure(
    tmp_path: Path,
    exchange: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    component: str,
) -> None:
    name = f"cut_{uuid.uuid4().hex[:8]}.dat"
    data = os.urandom(1 << 20)
    (served_root / name).write_bytes(data)
    destination = tmp_path / "public"
    path = tmp_path / "none.conf"
    path.write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\nexpire 1m\n"
        f"post_exchange {exchange}_out\npost_base_url http://pump.example/\n"
        f"post_base_dir {destination}\ndirectory {destination}\nmirror off\naccept .*\n"
        "inflight NONE\ntimeout 1\nattempts 1\nretry off\n"
    )
    config = load(component, path)
    declare(config, f"{exchange}_out")
    base = f"http://127.0.0.1:{http_server.port}/"
    cut = file_notice(base, f"stall/body/{name}", data)  # half the body, then nothing
    gone = file_notice(base, f"no_such_{name}", b"x")
    with running(config) as loop:
        announce(config, [cut, gone], exchange)
        wait_for(lambda: loop.counts["failed"] == 2, "both failures", 30)
    assert not destination.exists() or list(destination.iterdir()) == []
