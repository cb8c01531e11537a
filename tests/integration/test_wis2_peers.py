"""WIS2 interoperability with the real peers from the registry, each in an environment of its own
(tests/peers.py), through the machine's Mosquitto: sr3 (`post_format wis`) both ways, and
pywis-pubsub (WMO's reference tool) subscribing to what sarra publishes (downloading and
checking the integrity of each file, and its test suite validating each message) and
publishing what sarra subscribes to.

sr3 3.3.0 and 3.3.1 cannot publish over MQTT (see test_mqtt_sr3.py): sr3_post is 3.2.0.post1's,
whose WIS2 messages carry no data_id, datetime nor integrity, and a `//` in their link: sarra
refuses them by default, as a Global Broker would, and takes them with `wis2_validation warn`.
Its topic comes from its `topic` option. sr3's subscriber is 3.3.1's.

pywis-pubsub is 0.12.0, the newest this registry serves. Its test suite (`ets validate`) needs
the specification's schema, which `pywis-pubsub schema sync` fetches from GitHub: without it,
that test is skipped. Its publisher writes `--geometry` as a string, which no valid message has.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mqttkit import consumer, drain, local_mosquitto
from peers import peer_env
from pumpkit import running, wait_for
from servers import HttpServer
from wis2kit import new_topic, serve, witness

from sarra.components import post
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load

pytestmark = pytest.mark.mqtt

POSTING_SR3 = ["metpx-sr3==3.2.0.post1", "amqp", "paho-mqtt"]
SUBSCRIBING_SR3 = ["metpx-sr3==3.3.1", "amqp", "paho-mqtt"]
PYWIS_PUBSUB = ["pywis-pubsub==0.12.0"]
MQTT = "mqtt://anonymous:anonymous@127.0.0.1:1883"  # sr3 wants a user; Mosquitto takes any here
PYWIS_SCHEMA = Path.home() / ".pywis-pubsub/wis2-notification-message"
"""Where pywis-pubsub keeps the specification's schema (`pywis-pubsub schema sync` fetches it
from GitHub); its test suite needs it."""


@pytest.fixture
def local() -> str:
    return local_mosquitto()


def config(tmp_path: Path, component: str, body: str) -> Config:
    path = tmp_path / f"{component}_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(f"expire 1m\nheartbeat 1\n{body}")
    return load(component, path)


def sr3(env: list[str], home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """An sr3 command of the environment holding `env`, with `home` as its HOME."""
    command = peer_env("sr3", env).bin / args[0]
    return subprocess.run(
        [str(command), *args[1:]],
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
             "XDG_CACHE_HOME": str(home / ".cache")},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def sarra_posts(
    tmp_path: Path, local: str, web: HttpServer, topic: str, credentials: Path, count: int
) -> dict[str, bytes]:
    """sr_post publishes `count` files served by `web` as WIS2 messages on `topic`."""
    source = web.root / topic.split("/")[3] / "posted"
    source.mkdir(parents=True)
    files = {f"f{n}.bufr4": os.urandom(300 + n) for n in range(count)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    poster = config(
        tmp_path, "post", f"post_broker {local}\npost_format wis\npost_topic {topic}\n"
        f"post_base_url {web.url}/{source.relative_to(web.root)}/\npost_base_dir {source}\n",
    )  # fmt: skip
    assert post.post_once(poster, Credentials.load(credentials), [str(source)]) == 0
    return files


def test_what_sr3_posts_in_wis_format_sarra_downloads(
    tmp_path: Path, local: str, open_web: HttpServer
) -> None:
    topic, centre = new_topic()
    source = open_web.root / centre
    source.mkdir()
    files = {f"g{n}.bufr4": os.urandom(200 + n) for n in range(3)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    home = tmp_path / "sr3home"
    (home / ".config" / "sr3" / "post").mkdir(parents=True)
    exchange, _, prefix = topic.partition("/")
    (home / ".config" / "sr3" / "post" / "t.conf").write_text(
        f"post_broker {MQTT}\npost_exchange {exchange}\npost_topicPrefix {prefix}\n"
        f"post_format wis\ntopic {topic}\npost_baseUrl {open_web.url}/\n"
        f"post_baseDir {open_web.root}\n"
    )
    destination = tmp_path / "out"
    strict = config(tmp_path, "subscribe", f"broker {local}\ntopic_prefix {topic}\nnotify_only\n")
    lenient = config(
        tmp_path, "subscribe", f"broker {local}\ntopic_prefix {topic}\nwis2_validation warn\n"
        f"directory {destination}\naccept .*\n",
    )  # fmt: skip
    with running(strict) as refusing, running(lenient) as loop:
        paths = sorted(str(p) for p in source.iterdir())
        posted = sr3(POSTING_SR3, home, "sr3_post", "--config", "t", *paths)
        assert posted.returncode == 0, posted.stderr[-2000:]
        wait_for(lambda: loop.counts["downloaded"] == len(files), "the downloads", 60)
        wait_for(lambda: refusing.counts["malformed"] == len(files), "the refusals")
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == files


@contextmanager
def sr3_subscribing(tmp_path: Path, topic: str) -> Iterator[Path]:
    """sr3's subscribe of a WIS2 topic (MQTT: the exchange is the topic's first level),
    started as a daemon in its own HOME, once subscribed; its directory."""
    home = tmp_path / "sr3sub"
    destination = tmp_path / "sr3out"
    configs = home / ".config" / "sr3" / "subscribe"
    configs.mkdir(parents=True)
    name = f"w{uuid.uuid4().hex[:6]}"
    exchange, _, prefix = topic.partition("/")
    (configs / f"{name}.conf").write_text(
        f"broker {MQTT}\nexchange {exchange}\ntopicPrefix {prefix}\nexpire 1m\n"
        f"directory {destination}\naccept .*\n"
    )
    started = sr3(SUBSCRIBING_SR3, home, "sr3", "start", f"subscribe/{name}")
    assert started.returncode == 0, started.stderr[-2000:]
    log = home / ".cache" / "sr3" / "log" / f"subscribe_{name}_01.log"
    try:
        wait_for(lambda: log.exists() and "subscribe completed" in log.read_text(), "sr3", 60)
        yield destination
    finally:
        sr3(SUBSCRIBING_SR3, home, "sr3", "stop", f"subscribe/{name}")
        sr3(SUBSCRIBING_SR3, home, "sr3", "cleanup", f"subscribe/{name}")


def test_what_sarra_publishes_sr3_downloads(
    tmp_path: Path, local: str, open_web: HttpServer, credentials: Path
) -> None:
    topic, _ = new_topic()
    with sr3_subscribing(tmp_path, topic) as destination:
        files = sarra_posts(tmp_path, local, open_web, topic, credentials, 3)

        def arrived() -> dict[str, bytes]:
            found = destination.rglob("*.bufr4") if destination.exists() else []
            return {p.name: p.read_bytes() for p in found}

        wait_for(lambda: arrived() == files, "sr3's downloads", 60)


@contextmanager
def pywis_subscribing(tmp_path: Path, topic: str) -> Iterator[Path]:
    """pywis-pubsub's subscriber downloading what comes on `topic` (its storage: a directory,
    files named by data_id), once subscribed; its directory."""
    env = peer_env("pywis-pubsub", PYWIS_PUBSUB)
    basedir = tmp_path / "pywis"
    settings = tmp_path / "pywis-pubsub.yml"
    settings.write_text(
        f"broker: mqtt://127.0.0.1:1883\nsubscribe_topics:\n  - '{topic}/#'\nqos: 1\n"
        f"verify_data: true\nstorage:\n  type: fs\n  options:\n    basedir: {basedir}\n"
    )
    log = tmp_path / "pywis.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [str(env.bin / "pywis-pubsub"), "subscribe", "--config", str(settings),
             "--download", "--verbosity", "DEBUG"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: "Subscribed to topic" in log.read_text(), "pywis-pubsub", 60)
        yield basedir
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    assert "verification failed" not in log.read_text().lower()


def test_what_sarra_publishes_pywis_pubsub_downloads_and_verifies(
    tmp_path: Path, local: str, open_web: HttpServer, credentials: Path
) -> None:
    topic, _ = new_topic()
    with pywis_subscribing(tmp_path, topic) as basedir:
        files = sarra_posts(tmp_path, local, open_web, topic, credentials, 3)

        def arrived() -> dict[str, bytes]:
            found = basedir.rglob("*.bufr4") if basedir.exists() else []
            return {p.name: p.read_bytes() for p in found}

        wait_for(lambda: arrived() == files, "pywis-pubsub's downloads", 60)
    (saved,) = {p.parent for p in basedir.rglob("*.bufr4")}
    assert saved == basedir / topic.split("/", 2)[2]  # named by our data_id


def test_pywis_pubsubs_test_suite_passes_every_message_sarra_publishes(
    tmp_path: Path, local: str, open_web: HttpServer, credentials: Path
) -> None:
    if not (PYWIS_SCHEMA / "wis2-notification-message-bundled.json").exists():
        pytest.skip(f"no WNM schema in {PYWIS_SCHEMA}: run pywis-pubsub schema sync (internet)")
    env = peer_env("pywis-pubsub", PYWIS_PUBSUB)
    topic, _ = new_topic()
    seen = consumer(local, witness(topic))
    try:
        sarra_posts(tmp_path, local, open_web, topic, credentials, 2)
        got = drain(seen, 2)
    finally:
        seen.close()
    for number, delivery in enumerate(got):
        path = tmp_path / f"m{number}.json"
        path.write_bytes(delivery.body)
        done = subprocess.run(
            [str(env.bin / "pywis-pubsub"), "ets", "validate", str(path)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        report = json.loads(done.stdout[done.stdout.index("{") :])  # after its own lines
        tests = report["ets-report"]["tests"]
        codes = {test["id"].rpartition("/")[2]: test["code"] for test in tests}
        assert set(codes.values()) == {"PASSED"}, codes


def test_what_pywis_pubsub_publishes_sarra_downloads(
    tmp_path: Path, local: str, open_web: HttpServer
) -> None:
    env = peer_env("pywis-pubsub", PYWIS_PUBSUB)
    topic, centre = new_topic()
    data = os.urandom(5000)
    href = serve(open_web, f"{centre}/p.bufr4", data)
    settings = tmp_path / "pywis-pubsub.yml"
    settings.write_text("broker: mqtt://127.0.0.1:1883\nqos: 1\n")
    destination = tmp_path / "out"
    subscriber = config(
        tmp_path, "subscribe", f"broker {local}\ntopic_prefix {topic}\n"
        f"directory {destination}\naccept .*\n",
    )  # fmt: skip

    def pywis_publish(*more: str) -> None:
        published = subprocess.run(
            [str(env.bin / "pywis-pubsub"), "publish", "--config", str(settings),
             "--topic", topic, "--url", href, "--metadata-id", "urn:wmo:md:test:p", *more],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert published.returncode == 0, published.stdout + published.stderr

    with running(subscriber) as loop:
        # its --geometry goes out as a string ("-75.6,45.4"), not numbers: refused, as a
        # Global Broker refuses it
        pywis_publish("--geometry", "-75.6,45.4")
        wait_for(lambda: loop.counts["malformed"] == 1, "the refusal")
        pywis_publish()
        wait_for(lambda: loop.counts["downloaded"] == 1, "the download")
    assert (destination / "p.bufr4").read_bytes() == data
