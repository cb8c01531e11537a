"""The pure parts: wire format (against posttroll's own Message), patterns, configs, memory."""

from __future__ import annotations

import datetime as dt
import re
import socket
import time

import pytest
from moveit_kit import HRIT, wait_for
from posttroll.message import Message as PosttrollMessage

from sarra.config.errors import ConfigError
from sarra.eumetcast import messages
from sarra.eumetcast.client import rewrite
from sarra.eumetcast.config import parse_info, parse_provider, read_client, read_server
from sarra.eumetcast.destination import plain_name, resolve
from sarra.eumetcast.memory import Memory
from sarra.eumetcast.patterns import Pattern, compose
from sarra.eumetcast.server import Deleter
from sarra.transfer.confine import PathRefused

WIRE = re.compile(
    r"^pytroll://1b/hrit-segment/0deg file \S+@\S+ \d{4}-\d\d-\d\dT[\d:.]+ v1\.01 "
    r"application/json \{.*\}$"
)


def test_our_messages_are_posttroll_v1_01():
    data = {"uid": "x", "nominal_time": dt.datetime(2024, 1, 1, 12), "channels": ["a", "b"]}
    raw = messages.encode(messages.make("/1b/hrit-segment/0deg", "file", data)).decode()
    assert WIRE.match(raw), raw
    assert '"nominal_time": "2024-01-01T12:00:00"' in raw
    theirs = PosttrollMessage.decode(raw)
    assert (theirs.subject, theirs.type, theirs.data) == ("/1b/hrit-segment/0deg", "file", data)


def test_we_read_posttroll_messages_of_any_version():
    for version in ("v1.01", "v1.2"):
        sent = PosttrollMessage(
            "ping/pong", "ping", {"t": dt.datetime(2024, 1, 2)}, version=version
        )
        got = messages.decode(sent.encode().encode())
        assert (got.subject, got.type, got.data["t"].day) == ("ping/pong", "ping", 2)
    empty = messages.decode(PosttrollMessage("/t", "ack").encode())
    assert empty.data == ""
    with pytest.raises(messages.BadMessage):
        messages.decode(b"not a pytroll message")


def test_uids_of_files_datasets_collections():
    assert messages.uids({"uid": "a", "uri": "/a"}) == ["a"]
    assert messages.uids({"dataset": [{"uid": "a", "uri": "/a"}, {"uid": "b", "uri": "/b"}]}) == [
        "a",
        "b",
    ]
    assert messages.uids({"collection": [{"dataset": [{"uid": "c", "uri": "/c"}]}]}) == ["c"]


def test_pattern_parse_compose_glob():
    pattern = Pattern("/data/" + HRIT)
    name = "/data/H-000-MSG1__-MSG1________-IR_108___-000001___-202401011200-C_"
    fields = pattern.parse(name)
    assert fields["series"] == "MSG1" and fields["compressed"] == "C"
    assert fields["nominal_time"] == dt.datetime(2024, 1, 1, 12)
    assert compose(pattern.text, fields) == name
    assert pattern.glob == "/data/H-000-??????-?????_______-?????????-?????????-????????????-??"
    assert pattern.directory == "/data" and pattern.matches(name)
    with pytest.raises(ValueError, match="no field"):
        compose("/x/{platform_name}/", {})
    assert (
        compose("/d/{t:%Y/%m}/{n:05d}", {"t": dt.datetime(2024, 2, 3), "n": 7})
        == "/d/2024/02/00007"
    )


def test_destination_login_and_rewrite(caplog):
    url = resolve("ftp:///geo/{platform_name}/", {"platform_name": "MSG1"}, "me:p@ss:w", None).url
    assert url.startswith("ftp://me:p%40ss%3Aw@") and url.endswith("/geo/MSG1/")
    assert resolve("file:///d/", {}, "me:x", None).url.startswith("file://")
    rules = {"platform_name": "MSG1:Meteosat-8|MSG2:Meteosat-9", "sensor": "seviri"}
    assert rewrite({"platform_name": "MSG2", "sensor": "x"}, rules, "s") == {
        "platform_name": "Meteosat-9",
        "sensor": "seviri",
    }
    assert rewrite({"platform_name": "MSG9"}, rules, "s") == {"platform_name": "MSG9"}
    assert "MSG9 is not in the platform_name map" in caplog.text


def test_info_and_providers():
    assert parse_info("sensor=seviri;variant=0DEG;channels=a,b") == {
        "sensor": "seviri",
        "variant": "0DEG",
        "channels": ["a", "b"],
    }
    assert parse_info("sensor = seviri") == {"sensor": "seviri"}
    assert parse_provider("gate:9010/1b/x").topic == "/1b/x"
    assert parse_provider("tcp://gate:9010").address == "tcp://gate:9010"
    with pytest.raises(ValueError):
        parse_provider("gate")


def test_config_errors_name_file_and_line(tmp_path):
    path = tmp_path / "s.ini"
    path.write_text(
        "[a]\norigin = /data/{name}\ntopic = /t\nrequest_port = 9093\ndelete = maybe\n"
        "[b]\norigin = relative/{name}\ntopic = /t\nrequest_port = 9093\ncompression = zip\n"
    )
    with pytest.raises(ConfigError) as caught:
        read_server(path)
    text = str(caught.value)
    assert f"{path}:5: [a] delete = maybe: not a boolean" in text
    assert f"{path}:7: [b] origin = relative/{{name}}: must be an absolute path" in text
    assert f"{path}:9: [b] request_port 9093 is also [a]'s" in text
    assert f"{path}:10: [b] compression = zip: must be one of xrit, bzip" in text
    client = tmp_path / "c.ini"
    client.write_text("[c]\ntopic = /t\ndestination = http://x/\n")
    with pytest.raises(ConfigError) as caught:
        read_client(client)
    assert f"{client}:1: [c] providers is required" in str(caught.value)
    assert f"{client}:3: [c] destination http://x/: scheme must be one of" in str(caught.value)


def test_client_options(tmp_path):
    path = tmp_path / "c.ini"
    path.write_text(
        "[c]\nproviders = a:9010 b:9011/1b/other\ndestination = ftp:///geo_in/0deg/\n"
        "login = u:p\ntopic = /1b/hrit\npublish_port = 0\nheartbeat_alarm_scale = 10\n"
        "platform_name = MSG1:Meteosat-8|MSG2:Meteosat-9\npost_broker = amqp://b/\n"
        "post_base_url = sftp://host/\n"
    )
    (chain,) = read_client(path)
    assert [p.topic for p in chain.providers] == [None, "/1b/other"]
    assert chain.rewrites == {"platform_name": "MSG1:Meteosat-8|MSG2:Meteosat-9"}
    assert chain.heartbeat_alarm_scale == 10 and chain.transfer_req_timeout == 10


def test_memory_is_first_wins_with_ttl_across_restarts(tmp_path):
    path = tmp_path / "state" / "section.memory"
    memory = Memory(path, ttl=60)
    memory.add("a")
    assert "a" in memory and "b" not in memory
    memory.close()
    again = Memory(path, ttl=60)
    assert "a" in again
    again.close()
    stale = path.read_text().replace(path.read_text().split()[0], f"{time.time() - 120:.3f}")
    path.write_text(stale)
    assert "a" not in Memory(path, ttl=60)
    short = Memory(None, ttl=0.05)
    short.add("x")
    time.sleep(0.06)
    assert "x" not in short


def test_trollmoves_server_options_read(tmp_path, caplog):
    path = tmp_path / "s.ini"
    path.write_text(
        "[a]\norigin = /data/{name}\ntopic = /t\nrequest_port = 9093\nssh_key_filename = /k\n"
        "publisher_port = 9010\norigin_inotify_base_dir_skip_levels = -1\nfancy = 1\n"
        "connection_parameters__connection_uptime = 5\n"
    )
    (chain,) = read_server(path)
    assert chain.connection_parameters == {"ssh_key_filename": "/k", "connection_uptime": "5"}
    assert f"{path}:8: [a] unknown option fancy: ignored" in caplog.text


@pytest.mark.parametrize(
    ("template", "fields", "url"),
    [
        ("file:///d/{p}/", {"p": "MSG4"}, "file:///d/MSG4/"),
        ("file:///d/in_{p}/", {"p": "x/./y"}, "file:///d/in_x/y/"),
        ("file:///d/{p}/{q}/", {"p": "a/b", "q": ".."}, "file:///d/a/"),
        ("/d/fixed/", {}, "file:///d/fixed/"),
    ],
)
def test_destination_is_filled_and_normalized_below_its_fixed_directory(template, fields, url):
    filled = resolve(template, fields, None, None).url
    assert filled.replace(f"//{socket.gethostname()}/", "///") == url


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"p": "../etc"}, "climbs out of /d/"),
        ({"p": "a/../../etc"}, "climbs out of /d/"),
        ({"p": ".."}, "climbs out of /d/"),
        ({"p": "a/.."}, "names /d/ itself"),
        ({"p": "x#/"}, "a query or a fragment"),
        ({"p": "x?y=1"}, "a query or a fragment"),
    ],
)
def test_destination_fields_never_lead_out(fields, reason):
    with pytest.raises(PathRefused, match=re.escape(reason)):
        resolve("ftp:///d/{p}/", fields, "me:secret", "/srv/ftp")


def test_destination_on_this_host_and_plain_names():
    target = resolve("ftp:///geo/{p}/", {"p": "MSG4"}, None, "/srv/ftp")
    assert (target.local_root, target.below, target.local_dir) == (
        "/srv/ftp/geo/", "MSG4", "/srv/ftp/geo/MSG4"
    )  # fmt: skip
    assert resolve("sftp://h/geo/{p}/", {"p": "MSG4"}, None, None).local_dir is None
    assert resolve("/geo/{p}/", {"p": "MSG4"}, None, None).local_root == "/geo/"
    assert plain_name("H-000-MSG4.bz2") == "H-000-MSG4.bz2"
    for hostile in ("", ".", "..", "a/b", "/etc/passwd", "x\n1 y", "\udcff"):
        with pytest.raises(PathRefused):
            plain_name(hostile)


def test_deleter_never_removes_through_a_directory_that_leads_out(tmp_path, caplog):
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_bytes(b"kept")
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "y").write_bytes(b"removed")
    deleter = Deleter("t")
    try:
        deleter.schedule(str(root / "sub" / "y"), 0, str(root))
        wait_for(lambda: not (root / "sub" / "y").exists(), "the removal below the root")
        (root / "sub").rmdir()
        (root / "sub").symlink_to(outside)  # swapped after the path was known
        deleter.schedule(str(root / "sub" / "x"), 0, str(root))
        wait_for(lambda: "cannot delete" in caplog.text, "the refusal")
    finally:
        deleter.close()
    assert (outside / "x").read_bytes() == b"kept"
    assert "sub is a symlink to" in caplog.text
