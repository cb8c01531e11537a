"""sr3's message habits, against the real sr3 (metpx-sr3 3.3.1, from the registry) on the local
RabbitMQ: what sr3's watch posts for a link, a rename and a removal does the same here as under
sr3's own subscriber."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from integration.pumpkit import running, subscriber, wait_for, watch
from peers import PeerEnv
from servers import HttpServer
from sr3peer import BROKER, WATCHING, Sr3Home

from sarra.broker.consumer import Consumer
from sarra.config.loader import load

pytestmark = [pytest.mark.broker, pytest.mark.usefixtures("broker_credentials")]

OURS = Path(sys.executable).parent


def tree(root: Path) -> dict[str, tuple[str, str | bytes]]:
    """Each entry below root: a link and its target, or a file and its bytes."""
    found: dict[str, tuple[str, str | bytes]] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path))
        elif path.is_file() and not path.name.startswith("."):
            found[name] = ("file", path.read_bytes())
    return found


def test_links_renames_and_removals_from_sr3_s_watch_do_the_same_here(
    sr3: PeerEnv, tmp_path: Path, exchange: str, served_root: Path, http_server: HttpServer
) -> None:
    source = served_root / f"ops_{exchange}"
    source.mkdir()
    home = Sr3Home.make(sr3, tmp_path / "sr3")
    outs = {"sr3": tmp_path / "out_sr3", "ours": tmp_path / "out_ours"}
    home.config(
        "watch/ops",
        f"post_broker {BROKER}\npost_exchange {exchange}\npost_baseDir {served_root}\n"
        f"post_baseUrl http://127.0.0.1:{http_server.port}/\nsleep 0.2\npath {source}\n",
    )
    # both as an sr3 user subscribes to a watch: the poster's base directory in baseDir, so that
    # the paths in its renames and links are found below the local directory
    home.config(
        "subscribe/ops",
        f"broker {BROKER}\nexchange {exchange}\ntopicPrefix v03\nsubtopic {source.name}.#\n"
        f"expire 2m\nbaseDir {served_root}\ndirectory {outs['sr3']}\nmirror on\naccept .*\n",
    )
    config = subscriber(
        tmp_path,
        exchange,
        f"topic_prefix v03\nsubtopic {source.name}.#\nbase_dir {served_root}\n"
        f"directory {outs['ours']}\nmirror on\naccept .*\n",
    )

    def both(what: str, expected: dict[str, tuple[str, str | bytes]]) -> None:
        mirrored = {f"{source.name}/{name}": entry for name, entry in expected.items()}
        for who, out in outs.items():
            wait_for(lambda out=out: tree(out) == mirrored, f"{who}: {what}", deadline=30)

    with (
        home.running("subscribe/ops", tmp_path / "sub.log"),
        running(config),
        home.running("watch/ops", tmp_path / "watch.log", WATCHING),
    ):
        files = {name: os.urandom(100 + i) for i, name in enumerate(["a.dat", "c.dat", "d.dat"])}
        for name, data in files.items():
            (source / name).write_bytes(data)
        state: dict[str, tuple[str, str | bytes]] = {n: ("file", d) for n, d in files.items()}
        both("the files", state)
        (source / "l.dat").symlink_to("d.dat")
        state["l.dat"] = ("link", "d.dat")
        both("the link", state)
        (source / "a.dat").rename(source / "b.dat")
        state["b.dat"] = state.pop("a.dat")
        both("the rename", state)
        (source / "c.dat").unlink()
        del state["c.dat"]
        both("the removal", state)


# --- post_format and post_topicPrefix

FORMATS = [
    ("post_format v02", "v02.post.d", "text/plain"),
    ("post_format v02\npost_topicPrefix v03", "v02.post.d", "text/plain"),
    ("post_format v03\npost_topicPrefix v02.post", "v02.post.d", "application/json"),
    ("post_format v03", "v03.d", "application/json"),
    ("post_topicPrefix v03.post", "v03.post.d", "application/json"),
]
"""Options of a poster, and the topic and content type sr3 3.3.1 publishes under (checked here
against sr3 itself); ours is given sr3's default topic prefix (v03), as sr3 configs are."""


def _first(consumer: Consumer) -> tuple[str, str | None]:
    found = consumer.get_batch(1, timeout=20)
    assert found, "nothing posted"
    return found[0].routing_key, found[0].content_type


@pytest.mark.parametrize(("options", "topic", "content_type"), FORMATS)
def test_post_format_and_post_topic_prefix_as_sr3_s(
    sr3: PeerEnv, tmp_path: Path, options: str, topic: str, content_type: str
) -> None:
    base = tmp_path / "base"
    (base / "d").mkdir(parents=True)
    (base / "d" / "x.txt").write_text("hi")
    home = Sr3Home.make(sr3, tmp_path / "sr3")
    found = {}
    for who in ("sr3", "ours"):
        exchange = f"xsr3fmt_{uuid.uuid4().hex[:8]}"
        consumer = watch(load("subscribe", None, name="watcher"), exchange)
        try:
            if who == "sr3":
                home.config("post/fmt", f"post_broker {BROKER}\npost_exchange {exchange}\n"
                            f"post_baseUrl http://h/\npost_baseDir {base}\n{options}\n"
                            f"path {base / 'd' / 'x.txt'}\n")  # fmt: skip
                home.run("post/fmt")
            else:
                argv = [f"-{word}" if n % 2 == 0 else word
                        for n, word in enumerate(options.replace("\n", " ").split())]  # fmt: skip
                argv = [a.replace("-post_topicPrefix", "-post_topic_prefix") for a in argv]
                posted = subprocess.run(
                    [str(OURS / "sr_post"), "-pb", BROKER, "-pe", exchange, "-topic_prefix",
                     "v03", *argv, "-pbu", "http://h/", "-pbd", str(base),
                     str(base / "d" / "x.txt")],
                    capture_output=True, text=True, timeout=120,
                )  # fmt: skip
                assert posted.returncode == 0, posted.stderr[-2000:]
            found[who] = _first(consumer)
        finally:
            consumer.close()
    assert found == {"sr3": (topic, content_type), "ours": (topic, content_type)}
