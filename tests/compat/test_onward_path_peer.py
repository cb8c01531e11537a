"""The onward path an sr3 callback sets, judged by sr3 itself (metpx-sr3 3.3.1, in an
environment of its own): sr3's `sr3 subscribe` and our sr_subscribe run the same config of
sr3's tree (post_baseUrl, post_baseDir) with the same callback, on the same exchange, each
posting to an exchange of its own. A new_dir and new_relPath set in after_accept, and a relPath
and baseUrl changed in after_work, give the same files in the same places and the same
notices posted under both; so does a file no callback touches."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration.pumpkit import declare, file_notice, take, wait_for, watch
from peers import PeerEnv
from servers import HttpServer
from sr3peer import BROKER, publish

from sarra.broker import Consumer
from sarra.config.loader import load

pytestmark = pytest.mark.broker

OURS = Path(sys.executable).parent / "sr_subscribe"

CALLBACK = """
from sarracenia.flowcb import FlowCB


class Onward(FlowCB):
    def after_accept(self, worklist):
        for msg in worklist.incoming:
            if msg["new_file"] == "a.dat":
                msg["new_dir"] += "/sub"
                msg["new_relPath"] = "elsewhere/a.dat"

    def after_work(self, worklist):
        for msg in worklist.ok:
            if msg["new_file"] == "b.dat":
                msg["relPath"] = "kept/" + msg["relPath"]
                msg["baseUrl"] = msg["baseUrl"].replace("here", "near")
"""

FILES = ["a.dat", "b.dat", "c.dat"]
READY = {"sr3": r"Binding queue|binding", "ours": r"consumer pid"}


def _home(root: Path, exchange: str, posted_to: str) -> dict[str, str]:
    """A home whose ~/.config/sr3 holds the config, the callback and credentials; its
    environment."""
    config_dir = root / "home" / ".config" / "sr3"
    (config_dir / "subscribe").mkdir(parents=True)
    (config_dir / "plugins").mkdir()
    (config_dir / "plugins" / "onward.py").write_text(CALLBACK)
    credentials = config_dir / "credentials.conf"
    credentials.write_text(f"{BROKER}\n")
    credentials.chmod(0o600)
    out = root / "out"
    (config_dir / "subscribe" / "case.conf").write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\ntopicPrefix v03\nsubtopic #\n"
        f"expire 2m\ndirectory {out}\nmirror off\npost_broker amqp://guest@127.0.0.1/\n"
        f"post_exchange {posted_to}\npost_baseUrl http://here/\npost_baseDir {out}\n"
        "callback onward\naccept .*\n"
    )
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
    return env | {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                  "XDG_CACHE_HOME": str(home / ".cache")}  # fmt: skip


@pytest.fixture
def exchange() -> str:
    name = f"xsr3onward_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), name)
    return name


@pytest.fixture
def sides(
    sr3: PeerEnv, tmp_path: Path, exchange: str
) -> Iterator[dict[str, tuple[Path, Consumer]]]:
    """sr3's subscriber and ours, consuming; where each places files, and a watch of what each
    posts."""
    found: dict[str, tuple[Path, Consumer]] = {}
    processes = []
    try:
        for who in ("sr3", "ours"):
            root = tmp_path / who
            posted_to = f"{exchange}_{who}"
            env = _home(root, exchange, posted_to)
            watcher = watch(load("subscribe", None, name="watcher"), posted_to)
            found[who] = (root / "out", watcher)
            command = [str(sr3.bin / "sr3"), "foreground", "subscribe/case"]
            if who == "ours":
                command = [str(OURS), "foreground", "case"]
            log = root / "log"
            with open(log, "wb") as output:
                process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                           env=env, cwd=root, start_new_session=True)  # fmt: skip
            processes.append(process)
            wait_for(lambda log=log, who=who: _logged(log, READY[who]), f"{who} to consume",
                     deadline=60)  # fmt: skip
        yield found
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        for _, watcher in found.values():
            watcher.close()


def _logged(log: Path, pattern: str) -> bool:
    return re.search(pattern, log.read_text(errors="replace")) is not None


def _placed(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_an_sr3_callback_s_onward_path_is_posted_as_sr3_posts_it(
    sides: dict[str, tuple[Path, Consumer]],
    exchange: str,
    http_server: HttpServer,
    served_root: Path,
) -> None:
    folder = f"onward_{exchange}"
    (served_root / folder).mkdir()
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = []
    for name in FILES:
        data = os.urandom(200 + len(notices))
        (served_root / folder / name).write_bytes(data)
        notices.append(file_notice(base, f"{folder}/{name}", data))
    publish(exchange, notices)
    posted = {}
    for who, (out, watcher) in sides.items():
        found = take(watcher, len(FILES))
        posted[who] = sorted(n.url for n in found)
        wait_for(lambda out=out: len(_placed(out)) == len(FILES), f"{who}'s files")
    theirs, ours = sides["sr3"][0], sides["ours"][0]
    assert _placed(ours) == _placed(theirs)
    assert "sub/a.dat" in _placed(ours)
    assert posted["ours"] == posted["sr3"]
    assert posted["sr3"] == [
        "http://here/c.dat",
        "http://here/elsewhere/a.dat",
        "http://near/kept/b.dat",
    ]
