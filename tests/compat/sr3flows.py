"""One sr3 config run by sr3 (`sr3 foreground component/config`) and by ours (`sr_<component>
foreground config`) side by side on the local broker: each side in a home of its own
(sr3peer.Sr3Home) holding the same ~/.config/sr3 tree (the same text); what must differ
between the two sides (the directory it writes, the exchange it posts to) comes from the
environment, `${NAME}` in the config, as a site sets it; and the notices each posted,
compared."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.pumpkit import take, wait_for, watch
from peers import PeerEnv
from sr3peer import Sr3Home, stop_group, wait_bound

from sarra.broker.consumer import Consumer
from sarra.config.loader import load
from sarra.message.notice import Notice, time_to_epoch

OURS = Path(sys.executable).parent
WHO = ("sr3", "ours")

CONSUMING = {"sr3": r"Binding queue|binding", "ours": r"consuming queue"}
"""What each logs once its queue is bound."""
WATCHING = {"sr3": r"now active on", "ours": r"watching \S+"}
"""What each logs once it watches its directories."""


@dataclass
class Side:
    """One of the two runs: its home (with the tree), the environment it runs in, its log, and
    a consumer of what it posts (to the exchange named ${FLOW_OUT} in its environment)."""

    who: str
    home: Sr3Home
    env: dict[str, str]
    log: Path
    posted: Consumer | None = None
    process: subprocess.Popen[bytes] | None = None

    def logged(self, pattern: str) -> bool:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.search(pattern, text) is not None

    def take(self, count: int) -> list[Notice]:
        """`count` notices it posted (bounded wait)."""
        assert self.posted is not None
        return take(self.posted, count)


def command(sr3: PeerEnv, who: str, name: str) -> list[str]:
    component, config = name.split("/")
    if who == "sr3":
        return [str(sr3.bin / "sr3"), "foreground", name]
    return [str(OURS / f"sr_{component}"), "foreground", config]


@contextmanager
def both(
    sr3: PeerEnv,
    root: Path,
    name: str,
    configs: dict[str, str],
    values: dict[str, dict[str, str]],
    ready: dict[str, str] | None = CONSUMING,
    credentials: str = "",
) -> Iterator[dict[str, Side]]:
    """The config `name` (component/config) of the tree `configs` run by sr3 and by ours, each
    with its own `values[who]` in its environment, a consumer of the exchange ${FLOW_OUT}
    bound first when it has one, each once it logs `ready[who]` (None: at once); stopped on
    the way out."""
    sides = {}
    with ExitStack() as stack:
        for who in WHO:
            home = Sr3Home.make(sr3, root / who / "home", credentials)
            for config, text in configs.items():
                home.config(config, text)
            sides[who] = Side(who, home, home.env | values[who], root / who / "log")
            if "FLOW_OUT" in values[who]:
                posted = watch(load("subscribe", None, name="watcher"), values[who]["FLOW_OUT"])
                sides[who].posted = stack.enter_context(closing(posted))
        for side in sides.values():
            stack.enter_context(_process(sr3, side, name))
        if ready is not None:
            for who, side in sides.items():
                wait_for(lambda side=side, who=who: _alive(side) and side.logged(ready[who]),
                         f"{who} {name} to start", deadline=60)  # fmt: skip
            if ready is CONSUMING:
                wait_bound(sides["sr3"].log)
        yield sides


def _alive(side: Side) -> bool:
    assert side.process is not None
    if side.process.poll() is not None:
        raise AssertionError(f"{side.who} ended: {side.log.read_text(errors='replace')[-3000:]}")
    return True


@contextmanager
def _process(sr3: PeerEnv, side: Side, name: str) -> Iterator[None]:
    side.log.parent.mkdir(parents=True, exist_ok=True)
    with open(side.log, "wb") as output:
        side.process = subprocess.Popen(
            command(sr3, side.who, name), stdout=output, stderr=subprocess.STDOUT,
            env=side.env, cwd=side.home.root, start_new_session=True,
        )  # fmt: skip
    try:
        yield
    finally:
        stop_group(side.process)


COMPARED = ("rel_path", "base_url", "identity", "size", "mtime", "mode", "file_op", "rename",
            "source", "from_cluster", "to_clusters", "topic")  # fmt: skip
"""The fields of a posted notice compared between the two sides, with its other headers; not
pubtime (when each posted) nor atime (when the file was last read: sr3's watch reads a file
to sum it before it takes its times)."""

POSTERS_CLUSTERS = frozenset({"from_cluster", "to_clusters"})
"""What ours writes in the notices of its posters (post, watch, poll) where sr3 3.3.1 writes
nothing: from_cluster (the cluster, else the post broker's host) and to_clusters (`to`, else
the same host), as v2 did and v2's pumps route by; sr3 ignores `to` (undeclared option)."""

OWN_HEADERS = {"id"}
"""Headers each side writes of its own: sr3's `id` (a random message id, sr3 3.3.1)."""


def effect(notice: Notice) -> dict[str, Any]:
    """What a posted notice says, but when it was posted (pubTime) and the sides' own ids;
    its times as instants (sr3 writes `20200913T122640` where ours writes the same time
    `20200913T122640.000000`: both are v03's form)."""
    found = {name: getattr(notice, name) for name in COMPARED}
    if notice.mtime:
        found["mtime"] = time_to_epoch(notice.mtime)
    return found | {k: v for k, v in notice.extra.items() if k not in OWN_HEADERS}


def _key(notice: Notice) -> str:
    """A notice's relPath, the kind of its fileOp (a file made, then removed: two) and its
    identity (two versions of a file: two)."""
    identity = [notice.identity.value[:8]] if notice.identity else []
    return " ".join([notice.rel_path, *sorted(notice.file_op or {}), *identity])


def differences(
    ours: list[Notice], theirs: list[Notice], allowed: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """Where the notices posted by ours differ from sr3's, by notice (_key: the sides may post
    in different orders): each field that differs, with (ours, sr3's), but the `allowed`
    fields that ours writes where sr3 writes none; a notice that only one side posted is
    named with what it says."""
    mine = {_key(n): effect(n) for n in ours}
    other = {_key(n): effect(n) for n in theirs}
    assert len(mine) == len(ours) and len(other) == len(theirs), "a notice posted twice"
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(set(mine) | set(other)):
        if path not in other or path not in mine:
            found[path] = {
                "only ours" if path in mine else "only sr3": mine.get(path, other.get(path))
            }
            continue
        keys = set(mine[path]) | set(other[path])
        diff = {k: (mine[path].get(k), other[path].get(k)) for k in sorted(keys)
                if mine[path].get(k) != other[path].get(k)
                and not (k in allowed and other[path].get(k) is None)}  # fmt: skip
        if diff:
            found[path] = diff
    return found
