"""A component's imports take what it uses: `sr_post` posting once (its command line read, the
component loaded, a file posted to the broker) leaves out the other components' libraries, the
downloads and sends of the loop (whose other stages it runs), the transfers, the sr3 shims and
v2 plugins (for a config that names none), the WIS2 message codec (for a v02 or v03 poster), the
broker's topology and its administration, the instances' lifecycle, and what serves only a
mistake or an option it does not set; each costs milliseconds at every start
(bench/startup.py). (The loop's own stages come with it: its figures, its topic prefixes, its
WIS2 selection.)"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest

NOT_FOR_POSTING = (
    "redis",
    "paramiko",
    "paho",
    "prometheus_client",
    "urllib3",
    "requests",
    "watchdog",
    "multiprocessing",
    "email",
    "http",
    "difflib",
    "zoneinfo",
    "csv",
    "gzip",
    "importlib.metadata",
    "logging.handlers",
    "sarra.flow.download",
    "sarra.flow.send",
    "sarra.compat.sr3",
    "sarra.transfer.base",
    "sarra.transfer.registry",
    "sarra.cli.lifecycle",
    "sarra.observe",
    "sarra.compat",
    "sarra.message.wnm",
    "sarra.broker.consumer",
    "sarra.broker.topology",
    "platformdirs",
    "tempfile",
    "importlib.resources",
    "shlex",
)

BROKER = "amqp://guest:guest@127.0.0.1/"


def unwanted(loaded: set[str]) -> list[str]:
    """The modules of NOT_FOR_POSTING among `loaded`."""
    return sorted(
        name
        for name in loaded
        if any(name == m or name.startswith(m + ".") for m in NOT_FOR_POSTING)
    )


def loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded once `code` ran."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(*sys.modules)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(done.stdout.split())


def test_posting_once_loads_only_what_it_uses() -> None:
    assert unwanted(loaded_by("import sarra.cli.component")) == []


@pytest.mark.broker
def test_posting_a_file_loads_only_what_it_uses(tmp_path: Path) -> None:
    path = tmp_path / "one.dat"
    path.write_bytes(b"x" * 100)
    exchange = f"xs_guest_imports_{uuid.uuid4().hex[:8]}"
    words = ["-post_broker", BROKER, "-post_exchange", exchange, "-p", str(path)]
    try:
        loaded = loaded_by(
            f"from sarra.cli.component import main\nassert main('post', {words!r}) == 0"
        )
    finally:
        with pika.BlockingConnection(pika.URLParameters(BROKER)) as connection:
            connection.channel().exchange_delete(exchange)
    assert "sarra.broker.publisher" in loaded  # it did post
    assert unwanted(loaded) == []


def test_a_component_loads_no_library_its_config_does_not_name() -> None:
    loaded = loaded_by("import sarra.components.run, sarra.cli.habits, sarra.cli.actions")
    libraries = {name.partition(".")[0] for name in loaded}
    assert libraries.isdisjoint({"redis", "paramiko", "paho", "prometheus_client", "urllib3"})


NOT_FOR_LOOKING = ("sarra.flow.loop", "sarra.components.run", "sarra.transfer", "sarra.compat",
                   "sarra.broker.admin", "sarra.broker.topology")  # fmt: skip
"""What `help` and `status` never use: the components' loops, the transfers, the plugins, the
broker's administration."""


@pytest.mark.parametrize(
    "code",
    [
        "from sarra.cli.component import main\nassert main('subscribe', ['help']) == 0",
        "from sarra.cli.sr import main\nassert main(['status']) == 0",
    ],
)
def test_help_and_status_load_no_loop(code: str) -> None:
    loaded = loaded_by(code)
    assert sorted(n for n in loaded if n.startswith(NOT_FOR_LOOKING)) == []
