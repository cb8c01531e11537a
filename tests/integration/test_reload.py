"""A running shovel reloaded (HUP) with a config that cannot run keeps its old config on the
real RabbitMQ: it stays up, logs one error line naming the file and line (or plugin), goes on
moving notices as before, and `sr status` says it runs its old config; a reload with the config
fixed then takes. The HUP is sent as `kill -HUP` (or systemd's ExecReload) does: `sr reload`
refuses such a config itself and signals nothing."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest
from pumpkit import announce, declare, file_notice, sr, take, wait_for, watch

from sarra.broker import Consumer
from sarra.components.instances import running_pids
from sarra.config import paths
from sarra.config.loader import Config, load

pytestmark = pytest.mark.broker

REFUSED = "not reloaded, the old one stays in force"


def shovel(source: str, onward: str, extra: str = "") -> str:
    """A shovel's config: from `source` to `onward`, with more lines (those of `extra`; its
    line `-broker` takes the broker line out)."""
    text = (
        f"broker amqp://guest@127.0.0.1/\nexchange {source}\ntopic_prefix v02.post\nsubtopic #\n"
        f"expire 1m\npost_broker amqp://guest@127.0.0.1/\npost_exchange {onward}\n{extra}"
    )
    if "-broker\n" in extra:
        text = text.partition("\n")[2].replace("-broker\n", "")
    return text


def passes(config: Config, source: str, watcher: Consumer, rel_path: str) -> None:
    """A notice announced on `source` comes out where `watcher` looks."""
    announce(config, [file_notice("https://example.com/", rel_path, b"data")], source)
    (passed,) = take(watcher, 1)
    assert passed.rel_path == rel_path


BROKEN = {  # what a reload reads: (the lines after the shovel's, plugin files, what is said)
    # a mistake `sr reload` does not see: the config reads, its loop cannot start
    "config error": ("-broker\n", {}, ": no broker set (add a broker line)"),
    "v2 plugin": (
        "on_message broken_on_load\n",
        {"broken_on_load.py": "raise RuntimeError('broken on purpose')\n"},
        ".conf:8: plugin ",
    ),
    "sr3 callback": (
        "callback brokencb\n",
        {"brokencb.py": "import no_such_module_here\n\n\nclass Brokencb:\n    pass\n"},
        ".conf:8: flow callback brokencb cannot load: No module named 'no_such_module_here'",
    ),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_reload_that_cannot_run_keeps_the_old_config(sarra_home: Path, broken: str) -> None:
    extra, plugin_files, said = BROKEN[broken]
    credentials = sarra_home / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    for name, text in plugin_files.items():
        (sarra_home / "plugins").mkdir(exist_ok=True)
        (sarra_home / "plugins" / name).write_text(text)
    source, old, new = (f"xs_reload_{uuid.uuid4().hex[:8]}" for _ in range(3))
    name = f"keep_{uuid.uuid4().hex[:6]}"
    path = sarra_home / "shovel" / f"{name}.conf"
    path.parent.mkdir()
    path.write_text(shovel(source, old))
    config = load("shovel", path)
    declare(config, source)
    log = paths.log_file("shovel", name, 1)
    before, after = watch(config, old), watch(config, new)
    try:
        started = sr("sr", "start", f"shovel/{name}")
        assert started.returncode == 0, started.stderr
        wait_for(lambda: log.is_file() and "consumer pid" in log.read_text(), "the shovel")
        (pid,) = running_pids("shovel", name)
        passes(config, source, before, "a/first.txt")

        path.write_text(shovel(source, new, extra))  # line 8, after the 7 of the shovel's
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: log.read_text().count("consuming ") == 2, "the old config again")
        refused = [line for line in log.read_text().splitlines() if REFUSED in line]
        assert len(refused) == 1, refused
        assert "[ERROR]" in refused[0] and f"config {path} " in refused[0], refused[0]
        assert said in refused[0], refused[0]
        assert running_pids("shovel", name) == [pid]
        passes(config, source, before, "a/second.txt")  # still to the old post_exchange
        status = sr("sr", "status", "--problems")  # this home has this config only
        assert status.returncode == 1, status.stdout + status.stderr
        assert f"instance 01 runs its old config: config {path} not reloaded" in status.stdout

        path.write_text(shovel(source, new))  # fixed
        reloaded = sr("sr", "reload", f"shovel/{name}")
        assert reloaded.returncode == 0, reloaded.stderr
        wait_for(lambda: f"posting to amqp://guest@127.0.0.1/ {new} " in log.read_text(), "it")
        passes(config, source, after, "a/third.txt")  # to the new post_exchange
        assert running_pids("shovel", name) == [pid]
        wait_for(lambda: sr("sr", "status", f"shovel/{name}").returncode == 0, "a clean status")
    finally:
        stopped = sr("sr", "stop", f"shovel/{name}")
        before.close()
        after.close()
    assert stopped.returncode == 0, stopped.stderr
    assert REFUSED not in log.read_text().split("consuming ", 2)[-1]  # not after the fix
