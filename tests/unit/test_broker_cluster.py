"""The cluster options of the broker layer, without a broker: quorum queue declarations and
broker URLs listing several nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sarra.broker import plan
from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import BrokerUrlError, explain
from sarra.broker.topology import DeclareQueue, QueueSpec
from sarra.broker.url import parse_broker_url, parse_broker_urls, split_hosts
from sarra.config.credentials import Credentials
from sarra.config.loader import load


def creds(text: str = "") -> Credentials:
    return Credentials.parse(text, "credentials.conf")


class Recorder:
    """Stands for a channel: records the queue_declare call."""

    def queue_declare(self, **kwargs: Any) -> None:
        self.declared = kwargs


# --- quorum queues


def test_quorum_queue_is_durable_and_typed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.conf"
    path.write_text(
        "broker amqp://bob:pw@h/\nqueue_type quorum\ndurable off\nexpire 10m\nmessage_ttl 1h\n"
    )
    spec = plan.queue_spec(load("subscribe", path))
    assert spec is not None
    assert "a quorum queue is always durable" in caplog.text
    assert spec.arguments() == {
        "x-queue-type": "quorum",
        "x-expires": 600_000,
        "x-message-ttl": 3_600_000,
    }
    channel = Recorder()
    DeclareQueue(spec).run(channel)
    assert channel.declared["durable"] is True
    assert (channel.declared["exclusive"], channel.declared["auto_delete"]) == (False, False)


def test_classic_queue_declares_no_type() -> None:
    """Existing classic queues were declared without x-queue-type: declaring them again
    with it would be refused."""
    spec = QueueSpec("q_bob.x", durable=False)
    assert "x-queue-type" not in spec.arguments()
    assert spec.is_durable is False


def test_queue_type_mismatch_suggests_cleanup() -> None:
    text = (
        "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q_bob.x' in vhost '/': "
        "received the value 'quorum' of type 'longstr' but current is none"
    )
    reason = explain(406, text)
    assert "another queue_type" in reason and "cleanup" in reason
    assert "\n" not in reason


# --- several hosts in one URL


def test_split_hosts_keeps_user_vhost_and_ports() -> None:
    assert split_hosts("amqp://bob@h1:5701,h2:5702,h3/dev") == [
        "amqp://bob@h1:5701/dev",
        "amqp://bob@h2:5702/dev",
        "amqp://bob@h3/dev",
    ]
    assert split_hosts("amqps://h1,[::1]:5671") == ["amqps://h1", "amqps://[::1]:5671"]
    assert split_hosts("amqp://bob:pw@one/") == ["amqp://bob:pw@one/"]
    with pytest.raises(BrokerUrlError, match="empty host"):
        split_hosts("amqp://bob:s3cret@h1,,h2/")


def test_each_host_gets_its_own_password() -> None:
    store = creds("amqp://bob:one@h1/\namqp://bob:two@h2:5702/\n")
    urls = parse_broker_urls("amqp://bob@h1,h2:5702/", store)
    assert [(u.host, u.port, u.password) for u in urls] == [
        ("h1", 5672, "one"),
        ("h2", 5702, "two"),
    ]
    with pytest.raises(BrokerUrlError, match="no password"):
        parse_broker_urls("amqp://bob@h1,h3/", store)


def test_settings_list_every_node_and_instances_start_on_different_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.conf"
    path.write_text("broker amqp://bob:pw@h1,h2,h3/\n")
    config = load("subscribe", path)
    first = plan.connection_settings(config, config.broker, "consumer", 1, credentials=creds())
    assert [u.host for u in first.nodes] == ["h1", "h2", "h3"]
    second = plan.connection_settings(config, config.broker, "consumer", 2, credentials=creds())
    assert [u.host for u in second.nodes] == ["h2", "h3", "h1"]
    assert [second.parameters(i).host for i in range(4)] == ["h2", "h3", "h1", "h2"]


def test_single_host_settings_have_no_alternates() -> None:
    settings = ConnectionSettings(parse_broker_url("amqp://u:p@h/", creds()), "n")
    assert settings.nodes == (settings.url,)
    assert settings.parameters().host == "h"
