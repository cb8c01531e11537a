"""Many configs on one host, as an operator runs them: `sr start`, `sanity`, `restart` and
`stop` (and sr_<component> naming several configs) act on every config they can; a config that
cannot be read is reported with its file:line and never holds back the others; a disabled
config is stopped, and can always be stopped."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from observekit import configs_by_name, status_json, subscribe_config
from pumpkit import sr, wait_for

from sarra.components import instances

pytestmark = pytest.mark.broker

BROKER = "amqp://guest@127.0.0.1/"
GOOD = [f"feed{n:02d}" for n in range(20)]
BAD = "feed05_regex"
"""Sorted among the good ones: feed00 .. feed05, feed05_regex, feed06 .. feed19."""


@pytest.fixture(autouse=True)
def guest(sarra_home: Path) -> None:
    """The password of the local broker's guest."""
    credentials = sarra_home / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)


def pids(name: str) -> list[int]:
    return instances.running_pids("subscribe", name)


def stop_all(names: list[str]) -> None:
    for name in names:
        instances.stop("subscribe", name)


def test_a_bad_regex_among_twenty_configs_holds_back_none(
    sarra_home: Path, tmp_path: Path, exchange: str
) -> None:
    out = tmp_path / "out"
    for name in GOOD:
        subscribe_config(sarra_home, name, BROKER, exchange, out)
    bad = subscribe_config(sarra_home, BAD, BROKER, exchange, out, "reject .*(unclosed\n")
    failed = f"sr_subscribe {BAD}: {bad}:7: reject: missing ), unterminated subpattern"
    try:
        started = sr("sr", "start")
        assert started.returncode == 1, started.stdout + started.stderr
        for name in GOOD:
            assert f"sr_subscribe {name}: 1 of 1 instances running" in started.stdout
            assert len(pids(name)) == 1, name
        assert failed in started.stderr
        assert started.stderr.splitlines()[-1] == (
            f"sr start: 20 configs done, 1 failed: subscribe/{BAD}"
        )

        [killed] = pids("feed15")
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: not pids("feed15"), "the kill")
        sanity = sr("sr", "sanity")
        assert sanity.returncode == 1, sanity.stdout + sanity.stderr
        assert "sr_subscribe feed15: restarted missing instances 01" in sanity.stdout
        assert len(pids("feed15")) == 1
        assert failed in sanity.stderr
        assert sanity.stderr.splitlines()[-1].endswith(f"1 failed: subscribe/{BAD}")

        before = {name: pids(name) for name in GOOD}
        restarted = sr("sr", "restart")
        assert restarted.returncode == 1, restarted.stdout + restarted.stderr
        for name in GOOD:
            [pid] = pids(name)
            assert [pid] != before[name], f"{name} not restarted"
        assert failed in restarted.stderr

        several = sr("sr_subscribe", "start", "feed00", BAD, "feed19")
        assert several.returncode == 2, several.stdout + several.stderr
        assert failed in several.stderr
        assert "sr_subscribe feed19: 1 of 1 instances running" in several.stdout

        stopped = sr("sr_subscribe", "stop", "feed00", "nothere", "feed19")
        assert stopped.returncode == 2, stopped.stdout + stopped.stderr
        assert "sr_subscribe nothere: no config 'nothere'" in stopped.stderr
        assert pids("feed00") == pids("feed19") == []

        everything = sr("sr", "stop")
        assert everything.returncode == 0, everything.stdout + everything.stderr
        assert all(pids(name) == [] for name in GOOD)
        assert everything.stdout.splitlines()[-1] == "sr stop: 21 configs done"
    finally:
        stop_all([*GOOD, BAD])


def test_disable_stops_a_running_config_and_status_lists_it(
    sarra_home: Path, tmp_path: Path, exchange: str
) -> None:
    subscribe_config(sarra_home, "feed", BROKER, exchange, tmp_path / "out")
    try:
        assert sr("sr_subscribe", "start", "feed").returncode == 0
        [pid] = pids("feed")
        disabled = sr("sr_subscribe", "disable", "feed")
        assert disabled.returncode == 0, disabled.stderr
        assert disabled.stdout.splitlines() == [
            f"disabled feed ({sarra_home / 'subscribe' / 'feed.conf.off'})",
            "sr_subscribe feed: stopped 1 instances",
        ]
        assert pids("feed") == [] and not instances.is_alive(pid)
        status = configs_by_name(status_json())["subscribe/feed"]
        assert (status["state"], status["enabled"], status["problems"]) == ("disabled", False, [])
        assert sr("sr", "start").stdout.splitlines() == ["sr start: 0 configs done"]
        assert pids("feed") == []
    finally:
        stop_all(["feed"])


def test_a_config_disabled_while_running_can_still_be_stopped(
    sarra_home: Path, tmp_path: Path, exchange: str
) -> None:
    """Its file renamed to .conf.off by hand (or by an older sarra, whose disable left it
    running): its own stop, and `sr stop`, stop it."""
    for name in ("one", "two"):
        subscribe_config(sarra_home, name, BROKER, exchange, tmp_path / "out")
    try:
        assert sr("sr", "start").returncode == 0
        for name in ("one", "two"):
            config = sarra_home / "subscribe" / f"{name}.conf"
            config.rename(config.with_name(f"{name}.conf.off"))
        assert len(pids("one")) == 1

        stopped = sr("sr_subscribe", "stop", "one")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout == "sr_subscribe one: stopped 1 instances\n"
        assert pids("one") == []

        assert len(pids("two")) == 1
        everything = sr("sr", "stop")
        assert everything.returncode == 0, everything.stderr
        assert "sr_subscribe two: stopped 1 instances" in everything.stdout
        assert pids("two") == []
    finally:
        stop_all(["one", "two"])
