"""Helpers of the compat tests: the real Sarracenia v2 (2.24.8, from the registry) in an
environment of its own, and how to run its commands without touching the user's files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from peers import PeerEnv, peer_env

V2 = ["metpx-sarracenia==2.24.8", "paramiko"]
"""v2 and the one dependency of its own modules it does not declare (sr_sftp)."""

HERE = Path(__file__).parent


def v2_env() -> PeerEnv:
    """The environment holding v2 (built once, kept in ~/.cache/sarra-test-peers)."""
    return peer_env("v2", V2)


def package_dir(env: PeerEnv) -> Path:
    """v2's package directory (its plugins/ and examples/): read, never imported here."""
    found = sorted(env.root.glob("lib/python*/site-packages/sarra"))
    assert found, f"no sarra package in {env.root}"
    return found[0]


def run_v2(
    env: PeerEnv,
    home: Path,
    argv: list[str],
    stdin: str | None = None,
    timeout: float = 120,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command of v2's environment (its python or one of its sr_* commands) with a
    home of its own, so that v2 reads and writes nothing of the user's."""
    home.mkdir(parents=True, exist_ok=True)
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
    env_vars |= extra_env or {}
    env_vars |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                 "XDG_CACHE_HOME": str(home / ".cache")}  # fmt: skip
    program = argv[0] if "/" in argv[0] else str(env.bin / argv[0])
    return subprocess.run([program, *argv[1:]], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env_vars, check=False)  # fmt: skip
