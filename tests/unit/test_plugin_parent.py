"""The parent object and parent.msg as the established plugins use them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sarra.compat.plugin_parent import Msg, Parent
from sarra.config.loader import load
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message import v02
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time


def a_notice(**fields: object) -> Notice:
    method, value = sum_to_identity("d," + checksum_bytes(b"abc", "d"))
    notice = Notice(
        epoch_to_time(time.time() - 10),
        "http://example.com/data",
        "obs/day 1/b.txt",
        identity=Identity(method, value),
        size=3,
        mtime="20240101T000000.5",
        **fields,  # type: ignore[arg-type]
    )
    notice.topic = "v02.post.obs.day%201"
    notice.exchange = "xpublic"
    return notice


def test_msg_shows_the_notice_in_the_v02_vocabulary() -> None:
    msg = Msg(a_notice(), new_dir="/tmp/out", new_file="b.txt", is_retry=True)
    assert msg.topic == "v02.post.obs.day%201"
    assert msg.exchange == "xpublic"
    assert msg.baseurl == "http://example.com/data/"
    assert msg.relpath == "obs/day 1/b.txt"
    assert msg.urlstr == "http://example.com/data/obs/day 1/b.txt"
    assert msg.url.scheme == "http" and msg.url.hostname == "example.com"
    assert msg.url.path == "/data/obs/day 1/b.txt"
    assert msg.notice == f"{msg.pubtime} http://example.com/data/ obs/day%201/b.txt"
    assert msg.sumstr == "d," + checksum_bytes(b"abc", "d")
    assert msg.sumflg == "d"
    assert msg.partstr == "1,3,1,0,0" and msg.partflg == "1"
    assert msg.headers["mtime"] == "20240101000000.5"
    assert "sum=d," in msg.hdrstr
    assert msg.local_file == "/tmp/out/b.txt"
    assert msg.isRetry and not msg.isPulse
    assert 9 < msg.get_elapse() < 60
    assert msg.length == 3 and msg.offset == 0


def test_a_part_gives_its_offset_and_length() -> None:
    notice = a_notice()
    notice.blocks = Blocks("inplace", 1024, 3, 100, 2)
    notice.size = 100
    msg = Msg(notice)
    assert msg.partstr == "i,1024,3,100,2"
    assert msg.offset == 2048 and msg.length == 100


def test_an_unchanged_msg_gives_back_the_notice_itself() -> None:
    notice = a_notice()
    assert Msg(notice).to_notice() is notice


def test_changes_to_headers_url_and_topic_make_a_new_notice() -> None:
    notice = a_notice()
    msg = Msg(notice)
    msg.headers["flavour"] = "vanilla"
    del msg.headers["mtime"]
    msg.set_notice("sftp://other.host/", "elsewhere/c.txt")
    msg.set_topic("v02.post", "elsewhere/c.txt")
    changed = msg.to_notice()
    assert changed.url == "sftp://other.host/elsewhere/c.txt"
    assert changed.extra == {"flavour": "vanilla"}
    assert changed.mtime is None
    assert changed.topic == "v02.post.elsewhere"
    assert changed.identity == notice.identity and changed.exchange == "xpublic"
    _, _, headers = v02.encode(changed)
    assert headers["flavour"] == "vanilla"


def test_local_file_is_new_dir_and_new_file_unless_set() -> None:
    msg = Msg(a_notice(), new_dir="/var/data", new_file="x.bin")
    assert msg.local_file == "/var/data/x.bin"
    msg.local_file = "/srv/outgoing/x.bin"  # a sender's source
    assert msg.local_file == "/srv/outgoing/x.bin"
    assert (msg.new_dir, msg.new_file) == ("/var/data", "x.bin")


def test_parent_holds_options_plugin_options_and_what_plugins_set(tmp_path: Path) -> None:
    path = tmp_path / "c.conf"
    path.write_text("broker amqp://u@h/\ndirectory /data\nmy_option 5m\non_message msg_log\n")
    config = load("subscribe", path)
    parent = Parent(config, 3)
    assert parent.directory == "/data"
    assert parent.broker.geturl() == "amqp://u@h/"  # parsed, as v2 kept it
    assert parent.my_option == ["5m"]
    assert parent.duration_from_str(parent.my_option[0]) == 300
    assert parent.chunksize_from_str("4k") == 4096
    assert parent.isTrue("on") and not parent.isTrue("off")
    assert not hasattr(parent, "undeclared_thing")
    parent.declare_option("my_option")
    assert parent.declared == {"my_option"}
    parent.counter = 1
    assert parent.counter == 1
    assert (parent.no, parent.program_name, parent.config_name) == (3, "sr_subscribe", "c")
    assert parent.state_file("x.state").parent.is_dir()


def test_parent_msg_belongs_to_the_thread(tmp_path: Path) -> None:
    parent = Parent(load("subscribe", None, name="t"))
    mine = Msg(a_notice())
    parent.msg = mine
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(parent.msg))
    thread.start()
    thread.join()
    assert seen == [None]
    assert parent.msg is mine


def test_post_without_a_poster_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    parent = Parent(load("poll", None, name="t"))
    assert parent.post("http://h/", "a/b") is False
    posted: list[Notice] = []
    parent.poster = lambda notice: posted.append(notice) or True
    assert parent.post("http://h/", "a/b c", {"sum": "0,1234"})
    assert posted[0].url == "http://h/a/b c"
    assert posted[0].identity == Identity("random", "1234")
