"""MQTT in AMQP's terms, without a broker: topics, topic filters, sessions from configs, broker
URLs and kinds, reason codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from sarra.broker import kinds, mqtt_errors, mqtt_topology, open_consumer, open_publisher, plan
from sarra.broker.errors import BrokerUrlError
from sarra.broker.url import parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load


def test_a_topic_is_the_exchange_then_the_routing_keys_words() -> None:
    assert mqtt_topology.topic("xpublic", "v03.a.b") == "xpublic/v03/a/b"
    assert mqtt_topology.topic("", "v03.a") == "v03/a"
    assert mqtt_topology.topic("x+y", "v03.a+b.c#d") == "x%2By/v03/a%2Bb/c%23d"
    assert mqtt_topology.split_topic("xpublic/v03/a/b") == ("xpublic", "v03.a.b")
    assert mqtt_topology.split_topic("xpublic/v03/a.b/c") == ("xpublic", "v03.a.b.c")
    assert mqtt_topology.split_topic("alone") == ("alone", "")


@given(st.lists(st.text(st.characters(blacklist_characters="./\x00"), min_size=1), min_size=1))
def test_topics_and_routing_keys_map_back_and_forth(words: list[str]) -> None:
    exchange, key = words[0], ".".join(words[1:])
    name = mqtt_topology.topic(exchange, key)
    assert "+" not in name and "#" not in name
    escaped = [w.replace("+", "%2B").replace("#", "%23") for w in words]
    assert mqtt_topology.split_topic(name) == (escaped[0], ".".join(escaped[1:]))


def test_bindings_become_topic_filters() -> None:
    assert mqtt_topology.topic_filter("xpublic", "v03.#") == "xpublic/v03/#"
    assert mqtt_topology.topic_filter("xpublic", "v03.*.obs.#") == "xpublic/v03/+/obs/#"
    assert mqtt_topology.topic_filter("origin", "a.wis2.ca-eccc-msc.#") == (
        "origin/a/wis2/ca-eccc-msc/#"
    )
    assert mqtt_topology.topic_filter("x", "v03.a+b") == "x/v03/a%2Bb"
    with pytest.raises(ValueError, match="# may only be the last word"):
        mqtt_topology.topic_filter("xpublic", "v03.#.obs")


def test_sessions_share_their_filters_or_not() -> None:
    spec = mqtt_topology.SessionSpec("q_u.c_h_i01", "q_u.c", ("x/v03/#", "x/v02/#"))
    assert spec.subscriptions == ("$share/q_u.c/x/v03/#", "$share/q_u.c/x/v02/#")
    assert spec.other_form == ("x/v03/#", "x/v02/#")
    plain = mqtt_topology.SessionSpec("q_u.c_h_i01", "q_u.c", ("x/#",), shared=False)
    assert plain.subscriptions == ("x/#",) and plain.other_form == ("$share/q_u.c/x/#",)
    assert mqtt_topology.client_id("q_u.sr_shovel.c", "node1.example.org", 3) == (
        "q_u.sr_shovel.c_node1_i03"
    )
    with pytest.raises(ValueError, match="no /, \\+ or #"):
        mqtt_topology.check_name("queue", "q/u")


def subscriber(tmp_path: Path, body: str, component: str = "subscribe") -> Config:
    path = tmp_path / "mq.conf"
    path.write_text(f"broker mqtt://127.0.0.1\nexchange xpublic\n{body}")
    return load(component, path)


def test_a_config_gives_each_instance_its_session(tmp_path: Path, sarra_home: Path) -> None:
    lone = subscriber(tmp_path, "topic_prefix v03\nsubtopic obs.#\nexpire 10m\n")
    spec = plan.mqtt_session(lone)
    assert spec is not None
    assert spec.group.startswith("q_anonymous.sr_subscribe.mq.")
    assert spec.client_id.startswith(spec.group + "_") and spec.client_id.endswith("_i01")
    assert spec.filters == ("xpublic/v03/obs/#",) and not spec.shared
    assert spec.expire == 600
    several = subscriber(tmp_path, "topic_prefix v03\ninstances 3\n")
    specs = plan.mqtt_sessions(several)
    assert [s.client_id[-4:] for s in specs] == ["_i01", "_i02", "_i03"]
    assert all(s.shared and s.group == specs[0].group for s in specs)
    named = subscriber(tmp_path, "topic_prefix v03\nqueue q_anonymous.mine\n")
    assert plan.mqtt_sessions(named)[0].shared  # a named queue may be shared by other hosts


def test_what_mqtt_cannot_do_is_refused_at_start(tmp_path: Path, sarra_home: Path) -> None:
    with pytest.raises(ConfigError, match="# may only be the last word"):
        plan.mqtt_session(subscriber(tmp_path, "topic_prefix v03\nsubtopic #.obs\n"))
    old = subscriber(tmp_path, "mqtt_protocol 3.1.1\ntopic_prefix v02.post\n")
    with pytest.raises(ConfigError, match=r"need headers, which MQTT 3\.1\.1 cannot carry"):
        open_consumer(old)
    with pytest.raises(ConfigError, match="v02 notices need headers"):
        open_publisher(old, "mqtt://127.0.0.1", "publisher", headers=True)
    assert open_publisher(old, "mqtt://127.0.0.1", "publisher") is not None


def test_queue_options_without_effect_on_mqtt_are_warned_of(
    tmp_path: Path, sarra_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = subscriber(tmp_path, "topic_prefix v03\nqueue_type quorum\nmessage_ttl 1h\n")
    open_consumer(config)
    assert "queue_type, message_ttl have no effect on an MQTT broker" in caplog.text


def test_mqtt_urls(sarra_home: Path) -> None:
    none = Credentials()
    assert str(parse_broker_url("mqtt://h", none)) == "mqtt://h:1883"
    assert parse_broker_url("mqtt://h", none).user == ""  # anonymous: no user name at all
    secure = parse_broker_url("mqtts://everyone:everyone@gb.example.org", none)
    assert (secure.port, secure.tls, secure.websocket) == (8883, True, False)
    assert repr(secure).count("everyone") == 1  # the user, never the password
    ws = parse_broker_url("wss://everyone:everyone@gb.example.org", none)
    assert (ws.port, ws.tls, ws.websocket, ws.path) == (443, True, True, "/mqtt")
    assert parse_broker_url("ws://h:8080/ws/path", none).path == "/ws/path"
    assert parse_broker_url("amqp://h", none).path == ""
    config = load("subscribe", None, name="x")
    with pytest.raises(BrokerUrlError, match="an MQTT broker URL names one host"):
        plan.connection_settings(config, "mqtt://a:1,b:2", "consumer", credentials=none)
    with pytest.raises(BrokerUrlError, match="no password"):
        parse_broker_url("mqtt://bob@h", none)
    assert kinds.kind("MQTTS://h") is kinds.MQTT and kinds.kind("amqp://h") is kinds.AMQP
    assert not kinds.MQTT.can(kinds.HEADERS, "3.1.1") and kinds.MQTT.can(kinds.HEADERS)
    assert not kinds.MQTT.can(kinds.EXCHANGES) and kinds.AMQP.can(kinds.EXCHANGES)


def test_reason_codes_say_what_to_do() -> None:
    refused = ReasonCode(PacketTypes.CONNACK, "Not authorized")
    assert mqtt_errors.explain(refused) == (
        "(0x87) Not authorized; wrong user or password, or a user that may not connect "
        "(check the URL or credentials.conf)"
    )
    assert mqtt_errors.needs_a_person(refused)
    denied = ReasonCode(PacketTypes.PUBACK, "Not authorized")
    assert "lacks this permission" in mqtt_errors.explain(denied)
    taken = ReasonCode(PacketTypes.DISCONNECT, "Session taken over")
    assert "running twice" in mqtt_errors.explain(taken) and mqtt_errors.needs_a_person(taken)
    assert not mqtt_errors.needs_a_person(ReasonCode(PacketTypes.DISCONNECT, "Server busy"))
    refusal = ConnectionRefusedError(111, "Connection refused")
    assert mqtt_errors.describe_failure(refusal) == "Connection refused"


def test_a_prefix_written_with_slashes_names_whole_topics(tmp_path: Path, sarra_home: Path) -> None:
    wis2 = "origin/a/wis2/ca-eccc-msc/data/core/weather"
    assert mqtt_topology.topic("xs_me", f"{wis2}/synop") == f"{wis2}/synop"  # no exchange level
    assert mqtt_topology.whole_filter(wis2, "surface-based-observations.*") == (
        f"{wis2}/surface-based-observations/+"
    )
    assert mqtt_topology.whole_filter("cache/a/wis2", "+/data/#") == "cache/a/wis2/+/data/#"
    with pytest.raises(ValueError, match="# may only be the last word"):
        mqtt_topology.whole_filter(wis2, "#.synop")
    config = subscriber(
        tmp_path, f"topic_prefix v03\nsubtopic obs.#\ntopic_prefix {wis2}\nsubtopic synop.#\n"
    )
    spec = plan.mqtt_session(config)
    assert spec is not None
    assert spec.filters == ("xpublic/v03/obs/#", f"{wis2}/synop/#")
    assert spec.whole == (f"{wis2}/synop/#",)
    assert spec.keeps_whole(f"{wis2}/synop/x") and not spec.keeps_whole("xpublic/v03/obs/x")
    alone = plan.mqtt_session(subscriber(tmp_path, f"topic_prefix {wis2}\n"))
    assert alone is not None and alone.filters == alone.whole == (f"{wis2}/#",)


@pytest.mark.parametrize(
    ("topic_filter", "name", "matched"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/b", "a/b/c", False),
        ("$share/g/a/+", "a/b", True),
        ("a/b/c", "a/b", False),
    ],
)
def test_topic_filters_match_as_mqtt_says(topic_filter: str, name: str, matched: bool) -> None:
    assert mqtt_topology.matches(topic_filter, name) is matched
