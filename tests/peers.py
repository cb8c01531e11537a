"""Real peers from the registry (Sarracenia v2, sr3, trollmoves, pywis-pubsub), each installed
in a virtual environment of its own, never in the project's .venv, and kept between runs.

    env = peer_env("sr3", ["metpx-sr3==3.3.1", "amqp", "paho-mqtt"])
    subprocess.run([env.bin / "sr3", "status"], ...)

Environments live in $SARRA_PEERS (default ~/.cache/sarra-test-peers), one directory per name
and requirement list; a ready one is reused at once. Building one is serialised with a lock, so
that parallel test runs never build the same one twice. A test is skipped, with the reason, only
where the registry cannot be reached; any other failure of pip fails it (something to look at).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

UNREACHABLE = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Name or service not known"
    r"|Network is unreachable|Connection refused|ConnectTimeout|ReadTimeout"
    r"|Failed to establish a new connection|No matching distribution found"
)
"""What pip says when the registry cannot be reached (an offline index also finds nothing)."""


@dataclass(frozen=True)
class PeerEnv:
    """A ready virtual environment holding a peer."""

    root: Path

    @property
    def bin(self) -> Path:
        """Its scripts (the peer's commands)."""
        return self.root / "bin"

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.bin / "python"


def peers_dir() -> Path:
    """Where peer environments are kept between runs."""
    default = Path.home() / ".cache" / "sarra-test-peers"
    return Path(os.environ.get("SARRA_PEERS", default))


def peer_env(name: str, requirements: list[str], timeout: float = 900) -> PeerEnv:
    """The environment `name` with `requirements` installed: built on first use, then reused;
    skips the calling test where the registry is unreachable."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    root = peers_dir() / f"{name}-{key}"
    ready = root / ".ready"
    if ready.exists():
        return PeerEnv(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _build(root, requirements, timeout)
            ready.write_text("\n".join(requirements) + "\n")
    return PeerEnv(root)


def _build(root: Path, requirements: list[str], timeout: float) -> None:
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(root)], check=True, timeout=120)
    pip = [str(root / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    done = subprocess.run(
        [*pip, "install", *requirements], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode == 0:
        return
    output = done.stdout + done.stderr
    if UNREACHABLE.search(output):
        pytest.skip(f"cannot install {' '.join(requirements)}: the registry is unreachable")
    raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n{output[-4000:]}")
