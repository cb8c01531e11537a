"""Real sr3 (metpx-sr3 from the registry, in an environment of its own) run beside ours: a home
with ~/.config/sr3 for it, its configs, and its components run in the foreground."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from integration.pumpkit import wait_for
from peers import PeerEnv

from sarra.broker import plan
from sarra.broker.publisher import Publisher
from sarra.config.loader import load
from sarra.message import v03
from sarra.message.notice import Notice

SR3 = ["metpx-sr3==3.3.1", "amqp", "paho-mqtt"]
"""sr3 as the compat tests install it."""

SR3_REASSEMBLY = [*SR3, "flufl.lock"]
"""sr3 able to reassemble partitioned files: its block_reassembly callback needs flufl.lock,
which metpx-sr3 does not require."""

SR3_SFTP = [*SR3, "paramiko"]
"""sr3 able to send and poll over SFTP: its sftp transfer needs paramiko, which metpx-sr3 does
not require."""

BROKER = "amqp://guest:guest@127.0.0.1/"
READY = re.compile(r"Binding queue|binding")
"""What sr3 logs once its queue is bound (a subscriber consumes from then on)."""
SR3_BINDING = re.compile(r"binding (?P<queue>\S+) with (?P<topic>\S+) to (?P<exchange>\S+) \(as:")
"""sr3's log line of a binding, written just BEFORE it asks the broker for it."""
WATCHING = re.compile(r"now active on")
"""What sr3's watch logs once it watches."""


@dataclass(frozen=True)
class Sr3Home:
    """A home directory for sr3: credentials for the local broker, configs under
    ~/.config/sr3/<component>/."""

    env_root: PeerEnv
    root: Path

    @classmethod
    def make(cls, peer: PeerEnv, root: Path, credentials: str = "") -> Sr3Home:
        """The home, its credentials.conf holding the broker's and `credentials` lines."""
        config = root / ".config" / "sr3"
        config.mkdir(parents=True)
        path = config / "credentials.conf"
        path.write_text(f"{BROKER}\n{credentials}")
        path.chmod(0o600)
        return cls(peer, root)

    @property
    def env(self) -> dict[str, str]:
        """The environment sr3 runs in: this home, none of the tests' XDG or Python settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
        return env | {"HOME": str(self.root)}

    def config(self, name: str, text: str) -> None:
        """Write ~/.config/sr3/<component>/<config>.conf (name is `component/config`), or the
        file `name` when it has a suffix (an include: `shovel/rejects.inc`)."""
        path = self.root / ".config" / "sr3" / (name if Path(name).suffix else f"{name}.conf")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, name: str, timeout: float = 120) -> str:
        """Run `sr3 foreground component/config` to its end (a post); its output."""
        done = subprocess.run(
            [str(self.env_root.bin / "sr3"), "foreground", name], capture_output=True,
            text=True, env=self.env, cwd=self.root, timeout=timeout,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        return output

    @contextmanager
    def running(
        self, name: str, log: Path, ready: re.Pattern[str] = READY
    ) -> Iterator[subprocess.Popen[bytes]]:
        """`sr3 foreground component/config` in the background, once it logs `ready` (by
        default: its queue is bound); stopped on the way out."""
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [str(self.env_root.bin / "sr3"), "foreground", name], stdout=output,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.root, start_new_session=True,
            )  # fmt: skip
        try:
            wait_for(
                lambda: process.poll() is None and ready.search(log.read_text(errors="replace")),
                f"sr3 {name} to consume",
                deadline=60,
            )
            if ready is READY:
                wait_bound(log)
            yield process
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in a session of its own, and its children: SIGTERM, then SIGKILL
    if it is not gone in 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _bindings() -> set[tuple[str, str, str]]:
    """The broker's bindings (exchange, queue, topic), as rabbitmqctl lists them."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_bindings", "source_name", "destination_name", "routing_key"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {tuple(line.split("\t")) for line in listed.stdout.splitlines()}  # type: ignore[misc]


def wait_bound(log: Path) -> None:
    """Wait until every binding sr3 logged (it logs one before asking for it) is on the broker:
    a notice published before then reaches only the other side."""
    wanted = {
        (m["exchange"], m["queue"], m["topic"])
        for m in SR3_BINDING.finditer(log.read_text(errors="replace"))
    }
    wait_for(lambda: wanted <= _bindings(), f"sr3's bindings {sorted(wanted)}", deadline=60)


def publish(exchange: str, notices: list[Notice]) -> None:
    """v03 notices, as sr3 pumps send them."""
    publisher_config = load("subscribe", None, name="publisher")
    settings = plan.connection_settings(publisher_config, BROKER, "publisher")
    with Publisher(settings, [exchange]) as publisher:
        for notice in notices:
            key, body = v03.encode(notice, "v03")
            publisher.publish(exchange, key, body, {}, v03.CONTENT_TYPE)
        assert publisher.flush(20)
