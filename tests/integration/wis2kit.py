"""Helpers of the WIS2 tests: topics of a test's own, WIS2 notification messages of files served
by the `open_web` server, publishing them (the fixtures `open_web` and `second_broker` are in
conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

from mqttkit import settings
from servers import HttpServer

from sarra.broker.mqtt_publisher import Publisher
from sarra.broker.mqtt_topology import SessionSpec
from sarra.message import wnm
from sarra.message.wnm_validate import check_body

CORE = "http://wis.wmo.int/spec/wnm/1/conf/core"


def new_topic(channel: str = "origin") -> tuple[str, str]:
    """(a WIS2 topic of this test's own, its centre-id)."""
    run = uuid.uuid4().hex[:10]
    centre = f"test-c{run[:6]}"
    return f"{channel}/a/wis2/{centre}/data/core/weather/experimental/t{run}", centre


def serve(web: HttpServer, name: str, data: bytes) -> str:
    """Serve `data` as `name`; its URL."""
    path = web.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"{web.url}/{name}"


def message(
    href: str,
    data: bytes,
    topic: str,
    *,
    pubtime: str | None = None,
    rel: str = "canonical",
    id: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """A valid WNM of `data` at `href`, its data_id from the topic and the file name."""
    name = href.rpartition("/")[2]
    link: dict[str, Any] = {"href": href, "rel": rel, "type": "application/bufr"}
    if rel != "deletion":
        link["length"] = len(data)
    found = {
        "id": id or str(uuid.uuid4()),
        "conformsTo": [CORE],
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-75.67, 45.38]},
        "properties": {
            "pubtime": pubtime or now(),
            "data_id": "/".join([*topic.split("/")[2:], name]),
            "datetime": now(),
            "integrity": {
                "method": "sha512",
                "value": base64.b64encode(hashlib.sha512(data).digest()).decode(),
            },
            **properties,
        },
        "links": [link],
    }
    body = json.dumps(found).encode()
    _, reasons = check_body(body, topic=topic, strict=True)
    assert [r.text for r in reasons] == [], "the test's own message must be valid"
    return found


def now(offset: float = 0.0) -> str:
    """An RFC 3339 time, `offset` seconds from now."""
    moment = time.time() + offset
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
    return f"{whole}.{int(moment * 1000) % 1000:03d}Z"


def publish(url: str, topic: str, *found: dict[str, Any]) -> None:
    """Publish messages on a topic (whole), each confirmed by the broker."""
    with Publisher(settings(url, f"wis2-test-{uuid.uuid4().hex[:6]}")) as publisher:
        for one in found:
            publisher.publish("", topic, json.dumps(one).encode(), None, wnm.CONTENT_TYPE)
        assert publisher.flush(20)


def witness(topic_filter: str) -> SessionSpec:
    """A plain session of its own subscribed to `topic_filter`, to see what is published."""
    return SessionSpec(
        client_id=f"witness_{uuid.uuid4().hex[:8]}",
        group="witness",
        filters=(topic_filter,),
        expire=60,
        shared=False,
        whole=(topic_filter,),
    )
