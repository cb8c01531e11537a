"""The bridge into the pump: a client section with post_broker posts each received file as a
notice on the real RabbitMQ."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from integration.pumpkit import take, watch
from moveit_kit import (
    FILE_CLIENT_INI,
    PLAIN_SERVER_INI,
    TOPIC,
    ini,
    providers,
    segment,
    start_server,
    wait_for,
    write,
)

from sarra.config.loader import load
from sarra.eumetcast.bridge import bridges
from sarra.eumetcast.client import Client
from sarra.eumetcast.config import read_client

pytestmark = pytest.mark.broker


def test_received_files_are_posted_to_the_pump(tmp_path: Path, sarra_home: Path, running):
    (sarra_home / "credentials.conf").write_text("amqp://guest:guest@127.0.0.1/\n")
    (sarra_home / "credentials.conf").chmod(0o600)
    exchange = f"xtest_{uuid.uuid4().hex[:12]}"
    server, src = start_server(tmp_path, running, PLAIN_SERVER_INI)
    dst = tmp_path / "dst"
    text = FILE_CLIENT_INI + (
        f"post_broker = amqp://guest@127.0.0.1/\npost_exchange = {exchange}\n"
        f"post_base_url = sftp://pump.example.org/\npost_base_dir = {dst}\n"
    )
    chains = read_client(ini(tmp_path, "c.ini", text, PROVIDERS=providers(server), DST=dst,
                             TIMEOUT=5))  # fmt: skip
    consumer = watch(load("subscribe", None, name="eumetcast-watch"), exchange)
    try:
        running(Client(chains, tmp_path / "state", bridges(chains)))
        wait_for(lambda: server.publisher.subscribers(TOPIC) >= 1, "the client subscribed")
        write(src / segment(12), b"into the pump")
        (notice,) = take(consumer, 1)
    finally:
        consumer.close()
    assert notice.base_url == "sftp://pump.example.org/"
    assert notice.rel_path == f"MSG4/{segment(12)}"
    assert notice.size == len(b"into the pump")
