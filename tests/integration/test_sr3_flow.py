"""sr3's generic flow component on the real RabbitMQ: a config of ~/.config/sr3/flow/ without
flowMain, as sr3's example bc_trans.conf is written (`callback scheduled`, `path` lines below a
post_baseUrl, `callback post.message`), started by `sr start flow/NAME`: at each appointment its
URLs are posted to post_exchange, where a watcher receives them; `sr status flow/NAME` shows it
running and `sr stop flow/NAME` stops it. A flow with `flowMain shovel` runs as a shovel, its
logs and state under flow/NAME."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pumpkit import announce, declare, file_notice, sr, take, wait_for, watch

from sarra.components.instances import running_pids
from sarra.config import paths
from sarra.config.loader import load

pytestmark = pytest.mark.broker


def sr3_flow(tmp_path: Path, name: str, text: str) -> Path:
    """A config of the flow/ directory of ~/.config/sr3, with the broker's password beside."""
    tree = tmp_path / "config" / "sr3"
    (tree / "flow").mkdir(parents=True, exist_ok=True)
    credentials = tree / "credentials.conf"
    credentials.write_text("amqp://guest:guest@127.0.0.1/\n")
    credentials.chmod(0o600)
    path = tree / "flow" / f"{name}.conf"
    path.write_text(text)
    return path


def test_a_scheduled_flow_posts_its_urls_at_each_appointment(tmp_path: Path) -> None:
    exchange = f"xs_flow_{uuid.uuid4().hex[:8]}"
    name = f"sched_{uuid.uuid4().hex[:6]}"
    path = sr3_flow(tmp_path, name, (
        "callback scheduled\ncallback post.message\nscheduled_interval 1\n"
        "post_baseUrl https://example.com/api/\npath /report/all/\npath /report/one/\n"
        f"filename None\npost_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
    ))  # fmt: skip
    watcher = watch(load("flow", path), exchange)
    try:
        assert sr("sr", "check").returncode == 0
        started = sr("sr", "start", f"flow/{name}")
        assert started.returncode == 0, started.stderr
        first = take(watcher, 2)  # the first appointment: at the start
        assert sorted(n.url for n in first) == [
            "https://example.com/api/report/all/", "https://example.com/api/report/one/"
        ]  # fmt: skip
        again = take(watcher, 2)  # and a second later, again
        assert sorted(n.rel_path for n in again) == ["report/all/", "report/one/"]
        status = sr("sr", "status", f"flow/{name}")
        assert "running" in status.stdout, status.stdout + status.stderr
    finally:
        stopped = sr("sr", "stop", f"flow/{name}")
        watcher.close()
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: not running_pids("flow", name), "the flow to stop")


def test_a_flow_with_flow_main_runs_as_that_component(tmp_path: Path) -> None:
    source, onward = (f"xs_flowmain_{uuid.uuid4().hex[:8]}" for _ in range(2))
    name = f"main_{uuid.uuid4().hex[:6]}"
    path = sr3_flow(tmp_path, name, (
        f"flowMain shovel\nbroker amqp://guest@127.0.0.1/\nexchange {source}\n"
        "topicPrefix v02.post\nsubtopic #\nexpire 1m\n"
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {onward}\n"
    ))  # fmt: skip
    config = load("flow", path)
    assert (config.component, config.home, config.dialect) == ("shovel", "flow", "sr3")
    declare(config, source)
    watcher = watch(config, onward)
    try:
        started = sr("sr", "start", f"flow/{name}")
        assert started.returncode == 0, started.stderr
        log = paths.log_file("flow", name, 1)
        wait_for(lambda: log.is_file() and "consumer pid" in log.read_text(), "the consumer")
        announce(config, [file_notice("https://example.com/", "a/b.txt", b"data")], source)
        (passed,) = take(watcher, 1)
        assert passed.url == "https://example.com/a/b.txt"
    finally:
        stopped = sr("sr", "stop", f"flow/{name}")
        watcher.close()
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: not running_pids("flow", name), "the flow to stop")


def test_check_and_start_refuse_a_flow_whose_callbacks_gather_nothing(tmp_path: Path) -> None:
    # a callback with a poll entry point only: sr3 runs poll in a poll alone (flowMain poll)
    plugins = tmp_path / "config" / "sr3" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "onlypoll.py").write_text(
        "class Onlypoll:\n    def __init__(self, options):\n        self.o = options\n\n"
        "    def poll(self):\n        return []\n"
    )
    name = f"idle_{uuid.uuid4().hex[:6]}"
    sr3_flow(tmp_path, name, "callback onlypoll\npost_broker amqp://guest@127.0.0.1/\n"
             "post_exchange xs_guest\n")  # fmt: skip
    reason = (
        f"{name}: a flow without flowMain needs a callback that gathers (callback scheduled,"
        " gather.file...); a callback's poll runs only in a poll (flowMain poll)"
    )
    checked = sr("sr", "check")
    assert checked.returncode == 1, checked.stdout
    assert f"ERROR flow/{name}.conf (sr3)\n      {reason}\n" in checked.stdout
    started = sr("sr", "start", f"flow/{name}")
    assert started.returncode != 0
    assert reason in started.stderr
    assert not running_pids("flow", name)


def test_reload_runs_the_loop_of_the_flow_main_now_written(tmp_path: Path) -> None:
    source, onward = (f"xs_reload_{uuid.uuid4().hex[:8]}" for _ in range(2))
    name = f"reload_{uuid.uuid4().hex[:6]}"
    post = f"post_broker amqp://guest@127.0.0.1/\npost_exchange {onward}\n"
    path = sr3_flow(tmp_path, name, (
        f"flowMain shovel\nbroker amqp://guest@127.0.0.1/\nexchange {source}\n"
        f"topicPrefix v02.post\nsubtopic #\nexpire 1m\n{post}"
    ))  # fmt: skip
    declare(load("flow", path), source)
    log = paths.log_file("flow", name, 1)
    try:
        started = sr("sr", "start", f"flow/{name}")
        assert started.returncode == 0, started.stderr
        wait_for(lambda: log.is_file() and "consumer pid" in log.read_text(), "the shovel")
        path.write_text(
            "callback scheduled\ncallback post.message\nscheduled_interval 1\n"
            f"post_baseUrl https://example.com/api/\npath /report/all/\nfilename None\n{post}"
        )
        watcher = watch(load("flow", path), onward)
        try:
            reloaded = sr("sr", "reload", f"flow/{name}")
            assert reloaded.returncode == 0, reloaded.stderr
            (posted, *_) = take(watcher, 1)  # the scheduled flow's, not the shovel's
            assert posted.url == "https://example.com/api/report/all/"
        finally:
            watcher.close()
    finally:
        stopped = sr("sr", "stop", f"flow/{name}")
    assert stopped.returncode == 0, stopped.stderr
    wait_for(lambda: not running_pids("flow", name), "the flow to stop")
