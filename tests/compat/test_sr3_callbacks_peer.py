"""sr3's flow callbacks (metpx-sr3 3.3.1, from the registry, in an environment of its own) here.

- sr3's own flowcb modules, read from sr3's package by file path, load against our `sarracenia`
  shim (sr3 is not importable here; its broker, checksum, config, transfer modules and the bases
  its callbacks subclass are ours), each but those that need a module absent here, given the
  settings they need under sr3 too; each that loads runs on a real flow (the local RabbitMQ, a
  real HTTP server): the notices settle and the module raises nothing.
- A user's FlowCB class written from sr3's documentation (an after_accept that rejects some
  notices, renames the others through new_file and new_relPath, and logs) has the same effect
  under sr3's own sr3 subscribe and under our sr_subscribe on the same exchange: the same files
  (names and bytes) and the same lines logged.

The counts are printed (pytest -s) and kept in docs/plugins.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from integration.pumpkit import (
    declare,
    file_notice,
    hooks,
    in_thread,
    loop_ready,
    take,
    wait_for,
    watch,
)  # fmt: skip
from peers import PeerEnv
from servers import FTP_USER, LOCALHOST, PASSWORD, FtpServer, HttpServer
from sr3peer import publish

from sarra.compat.plugins import Plugins
from sarra.components.poll import Poll
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.flow.loop import ConsumerLoop
from sarra.message.notice import Notice

pytestmark = pytest.mark.broker

OURS = Path(sys.executable).parent / "sr_subscribe"
BROKER = "amqp://guest:guest@127.0.0.1/"

ABSENT_MODULE = re.compile(r"cannot load: ModuleNotFoundError: No module named '(?P<name>[\w.]+)'")
SR3_MACHINERY = {"rename/raw2bulletin.py": "No module named 'sarracenia.bulletin'"}
"""Modules that need a part of sr3 not provided here (its parser of WMO bulletin contents)."""
SR3_DEFECTS = {
    "trace_on_stop.py": "TRACE_ON_STOP(options) failed: TypeError",  # no FlowCB: no options
}
"""Modules that fail under sr3's own loader as well, as shipped (whatever the config)."""


@pytest.fixture(scope="session")
def flowcb_dir(sr3_package: Path) -> Path:
    """sr3's flowcb package in its environment: read, never imported as sr3 here."""
    return sr3_package / "flowcb"


def callback_modules(flowcb: Path) -> list[Path]:
    """sr3's flowcb modules that define a callback class (not the FlowCB base, nor the
    packages' empty __init__ files)."""
    modules = []
    for path in sorted(flowcb.rglob("*.py")):
        if "__pycache__" in path.parts or path == flowcb / "__init__.py":
            continue
        if path.name == "__init__.py" and not re.search(r"^class ", path.read_text(), re.M):
            continue
        modules.append(path)
    return modules


NEEDS_POLL_URL = re.compile(r"^(poll/|scheduled/wiski\.py$)")
"""Modules that exit at start without a pollUrl, as under sr3: given one (not polled here)."""

SETTINGS = {
    "poll/rate_limit.py": "pollLsdirRateMax 2\n",  # it divides by its period, 0 unless set
    "accept/toclusters.py": "msgToClusters here\n",  # it refuses every notice without
    "destfn/replace.py": "destfn_replace file_,renamed_\n",  # it has nothing to replace without
    "filter/wmo2msc.py": "filter_wmo2msc_replace_dir /old,/new\n",
    "send/email.py": "sendTo smtp://127.0.0.1/\n",
    "send/am.py": "sendTo am://127.0.0.1:5003/\n",
}
"""The settings other modules need to start or work, under sr3 too (the senders are not asked
to send: these are subscribers)."""


def settings_for(name: str) -> str:
    """The lines a module needs to start and work (as it does under sr3)."""
    lines = "pollUrl http://127.0.0.1/\npath /\n" if NEEDS_POLL_URL.match(name) else ""
    return lines + SETTINGS.get(name, "")


def config_for(tmp_path: Path, body: str, name: str = "c") -> Config:
    path = tmp_path / f"{name}.conf"
    path.write_text(f"broker {BROKER}\n{body}")
    return load("subscribe", path)


def why_not(name: str, reason: str) -> str | None:
    """The kind of reason a module does not load for, when it is an allowed one."""
    absent = ABSENT_MODULE.search(reason)
    if absent and not absent["name"].startswith("sarracenia"):
        return "need a module absent here"
    if name in SR3_MACHINERY and SR3_MACHINERY[name] in reason:
        return "need sr3's bulletin parser"
    return None


@pytest.fixture(scope="module")
def loads(flowcb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Each module of sr3: None when it loads here, else why not."""
    tmp = tmp_path_factory.mktemp("sr3load")
    results: dict[str, str | None] = {}
    for path in callback_modules(flowcb_dir):
        name = path.relative_to(flowcb_dir).as_posix()
        try:
            Plugins.load(config_for(tmp, f"{settings_for(name)}accept .*\nflowcb {path}\n"))
            results[name] = None
        except ConfigError as err:
            results[name] = str(err).split(": ", 1)[-1]
    return results


def test_sr3_s_flowcb_modules_load_here_but_for_absent_modules(
    loads: dict[str, str | None],
) -> None:
    assert "sarracenia" not in sys.modules or "shim" in repr(sys.modules["sarracenia"].__spec__)
    unexplained = {}
    kinds: Counter[str] = Counter()
    for name, reason in loads.items():
        if reason is None:
            continue
        kind = why_not(name, reason) or ("fail under sr3 too" if name in SR3_DEFECTS else None)
        if kind is None:
            unexplained[name] = reason
        kinds[kind or "?"] += 1
    loaded = sum(reason is None for reason in loads.values())
    print(f"\nsr3 flowcb modules: {len(loads)}; load here: {loaded}; not: "
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))  # fmt: skip
    assert unexplained == {}
    assert loaded >= 85


# --- on a flow

NOTICES = 3


def _notices(served: Path, base: str, folder: str) -> list[Notice]:
    notices = []
    for i in range(NOTICES):
        rel = f"{folder}/file_{i}.dat"
        data = os.urandom(100 + i)
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).write_bytes(data)
        notice = file_notice(base, rel, data)
        notice.source, notice.from_cluster, notice.to_clusters = "tester", "here", "here"
        notices.append(notice)
    return notices


FATES = ("downloaded", "skipped", "stopped by plugin", "delayed", "failed", "rejected",
         "duplicates", "refused", "malformed", "unexpected errors")  # fmt: skip


def _loop(config: Config) -> AbstractContextManager[ConsumerLoop]:
    """A subscriber's loop, with its plugins, running in a thread."""
    return in_thread(lambda stop: ConsumerLoop(config, 1, stop, hooks(config, stop)))


class Failures(logging.Handler):
    """The lines logged at ERROR (plugin failures among them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_sr3_s_flowcb_modules_run_on_a_flow(
    loads: dict[str, str | None],
    flowcb_dir: Path,
    tmp_path: Path,
    http_server: HttpServer,
    served_root: Path,
) -> None:
    failures = Failures()
    logging.getLogger("sarra").addHandler(failures)
    names = [name for name, reason in loads.items() if reason is None]
    exchange = f"xsr3run_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), exchange)
    results: dict[str, str] = {}
    try:
        for start in range(0, len(names), 8):  # a few loops at once
            batch = names[start : start + 8]
            with ExitStack() as stack:
                loops = {}
                for name in batch:
                    folder = name.replace("/", "_").replace(".", "_")
                    body = (f"exchange {exchange}\ntopic_prefix v03\nsubtopic {folder}.#\n"
                            f"directory {tmp_path / folder}\nexpire 1m\naccept .*\n"
                            f"{settings_for(name)}"
                            f"flowcb {flowcb_dir / name}\n")  # fmt: skip
                    loops[name] = stack.enter_context(_loop(config_for(tmp_path, body, folder)))
                for loop in loops.values():
                    assert loop_ready(loop)
                base = f"http://127.0.0.1:{http_server.port}/"
                for name in batch:
                    folder = name.replace("/", "_").replace(".", "_")
                    publish(exchange, _notices(served_root, base, folder))
                for name, loop in loops.items():
                    try:
                        wait_for(lambda loop=loop: sum(loop.counts[f] for f in FATES) >= NOTICES,
                                 f"{name}'s notices", deadline=15)  # fmt: skip
                        results[name] = "settled"
                    except AssertionError:
                        results[name] = "did not settle"
    finally:
        logging.getLogger("sarra").removeHandler(failures)
    raised = {}
    for name in names:
        label = f"{Path(name).parent.name or 'flowcb'}.{Path(name).stem}"
        mine = [line for line in failures.lines if re.search(rf"\b{label}\.\w+ failed", line)]
        if mine:
            raised[name] = mine[0]
    clean = [n for n in names if results.get(n) == "settled" and n not in raised]
    print(f"\nsr3 flowcb modules run on a flow: {len(names)}; settle every notice and raise "
          f"nothing: {len(clean)}; raised: {sorted(raised)}; did not settle: "
          f"{sorted(n for n in names if results.get(n) != 'settled')}")  # fmt: skip
    assert len(clean) >= len(names) - len(EXPECTED_TO_RAISE) and len(clean) >= 72
    assert set(raised) <= set(EXPECTED_TO_RAISE)


EXPECTED_TO_RAISE: dict[str, str] = {
    "accept/delete.py": "reads self.o.consumer (v2's), which sr3's options lack too",
    "accept/distbydir.py": "hashes a str: TypeError under sr3 too",
    "accept/downloadbaseurl.py": "reads self.o.new_dir, which sr3's options lack too",
    "accept/renamedmf.py": "reads msg['rename'], absent from these notices (sr3 too)",
    "accept/renamewhatfn.py": "reads msg['rename'], absent from these notices (sr3 too)",
    "accept/speedo.py": "reads msg['partstr'] (v2's), absent from sr3 messages too",
    "clamav.py": "needs pyclamd, absent here",
    "retry.py": "needs sr3's own disk queue (sarracenia.diskqueue) and jsonpickle",
    "work/rxpipe.py": "needs rxpipe_name set (sr3 too)",
    "work/send_egc_les.py": "needs its telnet settings (sr3 too)",
    "accept/testretry.py": "looks up the credentials of sendTo, which this config lacks (sr3 too)",
    "download/mail_ingest.py": "reads msg.baseUrl, an attribute sr3's dict messages lack too",
    "poll/mail.py": "its __init__ skips Poll's, so metricsReport lacks self.metrics (sr3 too)",
}
"""sr3 modules that raise on this flow, and why: as under sr3 with the same config."""


# --- sr3's own Poll, through our sarracenia.transfer


def test_sr3_s_own_poll_lists_an_ftp_server_through_our_transfer(
    flowcb_dir: Path, sarra_home: Path, tmp_path: Path, ftp_server: FtpServer, served_root: Path
) -> None:
    """sr3's Poll class (its code, read by path) in sr_poll: it finds the server's credentials in
    sarracenia.config, lists through sarracenia.transfer (sarra's FTP backend) and makes the
    messages sr_poll posts."""
    folder = f"sr3poll_{uuid.uuid4().hex[:8]}"
    (served_root / folder).mkdir()
    for name in ("a.dat", "b.dat"):
        (served_root / folder / name).write_bytes(os.urandom(200))
    credentials = sarra_home / "credentials.conf"
    credentials.write_text(f"{BROKER}\nftp://{FTP_USER}:{quote(PASSWORD, safe='')}"
                           f"@{LOCALHOST}:{ftp_server.port}/\n")  # fmt: skip
    credentials.chmod(0o600)
    exchange = f"xsr3poll_{uuid.uuid4().hex[:8]}"
    path = tmp_path / "p.conf"
    path.write_text(
        f"broker {BROKER}\npost_exchange {exchange}\npollUrl {ftp_server.url}/\n"
        f"path /{folder}\nsleep 0.1\naccept .*\nflowcb {flowcb_dir / 'poll' / '__init__.py'}\n"
    )
    config = load("poll", path)
    declare(config, exchange)
    watcher = watch(config, exchange)
    try:
        with in_thread(lambda stop: Poll(config, 1, stop)):
            posted = take(watcher, 2)
    finally:
        watcher.close()
    assert sorted(n.rel_path.lstrip("/") for n in posted) == [f"{folder}/a.dat", f"{folder}/b.dat"]
    assert {n.base_url for n in posted} == {f"{ftp_server.url}/"}
    assert {n.size for n in posted} == {200}


# --- a user's FlowCB, under sr3 and here

SORTER = '''
"""A flow callback as sr3's documentation shows how to write one."""
import logging

from sarracenia.flowcb import FlowCB

logger = logging.getLogger(__name__)


class Sorter(FlowCB):
    def __init__(self, options):
        super().__init__(options, logger)
        self.o.add_option("sorter_reject", "str", "skip_")
        self.o.add_option("sorter_prefix", "str", "new_")

    def after_accept(self, worklist):
        kept = []
        for msg in worklist.incoming:
            if msg["new_file"].startswith(self.o.sorter_reject):
                logger.info("sorter rejects %s", msg["relPath"])
                worklist.rejected.append(msg)
                continue
            if msg["new_file"].startswith("ren_"):
                msg["new_file"] = self.o.sorter_prefix + msg["new_file"][len("ren_"):]
                head = msg["new_relPath"].split("/")[:-1]
                msg["new_relPath"] = "/".join(head + [msg["new_file"]])
            logger.info("sorter keeps %s as %s (%s bytes)", msg["relPath"], msg["new_file"],
                        msg["size"])
            kept.append(msg)
        worklist.incoming = kept
'''

FILES = ["ren_a.dat", "plain_b.dat", "skip_c.dat", "ren_d.dat", "skip_e.dat", "plain_f.dat"]
KEPT = {"new_a.dat", "plain_b.dat", "new_d.dat", "plain_f.dat"}


def _home(root: Path, exchange: str, out: Path, tree: str) -> dict[str, str]:
    """A home with the config (in ~/.config/<tree>/subscribe/case.conf), the callback in
    ~/.config/sr3/plugins, and credentials; its environment."""
    home = root / "home"
    config_dir = home / ".config" / tree
    (config_dir / "subscribe").mkdir(parents=True)
    plugins = home / ".config" / "sr3" / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "sorter.py").write_text(SORTER)
    credentials = config_dir / "credentials.conf"
    credentials.write_text(f"{BROKER}\n")
    credentials.chmod(0o600)
    (config_dir / "subscribe" / "case.conf").write_text(
        f"broker amqp://guest@127.0.0.1/\nexchange {exchange}\ntopic_prefix v03\nsubtopic #\n"
        f"expire 2m\ndirectory {out}\nmirror off\nsorter_prefix new_\ncallback sorter\n"
        "accept .*\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
    return env | {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                  "XDG_CACHE_HOME": str(home / ".cache")}  # fmt: skip


SORTER_LINE = re.compile(r"\[INFO\] .*?(sorter (keeps|rejects) .*)$")


def _sorter_lines(log: Path) -> set[str]:
    lines = set()
    for line in log.read_text(errors="replace").splitlines():
        match = SORTER_LINE.search(line)
        if match:
            lines.add(match[1])
    return lines


def _files(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in out.glob("*") if p.is_file() and not p.name.startswith(".")}  # fmt: skip


@dataclass
class Side:
    """One subscriber of the comparison: where its files go, where it logs."""

    out: Path
    log: Path

    def consuming(self, ready: str) -> bool:
        return re.search(ready, self.log.read_text(errors="replace")) is not None

    def done(self) -> bool:
        return set(_files(self.out)) == KEPT and len(_sorter_lines(self.log)) == len(FILES)


READY = {"sr3": r"Binding queue|binding", "ours": r"consumer pid"}


@pytest.fixture
def exchange() -> str:
    name = f"xsr3user_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), name)
    return name


@pytest.fixture
def sides(sr3: PeerEnv, tmp_path: Path, exchange: str) -> Iterator[dict[str, Side]]:
    """sr3's sr3 subscribe and our sr_subscribe, each in a home of its own, consuming."""
    found: dict[str, Side] = {}
    processes = []
    try:
        for who in ("sr3", "ours"):
            root = tmp_path / who
            side = Side(root / "out", root / "log")
            side.out.mkdir(parents=True)
            env = _home(root, exchange, side.out, "sr3" if who == "sr3" else "sarra")
            command = [str(sr3.bin / "sr3"), "foreground", "subscribe/case"]
            if who == "ours":
                command = [str(OURS), "foreground", "case"]
            with open(side.log, "wb") as output:
                processes.append(
                    subprocess.Popen(
                        command,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=root,
                        start_new_session=True,
                    )
                )
            found[who] = side
        for who, side in found.items():
            wait_for(
                lambda side=side, who=who: side.consuming(READY[who]),
                f"{who} to consume",
                deadline=60,
            )
        yield found
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def test_a_user_flowcb_has_the_same_effect_under_sr3_and_here(
    sides: dict[str, Side], exchange: str, http_server: HttpServer, served_root: Path
) -> None:
    folder = f"sorter_{exchange}"
    (served_root / folder).mkdir()
    base = f"http://127.0.0.1:{http_server.port}/"
    notices = []
    for name in FILES:
        data = os.urandom(300 + len(notices))
        (served_root / folder / name).write_bytes(data)
        notices.append(file_notice(base, f"{folder}/{name}", data))
    publish(exchange, notices)
    for who, side in sides.items():
        wait_for(side.done, f"{who}'s flow", deadline=60)
    theirs, ours = sides["sr3"], sides["ours"]
    assert _files(ours.out) == _files(theirs.out)
    assert _sorter_lines(ours.log) == _sorter_lines(theirs.log)


# --- with sr3 installed too

WITH_REAL_SR3 = """
import json, sys, time
from pathlib import Path
sys.path.append(sys.argv[1])  # sr3's site-packages, after ours
from sarra.compat.plugins import Plugins
from sarra.compat.sr3 import shim
from sarra.config.loader import load
from sarra.message.notice import Notice, epoch_to_time

config = Path(sys.argv[2])
plugins = Plugins.load(load("subscribe", config))
found = {}
for name in ("ren_a.dat", "skip_b.dat"):
    notice = Notice(epoch_to_time(time.time()), "http://h/", f"d/{name}", size=3)
    msg = plugins.message(notice, new_dir="/out", new_file=name)
    found[name] = [plugins.run("on_message", msg), msg.new_file]
import sarracenia, sarracenia.flowcb
sorter = sys.modules["sorter"].Sorter
print(json.dumps({"sarracenia": sarracenia.__file__, "shim": shim.serving(),
                  "real_base": issubclass(sorter, sarracenia.flowcb.FlowCB), "found": found}))
"""


def test_with_sr3_installed_callbacks_import_the_real_one(
    sr3: PeerEnv, flowcb_dir: Path, tmp_path: Path
) -> None:
    site = flowcb_dir.parent.parent
    home = tmp_path / "home"
    (home / ".config" / "sr3" / "plugins").mkdir(parents=True)
    (home / ".config" / "sr3" / "plugins" / "sorter.py").write_text(SORTER)
    config = tmp_path / "c.conf"
    config.write_text(f"broker {BROKER}\naccept .*\ncallback sorter\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON"))}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache")}  # fmt: skip
    command = [sys.executable, "-c", WITH_REAL_SR3, str(site), str(config)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["sarracenia"].startswith(str(site)) and not found["shim"]
    assert found["real_base"]
    assert found["found"] == {"ren_a.dat": [True, "new_a.dat"], "skip_b.dat": [False, "skip_b.dat"]}
