"""Run by v2's interpreter (tests/compat/test_v2_times.py): v2's own encoder, sr_message.post,
writes a notice for each line of standard input, `<seconds> <v02|v03> <relpath>`, with the
time as pubtime, mtime and atime; one JSON line out for each: [seconds, version, topic, body,
headers, v2's own reading of the time string (timestr2flt)]."""

# ruff: noqa: I001 - these are v2's modules (its package is also called sarra), one group
import json
import sys

from sarra.sr_config import sr_config
from sarra.sr_message import sr_message
from sarra.sr_util import timeflt2str, timestr2flt


class Capture:
    """Stands for v2's publisher: keeps what sr_message.post hands it."""

    def publish(self, exchange, topic, body, headers, ttl, persistent=True):
        self.sent = (topic, body, headers)
        return True


config = sr_config(config=None, args=None)
config.configure()
config.on_post_list = []
messages = {}
for version in ("v02", "v03"):
    msg = sr_message(config)
    msg.post_version = version
    msg.post_topic_prefix = msg.topic_prefix = f"{version}.post"
    msg.publisher = Capture()
    msg.pub_exchange = msg.exchange = "xpublic"
    msg.post_exchange_split = 0
    msg.persistent = True
    messages[version] = msg

for line in sys.stdin:
    seconds_text, version, relpath = line.split()
    seconds = float(seconds_text)
    msg = messages[version]
    config.msg = msg
    text = timeflt2str(seconds)
    msg.set_topic(msg.post_topic_prefix, relpath)
    msg.set_notice("http://127.0.0.1/", relpath, text)
    msg.headers = {
        "sum": "d,d41d8cd98f00b204e9800998ecf8427e",
        "parts": "1,0,1,0,0",
        "mtime": text,
        "atime": text,
    }
    if not msg.post(config):
        raise SystemExit(f"v2 did not post {line!r}")
    topic, body, headers = msg.publisher.sent
    print(json.dumps([seconds, version, topic, body, headers, timestr2flt(text)]))
