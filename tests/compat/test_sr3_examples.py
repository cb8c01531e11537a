"""Every example config sr3 ships (metpx-sr3 3.3.1, from the registry, in an environment of its
own), put in a ~/.config/sr3 tree as an sr3 user has it: `sr check` accepts each one whose
plugins and dependencies exist here.

Its dependencies are the site's values the examples ask for in environment variables (SITE)
and the plugins they name: sr3's own flow callback modules that sarra does not provide (its
pollers, authenticators, AM sender...) and v2 plugins sr3 does not ship either. An example
refused for one of those is left out of the count; every other one must be accepted, but for
the few listed with the reason they are not (EXAMPLE_DEFECTS: they fail under sr3 too, or are
templates to fill in; GAPS: what sarra lacks). The counts are printed (pytest -s).

Then sr3's own example subscriber of SWOB observations, pointed at the local broker and a
directory of the test, runs under sr3's `sr3 foreground` and under our `sr_subscribe
foreground`, from the same ~/.config/sr3 tree: the same files arrive, names and bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from integration.pumpkit import declare, file_notice, take, wait_for, watch
from peers import PeerEnv
from servers import HttpServer

from sarra.broker import plan
from sarra.broker.publisher import Publisher
from sarra.config.loader import load
from sarra.config.options import find
from sarra.message import v02
from sarra.message.notice import Notice

SR = Path(sys.executable).parent / "sr"

SITE = {
    "FLOWBROKER": "localhost",
    "PITCHERBROKER": "amqp://pitcher@localhost/",
    "PITCHERURL": "sftp://pitcher@localhost/",
    "PITCHERUSERHOME": "/var/pitcher",
    "SCIUSER": "scientist",
    "COLLABUSER": "collaborator",
    "COLLABDIR": "/var/collab",
    "EMAIL_INGEST": "/var/email",
    "HYDRO_DATA": "/var/hydro",
}
"""The environment variables the examples expect the site to set, with stand-in values."""

EXAMPLE_DEFECTS = {
    "poll/mail.conf": "pollUrl: not a URL",  # pollUrl <scheme>://<user>@<host>:<port>/
    "subscribe/downloademail.conf": "sendTo: not a URL",  # a template as well
    "subscribe/sci2ec.conf": "strip: multiple repeat",  # strip .?*/sci2ec/: no regex
    "flow/bc_trans.conf": "vip: '# Enter your vip here' is not an IP address",  # a template
}
"""Examples refused for a fault of their own: a template to fill in, or a value sr3 cannot use
either (the strip regex raises in sr3 as soon as a notice is placed)."""

GAPS: dict[str, str] = {}
"""Examples refused for what sarra lacks (none since sr3's ${BUP} and ${BUPL} are read)."""

ABSENT_PLUGIN = re.compile(
    r"flow callback \S+: (not found|no such file)|plugin \S+: not found"
    r"|unknown option '\w+' \(no plugin declares it\)"
)
"""How a line says a plugin is absent here (or names an option only that plugin declares)."""


PLUGIN_OPTION = re.compile(
    r"(msg_)?(filter_wmo2msc|fdelay)|pathReplace$|msg_replace_new_dir$|post_rate_limit$"
    r"|accel_(cp|scp|wget)_(command|threshold)$|download_cp_command$"
)
"""sr3 names that are options of plugins (sr3's callbacks, v2's accel_* and post_rate_limit):
the plugin declares and reads them; a config that names no plugin gets a did-you-mean."""


@pytest.fixture(scope="module")
def examples(sr3_package: Path) -> Path:
    """sr3's examples directory, in its environment."""
    return sr3_package / "examples"


def check_as_sr3_user(examples: Path, home: Path) -> dict[str, list[str]]:
    """`sr check` over a ~/.config/sr3 holding sr3's examples: each config's lines, by
    component/name.conf (an entry "skip" for those not run here)."""
    tree = home / "config" / "sr3"
    shutil.copytree(examples, tree, ignore=shutil.ignore_patterns("__pycache__"),
                    dirs_exist_ok=True)  # fmt: skip
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache"), "HOME": str(home), **SITE}  # fmt: skip
    env.pop("SR_DEV_APPNAME", None)
    done = subprocess.run([str(SR), "check"], env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    results: dict[str, list[str]] = {}
    current: list[str] = []
    for line in done.stdout.splitlines():
        head = re.match(r"(ok|ERROR|skip) +(\S+/\S+\.conf) \(sr3\)", line)
        if head:
            current = results.setdefault(head[2], [])
            current.append(head[1])
        elif line.startswith("      "):
            current.append(line.strip())
    return results


def test_sr_check_accepts_every_sr3_example_whose_plugins_exist_here(
    examples: Path, tmp_path: Path
) -> None:
    shipped = sorted(p.relative_to(examples).as_posix() for p in examples.rglob("*.conf"))
    assert len(shipped) > 40, shipped
    results = check_as_sr3_user(examples, tmp_path)
    assert sorted(results) == shipped  # every example is named, run here or not
    accepted, absent, other = [], [], {}
    for label, lines in results.items():
        verdict, details = lines[0], lines[1:]
        if verdict == "ok":
            accepted.append(label)
        elif verdict == "skip":
            other[label] = details[0] if details else "not run here"
        elif any(ABSENT_PLUGIN.search(line) for line in details):
            absent.append(label)
        else:
            other[label] = " | ".join(details)
    for label, reason in {**EXAMPLE_DEFECTS, **GAPS}.items():
        assert reason in other.pop(label, ""), label
    assert other == {}  # sr3's generic flow/ configs are checked as any other
    considered = len(shipped) - len(absent)
    print(f"\nsr3 examples: {len(shipped)}; plugins absent here: {len(absent)}; accepted "
          f"{len(accepted)}/{considered}; refused: {len(EXAMPLE_DEFECTS)} defects of the "
          f"example, {len(GAPS)} gap")  # fmt: skip
    assert len(accepted) == considered - len(EXAMPLE_DEFECTS) - len(GAPS)


SR3_SCHEDULED = ("wiski", "http_with_metadata")
"""sr3's scheduled flows that its flow/ examples name (opg.conf and
scheduled_aviation_wind_fax_charts.conf), not shipped with sarra."""


def test_sr3_s_own_scheduled_flows_copied_into_plugins_make_its_flow_examples_pass(
    examples: Path, sr3_package: Path, tmp_path: Path
) -> None:
    plugins = tmp_path / "config" / "sr3" / "plugins" / "scheduled"
    plugins.mkdir(parents=True)
    for name in SR3_SCHEDULED:
        shutil.copy(sr3_package / "flowcb" / "scheduled" / f"{name}.py", plugins)
    results = check_as_sr3_user(examples, tmp_path)
    assert results["flow/opg.conf"][0] == "ok", results["flow/opg.conf"]
    fax = results["flow/scheduled_aviation_wind_fax_charts.conf"]
    assert fax[0] == "ok", fax


@pytest.mark.broker
def test_sr3_s_scheduled_http_with_metadata_runs_on_our_flow(
    sr3_package: Path, tmp_path: Path
) -> None:
    """sr3's own module, copied into plugins/, gathers on a flow started by `sr start`: its
    URLs (no HEAD answer here: post_whenNoMetadata) reach post_exchange."""
    tree = tmp_path / "config" / "sr3"
    (tree / "plugins" / "scheduled").mkdir(parents=True)
    shutil.copy(sr3_package / "flowcb" / "scheduled" / "http_with_metadata.py",
                tree / "plugins" / "scheduled")  # fmt: skip
    exchange = f"xs_fax_{uuid.uuid4().hex[:8]}"
    (tree / "flow").mkdir()
    (tree / "flow" / "fax.conf").write_text(
        f"post_broker {BROKER_URL}\npost_exchange {exchange}\ncallback post.message\n"
        "callback scheduled.http_with_metadata\npost_whenNoMetadata on\n"
        "post_baseUrl http://127.0.0.1:9/fax/\npath F06_wind_240_a.gif\npath F12_wind_240_a.gif\n"
        "scheduled_interval 30s\n"
    )  # fmt: skip
    credentials = tree / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    watcher = watch(load("flow", tree / "flow" / "fax.conf"), exchange)
    try:
        started = subprocess.run([str(SR), "start", "flow/fax"], capture_output=True, text=True,
                                 timeout=120, check=False)  # fmt: skip
        assert started.returncode == 0, started.stderr
        urls = sorted(notice.url for notice in take(watcher, 2))
    finally:
        subprocess.run([str(SR), "stop", "flow/fax"], timeout=120, check=False)
        watcher.close()
    assert urls == ["http://127.0.0.1:9/fax/F06_wind_240_a.gif",
                    "http://127.0.0.1:9/fax/F12_wind_240_a.gif"]  # fmt: skip


def test_every_option_name_of_sr3_maps_or_is_warned(sr3: PeerEnv, tmp_path: Path) -> None:
    """Each name sr3's config module knows (its typed option lists and its synonyms) is a
    name of the option table: one with an effect, or one warned about (no effect in sarra),
    but for the options of plugins, which the plugin that reads them declares."""
    script = (
        "import json, sarracenia.config as c\n"
        "names = set(c.Config.synonyms) | set(c.Config.synonyms.values())\n"
        "for kind in ('count', 'flag', 'float', 'duration', 'list', 'set', 'perm', 'size',"
        " 'str'):\n"
        "    names |= set(getattr(c, kind + '_options'))\n"
        "print(json.dumps(sorted(names)))\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([str(sr3.python), "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=True)  # fmt: skip
    names = __import__("json").loads(done.stdout.splitlines()[-1])
    plugin_options = {n for n in names if PLUGIN_OPTION.match(n)}
    unknown = [n for n in names if find(n) is None and n not in plugin_options]
    assert unknown == []
    table = [find(n) for n in names if find(n) is not None]
    warned = [o for o in table if o is not None and (o.not_built or o.deprecated)]
    print(f"\nsr3 option names: {len(names)}; mapped to an option with an effect: "
          f"{len(table) - len(warned)}; warned as without effect: {len(warned)}; options of "
          f"plugins: {len(plugin_options)} (options: {len({o.name for o in table})})")  # fmt: skip


# --- one of sr3's example subscribers, moving real files under sr3 and here

SWOB = "subscribe/dd_swob.conf"
"""sr3's example subscriber of SWOB observations (v02 notices of dd.weather.gc.ca)."""

STATIONS = ["CWAO", "CYUL", "CYYZ", "CYVR"]


def _as_here(example: str, exchange: str, out: Path) -> str:
    """The example as a user adapts it to a pump: its broker (the local one, and its
    exchange) and its directory; every other line as shipped."""
    lines = []
    for line in example.splitlines():
        word = line.split(None, 1)[0] if line.strip() else ""
        if word == "broker":
            lines += [f"broker {BROKER_URL}", f"exchange {exchange}"]
        elif word == "directory":
            lines.append(f"directory {out}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


BROKER_URL = "amqp://guest@127.0.0.1/"


def _home(root: Path, text: str) -> dict[str, str]:
    """A home whose ~/.config/sr3 holds the config (sr3's and ours read the same tree) and
    the broker's password; its environment."""
    tree = root / "home" / ".config" / "sr3"
    (tree / "subscribe").mkdir(parents=True)
    (tree / "subscribe" / "dd_swob.conf").write_text(text)
    credentials = tree / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHON", "SR_"))}
    return env | {"HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "home" / ".config"),
                  "XDG_CACHE_HOME": str(root / "home" / ".cache")}  # fmt: skip


def _files(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}  # fmt: skip


@pytest.mark.broker
def test_sr3_s_swob_example_moves_the_same_files_under_sr3_and_here(
    sr3: PeerEnv, examples: Path, tmp_path: Path, served_root: Path
) -> None:
    exchange = f"xsr3ex_{uuid.uuid4().hex[:8]}"
    declare(load("subscribe", None, name="declarer"), exchange)
    example = (examples / SWOB).read_text()
    commands = {
        "sr3": [str(sr3.bin / "sr3"), "foreground", "subscribe/dd_swob"],
        "ours": [str(SR.parent / "sr_subscribe"), "foreground", "dd_swob"],
    }
    outs, logs, processes = {}, {}, []
    server = HttpServer(served_root).start()
    try:
        for who, command in commands.items():
            root = tmp_path / who
            outs[who], logs[who] = root / "out", root / "log"
            outs[who].mkdir(parents=True)
            env = _home(root, _as_here(example, exchange, outs[who]))
            with open(logs[who], "wb") as log:
                processes.append(
                    subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=root,
                        start_new_session=True,
                    )
                )
        for who in commands:
            wait_for(lambda who=who: re.search(READY[who], logs[who].read_text(errors="replace"))
                     is not None, f"{who} to consume", deadline=60)  # fmt: skip
        base = f"http://127.0.0.1:{server.port}/"
        day = time.strftime("%Y%m%d", time.gmtime())
        notices = []
        for station in STATIONS:
            rel = f"{day}/WXO-DD/observations/swob-ml/{day}/{station}/{exchange}-{station}.xml"
            data = os.urandom(200 + len(notices))
            (served_root / rel).parent.mkdir(parents=True, exist_ok=True)
            (served_root / rel).write_bytes(data)
            notices.append(file_notice(base, rel, data))
        other = f"{day}/WXO-DD/bulletins/{exchange}-not-swob.txt"  # outside the subtopic
        (served_root / other).parent.mkdir(parents=True, exist_ok=True)
        (served_root / other).write_bytes(b"x")
        notices.append(file_notice(base, other, b"x"))
        publish_v02(exchange, notices)
        wanted = {f"{exchange}-{s}.xml" for s in STATIONS}
        for who in commands:
            wait_for(lambda who=who: set(_files(outs[who])) == wanted, f"{who}'s files",
                     deadline=60)  # fmt: skip
    finally:
        server.stop()
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
    assert _files(outs["ours"]) == _files(outs["sr3"])


READY = {"sr3": r"Binding queue|binding", "ours": r"consumer pid"}


def publish_v02(exchange: str, notices: list[Notice]) -> None:
    """v02 notices, as dd.weather.gc.ca sends them."""
    config = load("subscribe", None, name="publisher")
    settings = plan.connection_settings(config, "amqp://guest:guest@127.0.0.1/", "publisher")
    with Publisher(settings, [exchange]) as publisher:
        for notice in notices:
            key, body, headers = v02.encode(notice)
            publisher.publish(exchange, key, body.encode(), headers, v02.CONTENT_TYPE)
        assert publisher.flush(20)
