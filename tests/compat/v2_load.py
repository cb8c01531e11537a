"""Run by v2's interpreter (tests/compat/test_v2_plugins.py): load each of v2's shipped plugin
files as v2 does (sr_config.execfile, in an sr_subscribe, or an sr_poll for poll plugins) and
write {name: [entry point, loaded]} as JSON to the file named by the second argument."""

import json
import os
import re
import sys
from pathlib import Path

from sarra.sr_poll import sr_poll
from sarra.sr_subscribe import sr_subscribe

ENTRIES = (
    "destfn_script",
    "on_data",
    "on_message",
    "on_file",
    "on_post",
    "on_heartbeat",
    "on_html_page",
    "on_part",
    "on_line",
    "on_watch",
    "do_poll",
    "do_download",
    "do_get",
    "do_put",
    "do_send",
    "do_task",
    "on_report",
    "on_start",
    "on_stop",
    "plugin",
)
ASSIGNED = re.compile(r"^[ \t]*(?:self|parent)\.(\w+)\s*=", re.M)
POLL_ENTRIES = ("do_poll", "on_line", "on_html_page")

plugins, out = Path(sys.argv[1]), Path(sys.argv[2])
home = Path(os.environ["HOME"])
subscribe = home / "subscribe.conf"
subscribe.write_text("broker amqp://guest:guest@127.0.0.1/\nexchange xpublic\n")
poll = home / "poll.conf"
poll.write_text("post_broker amqp://guest:guest@127.0.0.1/\ndestination sftp://localhost/\n")
found = {}
for path in sorted(plugins.glob("*.py")):
    if path.name == "__init__.py":
        continue
    entries = [e for e in ASSIGNED.findall(path.read_text(errors="replace")) if e in ENTRIES]
    if not entries:
        found[path.stem] = [None, False]
        continue
    entry = entries[0]
    polls = path.stem.startswith(("poll_", "line_", "html_")) or entry in POLL_ENTRIES
    try:
        component = sr_poll(str(poll), None) if polls else sr_subscribe(str(subscribe), None)
        loaded = bool(component.execfile(entry, str(path)))
    except BaseException:
        loaded = False
    found[path.stem] = [entry, loaded]
out.write_text(json.dumps(found))
