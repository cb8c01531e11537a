"""Each shipped plugin, loaded as a config names it and run on real notices and files."""

from __future__ import annotations

import logging
import os
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import HttpServer

from sarra.compat import plugins as plugins_module
from sarra.compat.plugin_parent import Msg
from sarra.compat.plugins import PluginFailed, Plugins
from sarra.config.loader import load
from sarra.flow.nodupe import NoDupeCache
from sarra.flow.retry import RetryQueue
from sarra.integrity.checksum import checksum_bytes, sum_to_identity
from sarra.message.notice import Identity, Notice, epoch_to_time


@pytest.fixture(autouse=True)
def info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sarra.plugins")


def plugin(tmp_path: Path, body: str, component: str = "subscribe", **kwargs: object) -> Plugins:
    path = tmp_path / "p.conf"
    path.write_text(f"broker amqp://guest@localhost/\naccept .*\n{body}\n")
    return Plugins.load(load(component, path), **kwargs)  # type: ignore[arg-type]


def notice(rel_path: str = "dir/sub/b.txt", data: bytes = b"abc", age: float = 1.0,
           base: str = "http://example.com/") -> Notice:  # fmt: skip
    method, value = sum_to_identity("d," + checksum_bytes(data, "d"))
    return Notice(epoch_to_time(time.time() - age), base, rel_path,
                  identity=Identity(method, value), size=len(data))  # fmt: skip


def msg_of(plugins: Plugins, n: Notice, local: Path | None = None) -> Msg:
    msg = plugins.message(n)
    if local is not None:
        msg.new_dir, msg.new_file = str(local.parent), local.name
    return msg


def messages(caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if word in r.getMessage()]


def test_msg_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_message msg_log")
    assert p.run("on_message", msg_of(p, notice()))
    (line,) = messages(caplog, "msg_log received")
    assert "http://example.com/ dir/sub/b.txt" in line and "sum=d," in line


def test_msg_quiet_and_file_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_message msg_quiet\non_file file_quiet")
    assert p.run("on_message", msg_of(p, notice()))
    assert p.run("on_file", msg_of(p, notice(), tmp_path / "b.txt"))
    assert not caplog.records


def test_file_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_file file_log")
    assert p.run("on_file", msg_of(p, notice(), tmp_path / "b.txt"))
    assert messages(caplog, f"file_log downloaded to: {tmp_path / 'b.txt'}")


def test_post_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_post post_log")
    assert p.run("on_post", msg_of(p, notice()))
    assert messages(caplog, "post_log notice=")


def test_msg_skip_old(tmp_path: Path) -> None:
    p = plugin(tmp_path, "msg_skip_threshold 5\non_message msg_skip_old")
    assert p.run("on_message", msg_of(p, notice(age=1)))
    assert not p.run("on_message", msg_of(p, notice(age=10)))


def test_msg_print_lag(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "msg_print_lag_warn 5s\non_message msg_print_lag")
    assert p.run("on_message", msg_of(p, notice(age=1)))
    assert p.run("on_message", msg_of(p, notice(age=10)))
    levels = [r.levelno for r in caplog.records if "msg_print_lag" in r.getMessage()]
    assert levels == [logging.INFO, logging.WARNING]


def test_msg_renamer(tmp_path: Path) -> None:
    p = plugin(tmp_path, "on_message msg_renamer")
    msg = msg_of(p, notice("/dir/sub/b.txt"))
    assert p.run("on_message", msg)
    assert msg.new_file == "dir_sub_b.txt"


def test_destfn_sample(tmp_path: Path) -> None:
    p = plugin(tmp_path, "destfn_script destfn_sample")
    p.parent.new_file = "b.txt"
    assert p.run("destfn_script", msg_of(p, notice()))
    assert p.parent.new_file == "renamed_b.txt"


def test_msg_speedo(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "msg_speedo_interval 0\nplugin msg_speedo")
    assert p.run("on_message", msg_of(p, notice()))
    (line,) = messages(caplog, "msg_speedo:")
    assert "1 notices received" in line and "bytes/s" in line


def test_msg_total_and_file_total(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "msg_total_interval 0\non_message msg_total\n"
                         "file_total_interval 0\non_file file_total")  # fmt: skip
    local = tmp_path / "b.txt"
    local.write_bytes(b"12345")
    for _ in range(2):
        assert p.run("on_message", msg_of(p, notice()))
        assert p.run("on_file", msg_of(p, notice(), local))
    assert "msg_total: 2 notices, 6 bytes announced" in messages(caplog, "msg_total")[-1]
    assert "file_total: 2 files, 10 bytes received" in messages(caplog, "file_total")[-1]


def test_msg_delay_waits_for_young_notices(tmp_path: Path) -> None:
    p = plugin(tmp_path, "msg_delay 1.2\non_message msg_delay")
    started = time.monotonic()
    assert p.run("on_message", msg_of(p, notice(age=5)))
    assert time.monotonic() - started < 0.5
    assert p.run("on_message", msg_of(p, notice(age=1)))
    assert time.monotonic() - started >= 0.15


def test_msg_fdelay_sends_young_notices_to_retry(tmp_path: Path) -> None:
    p = plugin(tmp_path, "msg_fdelay 30\non_message msg_fdelay")
    assert p.run("on_message", msg_of(p, notice(age=60)))
    with pytest.raises(PluginFailed) as caught:
        p.run("on_message", msg_of(p, notice(age=1)))
    assert caught.value.later


def test_msg_2localfile(tmp_path: Path) -> None:
    p = plugin(tmp_path, f"base_dir {tmp_path}\non_message msg_2localfile", component="sender")
    msg = msg_of(p, notice("data/b.txt"))
    assert p.run("on_message", msg)
    assert msg.local_file == str(tmp_path / "data/b.txt")
    assert msg.to_notice().url == f"file:{tmp_path}/data/b.txt"
    already = msg_of(p, notice(str(tmp_path / "c.txt"), base="file:"))
    assert p.run("on_message", already)
    assert already.local_file == str(tmp_path / "c.txt")


def test_file_check(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_file file_check")
    local = tmp_path / "b.txt"
    local.write_bytes(b"abc")
    assert p.run("on_file", msg_of(p, notice(data=b"abc"), local))
    local.write_bytes(b"abd")
    assert not p.run("on_file", msg_of(p, notice(data=b"abc"), local))
    assert messages(caplog, "file_check: ")


def test_file_rxpipe(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fifo = tmp_path / "names"
    os.mkfifo(fifo)
    p = plugin(tmp_path, f"file_rxpipe_name {fifo}\non_file file_rxpipe")
    assert p.run("on_file", msg_of(p, notice(), tmp_path / "early.txt"))  # nobody reads yet
    assert messages(caplog, "nobody reads")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert p.run("on_file", msg_of(p, notice(), tmp_path / "b.txt"))
        assert os.read(reader, 1000) == f"{tmp_path / 'b.txt'}\n".encode()
    finally:
        os.close(reader)


def test_file_rxpipe_needs_its_pipe(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="file_rxpipe_name"):
        plugin(tmp_path, "on_file file_rxpipe")


def test_msg_sundew_pxroute(tmp_path: Path) -> None:
    table = tmp_path / "pxRouting.conf"
    table.write_text("# routing\nclientAlias canada ottawa,montreal\n"
                     "key SACN31_CWAO canada 3\nkey FTUS31_KWBC washington\n")  # fmt: skip
    p = plugin(tmp_path, f"pxrouting {table}\npxclient montreal\non_message msg_sundew_pxroute")
    routed = notice("bulletins/SACN31_CWAO_211200__:CWAO:SA:3:Direct:20240101120000")
    assert p.run("on_message", msg_of(p, routed))
    assert not p.run("on_message", msg_of(p, notice("bulletins/FTUS31_KWBC_211200")))
    assert not p.run("on_message", msg_of(p, notice("bulletins/UNKNOWN_XXXX_1")))


class _Clamd(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        assert self.rfile.read(10) == b"zINSTREAM\0"
        data = b""
        while size := int.from_bytes(self.rfile.read(4), "big"):
            data += self.rfile.read(size)
        found = b"EICAR" in data
        self.wfile.write(b"stream: Eicar-Test-Signature FOUND\0" if found else b"stream: OK\0")


@pytest.fixture
def clamd(tmp_path: Path) -> Iterator[Path]:
    """A server of clamd's INSTREAM protocol (ClamAV itself is not installed here)."""
    path = tmp_path / "clamd.ctl"
    server = socketserver.ThreadingUnixStreamServer(str(path), _Clamd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path
    server.shutdown()
    server.server_close()


def test_part_clamav_scan(tmp_path: Path, clamd: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, f"part_clamav_socket {clamd}\non_part part_clamav_scan")
    clean, infected = tmp_path / "clean", tmp_path / "infected"
    clean.write_bytes(os.urandom(200_000))
    infected.write_bytes(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!")
    assert p.run("on_part", msg_of(p, notice(), clean))
    assert not p.run("on_part", msg_of(p, notice(), infected))
    assert messages(caplog, "is infected (Eicar-Test-Signature)")


def test_part_clamav_scan_is_skipped_without_clamav(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = plugin(tmp_path, f"part_clamav_socket {tmp_path / 'none'}\non_part part_clamav_scan")
    local = tmp_path / "b"
    local.write_bytes(b"data")
    assert p.run("on_part", msg_of(p, notice(), local))
    assert p.run("on_part", msg_of(p, notice(), local))
    assert len(messages(caplog, "no clamd")) == 1


def test_post_override(tmp_path: Path) -> None:
    p = plugin(tmp_path, "post_override to_clusters DDI.CMC\npost_override source None\n"
                         "post_override_del mode\non_post post_override")  # fmt: skip
    n = notice()
    n.source, n.mode = "someone", "644"
    msg = msg_of(p, n)
    assert p.run("on_post", msg)
    changed = msg.to_notice()
    assert (changed.to_clusters, changed.source, changed.mode) == ("DDI.CMC", None, None)


def test_post_rate_limit(tmp_path: Path) -> None:
    p = plugin(tmp_path, "post_rate_limit 20\non_post post_rate_limit")
    started = time.monotonic()
    for _ in range(5):
        assert p.run("on_post", msg_of(p, notice()))
    assert time.monotonic() - started >= 0.19  # 5 posts at 20/s: the last 0.2 s after the first


def test_hb_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_heartbeat hb_log")
    p.event("on_heartbeat")
    assert messages(caplog, f"hb_log: heartbeat: pid {os.getpid()}")


def test_hb_memory_restarts_above_its_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    p = plugin(tmp_path, "hb_memory_max 1k\nplugin hb_memory", stop=stop)
    try:
        p.event("on_heartbeat")
        assert stop.is_set() and plugins_module.RESTART.is_set()
    finally:
        plugins_module.RESTART.clear()
    stop.clear()
    baseline = plugin(tmp_path, "hb_memory_baseline_file 2\nplugin hb_memory", stop=stop)
    baseline.event("on_heartbeat")  # before the baseline
    baseline.event("on_heartbeat")  # takes the baseline
    assert not stop.is_set()
    before, after = messages(caplog, "hb_memory: resident")[-2:]
    assert re.fullmatch(r"hb_memory: resident [\d.]+ MiB; 1 of 2 items before the baseline", before)
    assert re.fullmatch(r"hb_memory: resident [\d.]+ MiB; restart above [\d.]+ MiB", after)


def test_hb_cache_and_hb_retry(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_heartbeat hb_cache\non_heartbeat hb_retry")
    p.parent.nodupe = NoDupeCache(60)
    assert p.parent.nodupe.claim("k", "p")
    p.parent.nodupe.settle("k", "p")
    p.parent.retry = RetryQueue(tmp_path / "r.retry", 60)
    p.event("on_heartbeat")
    assert messages(caplog, "hb_cache: 1 entries")
    assert messages(caplog, "hb_retry: 0 notices")


def test_accel_cp(tmp_path: Path) -> None:
    source = tmp_path / "src" / "big.bin"
    source.parent.mkdir()
    data = os.urandom(5000)
    source.write_bytes(data)
    p = plugin(tmp_path, f"base_dir {source.parent}\naccel_cp_threshold 1k\nplugin accel_cp")
    out = tmp_path / "out"
    msg = msg_of(p, notice(str(source), data, base="file:"), out / "big.bin")
    assert p.transfer("do_get", "file", msg) is True
    assert (out / "big.bin").read_bytes() == data
    small = msg_of(p, notice(str(source), b"x", base="file:"), out / "small.bin")
    assert p.transfer("do_get", "file", small) is None  # below the threshold: built in
    assert p.transfer("do_get", "http", msg) is None  # not its scheme
    outside = msg_of(p, notice("/etc/hostname", data, base="file:"), out / "h")
    assert p.transfer("do_get", "file", outside) is False


def test_accel_wget(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    data = os.urandom(3000)
    (served / "big.bin").write_bytes(data)
    server = HttpServer(served).start()
    try:
        p = plugin(tmp_path, "accel_wget_threshold 1k\nplugin accel_wget")
        out = tmp_path / "out"
        msg = msg_of(p, notice("big.bin", data, base=server.url + "/"), out / "big.bin")
        assert p.transfer("do_get", "http", msg) is True
        assert (out / "big.bin").read_bytes() == data
        missing = msg_of(p, notice("nope.bin", data, base=server.url + "/"), out / "nope")
        assert p.transfer("do_get", "http", missing) is False
        assert not list(out.glob(".*accel"))
    finally:
        server.stop()


def test_accel_scp_runs_its_command_with_host_port_and_path(tmp_path: Path) -> None:
    fake = tmp_path / "fake_scp"
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\n'
                    'eval last=\\${$#}\necho copied > "$last"\n')  # fmt: skip
    fake.chmod(0o755)
    p = plugin(tmp_path, f"accel_scp_threshold 0\naccel_scp_command {fake} -q\nplugin accel_scp")
    out = tmp_path / "out"
    msg = msg_of(p, notice("/data/b.bin", base="sftp://alice@host.example:2222/"), out / "b.bin")
    assert p.transfer("do_get", "sftp", msg) is True
    assert (out / "b.bin").read_text() == "copied\n"
    args = (tmp_path / "args").read_text().split()
    assert args[:4] == ["-q", "-P", "2222", "alice@host.example:/data/b.bin"]


def test_every_shipped_plugin_has_a_test() -> None:
    shipped = {p.stem for p in plugins_module.shipped_dir().glob("*.py")} - {"__init__"}
    tested = Path(__file__).read_text()
    assert {name for name in shipped if name not in tested} == set()


def test_msg_pclean_is_the_base_class_of_the_flow_checks() -> None:
    from sarra.plugins.msg_pclean import Msg_Pclean

    base = Msg_Pclean(None)
    paths = base.build_path_dict(base.all_fxx_dirs[2:4], "downloaded_by_sub_amqp/x/f.txt", ".moved")
    assert paths == {
        "downloaded_by_sub_rabbitmqtt.moved": "downloaded_by_sub_rabbitmqtt/x/f.txt",
        "sent_by_tsource2send.moved": "sent_by_tsource2send/x/f.txt",
    }
    assert base.get_extension("x/f.txt.hlink") in base.test_extension_list


def test_the_options_of_v2s_plugins_of_the_same_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """v2 configs set these options for its plugins; ours of the same name take them."""
    stop = threading.Event()
    p = plugin(tmp_path, "msg_total_interval 0\nmsg_total_maxlag 10\nmsg_total_count 2\n"
               "on_message msg_total\nfile_total_interval 0\nfile_total_maxlag 10\n"
               "on_file file_total\npost_log_format compact\non_post post_log\n"
               "accel_wget_protocol https\naccel_cp_protocol file,local\n"
               "accel_scp_protocol sftp\nplugin accel_wget\nplugin accel_cp\nplugin accel_scp",
               stop=stop)  # fmt: skip
    late = notice(age=30)
    assert p.run("on_message", msg_of(p, late)) and not stop.is_set()
    assert p.run("on_message", msg_of(p, late)) and stop.is_set()  # msg_total_count 2
    assert messages(caplog, "msg_total: excessive lag")
    local = tmp_path / "b.txt"
    local.write_bytes(b"12345")
    assert p.run("on_file", msg_of(p, late, local))
    assert messages(caplog, "file_total: excessive lag")
    assert p.run("on_post", msg_of(p, late))
    (line,) = messages(caplog, "post_log compact")
    assert "version=v02 baseurl=http://example.com/ relpath=dir/sub/b.txt" in line
    schemes = {h.name: h.schemes for h in p.hooks["do_get"]}
    assert schemes == {"accel_wget.do_get": {"https"}, "accel_cp.do_get": {"file", "local"},
                       "accel_scp.do_get": {"sftp"}}  # fmt: skip


def test_msg_sundew_pxroute_takes_v2s_option_names(tmp_path: Path) -> None:
    table = tmp_path / "pxRouting.conf"
    table.write_text("key SACN31_CWAO montreal\n")
    p = plugin(tmp_path, f"msg_pxrouting {table}\nmsg_pxclient montreal\n"
                         "on_message msg_sundew_pxroute")  # fmt: skip
    assert p.run("on_message", msg_of(p, notice("bulletins/SACN31_CWAO_211200")))
    assert not p.run("on_message", msg_of(p, notice("bulletins/FTUS31_KWBC_211200")))


def test_msg_rawlog(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = plugin(tmp_path, "on_message msg_rawlog")
    assert p.run("on_message", msg_of(p, notice()))
    (line,) = messages(caplog, "msg_rawlog received")
    assert "body=b'" in line and "http://example.com/ dir/sub/b.txt'" in line
    assert "'application_headers': {'sum': 'd," in line and "topic=v02.post.dir.sub" in line
