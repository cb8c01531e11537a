"""Interoperability with sr3 (MetPX-Sarracenia 3) over MQTT, the real one from the registry in
environments of its own (tests/peers.py), through the machine's Mosquitto: files posted by
sr3_post are downloaded by sarra's sr_subscribe, and files posted by sarra's sr_post by sr3's
subscribe, both in v03 and v02 (whose headers travel as MQTT 5 user properties).

sr3 3.3.0 and 3.3.1, the newest in the registry, cannot publish over MQTT (their
sarracenia/moth/mqtt.py calls copy.copy without importing copy: every post fails with
"NameError: name 'copy' is not defined" and goes to its retry queue), so sr3_post is 3.2.0.post1's;
the subscriber is 3.3.1's. sr3's foreground run over MQTT only declares its session, again and
again, and never consumes: the subscriber is started as a daemon (`sr3 start`). sr3 publishes
v02 notices over MQTT without the exchange level (`v02/post/<dirs>`, v03 ones on
`<exchange>/v03/<dirs>`): sarra takes them with `topic_prefix v02/post`, a prefix of whole
topics.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mqttkit import local_mosquitto, new_exchange
from peers import peer_env
from pumpkit import running, wait_for
from servers import HttpServer

from sarra.components import post
from sarra.config.credentials import Credentials
from sarra.config.loader import load

pytestmark = pytest.mark.mqtt

POSTING_SR3 = ["metpx-sr3==3.2.0.post1", "amqp", "paho-mqtt"]
SUBSCRIBING_SR3 = ["metpx-sr3==3.3.1", "amqp", "paho-mqtt"]
MQTT = "mqtt://anonymous:anonymous@127.0.0.1:1883"  # sr3 wants a user; Mosquitto takes any here


@pytest.fixture
def local() -> str:
    return local_mosquitto()


def sr3(env: list[str], home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """An sr3 command of the environment holding `env`, with `home` as its HOME."""
    command = peer_env("sr3", env).bin / args[0]
    done = subprocess.run(
        [str(command), *args[1:]],
        env={
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done


def tree(root: Path, count: int) -> dict[str, bytes]:
    files = {}
    for number in range(count):
        path = root / f"d{number % 2}" / f"f{number}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(400 + number))
        files[path.name] = path.read_bytes()
    return files


@pytest.mark.parametrize("prefix", ["v03", "v02.post"])
def test_what_sr3_posts_over_mqtt_sarra_downloads(
    tmp_path: Path,
    local: str,
    served_root: Path,
    http_server: HttpServer,
    credentials: Path,
    prefix: str,
) -> None:
    exchange = new_exchange()
    source = served_root / exchange
    files = tree(source, 4)
    home = tmp_path / "sr3home"
    (home / ".config" / "sr3" / "post").mkdir(parents=True)
    (home / ".config" / "sr3" / "post" / "t.conf").write_text(
        f"post_broker {MQTT}\npost_exchange {exchange}\npost_topicPrefix {prefix}\n"
        f"post_format {prefix[:3]}\npost_baseUrl http://127.0.0.1:{http_server.port}/\n"
        f"post_baseDir {served_root}\n"
    )
    destination = tmp_path / "out"
    path = tmp_path / "from_sr3.conf"
    whole = prefix.replace(".", "/") if prefix.startswith("v02") else prefix  # see above
    path.write_text(
        f"broker {local}\nexchange {exchange}\ntopic_prefix {whole}\nexpire 1m\n"
        f"directory {destination}\naccept .*\n"
    )
    with running(load("subscribe", path)) as loop:
        paths = sorted(str(p) for p in source.rglob("*.dat"))
        posted = sr3(POSTING_SR3, home, "sr3_post", "--config", "t", *paths)
        assert posted.returncode == 0, posted.stderr[-2000:]
        wait_for(lambda: loop.counts["downloaded"] == len(files), "the downloads")
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == files


@contextmanager
def sr3_subscribing(tmp_path: Path, credentials: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """sr3's subscribe of `prefix` notices, started as a daemon (in its own HOME, with the test
    servers' credentials), once subscribed; its exchange and directory."""
    home = tmp_path / "sr3sub"
    exchange = new_exchange()
    destination = tmp_path / "sr3out"
    configs = home / ".config" / "sr3" / "subscribe"
    configs.mkdir(parents=True)
    shared = configs.parent / "credentials.conf"
    shared.write_text(credentials.read_text())
    shared.chmod(0o600)
    name = f"s{uuid.uuid4().hex[:6]}"
    (configs / f"{name}.conf").write_text(
        f"broker {MQTT}\nexchange {exchange}\nexpire 1m\ntopicPrefix {prefix}\n"
        f"directory {destination}\naccept .*\n"
    )
    started = sr3(SUBSCRIBING_SR3, home, "sr3", "start", f"subscribe/{name}")
    assert started.returncode == 0, started.stderr[-2000:]
    log = home / ".cache" / "sr3" / "log" / f"subscribe_{name}_01.log"
    try:
        wait_for(lambda: log.exists() and "subscribe completed" in log.read_text(), "sr3", 60)
        yield exchange, destination
    finally:
        sr3(SUBSCRIBING_SR3, home, "sr3", "stop", f"subscribe/{name}")
        sr3(SUBSCRIBING_SR3, home, "sr3", "cleanup", f"subscribe/{name}")


@pytest.mark.parametrize("prefix", ["v03", "v02.post"])
def test_what_sarra_posts_over_mqtt_sr3_downloads(
    tmp_path: Path,
    local: str,
    served_root: Path,
    http_server: HttpServer,
    credentials: Path,
    prefix: str,
) -> None:
    with sr3_subscribing(tmp_path, credentials, prefix) as (exchange, destination):
        source = served_root / exchange
        files = tree(source, 4)
        path = tmp_path / "to_sr3.conf"
        path.write_text(
            f"post_broker {local}\npost_exchange {exchange}\npost_topic_prefix {prefix}\n"
            f"post_base_url http://127.0.0.1:{http_server.port}/\npost_base_dir {served_root}\n"
            "sum s\n"
        )
        poster = load("post", path)
        assert post.post_once(poster, Credentials.load(credentials), [str(source)]) == 0

        def arrived() -> dict[str, bytes]:
            found = destination.rglob("*.dat") if destination.exists() else []
            return {p.name: p.read_bytes() for p in found}

        wait_for(lambda: arrived() == files, "sr3's downloads", 60)
