"""A component's imports take what it uses: `sr_post` posting once (its command line read, the
component loaded) leaves out the other components' libraries, the downloads and sends of the
loop (whose other stages it runs), the transfers, the sr3 shims, the instances' lifecycle and
what serves only a mistake or an option it does not set; each costs milliseconds at every
start (bench/startup.py)."""

from __future__ import annotations

import subprocess
import sys

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
)


def loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded once `code` ran."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(*sys.modules)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(done.stdout.split())


def test_posting_once_loads_only_what_it_uses() -> None:
    loaded = loaded_by("import sarra.cli.component")
    unwanted = sorted(
        name
        for name in loaded
        if any(name == m or name.startswith(m + ".") for m in NOT_FOR_POSTING)
    )
    assert unwanted == []


def test_a_component_loads_no_library_its_config_does_not_name() -> None:
    loaded = loaded_by("import sarra.components.run, sarra.cli.habits, sarra.cli.actions")
    libraries = {name.partition(".")[0] for name in loaded}
    assert libraries.isdisjoint({"redis", "paramiko", "paho", "prometheus_client", "urllib3"})
