"""v2's shipped plugin files (Sarracenia 2.24.8, from the registry) run unchanged here.

- Loading: each plugin file v2 loads (tests/compat/v2_load.py runs v2's own loader on every
  one) loads in ours, named by its path as a user's config names it.
- Effect: the plugins a subscriber runs, each in a config of its own, on a real flow: the same
  notices published on the local RabbitMQ, the files served by a real HTTP server, v2's
  sr_subscribe and ours side by side, each into a directory of its own. The same files (names
  and bytes) must arrive and the plugin must log the same lines (numbers, times and the
  directories masked). Plugins that need a service this machine lacks (mail, telnet, SOAP,
  clamd, MQTT, the flow test's tree), poll and watch plugins, and those that stop their
  process are loaded only; RESULTS says why for each.

The counts are printed (pytest -s) and kept in docs/v2-compat.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from integration.pumpkit import announce, declare, file_notice
from peers import PeerEnv
from servers import HttpServer
from v2peer import HERE, run_v2

from sarra.compat.plugins import Plugins
from sarra.config.errors import ConfigError
from sarra.config.loader import load

pytestmark = pytest.mark.broker

OURS = Path(sys.executable).parent / "sr_subscribe"
BROKER = "amqp://guest@127.0.0.1/"
END = "data/zz/zz_end.txt"
NOTICES = 5
"""Published last: once v2 (one notice at a time) sees it, it is done with the others."""
BATCH = 8
"""Cases run at once (two processes each)."""

MARKER = """
class CompatMarker:
    def __init__(self, parent):
        pass

    def on_message(self, parent):
        parent.logger.info("compat-marker %s" % parent.msg.relpath)
        return True

self.on_message = CompatMarker(self).on_message
"""


@dataclass(frozen=True)
class Case:
    """One plugin on the flow: the config lines before its own line (its options)."""

    plugin: str
    lines: str = ""
    awaits: str = ""
    """A heartbeat's line each side must log before it is done (heartbeats come in time)."""


LOADED_ONLY: dict[str, str] = {
    **dict.fromkeys(
        [
            "download_email_ingest",
            "file_email",
            "file_email_decode",
            "file_mail_metareas",
            "poll_email_ingest",
        ],
        "needs a mail server",
    ),
    "file_send_egc_les": "needs a telnet service",
    **dict.fromkeys(["download_noaa", "download_usgs", "poll_noaa"], "needs its agency's site"),
    **dict.fromkeys(["hb_police_queues", "hb_sanity"], "sr_audit's, for a pump's admin"),
    **dict.fromkeys(
        [
            "msg_cclean_f90",
            "msg_cclean_f91",
            "msg_cclean_f92",
            "msg_pclean_f90",
            "msg_pclean_f92",
            "msg_auditflow",
        ],
        "checks v2's own flow-test tree",
    ),
    **dict.fromkeys(
        ["poll_pulse", "poll_script", "line_date", "line_log", "line_mode", "html_page"],
        "a poll plugin (sr_poll)",
    ),
    "watch_log": "a watch plugin (sr_watch)",
    "report_log": "a report plugin (sr_report)",
    **dict.fromkeys(
        ["msg_stopper", "msg_total_save", "file_total_save", "post_total_save"],
        "stops or restarts its process",
    ),
    **dict.fromkeys(["do_send_log", "pxSender_log", "simulate"], "a sender plugin (sr_sender)"),
    "root_chown": "needs root's mapping file and chown of other users",
    "msg_from_file": "reads notices from a file instead of the broker",
    "trace_on_stop": "runs when the process stops",
    "msg_test_retry": "fails notices at random",
    "part_file_assemble": "an sr_watch plugin (part files posted)",
    "hb_memory": "its own dependency psutil is not installed here",
}
"""Plugins v2 loads that are checked for loading only, and why."""


def differs(case: Case, reason: str) -> object:
    """A case whose effect differs, and why (it is counted as not the same)."""
    return pytest.param(case, marks=pytest.mark.xfail(reason=reason, strict=True))


DIFFERENT = {
    "msg_dump": "it prints each framework's internal state",
    "msg_hour_tree": "v2's own download fails: it makes URLs with '//'",
    "msg_2local": "v2 downloads msg.url, left as it was; ours follows the urlstr the plugin "
    "sets (file://tmp/..., a URL whose host is 'tmp')",
    "msg_2localfile": "v2's own download fails: it makes file://tmp/... URLs",
    "file_check": "it opens msg.new_file relative to the working directory, which v2 changed "
    "to new_dir before each file; ours transfers in threads and keeps one",
    "file_citypage_check": "as file_check: relative to the working directory",
    "part_check": "v2's own fails on every file (no parent.onfly_checksum); ours checks",
    "destfn_sample": "v2 itself fails on every notice and stops",
    "hb_message": "it reads v2's consumer internals (parent.consumer.msg_queue.declare())",
}
"""The cases whose effect here is not v2's, and why."""

CASES = [
    Case("msg_log"),
    Case("msg_rawlog"),
    Case("msg_dump"),
    Case("msg_print_lag"),
    Case("msg_speedo"),
    Case("msg_total"),
    Case("msg_renamer"),
    Case("msg_rename_whatfn"),
    Case("msg_rename_dmf"),
    Case("msg_rename4jicc"),
    Case("msg_WMO_type_suffix"),
    Case("msg_hour_tree"),
    Case("msg_http_to_https"),
    Case("msg_overwrite_sum"),
    Case("msg_skip_old", "msg_skip_threshold 3600\n"),
    Case("msg_delay", "msg_delay 0\n"),
    Case("msg_fdelay", "msg_fdelay 0\n"),
    Case("msg_by_source", "msg_by_source guest\n"),
    Case("msg_by_user", "msg_by_user guest\n"),
    Case("msg_to_clusters", "msg_to_clusters here\n"),
    Case("msg_from_cluster", "msg_from_cluster here\n"),
    Case("msg_stdfiles"),
    Case("msg_delete"),
    Case("msg_replace_new_dir", "msg_replace_new_dir OUT,OUT/replaced\n"),
    Case("msg_download_baseurl"),
    Case("msg_download", "msg_download_threshold 1M\n"),
    Case("msg_2local", "base_dir SERVED\n"),
    Case("msg_2localfile", "base_dir SERVED\n"),
    Case("msg_filter_wmo2msc", "msg_filter_wmo2msc_replace_dir OUT,OUT/msc\n"),
    Case("file_log"),
    Case("file_age"),
    Case("file_check"),
    Case("file_total"),
    Case("file_citypage_check"),
    Case("file_amheadalert"),
    Case("file_rxpipe", "file_rxpipe_name PIPE\n"),
    Case("on_file_repair_size"),
    Case("part_check"),
    Case("data_log"),
    Case("data_nocr"),
    Case("destfn_sample"),
    Case("log", "heartbeat 1\n", "log heartbeat"),
    Case("accel_wget", "accel_wget_threshold 1M\n"),
    Case("accel_cp"),
    Case("accel_scp"),
    Case("download_wget"),
    Case("download_cp"),
    Case("download_dd"),
    Case("download_scp"),
    Case("smc_download_cp"),
    Case("hb_log", "heartbeat 1\n", "heartbeat. Sarracenia version"),
    Case("hb_cache", "heartbeat 1\nsuppress_duplicates 5m\n", "hb_cache"),
    Case("hb_retry", "heartbeat 1\n", "hb_retry on_heartbeat"),
    Case("hb_message", "heartbeat 1\n", "hb_message"),
    Case("post_log", "POST"),
    Case("post_override", "POST" + "post_override x-compat here\n"),
    Case("post_hour_tree", "POST"),
    Case("post_total", "POST"),
    Case("post_rate_limit", "POST" + "post_rate_limit 50\n"),
    Case("post_long_flow", "POST"),
]


# --- loading


@pytest.fixture(scope="module")
def v2_loads(
    v2: PeerEnv, v2_package: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str | None, bool]]:
    """What v2's own loader makes of each of its plugins: {name: (entry point, loaded)}."""
    home = tmp_path_factory.mktemp("v2load")
    out = home / "loads.json"
    script = ["python", str(HERE / "v2_load.py"), str(v2_package / "plugins"), str(out)]
    done = run_v2(v2, home, script, timeout=300)
    assert out.exists(), done.stderr[-3000:]
    return {name: (entry, ok) for name, (entry, ok) in json.loads(out.read_text()).items()}


def test_every_plugin_that_loads_in_v2_loads_here(
    v2_loads: dict[str, tuple[str | None, bool]], v2_package: Path, tmp_path: Path
) -> None:
    loaded_in_v2 = {name: entry for name, (entry, ok) in v2_loads.items() if ok}
    failed = {}
    for name, entry in sorted(loaded_in_v2.items()):
        polls = name.startswith(("poll_", "line_", "html_")) or entry in (
            "do_poll", "on_line", "on_html_page")  # fmt: skip
        path = tmp_path / f"{name}.conf"
        head = (f"post_broker {BROKER}\ndestination sftp://localhost/\n" if polls
                else f"broker {BROKER}\naccept .*\n")  # fmt: skip
        path.write_text(f"{head}{entry} {v2_package / 'plugins' / name}.py\n")
        try:
            Plugins.load(load("poll" if polls else "subscribe", path))
        except ConfigError as err:
            failed[name] = str(err)
    print(f"\nv2 plugins: {len(v2_loads)} shipped, {len(loaded_in_v2)} load in v2, "
          f"{len(loaded_in_v2) - len(failed)} of them load here")  # fmt: skip
    assert len(loaded_in_v2) >= 98
    assert failed == {}


def test_every_plugin_v2_loads_is_run_on_the_flow_or_says_why_not(
    v2_loads: dict[str, tuple[str | None, bool]],
) -> None:
    loaded_in_v2 = {name for name, (_, ok) in v2_loads.items() if ok}
    on_flow = {case.plugin for case in CASES}
    assert on_flow.isdisjoint(LOADED_ONLY)
    assert loaded_in_v2 - on_flow - set(LOADED_ONLY) == set()


# --- the flow


@dataclass
class Side:
    """One subscriber (v2's or ours) of one case: its process, log and directory."""

    process: subprocess.Popen[bytes]
    log: Path
    out: Path
    done: re.Pattern[str]

    ready_text: str
    done_count: int
    awaits: str

    def finished(self) -> bool:
        """Done with the notices (or ended: a plugin it cannot load stops it)."""
        text = self.log.read_text(errors="replace")
        found = len(self.done.findall(text)) >= self.done_count and self.awaits in text
        return found or self.process.poll() is not None

    def ready(self) -> bool:
        """Consuming (or ended)."""
        text = self.log.read_text(errors="replace")
        return self.ready_text in text or self.process.poll() is not None


@dataclass
class Effect:
    """What a subscriber did: its files (name -> sha256 or link target) and the plugin's log
    lines (normalised)."""

    files: dict[str, str]
    lines: set[str]
    finished: bool


def _notices(served: Path, base: str) -> list:
    rng = random.Random(15)
    contents = {
        "data/obs/a.txt": b"alpha\r\n" * 20,
        "data/obs/b.xml": b"<?xml version='1.0'?>\n<obs>1</obs>\n",
        "data/bulletins/SACN31_CWAO_061200__:pxatx:CWAO:SA:3:Direct:20261206120001": (
            b"SACN31 CWAO 061200\r\nMETAR CYOW 061200Z 27010KT\r\n"
        ),
        "data/big/big.bin": rng.randbytes(1_100_000),
        END: b"end\n",
    }
    for rel, data in contents.items():
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).write_bytes(data)
    assert len(contents) == NOTICES
    return [file_notice(base, rel, data) for rel, data in contents.items()]


def _config(case: Case, entry: str, plugin: Path, marker: Path, exchange: str,
            out: Path, served: Path, pipe: Path, post_exchange: str) -> str:  # fmt: skip
    options = case.lines.replace("OUT", str(out)).replace("SERVED", str(served))
    options = options.replace("PIPE", str(pipe))
    if options.startswith("POST"):
        posting = f"post_broker {BROKER}\npost_exchange {post_exchange}\n"
        posting += f"post_base_url http://localhost/\npost_base_dir {out}\n"
        options = posting + options[4:]
    head = f"broker {BROKER}\nexchange {exchange}\nsubtopic #\nexpire 2m\nreport_back False\n"
    return f"{head}directory {out}\non_message {marker}\n{options}{entry} {plugin}\naccept .*\n"


def _start(case: Case, entry: str, plugin: Path, marker: Path, root: Path, v2: PeerEnv,
           exchange: str, served: Path) -> tuple[Side, Side]:  # fmt: skip
    """v2's sr_subscribe and ours for a case, each in a home of its own."""
    sides = []
    for who in ("v2", "ours"):
        base = root / case.plugin / who
        out, home = base / "out", base / "home"
        out.mkdir(parents=True)
        config_dir = home / ".config" / "sarra"
        (config_dir / "subscribe").mkdir(parents=True)
        credentials = config_dir / "credentials.conf"
        credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
        credentials.chmod(0o600)
        pipe = base / "pipe"
        os.mkfifo(pipe)
        post_exchange = f"{exchange}_{case.plugin}_{who}"
        (config_dir / "subscribe" / "case.conf").write_text(
            _config(case, entry, plugin, marker, exchange, out, served, pipe, post_exchange)
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
        env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache")}  # fmt: skip
        log = base / "log"
        if who == "v2":
            command = [str(v2.bin / "sr_subscribe"), "foreground", "case"]
            done, count = re.compile(r"compat-marker " + re.escape(END)), 1
        else:  # in worker threads: done when every notice is acknowledged
            command = [str(OURS), "-debug", "foreground", "case"]
            done, count = re.compile(r"\[DEBUG\] acknowledged "), NOTICES
        with open(log, "wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                       env=env, cwd=base, start_new_session=True)  # fmt: skip
        sides.append(Side(process, log, out, done, READY[who], count, case.awaits))
        _drain(pipe)
    return sides[0], sides[1]


def _drain(pipe: Path) -> None:
    """Keep a reader on file_rxpipe's named pipe, so that writing to it never blocks."""
    fd = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    os.set_inheritable(fd, False)
    _PIPES.append(fd)


_PIPES: list[int] = []

READY = {"v2": "reading from to", "ours": "consumer pid"}


def _wait(condition, deadline: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return False


_FRAMEWORK = re.compile(
    r"CompatMarker|extended option|log settings start|sr_subscribe case \d+ (running|stopped)"
)
"""Lines of either framework that name the plugin without being its effect: v2's listing of
its config and of undeclared options, ours starting with the config's path."""
_FAILED = re.compile(
    r"plugin \S+ failed: \w+: (?P<what>.*?)"
    r"(; kept for retry|; dropped| \(traceback logged before\))?$"
    r"|going badly with (?P<what2>.*), sleeping"
)
"""How ours (`plugin msg_x.on_message failed: KeyError: 'rename'`) and v2 (`going badly with
'rename'`) say that a plugin raised."""
_EXCHANGE = re.compile(r"xv2compat_\w+")
_NUMBERS = re.compile(r"[0-9a-f]{32,}|\d+(\.\d+)?(e-?\d+)?")


def _effect(side: Side, plugin: str, roots: list[Path]) -> Effect:
    files = {}
    for path in sorted(side.out.rglob("*")):
        rel = path.relative_to(side.out).as_posix()
        if "zz_end" in rel or (path.is_dir() and not path.is_symlink()):
            continue
        files[rel] = (f"-> {os.readlink(path)}" if path.is_symlink()
                      else hashlib.sha256(path.read_bytes()).hexdigest())  # fmt: skip
    lines = set()
    for line in side.log.read_text(errors="replace").splitlines():
        match = re.match(r"\S+ \S+ \[(INFO|WARNING|ERROR|CRITICAL)\] (.*)", line)
        if not match or "zz_end" in line or match[2][:1].isspace() or _FRAMEWORK.search(line):
            continue
        level, text = match[1], match[2]
        for root in roots:
            text = text.replace(str(root), "ROOT")
        text = _EXCHANGE.sub("X", text)
        failed = _FAILED.search(text)
        if failed:  # each framework says in its own words that the plugin raised
            level, text = "ERROR", f"plugin failed: {failed['what'] or failed['what2']}"
        elif not re.search(rf"\b{re.escape(plugin)}\b", text, re.IGNORECASE):
            continue
        lines.add(f"{level} {_NUMBERS.sub('#', text)}".strip())
    return Effect(files, lines, side.finished())


@pytest.fixture(scope="module")
def flow_effects(
    v2: PeerEnv,
    v2_package: Path,
    v2_loads: dict[str, tuple[str | None, bool]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[Effect, Effect]]]:
    """Each case run by v2 and by ours on the same notices: {plugin: (v2's, ours)}."""
    root = tmp_path_factory.mktemp("v2flow")
    served = root / "served"
    served.mkdir()
    server = HttpServer(served).start()
    marker = root / "compat_marker.py"
    marker.write_text(MARKER)
    exchange = f"xv2compat_{uuid.uuid4().hex[:8]}"
    declarer = load("subscribe", None, name="declarer")
    declare(declarer, exchange)
    notices = _notices(served, server.url + "/")
    effects: dict[str, tuple[Effect, Effect]] = {}
    try:
        for start in range(0, len(CASES), BATCH):
            batch = CASES[start : start + BATCH]
            running: dict[str, tuple[Side, Side]] = {}
            batch_exchange = f"{exchange}_{start}"
            declare(declarer, batch_exchange)
            try:
                for case in batch:
                    entry = v2_loads[case.plugin][0] or "on_message"
                    plugin = v2_package / "plugins" / f"{case.plugin}.py"
                    running[case.plugin] = _start(case, entry, plugin, marker, root, v2,
                                                  batch_exchange, served)  # fmt: skip
                sides = [side for pair in running.values() for side in pair]
                _wait(lambda sides=sides: all(s.ready() for s in sides), 60)
                announce(declarer, notices, batch_exchange)
                _wait(lambda sides=sides: all(s.finished() for s in sides), 60)
            finally:
                for pair in running.values():
                    for side in pair:
                        if side.process.poll() is None:
                            os.killpg(side.process.pid, signal.SIGTERM)
                for pair in running.values():
                    for side in pair:
                        try:
                            side.process.wait(20)
                        except subprocess.TimeoutExpired:
                            os.killpg(side.process.pid, signal.SIGKILL)
                            side.process.wait(5)
            for name, (theirs, ours) in running.items():
                roots = [theirs.out, ours.out, served, root]
                effects[name] = (_effect(theirs, name, roots), _effect(ours, name, roots))
        yield effects
    finally:
        server.stop()
        while _PIPES:
            os.close(_PIPES.pop())


@pytest.mark.parametrize(
    "case",
    [differs(c, DIFFERENT[c.plugin]) if c.plugin in DIFFERENT else c for c in CASES],
    ids=[c.plugin for c in CASES],
)
def test_a_v2_plugin_has_the_same_effect_here(
    case: Case, flow_effects: dict[str, tuple[Effect, Effect]]
) -> None:
    theirs, ours = flow_effects[case.plugin]
    assert theirs.finished, f"v2 did not finish the flow with {case.plugin}"
    assert ours.finished, f"ours did not finish the flow with {case.plugin}"
    assert ours.files == theirs.files
    assert ours.lines == theirs.lines


def test_the_counts(
    v2_loads: dict[str, tuple[str | None, bool]], flow_effects: dict[str, tuple[Effect, Effect]]
) -> None:
    """The figures of docs/v2-compat.md (printed with pytest -s)."""
    same = [n for n, (t, o) in flow_effects.items()
            if t.finished and o.finished and t.files == o.files and t.lines == o.lines]  # fmt: skip
    loaded = sum(ok for _, ok in v2_loads.values())
    print(f"\nv2 plugins run on a real flow beside v2: {len(flow_effects)}; same effect: "
          f"{len(same)}; loaded only: {len(LOADED_ONLY)}; load in v2: {loaded}")  # fmt: skip
    assert len(flow_effects) == len(CASES)
