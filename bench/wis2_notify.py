"""WIS2 notification messages a second through sr_subscribe with notify_only, against a bare paho
subscriber on the same broker, with the CPU each spends per notice.

Both drain the same number of WNM (a GeoJSON Feature of about 800 bytes: id, geometry,
pubtime, data_id, metadata_id, datetime, sha512 integrity, a canonical link; each its own id and
data_id) published beforehand on a WIS2 topic into a persistent session subscribed beforehand,
on a Mosquitto of the bench's own (max_queued_messages raised so that the backlog is kept whole).
The baseline is paho alone: one MQTT 5 client in paho's thread, QoS 1, acknowledging each message
as it arrives, counting in on_message (it reads nothing of the message). sarra's subscriber is
its consumer loop with default settings (wis2_validation reject: every message decoded and
validated whole, its topic checked against the WIS2 topic hierarchy; the notice lag recorded;
acknowledgements after the work), logging to its file as a started instance does. They take
turns over three rounds, the best of each kept, since a 2-core machine is noisy. CPU per notice
is the process's user + system time (getrusage) over the drain, divided by the notices; the
broker runs in a process of its own and is not counted.

    .venv/bin/python bench/wis2_notify.py [--notices N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import time
import uuid
from pathlib import Path

from common import scratch
from mqtt_notify import compare

from sarra.broker import plan
from sarra.broker.mqtt_publisher import Publisher
from sarra.config.loader import Config, load
from sarra.message import wnm

TOPIC = "origin/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop"
DIGEST = base64.b64encode(hashlib.sha512(b"x" * 5354).digest()).decode()


def body(number: int) -> bytes:
    """A WNM of a synop of its own."""
    now = time.time()
    pubtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{number % 1000:03d}Z"
    station = f"0-20000-0-{71000 + number % 1000}"
    return json.dumps({
        "id": str(uuid.uuid4()),
        "conformsTo": ["http://wis.wmo.int/spec/wnm/1/conf/core"],
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-75.67, 45.38, 114.0]},
        "properties": {
            "pubtime": pubtime,
            "data_id": f"wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop/"
                       f"WIGOS_{station}_{number}",
            "metadata_id": "urn:wmo:md:ca-eccc-msc:observations.synop",
            "datetime": time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now)),
            "wigos_station_identifier": station,
            "integrity": {"method": "sha512", "value": DIGEST},
        },
        "links": [{
            "href": f"https://dd.weather.gc.ca/wis2/synop/WIGOS_{station}_{number}.bufr4",
            "rel": "canonical", "type": "application/bufr", "length": 5354,
        }],
    }).encode()  # fmt: skip


def fill(url: str, topic: str, count: int) -> None:
    """Publish `count` WNM on `topic`, every one acknowledged."""
    config = load("subscribe", None, name="bench")
    settings = plan.connection_settings(config, url, "bench")
    with Publisher(settings) as publisher:
        for number in range(count):
            publisher.publish("", topic, body(number), None, wnm.CONTENT_TYPE)
        if not publisher.flush(300):
            raise SystemExit("the broker did not acknowledge every notice")


def subscriber(work: Path, url: str) -> tuple[Config, str]:
    """sr_subscribe's config (defaults, notify_only) on TOPIC, and TOPIC."""
    path = work / "wis2.conf"
    path.write_text(f"broker {url}\ntopic_prefix {TOPIC}\nexpire 10m\nnotify_only\naccept .*\n")
    return load("subscribe", path), TOPIC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=20_000)
    args = parser.parse_args()
    with scratch() as work:
        # a topic of its own, beside (not below) the one sarra's session subscribes to
        bare_topic = f"{TOPIC.rpartition('/')[0]}/bare{uuid.uuid4().hex[:6]}"
        compare(work, args.notices, "WIS2 notify_only notices/s", fill, bare_topic, subscriber)


if __name__ == "__main__":
    main()
