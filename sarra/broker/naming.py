"""Names of queues, exchanges and connections, by the established conventions.

Queues: `q_<user>.sr_<component>.<config>[.<queue_suffix>]`, followed for subscribe and report
by two groups of 8 random digits (each config of theirs gets its own queue), and by `_NN` for
the instance's share with exchange_split. The chosen name is kept in the config's state
directory (`sr_<component>.<config>.<user>.qname`) and reused.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
from collections.abc import Callable
from pathlib import Path

from sarra.config import paths

RANDOM_QUEUE_COMPONENTS = frozenset({"subscribe", "report"})
"""Components whose queue names end in random digits."""

PROTECTED_EXCHANGES = frozenset({"xpublic", "xreport", "xs_mqtt_public"})
"""Exchanges that cleanup never deletes (with those whose name starts with xwinnow)."""


def queue_name(
    user: str,
    component: str,
    config: str,
    suffix: str | None = None,
    rng: random.Random | None = None,
) -> str:
    """A new queue name for a config (random digits for subscribe and report)."""
    name = f"q_{user}.sr_{component}.{config}"
    if suffix:
        name += f".{suffix}"
    if component in RANDOM_QUEUE_COMPONENTS:
        draw = (rng or random).randrange
        name += f".{draw(10**8):08d}.{draw(10**8):08d}"
    return name


def split_queue_name(name: str, index: int) -> str:
    """The queue of share `index` (instance - 1) of an exchange_split config."""
    return f"{name}_{index:02d}"


def split_exchange_name(exchange: str, index: int) -> str:
    """Exchange number `index` of a split: `<exchange>NN`."""
    return f"{exchange}{index:02d}"


def queue_standard_prefix(user: str) -> str:
    """What every queue name of `user` starts with (the broker's permissions expect it)."""
    return f"q_{user}."


def qname_file(component: str, config: str, user: str) -> Path:
    """Where the queue name of a config is kept between runs."""
    return paths.state_dir(component, config) / f"sr_{component}.{config}.{user}.qname"


def stored_queue_name(path: Path, make: Callable[[], str] | None) -> str | None:
    """The name kept in `path`; if there is none, `make()`'s, kept there (None if no `make`).

    Instances starting together agree: the first to write the file wins, the others read it.
    """
    kept = _read_name(path)
    if kept or make is None:
        return kept
    import tempfile  # consumers only: not at every start of a poster

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".qname.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(make() + "\n")
        try:
            os.link(scratch, path)  # atomic, and fails if another instance was first
        except FileExistsError:
            if not _read_name(path):  # an empty leftover: replace it
                os.replace(scratch, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
    return _read_name(path)


def _read_name(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def user_exchange(user: str, suffix: str | None = None) -> str:
    """The exchange a user may write to: `xs_<user>[_<suffix>]`."""
    return f"xs_{user}_{suffix}" if suffix else f"xs_{user}"


def exchange_owner(exchange: str) -> str | None:
    """The user whose exchange `xs_<user>[_<suffix>]` is (the name up to the first '_' after
    xs_), or None for an exchange of no user."""
    if not exchange.startswith("xs_"):
        return None
    return exchange[3:].split("_", 1)[0] or None


def post_exchange_names(exchange: str, split: int = 0) -> list[str]:
    """The exchanges posted to: `exchange`, or `<exchange>00` .. with post_exchange_split."""
    if split <= 0:
        return [exchange]
    return [split_exchange_name(exchange, index) for index in range(split)]


def is_protected_exchange(name: str) -> bool:
    """Whether cleanup must leave the exchange alone (shared by every user)."""
    return name in PROTECTED_EXCHANGES or name.startswith("xwinnow")


def connection_name(component: str, config: str, instance: int, role: str) -> str:
    """How the connection appears on the broker (rabbitmqctl list_connections client_properties)."""
    return f"sr_{component}.{config}.{instance:02d} {role} pid {os.getpid()}@{socket.gethostname()}"
