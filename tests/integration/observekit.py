"""Helpers of the tests of what operators look at: configs in every state, `sr status`, and
`sr observe` running as a separate process."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pumpkit import BIN, sr, wait_for


def free_port() -> int:
    """A TCP port where nothing listens (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def subscribe_config(home: Path, name: str, broker: str, exchange: str, out: Path,
                     extra: str = "") -> Path:  # fmt: skip
    """~/.config/sarra/subscribe/<name>.conf."""
    path = home / "subscribe" / f"{name}.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"broker {broker}\nexchange {exchange}\nexpire 2m\nheartbeat 1\n"
        f"directory {out}\naccept .*\n{extra}"
    )
    return path


def status_json() -> dict[str, Any]:
    """`sr status --json`, decoded."""
    done = sr("sr", "status", "--json")
    return json.loads(done.stdout)


def configs_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The configs of a status document by component/config."""
    return {f"{c['component']}/{c['config']}": c for c in document["configs"]}


def wait_for_state(label: str, state: str, deadline: float = 20.0) -> dict[str, Any]:
    """Wait until `sr status --json` says a config is in a state; returns the config."""
    found: dict[str, Any] = {}

    def reached() -> bool:
        found.update(configs_by_name(status_json()).get(label, {}))
        return found.get("state") == state

    wait_for(reached, f"{label} {state} (last seen: {found.get('state')})", deadline)
    return found


@contextmanager
def observing(*args: str) -> Iterator[str]:
    """`sr observe --port 0` in a process of its own; yields its URL."""
    process = subprocess.Popen(
        [str(BIN / "sr"), "observe", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("sr observe: serving http://"), first + process.stderr.read()
        yield first.split("serving ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(10)


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET a URL: status, headers, body (error answers included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
