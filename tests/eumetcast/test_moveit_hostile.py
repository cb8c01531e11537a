"""The exchange commands under hostile messages and planted symlinks, end to end on real ZeroMQ
sockets, a real FTP server and the real server's pushes: nothing is ever written, unpacked or
removed outside a destination, never through a symlink, and a failed unpack places nothing."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from moveit_kit import (
    FILE_CLIENT_INI,
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
    wait_subscribed,
    wait_subscribed_all,
    write,
)
from servers import FTP_USER, PASSWORD

from sarra.eumetcast import messages
from sarra.eumetcast.client import Client
from sarra.eumetcast.config import read_client, read_mirror
from sarra.eumetcast.mirror import Mirror
from sarra.eumetcast.sockets import Publisher, request

PRECIOUS = b"precious: never written, never removed"
SYMLINK_WARNING = "a file is written there, never through a link"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_bytes(PRECIOUS)
    return path


@pytest.fixture
def hostile() -> Iterator[Publisher]:
    """A provider anyone could run: it publishes whatever announcements a test makes."""
    publisher = Publisher(0, "hostile")
    yield publisher
    publisher.close()


def client_of(tmp_path: Path, running, text: str, provider: str, **values: object) -> Client:
    path = ini(tmp_path, "c.ini", text, PROVIDERS=provider, TIMEOUT=5, **values)
    return running(Client(read_client(path), tmp_path / "state"))


def tar_of(*members: tuple[str, str | bytes]) -> bytes:
    """An archive of (name, content) files and (name, '->target') symlinks, in order."""
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content.removeprefix("->")
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return packed.getvalue()


# --- hostile names in messages


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("platform_name", "../outside"),  # the destination filled out of its directory
        ("uid", "../../outside/victim.bz2"),  # a uid that climbs out
        ("uid", "@ABSOLUTE@"),  # an absolute uid
        ("uid", "x\n99999999999 H-000"),  # a line of its own in the first-wins memory
    ],
)
def test_client_refuses_a_message_whose_names_lead_out(
    tmp_path: Path, running, hostile: Publisher, caplog, field: str, value: str
) -> None:
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    outside = tmp_path / "outside"
    outside.mkdir()
    packed = outside / "victim.bz2"
    packed.write_bytes(bz2.compress(PRECIOUS))
    text = FILE_CLIENT_INI + "compression = bzip\ndelete = True\n"
    dst = tmp_path / "dst"
    client = client_of(tmp_path, running, text, f"127.0.0.1:{hostile.port}", DST=dst)
    wait_subscribed(hostile, TOPIC)
    for n in (1, 2):
        write(src / segment(n), b"a segment")
    wait_for(lambda: len(server.chains[0].served) == 2, "the segments served")
    address = f"127.0.0.1:{server.chains[0].chain.request_port}"

    def announce(n: int, **changed: str) -> None:
        data = {"uri": str(src / segment(n)), "uid": segment(n), "platform_name": "MSG4",
                "request_address": address, **changed}  # fmt: skip
        hostile.send(messages.make(TOPIC, "file", data))

    announce(1, **{field: value.replace("@ABSOLUTE@", str(packed))})
    announce(2)  # a good one after it: the client goes on
    wait_for((dst / "MSG4" / segment(2)).exists, "the good segment")
    assert count(caplog, "refused") == 1, caplog.text
    assert count(caplog, "pushed " + segment(1)) == 0
    assert sorted(p.name for p in outside.iterdir()) == ["victim.bz2"]
    assert bz2.decompress(packed.read_bytes()) == PRECIOUS
    assert sorted(p.name for p in (dst / "MSG4").iterdir()) == [segment(2)]
    client.stop()
    assert [line.split()[1] for line in (tmp_path / "state" / "plain.memory").open()] == [
        segment(2)
    ]


# --- symlinks planted in the client's destination


def test_client_refuses_a_destination_directory_that_is_a_symlink_out(
    tmp_path: Path, running, caplog
) -> None:
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    outside = tmp_path / "outside"
    outside.mkdir()
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "MSG4").symlink_to(outside)
    (dst / "MSG2").mkdir()
    _client, _ = file_client(tmp_path, running, server)
    write(src / segment(1), b"not for outside")
    write(src / segment(2, platform="MSG2"), b"for MSG2")
    wait_for((dst / "MSG2" / segment(2, platform="MSG2")).exists, "the file for MSG2")
    wait_for(lambda: count(caplog, "MSG4 is a symlink to") == 1, "the refusal")
    assert list(outside.iterdir()) == []
    assert count(caplog, "pushed " + segment(1)) == 0
    (line,) = [r.getMessage() for r in caplog.records if "MSG4 is a symlink to" in r.getMessage()]
    assert f"outside {dst}" in line and segment(1) in line


def test_client_over_ftp_removes_a_symlink_at_the_partial_name(
    tmp_path: Path, running, ftp_server, ftp_home: Path, caplog
) -> None:
    """The FTP daemon writes what the server pushes: a symlink at the partial name (to a file
    the daemon may write, in its home) would be written through and renamed into place."""
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    home_dir = f"moveit-{tmp_path.name}"
    dst = ftp_home / home_dir
    dst.mkdir()
    victim = ftp_home / f"{home_dir}-victim"
    victim.write_bytes(PRECIOUS)
    name = segment(3)
    (dst / f".{name}.part").symlink_to(victim)
    text = (
        f"[ftp]\nproviders = {providers(server)}\n"
        f"destination = ftp://127.0.0.1:{ftp_server.port}/{home_dir}/\n"
        f"login = {FTP_USER}:{PASSWORD}\nftp_root = {ftp_home}\ntopic = {TOPIC}\n"
    )
    running(Client(read_client(ini(tmp_path, "c.ini", text)), tmp_path / "state"))
    wait_subscribed_all(server, TOPIC, 1)
    write(src / name, b"by ftp")
    wait_for(lambda: count(caplog, "received " + name) == 1, "the push")
    assert victim.read_bytes() == PRECIOUS
    assert not (dst / name).is_symlink() and (dst / name).read_bytes() == b"by ftp"
    assert count(caplog, SYMLINK_WARNING) == 1


# --- unpacking


@pytest.mark.parametrize("at", ["the partial names", "the final name"])
def test_client_bunzip2_never_writes_through_a_symlink(
    tmp_path: Path, running, listen, victim: Path, at: str
) -> None:
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI.replace("@HRIT@", "@HRIT@.bz2"))
    dst = tmp_path / "dst"
    (dst / "MSG4").mkdir(parents=True)
    name = segment(4)
    planted = [f"{name}.part", f".{name}.part", f".{name}.bz2.part"]  # any a writer might use
    for link in planted if at == "the partial names" else [name]:
        (dst / "MSG4" / link).symlink_to(victim)
    text = FILE_CLIENT_INI + "compression = bzip\ndelete = True\n"
    client = client_of(tmp_path, running, text, providers(server), DST=dst)
    out = listen(client.sections[0].publisher, TOPIC)
    wait_subscribed_all(server, TOPIC, 1)
    write(src / (name + ".bz2"), bz2.compress(b"unpacked"))
    wait_for(lambda: out.of_type("file"), "the client's announcement of the unpacked file")
    assert victim.read_bytes() == PRECIOUS
    unpacked = dst / "MSG4" / name
    assert not unpacked.is_symlink() and unpacked.read_bytes() == b"unpacked"
    left = {p.name for p in (dst / "MSG4").iterdir()}
    assert left == {name} | ({f"{name}.part"} if at == "the partial names" else set())


def test_client_xrit_decompressor_never_writes_through_a_symlink(
    tmp_path: Path, running, victim: Path, xrit_decompress: Path
) -> None:
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    dst = tmp_path / "dst"
    (dst / "MSG4").mkdir(parents=True)
    name = segment(5, compressed="C_")
    unpacked = segment(5)
    for planted in (f".{unpacked}", unpacked):  # the stand-in writes .NAME then renames it
        (dst / "MSG4" / planted).symlink_to(victim)
    text = FILE_CLIENT_INI + f"compression = xrit\nxritdecompressor = {xrit_decompress}\n"
    client_of(tmp_path, running, text, providers(server), DST=dst)
    wait_subscribed_all(server, TOPIC, 1)
    write(src / name, b"compressed")
    done = dst / "MSG4" / unpacked
    wait_for(lambda: done.is_file() and not done.is_symlink(), "the decompressed segment")
    assert victim.read_bytes() == PRECIOUS
    assert (dst / "MSG4" / unpacked).read_bytes() == b"COMPRESSED"


TAR_SERVER_INI = """\
[@STATION@]
origin = @SRC@/{name}
request_port = @PORT@
request_address = 127.0.0.1
topic = /1b/hrit-segment/0deg
"""
TAR_CLIENT_INI = FILE_CLIENT_INI.replace("{platform_name}/", "") + "compression = tar\n"


def test_client_untar_refuses_hostile_members_and_extracts_the_rest(
    tmp_path: Path, running, listen, victim: Path, caplog
) -> None:
    server, src = start_server(tmp_path, running, TAR_SERVER_INI)
    dst = tmp_path / "dst"
    client = client_of(tmp_path, running, TAR_CLIENT_INI, providers(server), DST=dst)
    out = listen(client.sections[0].publisher, TOPIC)
    wait_subscribed_all(server, TOPIC, 1)
    (dst / "b.txt").parent.mkdir(parents=True)
    (dst / ".b.txt.part").symlink_to(victim)
    archive = tar_of(
        ("a.txt", b"aaa"),
        ("../../evil", b"climbs out"),
        ("/abs/evil", b"absolute"),
        ("link", f"->{victim}"),  # a symlink, then a file through it
        ("link", b"through the link"),
        ("d", f"->{tmp_path}"),
        ("d/evil", b"through a directory link"),
        ("sub/b.txt", b"bbb"),
        ("b.txt", b"BBB"),
    )
    write(src / "hostile.tar", archive)
    wait_for(lambda: out.of_type("dataset"), "the dataset announcement")
    dataset = out.of_type("dataset")[0].data["dataset"]
    assert sorted(item["uid"] for item in dataset) == ["a.txt", "b.txt", "b.txt", "evil", "link"]
    assert victim.read_bytes() == PRECIOUS
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    assert (dst / "link").read_bytes() == b"through the link" and not (dst / "link").is_symlink()
    assert (dst / "d" / "evil").read_bytes() == b"through a directory link"
    assert not (dst / "d").is_symlink()
    assert (dst / "sub" / "b.txt").read_bytes() == b"bbb" and (dst / "b.txt").read_bytes() == b"BBB"
    (line,) = [r.getMessage() for r in caplog.records if "member(s) of" in r.getMessage()]
    assert line.startswith("refused 4 member(s) of ") and "../../evil: climbs out" in line


@pytest.mark.parametrize("failure", ["cut short", "a directory that leads out", "a directory"])
def test_client_untar_that_fails_places_nothing(
    tmp_path: Path, running, listen, caplog, failure: str
) -> None:
    server, src = start_server(tmp_path, running, TAR_SERVER_INI)
    dst = tmp_path / "dst"
    dst.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    client = client_of(tmp_path, running, TAR_CLIENT_INI, providers(server), DST=dst)
    out = listen(client.sections[0].publisher, TOPIC)
    wait_subscribed_all(server, TOPIC, 1)
    archive = tar_of(("a.txt", b"a" * 600), ("sub/b.txt", b"b" * 600), ("c.txt", b"c" * 600))
    name = "broken.tar"
    if failure == "cut short":
        name, archive = "broken.tar.gz", gzip.compress(archive)[:-100]
    elif failure == "a directory that leads out":
        (dst / "sub").symlink_to(outside)
    else:
        (dst / "c.txt").mkdir()
        (dst / "c.txt" / "kept").write_bytes(b"")
    write(src / name, archive)
    wait_for(lambda: out.of_type("file"), "the packed file announced as it is")
    assert out.of_type("file")[0].data["uid"] == name
    assert count(caplog, "cannot unpack") == 1
    assert sorted(p.name for p in dst.iterdir() if p.name not in ("sub", "c.txt")) == [name]
    assert list(outside.iterdir()) == []
    if not (dst / "sub").is_symlink() and (dst / "sub").is_dir():
        assert list((dst / "sub").iterdir()) == []  # made for the staging, left empty


def test_server_bunzip2_into_its_working_directory_never_writes_through_a_symlink(
    tmp_path: Path, running, victim: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for planted in ("x.dat.part", ".x.dat.part", "x.dat"):
        (work / planted).symlink_to(victim)
    text = (
        "[bz]\norigin = @SRC@/{name}.dat.bz2\nworking_directory = @WORK@\ncompression = bzip\n"
        "request_port = @PORT@\nrequest_address = 127.0.0.1\ntopic = /1b/hrit-segment/0deg\n"
    )
    server, src = start_server(tmp_path, running, text, WORK=work)
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI.replace("{platform_name}/", "").replace("[plain]", "[bz]")
    client_of(tmp_path, running, text, providers(server), DST=dst)
    wait_subscribed_all(server, TOPIC, 1)
    write(src / "x.dat.bz2", bz2.compress(b"unpacked by the server"))
    wait_for((dst / "x.dat").exists, "the unpacked file at the client")
    assert (dst / "x.dat").read_bytes() == b"unpacked by the server"
    assert victim.read_bytes() == PRECIOUS
    assert not (work / "x.dat").is_symlink()


# --- the first-wins memory


def test_client_memory_is_never_written_through_a_symlink(
    tmp_path: Path, running, victim: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for planted in ("plain.tmp", ".plain.memory.tmp"):
        (state / planted).symlink_to(victim)
    (state / "plain.memory").write_text("1 x\n")
    server, _src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    client, _dst = file_client(tmp_path, running, server)
    client.sections[0].memory.add("y")
    client.stop()
    assert victim.read_bytes() == PRECIOUS
    assert [line.split()[1] for line in (state / "plain.memory").open()] == ["y"]


# --- the mirror


def test_mirror_neither_relays_nor_serves_nor_removes_a_name_that_leads_out(
    tmp_path: Path, running, hostile: Publisher, listen, victim: Path, caplog
) -> None:
    gate_port = free_port()
    copies = tmp_path / "gate"
    text = (
        "[gate]\norigin = @SRC@/{name}\ndelete = True\nremove_delay = 0\n"
        f"request_port = {gate_port}\nrequest_address = 127.0.0.1\ntopic = {TOPIC}\n"
        f"providers = 127.0.0.1:{hostile.port}\ndestination = file://{copies}/in/\n"
        f"client_topic = {TOPIC}\n"
    )
    mirror = running(Mirror(read_mirror(ini(tmp_path, "gate.ini", text, SRC=tmp_path)), 0))
    wait_subscribed(hostile, TOPIC)
    relayed = listen(mirror.publisher, TOPIC)
    uid = "../../victim"  # copies/in/../../victim is tmp_path/victim
    data = {"uri": f"/data/{uid}", "uid": uid, "request_address": "127.0.0.1:1"}
    hostile.send(messages.make(TOPIC, "file", data))
    wait_for(lambda: count(caplog, "../../victim: not one plain file name") == 1, "the refusal")
    address = f"127.0.0.1:{gate_port}"
    asked = dict(data, destination=f"file://{tmp_path}/exfiltrated/")
    pushed = request(address, messages.make(TOPIC, "push", asked), 5)
    assert pushed is not None and pushed.type == "err"
    acked = request(address, messages.make(TOPIC, "ack", data), 5)
    assert acked is not None and acked.type == "ack"
    sentinel = tmp_path / "sentinel"
    sentinel.write_bytes(b"")
    mirror.sections[0].deleter.schedule(str(sentinel), 0)  # after any removal the ack asked
    wait_for(lambda: not sentinel.exists(), "the deleter's turn")
    assert victim.read_bytes() == PRECIOUS
    assert relayed.of_type("file") == [] and not (tmp_path / "exfiltrated").exists()
