"""The components over MQTT, end to end: sr_post to sr_subscribe through the machine's Mosquitto
moving real files over HTTP, and shovels from RabbitMQ to Mosquitto and back."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import threading
import uuid
from pathlib import Path

import pytest
from mqttkit import consumer, drain, local_mosquitto, new_exchange, session, settings
from pumpkit import (
    announce,
    declare,
    file_notice,
    queue_state,
    running,
    sr,
    take,
    wait_for,
    watch,
)
from servers import MOSQUITTO, HttpServer, MosquittoServer

from sarra.broker import admin, naming, plan
from sarra.broker.mqtt_publisher import Publisher
from sarra.broker.mqtt_topology import SessionSpec
from sarra.components import instances, post
from sarra.components.watch import Watch
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop
from sarra.message import decode_any, v03

pytestmark = [pytest.mark.mqtt, pytest.mark.broker]


@pytest.fixture
def local() -> str:
    return local_mosquitto()


def config(tmp_path: Path, component: str, body: str) -> Config:
    path = tmp_path / f"{component}_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(f"expire 1m\nheartbeat 1\n{body}")
    return load(component, path)


@pytest.mark.parametrize("prefix", ["v03", "v02.post"])
def test_post_to_subscribe_over_mqtt_moves_every_file_over_http(
    tmp_path: Path,
    local: str,
    credentials: Path,
    served_root: Path,
    http_server: HttpServer,
    prefix: str,
) -> None:
    exchange = new_exchange()
    source = served_root / exchange
    files = {}
    for number in range(6):
        path = source / f"d{number % 2}" / f"f{number}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(500 + number))
        files[path.name] = path.read_bytes()
    destination = tmp_path / "out"
    fetcher = config(
        tmp_path,
        "subscribe",
        f"broker {local}\nexchange {exchange}\ntopic_prefix {prefix}\n"
        f"directory {destination}\naccept .*\n",
    )
    poster = config(
        tmp_path,
        "post",
        f"post_broker {local}\npost_exchange {exchange}\npost_topic_prefix {prefix}\n"
        f"post_base_url http://127.0.0.1:{http_server.port}/\npost_base_dir {served_root}\n",
    )
    with running(fetcher) as loop:
        assert post.post_once(poster, Credentials.load(credentials), [str(source)]) == 0
        wait_for(lambda: loop.counts["downloaded"] == len(files), "the downloads")
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == files


def test_shovels_from_rabbitmq_to_mosquitto_and_back(
    tmp_path: Path, local: str, credentials: Path
) -> None:
    amqp_in, mqtt_mid, amqp_out = f"{new_exchange()}_in", new_exchange(), f"{new_exchange()}_out"
    to_mqtt = config(
        tmp_path,
        "shovel",
        f"broker amqp://guest@127.0.0.1/\nexchange {amqp_in}\ntopic_prefix v03\n"
        f"post_broker {local}\npost_exchange {mqtt_mid}\n",
    )
    to_amqp = config(
        tmp_path,
        "shovel",
        f"broker {local}\nexchange {mqtt_mid}\ntopic_prefix v03\n"
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {amqp_out}\n",
    )
    declare(to_mqtt, amqp_in)
    out = watch(to_amqp, amqp_out)
    notices = [file_notice("http://example.org/", f"a/b/f{n}.txt", b"x" * n) for n in range(5)]
    try:
        with running(to_amqp) as back, running(to_mqtt) as there:
            announce(to_mqtt, notices, amqp_in, prefix="v03")
            got = take(out, 5)
            wait_for(lambda: there.counts["posted"] == 5 and back.counts["posted"] == 5, "posts")
    finally:
        out.close()
        admin.cleanup(to_amqp)
    assert sorted(n.rel_path for n in got) == sorted(n.rel_path for n in notices)
    assert {n.identity for n in got} == {n.identity for n in notices}
    assert {n.topic for n in got} == {"v03.a.b"}


def test_a_shovel_from_rabbitmq_posts_to_mosquitto_in_the_consuming_connections_thread(
    tmp_path: Path, local: str, credentials: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No plugin: each read from RabbitMQ is filtered and posted by the AMQP consumer's own
    thread, the loop's never waiting (Mosquitto takes 20 in flight: the publisher keeps the
    rest, handing them over as PUBACKs come)."""
    caplog.set_level(logging.DEBUG, logger="sarra.flow")
    amqp_in, mqtt_out = f"{new_exchange()}_in", new_exchange()
    shovel = config(
        tmp_path,
        "shovel",
        f"broker amqp://guest@127.0.0.1/\nexchange {amqp_in}\ntopic_prefix v03\n"
        f"post_broker {local}\npost_exchange {mqtt_out}\n",
    )
    declare(shovel, amqp_in)
    listening = consumer(local, session(mqtt_out))
    count = 300
    notices = [file_notice("http://example.org/", f"a/f{n}.txt", b"x" * n) for n in range(count)]
    try:
        with running(shovel) as loop:
            announce(shovel, notices, amqp_in, prefix="v03")
            got = drain(listening, count)
            wait_for(lambda: loop.counts["posted"] == count, "every notice posted")
    finally:
        listening.close()
        admin.cleanup(shovel)
    assert sorted(d.body for d in got) == sorted(v03.encode(n)[1] for n in notices)
    accepted = {r.threadName for r in caplog.records if r.getMessage().startswith("accepted ")}
    consuming = naming.connection_name("shovel", shovel.name, 1, "consumer")
    assert accepted == {consuming}, "filtered and posted in the loop's thread"


def test_notices_posted_to_mosquitto_while_it_is_down_are_acknowledged_once_it_confirms(
    tmp_path: Path, credentials: Path
) -> None:
    if not MOSQUITTO.exists():
        pytest.skip(f"{MOSQUITTO} is absent (apt-get install mosquitto)")
    (tmp_path / "mosquitto").mkdir()
    mosquitto = MosquittoServer(tmp_path / "mosquitto")  # started once the notices are taken
    amqp_in, mqtt_out = f"{new_exchange()}_in", new_exchange()
    shovel = config(
        tmp_path,
        "shovel",
        f"broker amqp://guest@127.0.0.1/\nexchange {amqp_in}\ntopic_prefix v03\n"
        f"post_broker {mosquitto.url}\npost_exchange {mqtt_out}\n",
    )
    declare(shovel, amqp_in)
    count = 80  # under the prefetch: every one taken while the broker is down
    notices = [file_notice("http://example.org/", f"a/f{n}.txt", b"x" * n) for n in range(count)]
    try:
        with running(shovel) as loop:
            announce(shovel, notices, amqp_in, prefix="v03")
            wait_for(lambda: queue_state(shovel) == (0, count), "every notice taken, none acked")
            assert loop.counts["posted"] == 0
            mosquitto.start()
            wait_for(lambda: loop.counts["posted"] == count, "every notice posted")
            wait_for(lambda: queue_state(shovel) == (0, 0), "every notice acknowledged")
    finally:
        mosquitto.stop()
        admin.cleanup(shovel)


def test_v02_over_mqtt_3_1_1_is_refused_with_a_reason(tmp_path: Path, local: str) -> None:
    subscriber = config(
        tmp_path, "subscribe", f"broker {local}\nmqtt_protocol 3.1.1\ntopic_prefix v02.post\n"
    )
    with pytest.raises(ConfigError, match=r"need headers, which MQTT 3\.1\.1 cannot carry"):
        ConsumerLoop(subscriber, 1, threading.Event()).run()


def test_declare_and_cleanup_of_a_config_act_on_each_instances_session(
    tmp_path: Path, local: str
) -> None:
    exchange = new_exchange()
    subscriber = config(
        tmp_path, "subscribe", f"broker {local}\nexchange {exchange}\ninstances 2\n"
    )
    declared = admin.declare(subscriber)
    assert [line.split(": ", 1)[1].split(" (")[0] for line in declared[::2]] == [
        f"session {name} created" for name in _client_ids(subscriber)
    ]
    assert all("subscribed to $share/" in line for line in declared[1::2])
    removed = admin.cleanup(subscriber)
    assert [line.split(": ", 1)[1] for line in removed] == [
        f"session {name} removed" for name in _client_ids(subscriber)
    ]


def _client_ids(subscriber: Config) -> list[str]:
    return [spec.client_id for spec in plan.mqtt_sessions(subscriber)]


def test_daemons_killed_mid_download_lose_nothing_and_status_warns_of_the_held_share(
    sarra_home: Path, tmp_path: Path, local: str, served_root: Path
) -> None:
    exchange = new_exchange()
    destination = tmp_path / "out"
    path = sarra_home / "subscribe" / "mq.conf"
    path.parent.mkdir(parents=True)
    path.write_text(
        f"broker {local}\nexchange {exchange}\ntopic_prefix v03\nexpire 2m\ninstances 2\n"
        f"directory {destination}\naccept .*\n"
    )
    data = os.urandom(256 * 1024)
    (served_root / f"{exchange}.dat").write_bytes(data)
    silent = socket.create_server(("127.0.0.1", 0))  # takes connections, never answers
    port = silent.getsockname()[1]
    logs = tmp_path / "cache" / "sarra" / "log"
    web = None
    try:
        assert "2 of 2 instances running" in sr("sr_subscribe", "start", "mq").stdout
        wait_for(lambda: all("connected" in _log(logs, n) for n in (1, 2)), "both subscribed")
        notice = file_notice(f"http://127.0.0.1:{port}/", f"{exchange}.dat", data)
        key, body = v03.encode(notice)
        with Publisher(settings(local)) as publisher:
            publisher.publish(exchange, key, body, None, v03.CONTENT_TYPE).result(20)
        silent.settimeout(20)
        silent.accept()  # the download has begun
        for pid in instances.running_pids("subscribe", "mq"):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not instances.running_pids("subscribe", "mq"), "the deaths")
        status = sr("sr", "status", "--problems")
        assert status.returncode == 1
        assert "! over MQTT, a missing instance still gets its share" in status.stdout
        silent.close()
        web = HttpServer(served_root, port=port).start()  # the same place, answering now
        assert "2 of 2 instances running" in sr("sr_subscribe", "start", "mq").stdout
        wait_for(lambda: (destination / f"{exchange}.dat").exists(), "the file", deadline=30)
    finally:
        sr("sr_subscribe", "stop", "mq")
        silent.close()
        if web is not None:
            web.stop()
    assert (destination / f"{exchange}.dat").read_bytes() == data
    cleaned = sr("sr_subscribe", "cleanup", "mq")
    removed = [line for line in cleaned.stdout.splitlines() if ": session " in line]
    assert cleaned.returncode == 0 and len(removed) == 2, cleaned.stdout
    assert all(line.endswith("removed") for line in removed)


def _log(directory: Path, instance: int) -> str:
    path = directory / f"sr_subscribe_mq_{instance:02d}.log"
    return path.read_text() if path.exists() else ""


def test_wis2_notification_messages_travel_on_whole_wis2_topics(
    tmp_path: Path, local: str, credentials: Path, served_root: Path, http_server: HttpServer
) -> None:
    run = new_exchange().replace("_", "-")
    topic = f"origin/a/wis2/ca-eccc-msc/data/core/weather/experimental/{run}"
    source = served_root / run
    source.mkdir()
    files = {f"f{n}.bufr4": os.urandom(300 + n) for n in range(3)}
    for name, data in files.items():
        below = source / "deeper" if name == "f2.bufr4" else source  # a topic level more
        below.mkdir(exist_ok=True)
        (below / name).write_bytes(data)
    destination = tmp_path / "out"
    fetcher = config(
        tmp_path,
        "subscribe",
        f"broker {local}\ntopic_prefix {topic}\ndirectory {destination}\naccept .*\n",
    )
    poster = config(
        tmp_path,
        "post",
        f"post_broker {local}\npost_topic_prefix {topic}\nsum s\n"
        f"post_base_url http://127.0.0.1:{http_server.port}/{run}/\npost_base_dir {source}\n",
    )
    spec = plan.mqtt_session(fetcher)
    assert spec is not None and spec.filters == (f"{topic}/#",)
    seen = consumer(local, session_of(spec))  # what goes on the wire
    try:
        with running(fetcher) as loop:
            assert post.post_once(poster, Credentials.load(credentials), [str(source)]) == 0
            wait_for(lambda: loop.counts["downloaded"] == len(files), "the downloads")
            assert loop.counts["unmatched topic"] == 0
        wire = drain(seen, len(files))
    finally:
        seen.close()
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == files
    assert {(d.exchange, d.routing_key) for d in wire} == {
        ("origin", topic),
        ("origin", f"{topic}/deeper"),
    }
    assert {d.content_type for d in wire} == {"application/geo+json"}


def session_of(spec: SessionSpec) -> SessionSpec:
    """Another session with the same subscriptions (a witness of what is published)."""
    return dataclasses.replace(spec, client_id=spec.client_id + "_witness", shared=False)


def test_a_pump_over_mqtt_watch_winnow_sarra_and_reports(tmp_path: Path, local: str) -> None:
    watched, docroot = tmp_path / "tree", tmp_path / "docroot"
    watched.mkdir()
    fed, winnowed, announced = new_exchange(), new_exchange(), new_exchange()
    reports = new_exchange()
    watcher = config(
        tmp_path,
        "watch",
        f"post_broker {local}\npost_exchange {fed}\npost_topic_prefix v03\npath {watched}\n",
    )
    winnow = config(
        tmp_path,
        "winnow",
        f"broker {local}\nexchange {fed}\ntopic_prefix v03\npost_exchange {winnowed}\n",
    )
    pump = config(
        tmp_path,
        "sarra",
        f"broker {local}\nexchange {winnowed}\ntopic_prefix v03\npost_exchange {announced}\n"
        f"directory {docroot}\npost_base_url http://pump.example/\npost_base_dir {docroot}\n"
        f"report_back on\nreport_exchange {reports}\nbase_dir {watched}\n",
    )
    out = consumer(local, session(announced))
    said = consumer(local, session(reports))
    stop = threading.Event()
    watching = Watch(watcher, 0, stop)
    thread = threading.Thread(target=watching.run)
    try:
        with running(pump), running(winnow):
            thread.start()
            assert watching.ready.wait(20)
            (watched / "a.txt").write_bytes(b"observed")
            (got,) = drain(out, 1)
            (report,) = drain(said, 1)
    finally:
        stop.set()
        thread.join(30)
        out.close()
        said.close()
    notice = decode_any(got.routing_key, got.body, got.headers, got.content_type)
    assert notice.base_url == "http://pump.example/" and notice.rel_path.endswith("/a.txt")
    copy = docroot / notice.rel_path.lstrip("/")
    assert copy.read_bytes() == b"observed"
    assert decode_any(report.routing_key, report.body).report is not None
