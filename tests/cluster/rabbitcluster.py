"""A throw-away RabbitMQ cluster of a few nodes on this machine, for tests.

Each node has its own name (sarra-cN-<random>@localhost, so that runs at the same time, or
nodes left over by a crash, do not clash), AMQP and distribution ports, and data and log
directories under one temporary directory; all share an Erlang cookie kept in a HOME of their
own, and load no plugin (the management plugin would clash with the machine's main node on
15672). The machine's own RabbitMQ node is never touched: the nodes only share its epmd.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pika

SBIN = Path("/usr/lib/rabbitmq/bin")
"""Debian's scripts run as the rabbitmq user; these are the scripts themselves."""


def installed() -> bool:
    """Whether RabbitMQ's server and its command line tools are on this machine."""
    return all((SBIN / name).exists() for name in ("rabbitmq-server", "rabbitmqctl"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One node of the cluster, run in the foreground as a child of the test."""

    name: str
    amqp_port: int
    dist_port: int
    base: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.amqp_port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Cluster:
    """`size` nodes joined into one cluster; `stop()` ends them all and removes their files."""

    def __init__(self, base: Path, size: int = 3) -> None:
        self.base = base
        home = base / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(os.urandom(16).hex().upper())
        cookie.chmod(0o400)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        self.nodes: list[Node] = []
        token = os.urandom(3).hex()
        for number in range(1, size + 1):
            node_base = base / f"node{number}"
            node_base.mkdir(exist_ok=True)
            amqp, dist = free_port(), free_port()
            (node_base / "rabbitmq.conf").write_text(
                f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
                "loopback_users = none\n"
                "cluster_partition_handling = pause_minority\n"
            )
            name = f"sarra-c{number}-{token}@localhost"
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(home),
                "LANG": "C.UTF-8",
                "RUNNING_UNDER_SYSTEMD": "1",  # exec the VM: its pid is the node's
                "RABBITMQ_NODENAME": name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(amqp),
                "RABBITMQ_DIST_PORT": str(dist),
                "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
                "RABBITMQ_CONFIG_FILE": str(node_base / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(node_base / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(node_base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(node_base / "log"),
                "RABBITMQ_PID_FILE": str(node_base / "pid"),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
            }
            self.nodes.append(Node(name, amqp, dist, node_base, env))

    # --- life cycle

    def start(self, timeout: float = 120.0) -> Cluster:
        """Start every node, then join the others to the first."""
        for node in self.nodes:
            self._launch(node)
        end = time.monotonic() + timeout
        for node in self.nodes:
            self._await(node, end)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        return self

    def _launch(self, node: Node) -> None:
        log = open(node.base / "console.log", "ab")  # noqa: SIM115 - the child keeps it
        node.process = subprocess.Popen(
            [str(SBIN / "rabbitmq-server")],
            env=node.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def _await(self, node: Node, end: float) -> None:
        """Wait until `node` runs (the command line cannot reach it before it has started)."""
        while True:
            if not node.alive():
                log = (node.base / "console.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{node.name} ended while starting:\n{log}")
            try:
                self.ctl(node, "await_startup", "--timeout", "10", timeout=10)
                return
            except RuntimeError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.5)

    def kill(self, node: Node) -> None:
        """Kill a node at once (SIGKILL): its clients see their connections drop."""
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(30)

    def halt(self, node: Node, timeout: float = 60.0) -> None:
        """Stop a node gently (SIGTERM, as `systemctl stop` does): it closes its clients'
        connections and keeps its data for `revive`."""
        if node.process is not None and node.process.poll() is None:
            node.process.terminate()
            node.process.wait(timeout)

    def revive(self, node: Node, timeout: float = 120.0) -> float:
        """Start a halted (or killed) node again, with its data; returns the time (epoch
        seconds) it first accepted an AMQP connection, polled every 20 ms."""
        self._launch(node)
        end = time.monotonic() + timeout
        parameters = pika.ConnectionParameters(
            "127.0.0.1", node.amqp_port, credentials=pika.PlainCredentials("guest", "guest"),
            connection_attempts=1, socket_timeout=2, blocked_connection_timeout=2,
        )  # fmt: skip
        while True:
            try:
                pika.BlockingConnection(parameters).close()
                return time.time()
            except pika.exceptions.AMQPError:
                if not node.alive() or time.monotonic() > end:
                    log = (node.base / "console.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{node.name} did not come back:\n{log}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """End every node (gently, then by force) and remove their files."""
        for node in self.nodes:
            if node.alive():
                assert node.process is not None
                node.process.terminate()
        end = time.monotonic() + 30
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- queries

    def ctl(self, node: Node, *argv: str, timeout: float = 60.0) -> str:
        """Run rabbitmqctl against `node`; its output (raises if it fails)."""
        done = subprocess.run(
            [str(SBIN / "rabbitmqctl"), "-n", node.name, *argv],
            env=node.env,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            check=False,
        )
        if done.returncode != 0:
            command = " ".join(argv)
            raise RuntimeError(f"rabbitmqctl {command} on {node.name}: {done.stderr.strip()}")
        return done.stdout

    def leader(self, queue: str, via: Node | None = None) -> Node:
        """The node leading a (quorum) queue."""
        via = via or next(node for node in self.nodes if node.alive())
        out = self.ctl(via, "list_queues", "name", "leader", "--no-table-headers", "--quiet")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return next(node for node in self.nodes if node.name == parts[1])
        raise LookupError(f"queue {queue} not found on {via.name}")
