"""Server and client end to end, on real ZeroMQ sockets, FTP and ssh servers: the seed's
configs (ports and paths adjusted) move files; first wins; failover; backlog; delete; unpack."""

from __future__ import annotations

import bz2
import threading
import time
from urllib.parse import quote

from moveit_kit import (
    FILE_CLIENT_INI,
    HRIT,
    PLAIN_SERVER_INI,
    TOPIC,
    count,
    file_client,
    free_port,
    ini,
    providers,
    segment,
    start_server,
    wait_for,
    wait_subscribed_all,
    write,
)
from servers import FTP_USER, PASSWORD

from sarra.eumetcast.client import Client
from sarra.eumetcast.config import read_client, read_server
from sarra.eumetcast.server import Server

SERVER_INI = """\
# this is telliserv_server.ini
[eumetcast-hrit-0deg]
origin = @SRC@/@HRIT@
working_directory = @SRC@/
compression = xrit
prog = @PROG@
delete = True
remove_delay = @DELAY@
request_port = @PORT@
request_address = 127.0.0.1
info = sensor=seviri;variant=0DEG
topic = /1b/hrit-segment/0deg
"""

FTP_CLIENT_INI = """\
# This is procserv_client.ini
[eumetcast_hrit_0deg]
providers = @PROVIDERS@
destination = ftp://127.0.0.1:@FTP@/geo_in/0deg/
login = @LOGIN@
topic = /1b/hrit-segment/0deg
publish_port = 0
platform_name = MSG1:Meteosat-8|MSG2:Meteosat-9|MSG3:Meteosat-10|MSG4:Meteosat-11
"""

SCP_CLIENT_INI = """\
[eumetcast_hrit_0deg]
providers = @PROVIDERS@
destination = scp://127.0.0.1:@SSH@@DIR@/
login = @USER@
topic = /1b/hrit-segment/0deg
publish_port = 0
platform_name = MSG1:Meteosat-8|MSG2:Meteosat-9|MSG3:Meteosat-10|MSG4:Meteosat-11
"""


def test_seed_server_with_xrit_feeds_seed_ftp_client(
    tmp_path, running, listen, ftp_server, ftp_home, xrit_decompress
):
    server, src = start_server(tmp_path, running, SERVER_INI, PROG=xrit_decompress, DELAY=1)
    login = f"{FTP_USER}:{PASSWORD}"
    path = ini(tmp_path, "client.ini", FTP_CLIENT_INI, PROVIDERS=providers(server),
               FTP=ftp_server.port, LOGIN=login)  # fmt: skip
    client = running(Client(read_client(path), tmp_path / "state"))
    out = listen(client.sections[0].publisher, TOPIC)
    announced = listen(server.publisher, TOPIC)
    wait_subscribed_all(server, TOPIC, 2)

    write(src / segment(1, compressed="C_"), b"compressed hrit\n")

    arrived = ftp_home / "geo_in/0deg" / segment(1)
    wait_for(arrived.exists, "the unpacked segment at the FTP destination")
    assert arrived.read_bytes() == b"COMPRESSED HRIT\n"
    wait_for(lambda: out.of_type("file"), "the client's announcement of the received file")
    local = out.of_type("file")[0].data
    assert local["platform_name"] == "Meteosat-11"  # rewritten after the destination was made
    assert local["origin"] == f"127.0.0.1:{server.chains[0].chain.request_port}"
    assert "request_address" not in local and "destination" not in local
    assert PASSWORD not in str(out.received) and quote(PASSWORD, safe="") not in str(out.received)
    (push,) = out.of_type("push")
    assert push.data["destination"] == "ftp://127.0.0.1/geo_in/0deg/"
    # one announcement, of the unpacked file, with info and the file name's fields
    (first,) = announced.of_type("file")
    assert first.data["uid"] == segment(1)
    assert first.data["sensor"] == "seviri" and first.data["variant"] == "0DEG"
    assert first.data["nominal_time"].year == 2024 and first.data["segment"] == "000001"
    # delete: the compressed original at once, the served file after remove_delay
    assert not (src / segment(1, compressed="C_")).exists()
    wait_for(lambda: not (src / segment(1)).exists(), "the served file deleted after the delay")
    assert len(announced.of_type("file")) == 1


def test_seed_scp_client_gets_files_by_ssh(tmp_path, running, sshd, ssh_home, ssh_user):
    key = f"connection_parameters__ssh_private_key_file = {sshd.client_key}\n"
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI + key)
    dst = tmp_path / "geo_in"
    path = ini(tmp_path, "client.ini", SCP_CLIENT_INI, PROVIDERS=providers(server),
               SSH=sshd.port, DIR=dst, USER=ssh_user)  # fmt: skip
    running(Client(read_client(path), tmp_path / "state"))
    wait_subscribed_all(server, TOPIC, 1)
    write(src / segment(2), b"by ssh")
    wait_for((dst / segment(2)).exists, "the segment pushed by sftp")
    assert (dst / segment(2)).read_bytes() == b"by ssh"


def test_two_providers_same_file_one_transfer(tmp_path, running, caplog):
    first, src1 = start_server(tmp_path, running, PLAIN_SERVER_INI, "one.ini")
    second, src2 = start_server(tmp_path, running, PLAIN_SERVER_INI, "two.ini")
    _client, dst = file_client(tmp_path, running, first, second)
    name = segment(3, platform="MSG2")
    write(src1 / name, b"from one")
    write(src2 / name, b"from two")
    wait_for((dst / "MSG2" / name).exists, "the segment")
    wait_for(lambda: count(caplog, "ack for") >= 1, "an ack to the other provider")
    assert count(caplog, "pushed " + name) == 1
    acked = [r.getMessage() for r in caplog.records if "ack for" in r.getMessage()]
    loser = "[one.ini]" if (dst / "MSG2" / name).read_bytes() == b"from two" else "[two.ini]"
    assert all(loser in line for line in acked)


def test_first_provider_killed_mid_push_fails_over_to_second(tmp_path, running, caplog):
    first, src1 = start_server(tmp_path, running, PLAIN_SERVER_INI, "one.ini")
    second, src2 = start_server(tmp_path, running, PLAIN_SERVER_INI, "two.ini")
    started, release = threading.Event(), threading.Event()
    stuck = first.chains[0].pusher

    def hang(source: str, destination: str) -> str:
        started.set()
        release.wait(20)
        raise OSError("killed")

    stuck.push = hang  # type: ignore[method-assign]
    _client, dst = file_client(tmp_path, running, first, second, timeout=0.3)
    name = segment(4)
    try:
        write(src1 / name, b"from one")
        wait_for(started.is_set, "the first provider's push to start")
        write(src2 / name, b"from two")
        wait_for(lambda: count(caplog, "also from") >= 1, "the second announcement queued")
        first.stop()  # killed in the middle of its push
        wait_for((dst / "MSG4" / name).exists, "the segment from the second provider")
    finally:
        release.set()
    assert (dst / "MSG4" / name).read_bytes() == b"from two"
    wait_for(lambda: count(caplog, "pushed " + name) == 1, "the second provider's push logged")


def test_backlog_announces_files_that_came_while_the_server_was_down(tmp_path, running):
    src = tmp_path / "server_src"
    src.mkdir()
    for n in (5, 6):
        write(src / segment(n), b"waiting")
    path = ini(tmp_path, "server.ini", PLAIN_SERVER_INI, SRC=src, PORT=free_port(), STATION="s")
    port = free_port()
    dst = tmp_path / "dst"
    client_ini = ini(tmp_path, "c.ini", FILE_CLIENT_INI, PROVIDERS=f"127.0.0.1:{port}", DST=dst,
                     TIMEOUT=5)  # fmt: skip
    running(Client(read_client(client_ini), tmp_path / "state"))
    server = Server(read_server(path), port, backlog=True, backlog_delay=0.0)
    # the backlog waits for the client, as the real server's delay lets clients connect
    server.backlog_delay = 0.0
    server.publisher.start()
    wait_subscribed_all(server, TOPIC, 1)
    running(server)
    for n in (5, 6):
        wait_for((dst / "MSG4" / segment(n)).exists, f"backlog segment {n}")


def test_slow_push_is_not_transferred_twice(tmp_path, running, caplog):
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    pusher = server.chains[0].pusher
    real = pusher.push
    calls = []

    def slow(source: str, destination: str) -> str:
        calls.append(source)
        time.sleep(0.8)
        return real(source, destination)

    pusher.push = slow  # type: ignore[method-assign]
    _client, dst = file_client(tmp_path, running, server, timeout=0.3)
    write(src / segment(7), b"slow")
    wait_for((dst / "MSG4" / segment(7)).exists, "the slow segment")
    wait_for(lambda: count(caplog, "received " + segment(7)) == 1, "the reply")
    assert len(calls) == 1
    assert count(caplog, "already being pushed") >= 1


BZIP_SERVER_INI = """\
[bz]
origin = @SRC@/{name}.dat.bz2
working_directory = @WORK@
compression = bzip
delete = True
remove_delay = 0.5
request_port = @PORT@
request_address = 127.0.0.1
topic = /1b/hrit-segment/0deg
"""


def test_server_side_bzip_is_unpacked_served_and_removed(tmp_path, running):
    work = tmp_path / "work"
    server, src = start_server(tmp_path, running, BZIP_SERVER_INI, WORK=work)
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI.replace("{platform_name}/", "").replace("[plain]", "[bz]")
    path = ini(tmp_path, "c.ini", text, PROVIDERS=providers(server), DST=dst, TIMEOUT=5)
    running(Client(read_client(path), tmp_path / "state"))
    wait_subscribed_all(server, TOPIC, 1)
    write(src / "x.dat.bz2", bz2.compress(b"unpacked by the server"))
    wait_for((dst / "x.dat").exists, "the unpacked file at the client")
    assert (dst / "x.dat").read_bytes() == b"unpacked by the server"
    assert not (src / "x.dat.bz2").exists()
    wait_for(lambda: not (work / "x.dat").exists(), "the served file removed after the delay")


def test_client_side_unpack_and_unmapped_value(tmp_path, running, listen, caplog):
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI, HRIT=HRIT + ".bz2")
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI + "compression = bzip\ndelete = True\n"
    path = ini(tmp_path, "c.ini", text, PROVIDERS=providers(server), DST=dst, TIMEOUT=5)
    client = running(Client(read_client(path), tmp_path / "state"))
    out = listen(client.sections[0].publisher, TOPIC)
    wait_subscribed_all(server, TOPIC, 1)
    name = segment(8, platform="MSG4")
    write(src / (name + ".bz2"), bz2.compress(b"client unpacks"))
    wait_for((dst / "MSG4" / name).exists, "the file unpacked by the client")
    assert not (dst / "MSG4" / (name + ".bz2")).exists()
    wait_for(lambda: out.of_type("file"), "the local announcement")
    data = out.of_type("file")[0].data
    assert data["uid"] == name and data["platform_name"] == "MSG4"  # MSG4 is not in the map
    assert count(caplog, "platform_name = MSG4 is not in the platform_name map") == 1


def test_client_memory_survives_restart(tmp_path, running, caplog):
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    client, dst = file_client(tmp_path, running, server)
    write(src / segment(9), b"once")
    wait_for((dst / "MSG4" / segment(9)).exists, "the segment")
    client.stop()
    wait_for(lambda: server.publisher.subscribers(TOPIC) == 0, "the first client gone")
    (dst / "MSG4" / segment(9)).unlink()
    _again, _ = file_client(tmp_path, running, server, name="again.ini")
    server.chains[0].backlog()  # a server restart announces it again
    wait_for(lambda: count(caplog, "ack for " + segment(9)) >= 1, "the ack of a file known")
    assert not (dst / "MSG4" / segment(9)).exists()
    assert count(caplog, "pushed " + segment(9)) == 1


def test_ping_info_and_bad_requests(tmp_path, running):
    from posttroll.message import Message

    from sarra.eumetcast.sockets import request

    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI, STATION="telliserv")
    address = f"127.0.0.1:{server.chains[0].chain.request_port}"
    pong = request(address, Message("ping/pong", "ping", version="v1.01"), 5)
    assert pong is not None and pong.type == "pong" and pong.data == {"station": "telliserv"}
    write(src / segment(10), b"x")
    wait_for(lambda: server.chains[0].served, "the announcement")
    info = request(address, Message(TOPIC, "info", {"max_count": 5}), 5)
    assert info.type == "info" and info.data["files"] == [f"{TOPIC}/{segment(10)}"]
    away = request(
        address,
        Message(
            TOPIC, "push", {"uri": "/etc/passwd", "uid": "passwd", "destination": "file:///tmp/x/"}
        ),
        5,
    )
    assert away.type == "err" and "not reachable" in away.data
    assert request(address, Message(TOPIC, "hello", {"a": 1}), 5).type == "unknown"


TAR_SERVER_INI = """\
[@STATION@]
origin = @SRC@/{name}.tar
request_port = @PORT@
request_address = 127.0.0.1
topic = /1b/hrit-segment/0deg
"""


def test_client_untars_into_a_dataset(tmp_path, running, listen):
    import io
    import tarfile

    server, src = start_server(tmp_path, running, TAR_SERVER_INI)
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI.replace("{platform_name}/", "") + "compression = tar\n"
    path = ini(tmp_path, "c.ini", text, PROVIDERS=providers(server), DST=dst, TIMEOUT=5)
    client = running(Client(read_client(path), tmp_path / "state"))
    out = listen(client.sections[0].publisher, TOPIC)
    wait_subscribed_all(server, TOPIC, 1)
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as archive:
        for member in ("a.txt", "b.txt"):
            info = tarfile.TarInfo(member)
            info.size = 3
            archive.addfile(info, io.BytesIO(member[0].encode() * 3))
    write(src / "pair.tar", packed.getvalue())
    wait_for(lambda: out.of_type("dataset"), "the dataset announcement")
    dataset = out.of_type("dataset")[0].data["dataset"]
    assert [item["uid"] for item in dataset] == ["a.txt", "b.txt"]
    assert (dst / "b.txt").read_bytes() == b"bbb"


def test_silent_provider_is_resubscribed(tmp_path, running, caplog):
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI + "heartbeat_alarm_scale = 0.01\n"  # 0.3 s without a message
    path = ini(tmp_path, "c.ini", text, PROVIDERS=providers(server), DST=dst, TIMEOUT=5)
    running(Client(read_client(path), tmp_path / "state"))
    wait_for(lambda: count(caplog, "missing a heartbeat") >= 1, "the heartbeat alarm")
    wait_subscribed_all(server, TOPIC, 1)
    write(src / segment(13), b"after the alarm")
    wait_for((dst / "MSG4" / segment(13)).exists, "a file after resubscribing")


def test_client_honours_a_providers_own_topic(tmp_path, running):
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI.replace("topic = /1b/hrit-segment/0deg", "topic = /elsewhere")
    own = providers(server) + TOPIC
    path = ini(tmp_path, "c.ini", text, PROVIDERS=own, DST=dst, TIMEOUT=5)
    running(Client(read_client(path), tmp_path / "state"))
    wait_subscribed_all(server, TOPIC, 1)
    write(src / segment(14), b"by the provider's topic")
    wait_for((dst / "MSG4" / segment(14)).exists, "the segment on the provider's own topic")
