"""A pump on a 3-node RabbitMQ cluster: sr_post and two sr_subscribe instances on a quorum
queue, the node leading the queue killed in the middle of 2,000 files. Every file arrives
exactly once, and the clients are back on a surviving node within seconds.

The cluster is formed here (see rabbitcluster.py; about 30 s) and removed at the end, whatever
happens. Skipped where RabbitMQ's server is not installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import rabbitcluster
import redis
from rabbitcluster import Cluster, Node

from sarra.broker import admin, plan
from sarra.components import instances
from sarra.components.post import Post
from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load

pytestmark = pytest.mark.skipif(
    not rabbitcluster.installed(), reason="RabbitMQ's server is not installed"
)

COUNT = 2000
REDIS = "redis://127.0.0.1:6379/0"
BIN = Path(sys.executable).parent
DOWNLOADED = re.compile(r"/(f\d{5}\.dat) \(.*\) downloaded to: ")
RECONNECTED = re.compile(r"reconnected after (\d+\.\d+) s away")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = time.monotonic()
    with Cluster(tmp_path_factory.mktemp("rabbit")) as formed:
        print(f"\n3-node cluster formed in {time.monotonic() - started:.1f} s")
        yield formed


def sr(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120, check=False
    )


def wait_for(condition: object, what: str, deadline: float) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def broker_url(nodes: list[Node]) -> str:
    return "amqp://guest@" + ",".join(node.url for node in nodes) + "/"


def source_tree(root: Path) -> dict[str, bytes]:
    files = {}
    for number in range(COUNT):
        path = root / f"d{number % 20:02d}" / f"f{number:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(1024) + path.name.encode()
        path.write_bytes(data)
        files[path.name] = data
    return files


def queue_counts(cluster: Cluster, queue: str) -> tuple[int, int, int] | None:
    """(ready, unacknowledged, consumers) of the queue, seen from a live node."""
    via = next(node for node in cluster.nodes if node.alive())
    out = cluster.ctl(
        via, "list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers",
        "--formatter", "json",
    )  # fmt: skip
    for info in json.loads(out or "[]"):
        if info["name"] == queue:
            return info["messages_ready"], info["messages_unacknowledged"], info["consumers"]
    return None


def new_leader(cluster: Cluster, queue: str, old: Node) -> bool:
    """Whether a live node leads the queue now (list_queues answers slowly during elections)."""
    try:
        return cluster.leader(queue) is not old
    except (LookupError, RuntimeError, subprocess.TimeoutExpired):
        return False


def subscriber_logs(name: str) -> str:
    return "".join(
        paths.log_file("subscribe", name, n).read_text(errors="replace")
        for n in (1, 2)
        if paths.log_file("subscribe", name, n).exists()
    )


def test_leader_killed_mid_flow_loses_and_duplicates_nothing(
    cluster: Cluster, sarra_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="sarra.broker")
    tag = uuid.uuid4().hex[:8]
    name, exchange = f"cluster_{tag}", f"xs_guest_cluster_{tag}"
    nodupe = f"sarra.test.nodupe.{tag}"
    credentials = sarra_home / "credentials.conf"
    credentials.write_text("".join(f"amqp://guest:guest@{n.url}/\n" for n in cluster.nodes))
    credentials.chmod(0o600)
    source, destination = tmp_path / "src", tmp_path / "out"
    files = source_tree(source)

    def write_configs(nodes: list[Node]) -> tuple[Config, Config]:
        poster_conf = tmp_path / "poster.conf"
        poster_conf.write_text(f"post_broker {broker_url(nodes)}\npost_exchange {exchange}\n")
        sub_conf = sarra_home / "subscribe" / f"{name}.conf"
        sub_conf.parent.mkdir(parents=True, exist_ok=True)
        sub_conf.write_text(
            f"broker {broker_url(nodes)}\nexchange {exchange}\nqueue_type quorum\nexpire 10m\n"
            f"instances 2\nbase_dir {source}\ndirectory {destination}\naccept .*\n"
            f"suppress_duplicates 10m\nnodupe_driver redis\nnodupe_redis_keybase {nodupe}\n"
            "retry_driver redis\nheartbeat 5\n"
        )
        return load("post", poster_conf), load("subscribe", sub_conf)

    poster_config, sub_config = write_configs(cluster.nodes)
    admin.declare(poster_config)
    admin.setup(sub_config)  # declared through the first node, which leads it
    spec = plan.queue_spec(sub_config, create=False)
    assert spec is not None
    leader = cluster.leader(spec.name)
    # The leader first in the lists: the poster and instance 1 connect to it, instance 2 to
    # the next node, so that its death hits both a publisher and a consumer.
    ordered = [leader, *(node for node in cluster.nodes if node is not leader)]
    poster_config, sub_config = write_configs(ordered)

    def slowly() -> Iterator[str]:
        for path in sorted(source.rglob("*.dat")):
            yield str(path)
            time.sleep(0.002)

    poster = Post(poster_config, slowly(), credentials=Credentials.load(credentials))
    posting: threading.Thread | None = None
    refused: list[str] = []
    try:
        assert sr("sr_subscribe", "start", name).returncode == 0
        wait_for(lambda: (queue_counts(cluster, spec.name) or (0, 0, 0))[2] == 2,
                 "two consumers", 60)  # fmt: skip

        def post_all() -> None:
            poster.run(30)
            refused.extend(poster.source.not_confirmed)

        posting = threading.Thread(target=post_all)
        started = time.monotonic()
        posting.start()
        wait_for(lambda: poster.source.files >= COUNT // 2, "half the files posted", 60)
        killed_at = time.monotonic()
        cluster.kill(leader)
        print(f"killed {leader.name} (queue leader) after {poster.source.files} of {COUNT} posts")

        def arrived() -> int:
            return sum(1 for _ in destination.rglob("*.dat")) if destination.is_dir() else 0

        before = arrived()
        wait_for(lambda: arrived() > before + 10, "downloads after the kill", 60)
        resumed = time.monotonic() - killed_at
        wait_for(lambda: new_leader(cluster, spec.name, leader), "a new leader", 60)
        elected = time.monotonic() - killed_at
        posting.join(120)
        assert not posting.is_alive()
        wait_for(lambda: arrived() == COUNT, f"all {COUNT} files", 120)
        wait_for(lambda: queue_counts(cluster, spec.name) == (0, 0, 2), "the queue drained", 60)
        elapsed = time.monotonic() - started
    finally:
        if posting is not None and posting.is_alive():
            posting.join(60)
        stopped = sr("sr_subscribe", "stop", name)
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(f"{nodupe}:*"):
            client.delete(key)
        for key in client.scan_iter(f"sarra.retry.subscribe.{name}:*"):
            client.delete(key)
        client.close()
    assert stopped.returncode == 0 and not instances.running_pids("subscribe", name)
    assert refused == []

    logs = subscriber_logs(name)
    downloads = Counter(DOWNLOADED.findall(logs))
    lost = sorted(set(files) - set(downloads))
    twice = sorted(n for n, c in downloads.items() if c > 1)
    for path in destination.rglob("*.dat"):
        assert path.read_bytes() == files[path.name], f"{path.name} differs"
    reconnections = [float(s) for s in RECONNECTED.findall(logs + caplog.text)]
    print(
        f"{COUNT} files in {elapsed:.1f} s; lost {len(lost)}, duplicated {len(twice)}; "
        f"reconnections (s): {reconnections}; downloads resumed {resumed:.1f} s after the kill; "
        f"new leader seen {elected:.1f} s after the kill"
    )
    assert (lost, twice) == ([], [])
    assert len(reconnections) >= 2  # the poster and instance 1 were on the dead node
    assert max(reconnections) < 10
    assert resumed < 20
