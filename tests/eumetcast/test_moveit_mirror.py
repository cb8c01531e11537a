"""move_it_mirror end to end: a station's server, a gateway (the seed's gate config, ports and
paths adjusted) fetching by FTP, and a client beyond it that knows only the gateway."""

from __future__ import annotations

from moveit_kit import (
    FILE_CLIENT_INI,
    FTP_USER,
    PASSWORD,
    PLAIN_SERVER_INI,
    TOPIC,
    count,
    free_port,
    ini,
    providers,
    segment,
    start_server,
    wait_for,
    write,
)

from sarra.eumetcast.client import Client
from sarra.eumetcast.config import read_client, read_mirror
from sarra.eumetcast.mirror import Mirror

GATE_INI = """\
# This is gate_a_out.ini
[eumetcast-hrit-0deg]
# server part
origin = /tmp/@HRIT@
scheme = ftp
working_directory = /tmp/
#compression = xrit
#prog = /home/a001673/usr/contrib/PublicDecompWT/Image/Linux_32bits/xRITDecompress
delete = True
remove_delay = 1
request_port = @PORT@
# IP address of GateA
request_address = 127.0.0.1
info = sensor=seviri
topic = /1b/hrit-segment/0deg

# client part
providers = @PROVIDERS@/1b/hrit-segment/0deg
login = @LOGIN@
destination = ftp://127.0.0.1:@FTP@/gate/0deg/
ftp_root = @FTPHOME@
client_topic = /1b/hrit-segment/0deg
publish_port = 0
"""


def test_mirror_relays_and_fetches_on_demand(
    tmp_path, running, listen, ftp_server, ftp_home, caplog
):
    station, src = start_server(tmp_path, running, PLAIN_SERVER_INI, "station.ini")
    gate_port = free_port()
    path = ini(tmp_path, "gate.ini", GATE_INI, PORT=gate_port, PROVIDERS=providers(station),
               LOGIN=f"{FTP_USER}:{PASSWORD}", FTP=ftp_server.port, FTPHOME=ftp_home)  # fmt: skip
    mirror = running(Mirror(read_mirror(path), 0))
    wait_for(lambda: station.publisher.subscribers(TOPIC) >= 1, "the gateway subscribed")
    dst = tmp_path / "dst"
    client_ini = ini(tmp_path, "c.ini", FILE_CLIENT_INI, PROVIDERS=providers(mirror), DST=dst,
                     TIMEOUT=5)  # fmt: skip
    client = running(Client(read_client(client_ini), tmp_path / "state"))
    wait_for(lambda: mirror.publisher.subscribers(TOPIC) >= 1, "the client subscribed")
    relayed = listen(mirror.publisher, TOPIC)
    out = listen(client.sections[0].publisher, TOPIC)

    name = segment(11, platform="MSG1")
    write(src / name, b"across networks")
    wait_for((dst / "MSG1" / name).exists, "the segment beyond the gateway")
    assert (dst / "MSG1" / name).read_bytes() == b"across networks"
    (announcement,) = relayed.of_type("file")
    assert announcement.data["request_address"] == f"127.0.0.1:{gate_port}"
    assert announcement.subject == TOPIC
    wait_for(lambda: out.of_type("file"), "the client's local announcement")
    local = out.of_type("file")[0].data
    assert local["origin"] == f"127.0.0.1:{gate_port}"  # the client asked the gateway only
    assert local["platform_name"] == "Meteosat-8"
    # the gateway's relayed stream carries no push/ack/file of its own fetching
    assert {m.type for m in relayed.received} <= {"file", "beat"}
    copy = ftp_home / "gate/0deg" / name
    wait_for(lambda: count(caplog, "fetched") == 1, "the gateway's fetch")
    wait_for(lambda: not copy.exists(), "the gateway's copy removed after remove_delay")
