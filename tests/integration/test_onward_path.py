"""Plugins change the onward notice of a file, on the real RabbitMQ and a real HTTP server: a
v2 plugin's msg.new_relpath, msg.new_baseurl, parent.post_base_dir and a file it moves at
on_file (new_dir/new_file), and an sr3 callback's new_relPath, new_baseUrl and new_file at
after_accept and after_work, are what sr_subscribe posts (sarra.flow.placement.Onward)."""

from __future__ import annotations

from pathlib import Path

import pytest
from onward_plugins import V2_PLUGIN
from pumpkit import announce, file_notice, running, serve_files, subscriber, take, watch
from servers import LOCALHOST, HttpServer

pytestmark = pytest.mark.broker

SR3_CALLBACK = """
from sarracenia.flowcb import FlowCB


class Onward(FlowCB):
    '''a.dat: placed in sub/, announced as elsewhere/a.dat (after_accept); c.dat: announced
    elsewhere (after_work: new_relPath, new_baseUrl); b.dat too, as sr3 shows it (relPath,
    baseUrl); d.dat: announced as D.dat (new_file).'''

    def after_accept(self, worklist):
        for msg in worklist.incoming:
            if msg["new_file"] == "a.dat":
                msg["new_dir"] += "/sub"
                msg["new_relPath"] = "elsewhere/a.dat"

    def after_work(self, worklist):
        for msg in worklist.ok:
            if msg["new_file"] == "b.dat":  # sr3's way: relPath is the onward one by now
                msg["relPath"] = "kept/" + msg["relPath"]
                msg["baseUrl"] = msg["baseUrl"].replace("here", "near")
            elif msg["new_file"] == "c.dat":
                msg["new_relPath"] = "worked/c.dat"
                msg["new_baseUrl"] = "http://there/"
            elif msg["new_file"] == "d.dat":
                msg["new_file"] = "D.dat"
"""


def _relay(
    tmp_path: Path, exchange: str, served_root: Path, port: int, plugin_line: str
) -> tuple[Path, dict[str, str], dict[str, bytes]]:
    """Run a subscriber with a plugin over four files; where each landed, and the URL of each
    notice it posted, by file name."""
    names = ["a.dat", "b.dat", "c.dat", "d.dat"]
    folder = f"onward_{exchange}"
    files = serve_files(served_root, folder, names)
    out = tmp_path / "out"
    posted_to = f"{exchange}_out"
    config = subscriber(
        tmp_path, exchange,
        f"directory {out}\npost_broker amqp://guest@127.0.0.1/\npost_exchange {posted_to}\n"
        f"post_base_url http://here/\npost_base_dir {out}\naccept .*\n{plugin_line}\n",
    )  # fmt: skip
    watcher = watch(config, posted_to)
    base = f"http://{LOCALHOST}:{port}/"
    with running(config):
        announce(config, [file_notice(base, f"{folder}/{n}", files[n]) for n in names], exchange)
        posted = take(watcher, len(names))
    watcher.close()
    by_name = {n.rel_path.rpartition("/")[2].lower(): n.url for n in posted}
    return out, by_name, files


def test_a_v2_plugin_s_new_relpath_new_baseurl_post_base_dir_and_move_are_announced(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    (sarra_home / "plugins").mkdir()
    (sarra_home / "plugins" / "onward.py").write_text(V2_PLUGIN)
    out, posted, files = _relay(tmp_path, exchange, served_root, http_server.port, "plugin onward")
    assert (out / "hourly" / "12" / "a.dat").read_bytes() == files["a.dat"]
    assert (out / "moved" / "c.dat").read_bytes() == files["c.dat"]
    assert posted == {
        "a.dat": "http://here//12/a.dat",  # below the plugin's post_base_dir
        "b.dat": "http://there//renamed/b.dat",
        "c.dat": "http://here//moved/c.dat",  # where on_file moved it
        "d.dat": "http://here//d.dat",
    }


def test_an_sr3_callback_s_new_relpath_new_baseurl_and_new_file_are_announced(
    tmp_path: Path,
    sarra_home: Path,
    credentials: Path,
    exchange: str,
    served_root: Path,
    http_server: HttpServer,
) -> None:
    plugins = sarra_home.parent / "sr3" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "onward.py").write_text(SR3_CALLBACK)
    out, posted, files = _relay(
        tmp_path, exchange, served_root, http_server.port, "callback onward"
    )
    assert (out / "sub" / "a.dat").read_bytes() == files["a.dat"]
    assert posted == {
        "a.dat": "http://here/elsewhere/a.dat",  # the callback's new_relPath, not sub/a.dat
        "b.dat": "http://near/kept/b.dat",  # after_work's relPath: the onward one
        "c.dat": "http://there/worked/c.dat",
        "d.dat": "http://here//D.dat",  # after the work: announced under its new name
    }
