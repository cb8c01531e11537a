"""The onward path a plugin sets, judged by the peers themselves (metpx-sr3 3.3.1 and
Sarracenia 2.24.8, each in an environment of its own): their subscriber and ours run the same
config (post_base_url, post_base_dir) with the same plugin, on the same exchange, each posting
to an exchange of its own, and place the same files and post the same notices.

- sr3: a new_dir and new_relPath set in after_accept, and a relPath and baseUrl changed in
  after_work.
- v2: parent.post_base_dir and msg.new_dir set at on_message, msg.new_relpath and
  msg.new_baseurl set at on_file, and a file on_file moves itself (msg.new_dir).

A file no plugin touches is posted alike too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from integration.onward_plugins import V2_PLUGIN
from integration.pumpkit import announce, declare, file_notice, take, wait_for, watch
from peers import PeerEnv
from servers import HttpServer
from sr3peer import BROKER, publish, stop_group

from sarra.broker import Consumer
from sarra.config.loader import load
from sarra.message.notice import Notice

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

READY = {"sr3": r"Binding queue|binding", "v2": r"reading from to", "ours": r"consumer pid"}


def _home(root: Path, exchange: str, posted_to: str, peer: str) -> dict[str, str]:
    """A home holding the config, the plugin (sr3: in ~/.config/sr3, v2: in ~/.config/sarra)
    and credentials; its environment."""
    home = root / "home"
    config_dir = home / ".config" / ("sr3" if peer == "sr3" else "sarra")
    (config_dir / "subscribe").mkdir(parents=True)
    (config_dir / "plugins").mkdir()
    (config_dir / "plugins" / "onward.py").write_text(CALLBACK if peer == "sr3" else V2_PLUGIN)
    credentials = config_dir / "credentials.conf"
    credentials.write_text(f"{BROKER}\n")
    credentials.chmod(0o600)
    out = root / "out"
    (out / "hourly").mkdir(parents=True)  # v2 wants post_base_dir to be (a plugin's too)
    prefix, plugin = ("topicPrefix v03\n", "callback") if peer == "sr3" else ("", "plugin")
    (config_dir / "subscribe" / "case.conf").write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\n{prefix}subtopic #\nexpire 2m\n"
        f"directory {out}\nmirror off\npost_broker amqp://guest@127.0.0.1/\n"
        f"post_exchange {posted_to}\npost_base_url http://here/\npost_base_dir {out}\n"
        f"report_back False\n{plugin} onward\naccept .*\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
    return env | {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                  "XDG_CACHE_HOME": str(home / ".cache")}  # fmt: skip


@pytest.fixture
def exchange() -> str:
    name = f"xonward_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), name)
    return name


@contextmanager
def _sides(
    peer: str, command: list[str], tmp_path: Path, exchange: str
) -> Iterator[dict[str, tuple[Path, Consumer]]]:
    """The peer's subscriber and ours, consuming; where each places files, and a watch of what
    each posts."""
    found: dict[str, tuple[Path, Consumer]] = {}
    processes = []
    try:
        for who in (peer, "ours"):
            root = tmp_path / who
            posted_to = f"{exchange}_{who}"
            env = _home(root, exchange, posted_to, peer)
            watcher = watch(load("subscribe", None, name="watcher"), posted_to)
            found[who] = (root / "out", watcher)
            log = root / "log"
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    command if who == peer else [str(OURS), "foreground", "case"],
                    stdout=output, stderr=subprocess.STDOUT, env=env, cwd=root,
                    start_new_session=True,
                )  # fmt: skip
            processes.append(process)
            wait_for(lambda log=log, who=who: _logged(log, READY[who]), f"{who} to consume",
                     deadline=60)  # fmt: skip
        yield found
    finally:
        for process in processes:
            stop_group(process)
        for _, watcher in found.values():
            watcher.close()


def _files(served_root: Path, exchange: str, base: str, names: list[str]) -> list[Notice]:
    """The files served, and their notices."""
    folder = f"onward_{exchange}"
    (served_root / folder).mkdir()
    notices = []
    for name in names:
        data = os.urandom(200 + len(notices))
        (served_root / folder / name).write_bytes(data)
        notices.append(file_notice(base, f"{folder}/{name}", data))
    return notices


def _posted(sides: dict[str, tuple[Path, Consumer]], count: int) -> dict[str, list[str]]:
    """What each side posted (base URL and relPath, sorted), once it placed its files."""
    posted = {}
    for who, (out, watcher) in sides.items():
        found = take(watcher, count)
        posted[who] = sorted(f"{n.base_url} {n.rel_path}" for n in found)
        wait_for(lambda out=out: len(_placed(out)) == count, f"{who}'s files")
    return posted


def _logged(log: Path, pattern: str) -> bool:
    return re.search(pattern, log.read_text(errors="replace")) is not None


def _placed(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_an_sr3_callback_s_onward_path_is_posted_as_sr3_posts_it(
    sr3: PeerEnv, tmp_path: Path, exchange: str, http_server: HttpServer, served_root: Path
) -> None:
    command = [str(sr3.bin / "sr3"), "foreground", "subscribe/case"]
    with _sides("sr3", command, tmp_path, exchange) as sides:
        base = f"http://127.0.0.1:{http_server.port}/"
        publish(exchange, _files(served_root, exchange, base, ["a.dat", "b.dat", "c.dat"]))
        posted = _posted(sides, 3)
    theirs, ours = sides["sr3"][0], sides["ours"][0]
    assert _placed(ours) == _placed(theirs)
    assert "sub/a.dat" in _placed(ours)
    assert posted["ours"] == posted["sr3"]
    assert posted["sr3"] == [
        "http://here/ c.dat",
        "http://here/ elsewhere/a.dat",
        "http://near/ kept/b.dat",
    ]


def test_a_v2_plugin_s_onward_path_is_posted_as_v2_posts_it(
    v2: PeerEnv, tmp_path: Path, exchange: str, http_server: HttpServer, served_root: Path
) -> None:
    command = [str(v2.bin / "sr_subscribe"), "foreground", "case"]
    with _sides("v2", command, tmp_path, exchange) as sides:
        base = f"http://127.0.0.1:{http_server.port}/"
        notices = _files(served_root, exchange, base, ["a.dat", "b.dat", "c.dat", "d.dat"])
        announce(load("subscribe", None, name="announcer"), notices, exchange)
        posted = _posted(sides, 4)
    theirs, ours = sides["v2"][0], sides["ours"][0]
    assert _placed(ours) == _placed(theirs)
    assert {"hourly/12/a.dat", "moved/c.dat"} <= set(_placed(ours))
    assert posted["ours"] == posted["v2"]
    assert posted["v2"] == [
        "http://here/ /12/a.dat",
        "http://here/ /d.dat",
        "http://here/ /moved/c.dat",
        "http://there/ /renamed/b.dat",
    ]
