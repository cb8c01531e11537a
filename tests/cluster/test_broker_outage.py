"""A long broker outage: a RabbitMQ node of the test's own is stopped for 70 s, then started
again, under a chain of daemons as an operator runs them: sr_watch (a publisher) -> sr_shovel
(a consumer and a publisher) -> sr_subscribe (a consumer). Each of their connections is back
within 5 s of the broker's return, says once in its log how long the broker was away, and the
files written before, during and after the outage all arrive.

The back-off reaches its cap (4 s) after 1 + 2 + 4 s, so any outage longer than about 10 s
shows the same property; SARRA_TEST_OUTAGE (seconds) shortens this one for a quick run.
Skipped where RabbitMQ's server is not installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import rabbitcluster
from rabbitcluster import Cluster

from sarra.config import paths

pytestmark = pytest.mark.skipif(
    not rabbitcluster.installed(), reason="RabbitMQ's server is not installed"
)

OUTAGE = float(os.environ.get("SARRA_TEST_OUTAGE", "70"))
BACK_WITHIN = 5.0
RECONNECTED = re.compile(
    r"^(\S+ \S+) \[INFO\] \S+: '([^']+)' reconnected after (\d+\.\d) s away", re.MULTILINE
)
STAMP = "%Y-%m-%d %H:%M:%S,%f"
BIN = Path(sys.executable).parent

CHAIN = ("watch", "shovel", "subscribe")
CONNECTIONS = 4
"""The watch's publisher, the shovel's consumer and publisher, the subscriber's consumer."""


def sr(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120, check=False
    )


def wait_for(condition: Callable[[], bool], what: str, deadline: float) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def log_of(component: str) -> str:
    path = paths.log_file(component, "outage", 1)
    return path.read_text(errors="replace") if path.exists() else ""


def arrival(path: Path, since: float, arrivals: dict[str, float]) -> Callable[[], bool]:
    """A condition on `path` being there, which records in `arrivals` when it was first seen
    (seconds after `since`)."""

    def arrived() -> bool:
        if path.exists():
            arrivals.setdefault(path.name, time.time() - since)
            return True
        return False

    return arrived


def test_every_connection_is_back_within_5_s_of_the_brokers_return(
    sarra_home: Path, tmp_path: Path
) -> None:
    tree, out = tmp_path / "tree", tmp_path / "out"
    tree.mkdir()
    arrivals: dict[str, float] = {}
    with Cluster(tmp_path / "rabbit", size=1) as cluster:
        node = cluster.nodes[0]
        broker = f"amqp://guest@{node.url}/"
        credentials = sarra_home / "credentials.conf"
        credentials.write_text(f"amqp://guest:guest@{node.url}/\n")
        credentials.chmod(0o600)
        configs = {
            "watch": f"post_broker {broker}\npost_exchange xs_guest_outage\npath {tree}\n",
            "shovel": f"broker {broker}\nexchange xs_guest_outage\nexpire 10m\n"
            "post_exchange xs_guest_outage_out\n",
            "subscribe": f"broker {broker}\nexchange xs_guest_outage_out\nexpire 10m\n"
            f"base_dir {tree}\ndirectory {out}\naccept .*\n",
        }
        for component, text in configs.items():
            path = sarra_home / component / "outage.conf"
            path.parent.mkdir(parents=True)
            path.write_text(text)
        try:
            for component in CHAIN:  # each declares the exchange the next one binds to
                started = sr(f"sr_{component}", "start", "outage")
                assert started.returncode == 0, started.stderr
                wait_for(lambda c=component: "connected" in log_of(c), f"{component} up", 30)
            (tree / "before.dat").write_bytes(b"before")
            wait_for(lambda: (out / "before.dat").exists(), "the chain to work", 30)

            cluster.halt(node)
            stopped = time.monotonic()
            (tree / "during.dat").write_bytes(b"during")  # held by sr_watch meanwhile
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))  # the outage itself
            back = cluster.revive(node)
            (tree / "after.dat").write_bytes(b"after")
            for name in ("during.dat", "after.dat"):
                wait_for(arrival(out / name, back, arrivals), f"{name} after the outage", 30)
            wait_for(lambda: sum(len(RECONNECTED.findall(log_of(c))) for c in CHAIN)
                     >= CONNECTIONS, "every connection's recovery logged", 10)  # fmt: skip
        finally:
            for component in CHAIN:
                sr(f"sr_{component}", "stop", "outage")

    recoveries = []
    for component in CHAIN:
        for stamp, name, away in RECONNECTED.findall(log_of(component)):
            delay = datetime.strptime(stamp, STAMP).timestamp() - back
            recoveries.append((name, float(away), delay))
    print(f"\nbroker away {OUTAGE:.0f} s; connections back after its return (s):")
    for name, away, delay in recoveries:
        print(f"  {name}: {delay:.2f} (logged: away {away:.1f} s)")
    print("files arrived after its return (s): "
          + ", ".join(f"{n} {t:.2f}" for n, t in sorted(arrivals.items())))  # fmt: skip
    assert len(recoveries) == CONNECTIONS  # each connection logs its recovery once
    assert all(delay < BACK_WITHIN for _name, _away, delay in recoveries)
    assert all(away >= OUTAGE for _name, away, _delay in recoveries)
    assert all(t < BACK_WITHIN + 1 for t in arrivals.values())
    assert (out / "during.dat").read_bytes() == b"during"
