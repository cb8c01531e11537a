"""The onward path of a file: post_base_dir cut at whole directories wherever a path is cut
(sarra.flow.placement.below_dir), and what plugins set of the onward notice (new_relpath,
new_baseurl, a move, parent.post_base_dir) as parent.msg and sr3's message carry it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sarra.compat.plugin_parent import Msg, Parent
from sarra.compat.sr3.message import Message
from sarra.config.loader import load
from sarra.flow.announce import Announcer
from sarra.flow.placement import Onward, below_dir, onward_rel_path
from sarra.message.notice import Notice, epoch_to_time


@pytest.mark.parametrize(
    ("path", "base_dir", "below"),
    [
        ("/data/out/x", "/data/out", "x"),
        ("/data/out/a/x", "/data/out/", "a/x"),
        ("/data/out/a/x", "/data/./out//", "a/x"),
        ("/data/outgoing/x", "/data/out", None),  # a name prefix is no directory
        ("/data/out", "/data/out", None),
        ("/data/x", "/", "data/x"),
    ],
)
def test_below_dir_cuts_whole_directories(path: str, base_dir: str, below: str | None) -> None:
    assert below_dir(path, base_dir) == below


def test_no_onward_path_is_cut_at_a_name_prefix(tmp_path: Path) -> None:
    assert onward_rel_path("/data/outgoing/x", "/data/out", "v2") == "/data/outgoing/x"
    assert onward_rel_path("/data/outgoing/x", "/data/out", "sr3") == "data/outgoing/x"
    message = Message()
    message.updatePaths(_options("/data/out"), "/data/outgoing", "x")
    assert message["new_relPath"] == "data/outgoing/x"
    message.updatePaths(_options("/data/out"), "/data/out/a", "x")
    assert message["new_relPath"] == "a/x"
    path = tmp_path / "outgoing" / "x"
    path.parent.mkdir()
    path.write_text("x")
    options = _options(str(tmp_path / "out"))
    assert Message.fromFileInfo(str(path), options)["relPath"] == str(path).lstrip("/")
    config = tmp_path / "post.conf"
    config.write_text(
        "post_broker amqp://guest@broker.example.org/\npost_base_url sftp://host/\n"
        f"post_base_dir {tmp_path / 'out'}\n"
    )
    announcer = Announcer(load("post", config))
    [notice] = announcer.notices(str(path), os.lstat(path))
    assert notice.rel_path == str(path)


def _options(post_base_dir: str) -> object:
    class Options:
        post_baseDir = post_base_dir
        post_baseUrl = "http://here/"

    return Options()


def _msg(post_base_dir: str = "/data/out") -> Msg:
    notice = Notice(epoch_to_time(time.time()), "http://up/", "a/b.txt")
    onward = Onward("http://here/", post_base_dir, "v2")
    return Msg(notice, new_dir="/data/out/a", new_file="b.txt", onward=onward,
               post_base_dir=post_base_dir)  # fmt: skip


def test_new_relpath_follows_the_file_unless_a_plugin_set_it() -> None:
    msg = _msg()
    assert (msg.new_baseurl, msg.new_relpath) == ("http://here/", "/a/b.txt")
    before = msg.placement()
    msg.new_dir = "/data/out/c"
    msg.placed_by_plugin(before, msg.post_base_dir)
    assert msg.new_relpath == "/c/b.txt"
    before = msg.placement()
    msg.new_relpath, msg.new_baseurl = "/x/y.txt", "http://there/"
    msg.placed_by_plugin(before, msg.post_base_dir)
    assert (msg.new_baseurl, msg.new_relpath) == ("http://there/", "/x/y.txt")
    msg.new_file = "moved by the flow.txt"  # not by a plugin: what the plugin set holds
    assert msg.new_relpath == "/x/y.txt"
    before = msg.placement()
    msg.new_file = "z.txt"  # a later plugin moves the file: the path follows it again
    msg.placed_by_plugin(before, "/data")
    assert (msg.new_baseurl, msg.new_relpath) == ("http://there/", "/out/c/z.txt")


def test_parent_s_new_relpath_and_new_baseurl_are_the_notice_s(tmp_path: Path) -> None:
    path = tmp_path / "sub.conf"
    path.write_text("broker amqp://guest@127.0.0.1/\nexchange xpublic\n")
    parent = Parent(load("subscribe", path))
    parent.msg = _msg()
    parent.new_relpath, parent.new_baseurl = "/v2/said.txt", "http://v2/"  # as v2 took them
    assert (parent.msg.new_relpath, parent.msg.new_baseurl) == ("/v2/said.txt", "http://v2/")
    assert (parent.new_relpath, parent.new_baseurl) == ("/v2/said.txt", "http://v2/")
