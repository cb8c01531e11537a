"""What v2 plugins use beyond the options: the modules they import under their historic names
(sarra.sr_util, sarra.sr_credentials, sarra.sr_file, sarra.plugins.msg_pclean), the names in
scope without an import, the rest of parent and parent.msg, and which schemes a protocol plugin
without registered_as() serves."""

from __future__ import annotations

import calendar
import logging
import time
from pathlib import Path

import pytest

from sarra.compat.plugins import PluginFailed, Plugins
from sarra.config.loader import load
from sarra.integrity.checksum import checksum_bytes
from sarra.message.notice import Identity, Notice


def loaded(tmp_path: Path, body: str, component: str = "subscribe") -> Plugins:
    path = tmp_path / "c.conf"
    path.write_text(f"broker amqp://guest@localhost/\npost_broker amqp://feeder@pump/\n"
                    f"directory /data/in\naccept .*\nreport_back on\n{body}")  # fmt: skip
    return Plugins.load(load(component, path))


def plugin_file(directory: Path, name: str, text: str) -> str:
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.py").write_text(text)
    return str(directory / f"{name}.py")


def a_notice(base: str = "http://h.example/", rel: str = "a/b/c.txt") -> Notice:
    identity = Identity("md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
    return Notice("20261206T152218.5", base, rel, identity=identity, size=10)


def test_sr_util_times() -> None:
    from sarra.sr_util import (
        nowflt,
        nowstr,
        timeflt2str,
        timestr2flt,
        timev2tov3str,
        v3timeflt2str,
    )

    seconds = calendar.timegm((2026, 12, 6, 15, 22, 18)) + 2**-14  # 0.00006103515625
    assert timeflt2str(seconds) == "20261206152218.000061035"  # never v2's exponent form
    assert v3timeflt2str(seconds) == "20261206T152218.000061035"
    assert timeflt2str(float(int(seconds))) == "20261206152218"
    assert timestr2flt("20261206152218.91685486e-05") == pytest.approx(
        seconds - 2**-14 + 0.91685486e-05
    )
    assert timestr2flt(v3timeflt2str(seconds)) == pytest.approx(seconds, abs=1e-6)
    assert timev2tov3str("20261206152218.5") == "20261206T152218.5"
    assert abs(nowflt() - time.time()) < 1 and nowstr()[:4].isdigit()


def test_sr_credentials_answers_as_v2s(sarra_home: Path) -> None:
    from sarra.sr_credentials import credential_details, sr_credentials

    creds = sarra_home / "credentials.conf"
    creds.write_text("sftp://alice:s%40cret@files.example/ ssh_keyfile=/k,active\n")
    creds.chmod(0o600)
    found = sr_credentials(logging.getLogger("t"))
    found.read(creds)
    ok, details = found.get("sftp://alice@files.example/")
    assert ok and isinstance(details, credential_details)
    assert details.url.password == "s%40cret" and details.ssh_keyfile == "/k"  # as v2: quoted
    assert details.passive is False and "s%40cret" not in str(details)
    ok, details = found.get("http://open.example/")
    assert not ok and details.url.hostname == "open.example"  # usable without a password
    assert found.get("ftp://nobody.example/") == (False, None)
    found.parse("ftp://bob:pw@ftp.example/ ascii")
    ok, details = found.get("ftp://bob@ftp.example/")
    assert ok and details.binary is False and details.url.password == "pw"


def test_the_plugin_modules_v2_plugins_import(tmp_path: Path, user_plugins: Path) -> None:
    text = """
from sarra.sr_util import nowflt, timestr2flt, timeflt2str
from sarra.plugins.msg_pclean import Msg_Pclean
try: from sr_credentials import *
except ImportError: from sarra.sr_credentials import *
import sarra.sr_file as sr_file

class Check(Msg_Pclean):
    def on_message(self, parent):
        parent.seen = (nowflt() > 0, self.get_extension("a/b.slink"), sr_file.file_reassemble,
                       sr_credentials, len(self.all_fxx_dirs))
        return True

self.plugin = 'Check'
"""
    plugin_file(user_plugins, "check", text)
    plugins = loaded(tmp_path, "plugin check\n")
    assert plugins.run("on_message", plugins.message(a_notice()))
    assert plugins.parent.seen[:2] == (True, ".slink") and plugins.parent.seen[4] == 9


def test_names_v2_put_in_scope_without_an_import(tmp_path: Path, user_plugins: Path) -> None:
    text = """
class Scope:
    def on_message(self, parent):
        parent.seen = (sarra.__version__, os.sep, nowflt() > 0, timestr2flt("20260101000000"),
                       time.time() > 0, calendar.timegm, json.dumps([1]), re.compile("x"),
                       sys.version, urllib.parse.urlparse("http://x/").netloc)
        return True
self.on_message = Scope().on_message
"""
    plugin_file(user_plugins, "scope", text)
    plugins = loaded(tmp_path, "on_message scope\n")
    assert plugins.run("on_message", plugins.message(a_notice()))
    assert plugins.parent.seen[1] == "/" and plugins.parent.seen[-1] == "x"


def test_msg_url_fields_are_settable_and_the_rest_of_msg(tmp_path: Path) -> None:
    plugins = loaded(tmp_path, "on_message msg_log\n")
    msg = plugins.message(a_notice())
    msg.urlstr = msg.urlstr.replace("http:", "download:")
    assert msg.baseurl == "download://h.example/" and msg.relpath == "a/b/c.txt"
    msg.urlstr = "http://h.example/a/b/other.txt"
    assert msg.baseurl == "http://h.example/" and msg.relpath == "a/b/other.txt"
    from urllib.parse import urlparse

    msg.url = urlparse("https://elsewhere.example/x/y.txt")
    assert (msg.baseurl, msg.relpath) == ("https://elsewhere.example/", "x/y.txt")
    assert msg.to_notice().url == "https://elsewhere.example/x/y.txt"
    assert msg.filesize == 10
    msg.set_parts("i", 4, 3, 2, 2)
    assert msg.partstr == "i,4,3,2,2" and msg.filesize == 10 and (msg.offset, msg.length) == (8, 2)
    msg.set_suffix()
    assert msg.suffix == ".4.3.2.2.d.Part"
    msg.set_sum_str("d," + checksum_bytes(b"x", "d"))
    assert msg.sumflg == "d" and msg.get_elapse_pubtime() > 0 and msg.tbegin > 0
    msg.report_publish(201, "Downloaded")
    assert (msg.report_code, msg.report_message) == (201, "Downloaded")
    assert msg.post_version == "v02"


def test_the_rest_of_parent(tmp_path: Path, sarra_home: Path) -> None:
    plugins = loaded(tmp_path, "on_message msg_log\n")
    parent = plugins.parent
    assert parent.post_broker.hostname == "pump" and parent.post_broker.username == "feeder"
    assert parent.broker.hostname == "localhost"
    assert parent.currentDir == "/data/in" and parent.reportback is True
    assert parent.instance == 0 and parent.user_config.endswith("c.conf")
    assert parent.message_count == 0 and parent.publish_count == 0
    assert parent.credentials.get("ftp://x.example/") == (False, None)
    parent.msg = plugins.message(a_notice())
    parent.new_dir = "/elsewhere"
    assert parent.msg.new_dir == "/elsewhere" == parent.new_dir
    raw = parent.consumer.raw_msg
    assert raw.body.startswith(b"20261206152218.5 http://h.example/") and "sum" in str(
        raw.properties["application_headers"]
    )
    restarted = []
    parent.restart_instance = lambda: restarted.append(True)
    assert parent.run_command(["sr_subscribe", "c.conf", "restart"]) and restarted


def test_msg_to_retry_sends_the_notice_to_the_retry_queue(
    tmp_path: Path, user_plugins: Path
) -> None:
    text = """
class Later:
    def on_message(self, parent):
        parent.consumer.sleep_now = parent.consumer.sleep_min
        parent.consumer.msg_to_retry()
        return False
self.on_message = Later().on_message
"""
    plugin_file(user_plugins, "later", text)
    plugins = loaded(tmp_path, "on_message later\n")
    with pytest.raises(PluginFailed) as failed:
        plugins.run("on_message", plugins.message(a_notice()))
    assert failed.value.later


DOWNLOADER = """
class Downloader:
    def do_download(self, parent):
        parent.called.append(parent.msg.url.scheme)
        return True
self.do_download = Downloader().do_download
"""


def test_a_do_download_without_registered_as_serves_only_unknown_schemes(
    tmp_path: Path, user_plugins: Path
) -> None:
    plugin_file(user_plugins, "downloader", DOWNLOADER)
    plugins = loaded(tmp_path, "do_download downloader\n")
    plugins.parent.called = []
    for scheme in ("http", "https", "ftp", "sftp", "file"):
        msg = plugins.message(a_notice(base=f"{scheme}://h.example/"))
        assert plugins.transfer("do_download", scheme, msg) is None  # the built-in transfer
    msg = plugins.message(a_notice(base="download://h.example/"))
    assert plugins.transfer("do_download", "download", msg) is True
    assert plugins.parent.called == ["download"]


def test_file_reassemble_puts_the_parts_together_under_a_work_name(tmp_path: Path) -> None:
    plugins = loaded(tmp_path, "on_message msg_log\n")
    parent = plugins.parent
    data = bytes(range(10))
    for number, start in enumerate(range(0, 10, 4)):
        (tmp_path / f"f.dat.4.3.2.{number}.d.Part").write_bytes(data[start : start + 4])
    part = Notice("20261206T152218.5", "file:", "/in/f.dat.4.3.2.1.d.Part", size=4,
                  identity=Identity("md5", "1B2M2Y8AsgTpgAmY7PhCfg=="))  # fmt: skip
    msg = plugins.message(part)
    msg.set_parts("i", 4, 3, 2, 1)
    msg.new_dir, msg.new_file, msg.target_file = str(tmp_path), "f.dat.4.3.2.1.d.Part", "f.dat"
    parent.msg = msg
    (tmp_path / "f.dat.4.3.2.2.d.Part").rename(tmp_path / "later")
    from sarra.sr_file import file_reassemble

    assert not file_reassemble(parent)
    assert not (tmp_path / "f.dat").exists() and (tmp_path / ".f.dat.assembling").exists()
    (tmp_path / "later").rename(tmp_path / "f.dat.4.3.2.2.d.Part")
    assert file_reassemble(parent)
    assert (tmp_path / "f.dat").read_bytes() == data and not list(tmp_path.glob("*.Part"))
    assert msg.partstr == "1,10,1,0,0" and msg.sumstr == "d," + checksum_bytes(data, "d")
    assert msg.relpath == "/in/f.dat"


@pytest.fixture
def user_plugins(sarra_home: Path) -> Path:
    return sarra_home / "plugins"
