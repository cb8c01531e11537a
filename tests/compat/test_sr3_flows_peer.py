"""sr3's components move real files the same way under sr3 and here.

For each of shovel, winnow, sarra, watch, sender and poll: one sr3 config in a ~/.config/sr3
tree (sr3's shipped example for that component where one fits a local setup, else one written
as sr3's documentation writes them), run by sr3 itself (metpx-sr3 3.3.1, `sr3 foreground
component/config`) and by ours (`sr_<component> foreground config`) on the local RabbitMQ,
with the same input: the same files are produced (names and bytes) and the same notices posted
(relPath, baseUrl, identity, size, and the other fields of sr3's notices; not pubTime nor
sr3's message id). Each side runs in a home of its own holding the same tree; what differs
(the directory written, the exchange posted to) comes from the environment (sr3flows).

The components and what was compared are tabled in docs/sr3-compat.md.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import time
import uuid
from dataclasses import replace
from pathlib import Path
from pprint import pformat

import pytest
from integration.pumpkit import MTIME, declare, file_notice
from peers import PeerEnv
from servers import HttpServer, SshServer
from sr3flows import POSTERS_CLUSTERS, WATCHING, WHO, both, differences
from sr3peer import publish

from sarra.config.loader import load
from sarra.message.notice import Notice

pytestmark = pytest.mark.broker

BROKER_URL = "amqp://guest@127.0.0.1/"


def exchanges(kind: str) -> tuple[str, dict[str, dict[str, str]]]:
    """An input exchange (declared) and each side's output exchange, as FLOW_OUT."""
    source = f"xsr3{kind}_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), source)
    return source, {who: {"FLOW_OUT": f"{source}_{who}"} for who in WHO}


def files(root: Path) -> dict[str, str]:
    """Each file below root (not hidden), by relative path: its sha256."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}  # fmt: skip


# --- shovel: sr3's shipped rejects (shovel/no_trouble_f00.inc) on a shovel

SHOVEL = """\
# a shovel of sr3's form, with the rejects sr3 ships in shovel/no_trouble_f00.inc
broker {broker}
exchange {source}
topicPrefix v03
expire 10m
subtopic #
include shovel/no_trouble_f00.inc
post_broker {broker}
post_exchange ${{FLOW_OUT}}
"""

SHOVELLED = [
    "20261206/WXO-DD/bulletins/alphanumeric/SA/CWAO/12/SACN31_CWAO.txt",
    "20261206/WXO-DD/model_giops/grib2/lat_lon/00/000/CMC_giops.grib2",  # rejected: grib2
    "20261206/WXO-DD/citypage_weather/xml/ON/s0000430_e.xml",  # rejected: citypage
    "20261206/WXO-DD/observations/swob-ml/20261206/CYUL/CYUL-AUTO-swob.xml",  # rejected: swob
    "20261206/WXO-DD/radar/CAPPI/GIF/WKR/radar.gif",  # rejected: GIF
    "20261206/WXO-DD/hydrometric/csv/ON/hourly/ON_02HA003.csv",  # rejected: hydrometric
    "20261206/WXO-DD/meteocode/atl/cmml/TRANSMIT.FPCN11.12.06.1000Z.xml",
    "20261206/WXO-DD/air_quality/aqhi/ont/observation/realtime/xml/AQ_OBS.xml",
]
REJECTED = re.compile(r"grib2|citypage|GIF|hydrometric|swob\.xml")
KEPT = sum(not REJECTED.search(name) for name in SHOVELLED)


def _inputs(folder: str, names: list[str], base: str = "http://127.0.0.1:1/") -> list[Notice]:
    notices = []
    for i, name in enumerate(names):
        notice = file_notice(base, f"{folder}/{name}", os.urandom(50 + i))
        notice.source, notice.from_cluster, notice.to_clusters = "tester", "here", "here"
        notices.append(notice)
    return notices


def test_a_shovel_with_sr3_s_shipped_rejects_posts_the_same_notices(
    sr3: PeerEnv, sr3_package: Path, tmp_path: Path
) -> None:
    source, values = exchanges("shovel")
    include = (sr3_package / "examples" / "shovel" / "no_trouble_f00.inc").read_text()
    configs = {
        "shovel/flows": SHOVEL.format(broker=BROKER_URL, source=source),
        "shovel/no_trouble_f00.inc": include,
    }
    notices = _inputs(source, SHOVELLED)
    with both(sr3, tmp_path, "shovel/flows", configs, values) as sides:
        publish(source, notices)
        posted = {who: side.take(KEPT) for who, side in sides.items()}
    kept = {f"{source}/{n}" for n in SHOVELLED if not REJECTED.search(n)}
    assert {n.rel_path for n in posted["sr3"]} == kept  # the last one among them: none more
    found = differences(posted["ours"], posted["sr3"])
    assert found == {}, pformat(found)


# --- winnow: one notice of each file, whichever pump announced it

WINNOW = """\
# a winnow of sr3's form (sr3's own defaults: nodupe_ttl 300 for a winnow)
broker {broker}
exchange {source}
topicPrefix v03
expire 10m
subtopic #
post_broker {broker}
post_exchange ${{FLOW_OUT}}
"""


def test_a_winnow_posts_the_same_notices(sr3: PeerEnv, tmp_path: Path) -> None:
    source, values = exchanges("winnow")
    configs = {"winnow/flows": WINNOW.format(broker=BROKER_URL, source=source)}
    first = _inputs(source, ["a.txt", "b.txt", "c.txt"], "http://pump1.example.com/")
    # the same files from another pump (the same relPath and identity): duplicates
    again = [replace(n, base_url="http://pump2.example.com/") for n in first]
    # a new version of a.txt (another identity), and b.txt's bytes under another name
    changed = _inputs(source, ["a.txt"], "http://pump2.example.com/")
    renamed = replace(first[1], rel_path=f"{source}/b_copy.txt")
    last = _inputs(source, ["last.txt"])  # after the duplicates: none of them comes after it
    with both(sr3, tmp_path, "winnow/flows", configs, values) as sides:
        publish(source, [*first, *again, *changed, renamed, *last])
        posted = {who: side.take(6) for who, side in sides.items()}
    assert posted["sr3"][-1].rel_path == last[0].rel_path
    found = differences(posted["ours"], posted["sr3"])
    assert found == {}, pformat(found)


def adapt(example: str, lines: dict[str, str | None]) -> str:
    """An example as a site adapts it: each line whose option (`declare env NAME` for a
    declaration) is a key of `lines` replaced by its value (None: removed, the site sets it
    in the environment); every other line as shipped. Each key must be a line of the example."""
    found, out = set(), []
    for line in example.splitlines():
        words = line.split()
        key = words[0] if words else ""
        if words[:2] == ["declare", "env"]:
            key = f"declare env {words[2].split('=')[0]}"
        if key in lines:
            found.add(key)
            if lines[key] is not None:
                out.append(str(lines[key]))
        else:
            out.append(line)
    assert found == set(lines), set(lines) - found
    return "\n".join(out) + "\n"


def serve(served_root: Path, base: str, folder: str, names: list[str]) -> list[Notice]:
    """Files below served_root/folder, and their notices under `base` (as a pump announces
    them: v03, md5 identities)."""
    notices = []
    for i, name in enumerate(names):
        data = os.urandom(300 + 17 * i)
        path = served_root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        notice = file_notice(base, f"{folder}/{name}", data)
        notice.source, notice.from_cluster, notice.to_clusters = "tester", "here", "here"
        notices.append(notice)
    return notices


# --- sarra: sr3's sarra/wmo_mesh.conf (a mesh peer's feed, downloaded and announced again)


def test_sr3_s_wmo_mesh_sarra_downloads_and_announces_the_same(
    sr3: PeerEnv, sr3_package: Path, tmp_path: Path, http_server: HttpServer, served_root: Path
) -> None:
    source, values = exchanges("sarra")
    example = (sr3_package / "examples" / "sarra" / "wmo_mesh.conf").read_text()
    text = adapt(example, {
        "declare env MESH_PEER": f"declare env MESH_PEER={BROKER_URL}",
        "declare env MESH_DIR": None,
        "declare env MESH_POST_BROKER": f"declare env MESH_POST_BROKER={BROKER_URL}",
        "exchange": f"exchange {source}",
        "post_url": "post_baseUrl ${MESH_BASEURL}",  # sr3 3.3.1 ignores v2's post_url
        "post_exchange": "post_exchange ${FLOW_OUT}",
    })  # fmt: skip
    mesh = {who: tmp_path / who / "mesh" for who in values}
    for who in values:
        values[who]["MESH_DIR"] = str(mesh[who])
    base = f"http://127.0.0.1:{http_server.port}/"
    names = ["WIS/ca/a.txt", "WIS/ca/sub/b.bufr", "WIS/fr/c.grib2", "d.txt"]
    notices = serve(served_root, base, source, names)
    with both(sr3, tmp_path, "sarra/wmo_mesh", {"sarra/wmo_mesh": text}, values) as sides:
        publish(source, notices)
        posted = {who: side.take(len(names)) for who, side in sides.items()}
    wanted = {f"{source}/{n}" for n in names}
    assert set(files(mesh["sr3"])) == wanted
    assert files(mesh["ours"]) == files(mesh["sr3"])
    found = differences(posted["ours"], posted["sr3"])
    assert found == {}, pformat(found)


# --- watch: sr3's watch/master.conf


def test_sr3_s_master_watch_posts_the_same_notices(
    sr3: PeerEnv, sr3_package: Path, tmp_path: Path
) -> None:
    _, values = exchanges("watch")
    example = (sr3_package / "examples" / "watch" / "master.conf").read_text()
    text = adapt(example, {
        "post_broker": f"post_broker {BROKER_URL}",
        "post_exchange": "post_exchange ${FLOW_OUT}",
        "path": "path ${WATCHED}",
        "post_baseDir": "post_baseDir ${WATCHED}",
    })  # fmt: skip
    watched = {who: tmp_path / who / "public_html" for who in values}
    for who in values:
        (watched[who] / "sub").mkdir(parents=True)  # watched from the start
        values[who]["WATCHED"] = str(watched[who])
    data = {"a.dat": os.urandom(500), "b.dat": os.urandom(70), "sub/c.dat": os.urandom(2000)}
    with both(sr3, tmp_path, "watch/master", {"watch/master": text}, values, WATCHING) as sides:
        for who, root in watched.items():
            for name, content in data.items():  # whole, with the same time on both sides
                staged = tmp_path / who / name.replace("/", "_")
                staged.write_bytes(content)
                os.utime(staged, (MTIME, MTIME))
                staged.rename(root / name)
        posted = {who: side.take(len(data)) for who, side in sides.items()}
        for root in watched.values():
            (root / "l.dat").symlink_to("a.dat")
            (root / "b.dat").unlink()
        for who, side in sides.items():
            posted[who] += side.take(2)
    assert {n.rel_path for n in posted["sr3"]} == {*data, "l.dat"}
    found = differences(posted["ours"], posted["sr3"], POSTERS_CLUSTERS)
    assert found == {}, pformat(found)


# --- sender: sr3's sender/ec2collab.conf, to a real sshd


def _known_host(values: dict[str, dict[str, str]], root: Path, sshd: SshServer) -> None:
    """Each side's ~/.ssh/known_hosts holds sshd's host key."""
    for who in values:
        ssh = root / who / "home" / ".ssh"
        ssh.mkdir(parents=True)
        (ssh / "known_hosts").write_text(sshd.known_hosts_line + "\n")


def _placeholder(notices: list[Notice], path: Path, name: str) -> list[Notice]:
    """The notices with a side's own directory (in relPath and topic) written as ${name}."""
    rel, topic = str(path).lstrip("/"), ".".join(path.parts[1:])
    return [replace(n, rel_path=n.rel_path.replace(rel, f"${{{name}}}", 1),
                    topic=(n.topic or "").replace(topic, name, 1)) for n in notices]  # fmt: skip


def test_sr3_s_ec2collab_sender_sends_and_announces_the_same(
    sr3_sftp: PeerEnv, sr3_package: Path, tmp_path: Path, sshd: SshServer
) -> None:
    user = getpass.getuser()
    suffix = f"eclocal_{uuid.uuid4().hex[:8]}"
    source = f"xs_guest_{suffix}"
    declare(load("subscribe", None, name="declarer"), source)
    values = {who: {"FLOW_OUT": f"{source}_{who}", "COLLABUSER": user} for who in WHO}
    example = (sr3_package / "examples" / "sender" / "ec2collab.conf").read_text()
    text = adapt(example, {
        "broker": f"broker {BROKER_URL}",
        "exchangeSuffix": f"exchangeSuffix {suffix}",
        "destination": f"destination sftp://${{COLLABUSER}}@127.0.0.1:{sshd.port}/",
        "post_broker": f"post_broker {BROKER_URL}",
    }) + f"post_exchange ${{FLOW_OUT}}\nbaseDir {tmp_path}\n"  # fmt: skip
    remote = {who: tmp_path / who / "collab" for who in WHO}
    for who in WHO:
        values[who]["COLLABDIR"] = str(remote[who])
    _known_host(values, tmp_path, sshd)
    key = f"sftp://{user}@127.0.0.1:{sshd.port}/ ssh_keyfile={sshd.client_key}\n"
    # the files as sr3's watch announces them (relPath below its post_baseDir, file:)
    data = {"out/a.txt": os.urandom(800), "out/deep/b.bin": os.urandom(3000), "out/c": b"c\n"}
    for name, content in data.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    notices = [file_notice("file:", n, c, mode="644") for n, c in data.items()]
    configs = {"sender/ec2collab": text}
    with both(sr3_sftp, tmp_path, "sender/ec2collab", configs, values, credentials=key) as sides:
        publish(source, notices)
        posted = {who: side.take(len(data)) for who, side in sides.items()}
    sent = {who: files(remote[who]) for who in WHO}
    assert sent["sr3"] == {n: hashlib.sha256(c).hexdigest() for n, c in data.items()}
    assert sent["ours"] == sent["sr3"]
    found = differences(*(_placeholder(posted[w], remote[w], "COLLABDIR") for w in ("ours", "sr3")))
    assert found == {}, pformat(found)


# --- poll: over SFTP, as sr3's documentation writes a poll (each poll sr3 ships needs a plugin
# absent here: its NASA, NOAA, USGS, AirNow, Copernicus pollers)

POLL = """\
# a poll of a directory of an SFTP server
post_broker {broker}
post_exchange ${{FLOW_OUT}}
pollUrl sftp://{user}@127.0.0.1:{port}/
path {path}
sleep 2
reject .*\\.txt$
"""


def test_a_poll_over_sftp_announces_the_same(
    sr3_sftp: PeerEnv, tmp_path: Path, sshd: SshServer
) -> None:
    _, values = exchanges("poll")
    user = getpass.getuser()
    polled = tmp_path / "polled"
    polled.mkdir()
    when = int(time.time()) - 3600  # within sr3's fileAgeMax (30 days)
    data = {"a.dat": os.urandom(900), "b.dat": os.urandom(10), "c.txt": b"not accepted"}
    for name, content in data.items():
        (polled / name).write_bytes(content)
        os.utime(polled / name, (when, when))
    text = POLL.format(broker=BROKER_URL, user=user, port=sshd.port, path=polled)
    _known_host(values, tmp_path, sshd)
    key = f"sftp://{user}@127.0.0.1:{sshd.port}/ ssh_keyfile={sshd.client_key}\n"
    configs = {"poll/sftp": text}
    with both(sr3_sftp, tmp_path, "poll/sftp", configs, values, None, key) as sides:
        posted = {who: side.take(2) for who, side in sides.items()}
    assert {n.rel_path.rsplit("/", 1)[-1] for n in posted["sr3"]} == {"a.dat", "b.dat"}
    found = differences(posted["ours"], posted["sr3"], POSTERS_CLUSTERS)
    assert found == {}, pformat(found)
