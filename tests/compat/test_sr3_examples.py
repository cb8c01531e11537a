"""Every example config sr3 ships (metpx-sr3 3.3.1, from the registry, in an environment of its
own), put in a ~/.config/sr3 tree as an sr3 user has it: `sr check` accepts each one whose
plugins and dependencies exist here.

Its dependencies are the site's values the examples ask for in environment variables (SITE)
and the plugins they name: sr3's own flow callback modules that sarra does not provide (its
pollers, authenticators, AM sender...) and v2 plugins sr3 does not ship either. An example
refused for one of those is left out of the count; every other one must be accepted, but for
the few listed with the reason they are not (EXAMPLE_DEFECTS: they fail under sr3 too, or are
templates to fill in; GAPS: what sarra lacks). The counts are printed (pytest -s).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from peers import PeerEnv, peer_env

from sarra.config.options import find

SR3 = ["metpx-sr3==3.3.1", "amqp", "paho-mqtt"]
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
}
"""Examples refused for a fault of their own: a template to fill in, or a value sr3 cannot use
either (the strip regex raises in sr3 as soon as a notice is placed)."""

GAPS = {
    "subscribe/hpfxWIS2DownloadAll.conf": "unknown variable ${BUPL}",
}
"""Examples refused for what sarra lacks: sr3's ${BUPL} (the last directory of a notice's base
URL) in directory and post_baseUrl."""

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
def sr3() -> PeerEnv:
    return peer_env("sr3", SR3)


@pytest.fixture(scope="module")
def examples(sr3: PeerEnv) -> Path:
    """sr3's examples directory, in its environment."""
    found = sorted(sr3.root.glob("lib/python*/site-packages/sarracenia/examples"))
    assert found, f"no sarracenia/examples in {sr3.root}"
    return found[0]


def check_as_sr3_user(examples: Path, home: Path) -> dict[str, list[str]]:
    """`sr check` over a ~/.config/sr3 holding sr3's examples: each config's lines, by
    component/name.conf (an entry "skip" for those not run here)."""
    tree = home / "config" / "sr3"
    shutil.copytree(examples, tree, ignore=shutil.ignore_patterns("__pycache__"))
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
    not_here = {label for label, why in other.items() if label.startswith("flow/")}
    assert set(other) == not_here, other  # beside those: only sr3's generic flow configs
    considered = len(shipped) - len(absent)
    print(f"\nsr3 examples: {len(shipped)}; plugins absent here: {len(absent)}; accepted "
          f"{len(accepted)}/{considered}; refused: {len(EXAMPLE_DEFECTS)} defects of the "
          f"example, {len(GAPS)} gap, {len(not_here)} generic flow (not run here)")  # fmt: skip
    assert len(accepted) == considered - len(EXAMPLE_DEFECTS) - len(GAPS) - len(not_here)


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
