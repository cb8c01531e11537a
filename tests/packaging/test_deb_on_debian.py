"""The .deb on the Debian releases operators run: a root of Debian 12 (bookworm) and one of
Debian 13 (trixie), made with debootstrap from Debian's archive, get the package installed by apt
with that release's own packages of its dependencies; then sr_watch announces files through the
machine's RabbitMQ and sr_subscribe copies them, both started there as daemons with `sr start`.

A root is made once and kept (~/.cache/sarra-test-debian/<suite>.tar, with the packages apt
fetched); each run unpacks a fresh copy. Skipped, with the reason, where it cannot run: not root,
no debootstrap or chroot, or Debian's archive unreachable.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

MIRROR = "http://deb.debian.org/debian"
SUITES = {"bookworm": "Debian 12", "trixie": "Debian 13"}
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="making a Debian root needs root"),
    pytest.mark.skipif(
        shutil.which("debootstrap") is None or shutil.which("chroot") is None,
        reason="debootstrap is not installed (tools/system-packages installs it)",
    ),
]


def _cache() -> Path:
    return Path(os.environ.get("SARRA_DEBIAN_ROOTS", Path.home() / ".cache/sarra-test-debian"))


def _archive_answers(suite: str) -> bool:
    try:
        with urllib.request.urlopen(f"{MIRROR}/dists/{suite}/Release", timeout=10):
            return True
    except OSError:
        return False


def _base(suite: str) -> Path:
    """A tar of a minimal root of `suite`, made by debootstrap on first use."""
    cache = _cache()
    cache.mkdir(parents=True, exist_ok=True)
    tar = cache / f"{suite}.tar"
    with open(cache / f"{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tar.exists():
            return tar
        if not _archive_answers(suite):
            pytest.skip(f"Debian's archive ({MIRROR}) is unreachable: no {suite} root")
        work = cache / f"{suite}.new"
        shutil.rmtree(work, ignore_errors=True)
        made = subprocess.run(
            ["debootstrap", "--variant=minbase", suite, str(work), MIRROR],
            capture_output=True, text=True, timeout=1200, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        subprocess.run(["tar", "-C", str(work), "-cf", f"{tar}.new", "."], check=True)
        os.replace(f"{tar}.new", tar)
        shutil.rmtree(work)
    return tar


@contextlib.contextmanager
def _root(suite: str, where: Path) -> Iterator[Path]:
    """A fresh copy of the root of `suite`, its /proc and /dev/shm mounted, apt's downloads
    kept between runs; every process left in it is killed at the end, and the copy removed."""
    tar = _base(suite)
    root = where / suite
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "-xf", str(tar)], check=True)
    archives = _cache() / f"{suite}-archives"
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    mounts = [
        (["-t", "proc", "proc"], root / "proc"),
        (["-t", "tmpfs", "tmpfs"], root / "dev/shm"),
        (["--bind", str(archives)], root / "var/cache/apt/archives"),
    ]
    mounted: list[Path] = []
    try:
        for options, point in mounts:
            point.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", *options, str(point)], check=True)
            mounted.append(point)
        yield root
    finally:
        _kill_inside(root)
        unmounted = [
            subprocess.run(["umount", "-l", str(point)], check=False).returncode == 0
            for point in reversed(mounted)
        ]
        if all(unmounted):  # never remove what a mount still shows (apt's cache, /proc)
            shutil.rmtree(root, ignore_errors=True)


def _kill_inside(root: Path) -> None:
    real = os.path.realpath(root)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(proc / "root") == real:
                os.kill(int(proc.name), 9)


def _inside(root: Path, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = ["HOME=/root", f"PATH={PATH}", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"]
    return subprocess.run(
        ["chroot", str(root), "/usr/bin/env", "-i", *env, *command],
        capture_output=True, text=True, timeout=timeout, check=False, cwd="/",
    )  # fmt: skip


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
    return result.stdout


def _wait_for_line(log: Path, text: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    shown = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise AssertionError(f"{log.name} never said {text!r}:\n{shown}")


def _configs(root: Path, exchange: str) -> None:
    config = root / "root/.config/sarra"
    for component in ("watch", "subscribe"):
        (config / component).mkdir(parents=True)
    credentials = config / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    (config / "watch/demo.conf").write_text(
        "post_broker amqp://guest@127.0.0.1/\n"
        f"post_exchange {exchange}\n"
        "post_base_url file:/srv/outgoing\n"
        "post_base_dir /srv/outgoing\n"
        "path /srv/outgoing\n"
    )
    (config / "subscribe/demo.conf").write_text(
        "broker amqp://guest@127.0.0.1/\n"
        f"exchange {exchange}\n"
        "base_dir /srv/outgoing\n"
        "directory /srv/incoming\n"
        "mirror\n"
        "accept .*\n"
    )
    for directory in ("srv/outgoing", "srv/incoming"):
        (root / directory).mkdir(parents=True)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_the_package_installs_and_moves_files(suite: str, built_deb: Path, tmp_path: Path) -> None:
    with _root(suite, tmp_path) as root:
        shutil.copy(built_deb, root / "tmp" / built_deb.name)
        _ok(_inside(root, "apt-get", "update", "-qq", timeout=300))
        _ok(_inside(root, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    f"/tmp/{built_deb.name}", timeout=900))  # fmt: skip

        exchange = f"xs_guest_debian_{suite}_{secrets.token_hex(4)}"
        _configs(root, exchange)
        log = root / "root/.cache/sarra/log"
        try:
            _ok(_inside(root, "sr_watch", "declare", "demo"))  # the exchange, then the queue
            _ok(_inside(root, "sr_subscribe", "declare", "demo"))
            _ok(_inside(root, "sr", "start"))
            _wait_for_line(log / "sr_watch_demo_01.log", "watching /srv/outgoing")

            digests = {}
            for number in range(20):
                data = secrets.token_bytes(1000 + 997 * number)
                (root / f"srv/outgoing/file{number:02d}.dat").write_bytes(data)
                digests[f"file{number:02d}.dat"] = hashlib.sha256(data).hexdigest()
            incoming = root / "srv/incoming"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                arrived = {p.name for p in incoming.glob("*.dat")}
                if arrived == set(digests):
                    break
                time.sleep(0.1)
            copies = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in incoming.glob("*.dat")}  # fmt: skip
            assert copies == digests, (log / "sr_subscribe_demo_01.log").read_text()[-3000:]
            status = _ok(_inside(root, "sr", "status"))  # exits 0: both run as they should
            assert "demo" in status, status
        finally:
            _inside(root, "sr", "stop")
            _inside(root, "sr_subscribe", "cleanup", "demo")
            _inside(root, "sr_watch", "cleanup", "demo")
