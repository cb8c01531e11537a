"""WIS2 end to end over MQTT, against the machine's Mosquitto and one of the test's own (two
Global Brokers): one config consuming both, each file downloaded once; updates and deletions;
the selection options; relays that keep id and pubtime; a Global Cache; what posters publish."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from mqttkit import consumer, drain, local_mosquitto
from pumpkit import running, wait_for
from servers import HttpServer, MosquittoServer
from wis2kit import message, new_topic, now, publish, serve, witness

from sarra.broker import admin, plan
from sarra.components import post
from sarra.components.watch import Watch
from sarra.config.credentials import Credentials
from sarra.config.loader import Config, load
from sarra.message import decode_any
from sarra.message.wnm_validate import check_body

pytestmark = [pytest.mark.mqtt]


@pytest.fixture
def local() -> str:
    return local_mosquitto()


def config(tmp_path: Path, component: str, body: str) -> Config:
    path = tmp_path / f"{component}_{uuid.uuid4().hex[:8]}.conf"
    path.write_text(f"expire 1m\nheartbeat 1\n{body}")
    return load(component, path)


def test_a_message_published_to_two_brokers_is_downloaded_once(
    tmp_path: Path, local: str, second_broker: MosquittoServer, open_web: HttpServer
) -> None:
    topic, centre = new_topic()
    cache_topic = "cache/" + topic.removeprefix("origin/")
    data = b"BUFR of station 71628"
    href = serve(open_web, f"{centre}/f.bufr4", data)
    origin = message(href, data, topic)
    cached = {**origin, "id": str(uuid.uuid4())}  # the cache's copy: another id, the same data
    cached["properties"] = {**origin["properties"], "global-cache": "test-x-global-cache"}
    destination = tmp_path / "out"
    prefix = "+/" + topic.split("/", 1)[1]  # both channels
    subscriber = config(
        tmp_path,
        "subscribe",
        f"broker {local}\nalso_broker {second_broker.url}\ntopic_prefix {prefix}\n"
        f"directory {destination}\naccept .*\n",
    )
    with running(subscriber) as loop:
        publish(local, topic, origin)
        publish(second_broker.url, topic, origin)  # the same message, from the other broker
        publish(second_broker.url, cache_topic, cached)
        wait_for(lambda: loop.counts["received"] == 3, "the three copies")
        wait_for(lambda: loop.counts["duplicates"] == 2, "two of them dropped")
        figures = loop.recorder.snapshot()
    assert loop.counts["downloaded"] == 1
    assert (destination / "f.bufr4").read_bytes() == data
    assert set(figures.links) == {"consumer", "consumer 2"}
    assert str(second_broker.port) in figures.links["consumer 2"].broker
    assert figures.notice_lag_median is not None and figures.lag_notices == 3
    # every copy was acknowledged on its own broker: nothing comes again
    with running(subscriber) as again:
        assert not again.consumer.get_batch(10, timeout=1.0)  # type: ignore[union-attr]
    lines = admin.cleanup(subscriber)
    assert sum(": session " in line and "removed" in line for line in lines) == 2


def test_declare_makes_the_session_on_every_broker(
    tmp_path: Path, local: str, second_broker: MosquittoServer
) -> None:
    topic, _ = new_topic()
    subscriber = config(
        tmp_path, "subscribe", f"broker {local}\nalso_broker {second_broker.url}\n"
        f"topic_prefix {topic}\n",
    )  # fmt: skip
    declared = admin.declare(subscriber)
    try:
        created = [line for line in declared if " created " in line]
        assert len(created) == 2
        assert any(str(second_broker.port) in line for line in created)
    finally:
        admin.cleanup(subscriber)


def test_updates_replace_only_older_files_and_deletions_need_the_option(
    tmp_path: Path, local: str, open_web: HttpServer
) -> None:
    topic, centre = new_topic()
    destination = tmp_path / "out"
    subscriber = config(
        tmp_path,
        "subscribe",
        f"broker {local}\ntopic_prefix {topic}\ndirectory {destination}\naccept .*\n"
        "wis2_deletions on\n",
    )
    first = message(serve(open_web, f"{centre}/v1/f.bufr4", b"v1"), b"v1", topic, pubtime=now(-60))
    stale = message(serve(open_web, f"{centre}/v0/f.bufr4", b"v0"), b"v0", topic,
                    pubtime=now(-120), rel="update")  # fmt: skip
    later = message(serve(open_web, f"{centre}/v2/f.bufr4", b"v2"), b"v2", topic,
                    pubtime=now(-30), rel="update")  # fmt: skip
    deletion = message(first["links"][0]["href"], b"", topic, pubtime=now(), rel="deletion")
    file = destination / "f.bufr4"
    with running(subscriber) as loop:
        publish(local, topic, first)
        wait_for(lambda: file.exists(), "the first version")
        publish(local, topic, stale)
        wait_for(lambda: loop.counts["skipped"] == 1, "the stale update skipped")
        assert file.read_bytes() == b"v1"
        publish(local, topic, later)
        wait_for(lambda: loop.counts["downloaded"] == 2, "the later update")
        assert file.read_bytes() == b"v2"
        publish(local, topic, deletion)
        wait_for(lambda: loop.counts["removed"] == 1, "the deletion")
    assert not file.exists()


def test_the_selection_options_over_mqtt(tmp_path: Path, local: str, open_web: HttpServer) -> None:
    topic, centre = new_topic()
    destination = tmp_path / "out"
    subscriber = config(
        tmp_path,
        "subscribe",
        f"broker {local}\ntopic_prefix {topic}\ndirectory {destination}\naccept .*\n"
        f"wis2_centre_id {centre}\nwis2_bbox -80,40,-70,50\nwis2_time_window 1h/..\n"
        "wis2_metadata_id urn:wmo:md:test:\n",
    )
    wanted = message(serve(open_web, f"{centre}/in.bufr4", b"in"), b"in", topic,
                     metadata_id="urn:wmo:md:test:obs")  # fmt: skip
    far = message(serve(open_web, f"{centre}/far.bufr4", b"far"), b"far", topic,
                  metadata_id="urn:wmo:md:test:obs")  # fmt: skip
    far["geometry"] = {"type": "Point", "coordinates": [2.35, 48.85]}
    old = message(serve(open_web, f"{centre}/old.bufr4", b"old"), b"old", topic,
                  metadata_id="urn:wmo:md:test:obs", datetime="2020-01-01T00:00:00Z")  # fmt: skip
    other = message(serve(open_web, f"{centre}/other.bufr4", b"o"), b"o", topic,
                    metadata_id="urn:wmo:md:elsewhere:obs")  # fmt: skip
    with running(subscriber) as loop:
        publish(local, topic, far, old, other, wanted)
        wait_for(lambda: loop.counts["downloaded"] == 1, "the one wanted")
        wait_for(lambda: loop.counts["rejected"] == 3, "the others rejected")
    assert [p.name for p in destination.iterdir()] == ["in.bufr4"]


def test_relays_keep_id_and_pubtime_and_a_global_cache_gives_its_own(
    tmp_path: Path, local: str, second_broker: MosquittoServer, open_web: HttpServer
) -> None:
    topic, centre = new_topic()
    rest = topic.removeprefix("origin/a/")  # wis2/<centre>/data/...
    data = b"GRIB2 of a model run"
    original = message(serve(open_web, f"{centre}/run.grib2", data), data, topic)
    docroot, cacheroot = tmp_path / "docroot", tmp_path / "cache"
    shovel = config(
        tmp_path, "shovel", f"broker {local}\ntopic_prefix {topic}\n"
        f"post_broker {second_broker.url}\npost_topic_prefix origin/a\n",
    )  # fmt: skip
    pump = config(
        tmp_path, "sarra", f"broker {second_broker.url}\ntopic_prefix {topic}\n"
        f"directory {docroot}\npost_base_url http://pump.example/\npost_base_dir {docroot}\n"
        f"post_broker {local}\npost_topic_prefix origin/a\nsuppress_duplicates on\n",
    )  # fmt: skip
    cache = config(
        tmp_path, "sarra", f"broker {second_broker.url}\ntopic_prefix {topic}\n"
        f"directory {cacheroot}\npost_base_url http://cache.example/\npost_base_dir {cacheroot}\n"
        "post_format wis\nwis2_global_cache test-x-global-cache\n",
    )  # fmt: skip
    on_second = consumer(second_broker.url, witness(topic))
    try:
        with running(shovel) as shoveled:
            publish(local, topic, original)
            wait_for(lambda: shoveled.counts["posted"] == 1, "the shovel's post")
        (from_shovel,) = drain(on_second, 1)
    finally:
        on_second.close()
    on_local = consumer(local, witness(topic))
    try:
        with running(pump) as pumped:
            publish(second_broker.url, topic, original, original)  # twice the same message
            wait_for(lambda: pumped.counts["posted"] == 1, "the pump's post")
            wait_for(lambda: pumped.counts["duplicates"] == 1, "the second copy dropped")
        (from_pump,) = drain(on_local, 1)
    finally:
        on_local.close()
    cached = consumer(second_broker.url, witness(f"cache/a/{rest}"))
    try:
        with running(cache) as caching:
            publish(second_broker.url, topic, original)
            wait_for(lambda: caching.counts["posted"] == 1, "the cache's post")
        (from_cache,) = drain(cached, 1)
    finally:
        cached.close()
    assert json.loads(from_shovel.body) == original  # the same message, every field
    pumped_message = json.loads(from_pump.body)
    assert pumped_message["id"] == original["id"]
    assert pumped_message["properties"]["pubtime"] == original["properties"]["pubtime"]
    assert pumped_message["links"][0]["href"] == f"http://pump.example/{rest}/run.grib2"
    cache_message = json.loads(from_cache.body)
    assert from_cache.routing_key == f"cache/a/{rest}"
    assert cache_message["id"] != original["id"]
    assert cache_message["properties"]["global-cache"] == "test-x-global-cache"
    assert cache_message["properties"]["pubtime"] == original["properties"]["pubtime"]
    assert cache_message["properties"]["data_id"] == original["properties"]["data_id"]
    assert cache_message["links"][0]["href"] == f"http://cache.example/{rest}/run.grib2"
    assert (cacheroot / rest / "run.grib2").read_bytes() == data
    for delivery in (from_shovel, from_pump, from_cache):
        _, reasons = check_body(delivery.body, topic=delivery.routing_key, strict=True)
        assert [r.text for r in reasons] == []


def test_what_sr_post_and_sr_watch_publish_is_valid_wis2(
    tmp_path: Path, local: str, open_web: HttpServer, credentials: Path
) -> None:
    topic, centre = new_topic()
    source = open_web.root / centre
    source.mkdir()
    (source / "a.bufr4").write_bytes(b"posted")
    poster = config(
        tmp_path, "post", f"post_broker {local}\npost_format wis\npost_topic {topic}\n"
        f"post_base_url {open_web.url}/{centre}/\npost_base_dir {source}\n"
        "post_metadata_id urn:wmo:md:test:obs\n",
    )  # fmt: skip
    watched = tmp_path / "watched"
    watched.mkdir()
    watcher = config(
        tmp_path, "watch", f"post_broker {local}\npost_topic_prefix {topic}\npath {watched}\n"
        f"post_base_url {open_web.url}/w/\npost_base_dir {watched}\n",
    )  # fmt: skip
    seen = consumer(local, witness(topic))
    stop = threading.Event()
    watching = Watch(watcher, 0, stop)
    thread = threading.Thread(target=watching.run)
    try:
        assert post.post_once(poster, Credentials.load(credentials), [str(source)]) == 0
        thread.start()
        assert watching.ready.wait(20)
        (watched / "b.bufr4").write_bytes(b"watched")
        got = drain(seen, 2)
    finally:
        stop.set()
        thread.join(30)
        seen.close()
    messages = {json.loads(d.body)["links"][0]["href"].rpartition("/")[2]: d for d in got}
    assert set(messages) == {"a.bufr4", "b.bufr4"}
    for delivery in got:
        _, reasons = check_body(delivery.body, topic=delivery.routing_key, strict=True)
        assert [r.text for r in reasons] == []
        found = json.loads(delivery.body)
        assert found["properties"]["integrity"]["method"] == "sha512"
        notice = decode_any(
            delivery.routing_key, delivery.body, content_type="application/geo+json"
        )
        assert notice.topic == topic
    posted = json.loads(messages["a.bufr4"].body)
    assert posted["properties"]["metadata_id"] == "urn:wmo:md:test:obs"
    assert posted["properties"]["data_id"] == topic.split("/", 2)[2] + "/a.bufr4"


def test_sessions_of_the_two_brokers_are_named_alike(tmp_path: Path, local: str) -> None:
    subscriber = config(
        tmp_path, "subscribe", f"broker {local}\nalso_broker mqtt://127.0.0.1:1\n"
        "topic_prefix origin/a/wis2\n",
    )  # fmt: skip
    first, second = plan.each_broker(subscriber)
    assert second.broker == "mqtt://127.0.0.1:1" and not second.also_broker
    assert plan.mqtt_session(first) == plan.mqtt_session(second)
    assert first.also_broker == ["mqtt://127.0.0.1:1"]


def test_instances_on_two_hosts_share_the_duplicate_cache_in_redis(
    tmp_path: Path, local: str, second_broker: MosquittoServer, open_web: HttpServer
) -> None:
    redis = pytest.importorskip("redis")
    topic, centre = new_topic()
    data = b"one file, announced by two brokers to two hosts"
    origin = message(serve(open_web, f"{centre}/shared.bufr4", data), data, topic)
    keybase = f"sarra.test.{uuid.uuid4().hex[:12]}"
    shared = (
        f"topic_prefix {topic}\nsuppress_duplicates 15m\nnodupe_driver redis\n"
        f"nodupe_redis_keybase {keybase}\naccept .*\n"
    )
    one = config(tmp_path, "subscribe", f"broker {local}\ndirectory {tmp_path / 'one'}\n{shared}")
    two = config(
        tmp_path, "subscribe", f"broker {second_broker.url}\ndirectory {tmp_path / 'two'}\n{shared}"
    )
    with running(one) as first, running(two) as second:
        publish(local, topic, origin)
        publish(second_broker.url, topic, origin)
        both = (first, second)
        wait_for(lambda: sum(loop.counts["received"] for loop in both) == 2, "both copies")
        wait_for(lambda: sum(loop.counts["duplicates"] for loop in both) == 1, "one dropped")
    assert sum(loop.counts["downloaded"] for loop in both) == 1
    assert len(list(tmp_path.glob("*/shared.bufr4"))) == 1
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for name in client.scan_iter(f"{keybase}:*"):
        client.delete(name)
    client.close()
