"""The plugin loader and runner: the search path, both established forms, config order,
False, exceptions (traceback logged once), protocol plugins by scheme, load failures and
undeclared options reported as file:line, and `list plugins` / `add x.py`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from sarra.cli.component import main
from sarra.compat.plugin_parent import Msg
from sarra.compat.plugins import PluginFailed, Plugins, find, shipped_dir
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, load
from sarra.flow.job import Job, job_placement
from sarra.flow.placement import Placement
from sarra.message.notice import Notice, epoch_to_time
from sarra.transfer.confine import PathRefused

ENTRY_FORM = """
class Tagger:
    def __init__(self, parent):
        parent.declare_option("tag")
        self.tag = parent.tag[0] if hasattr(parent, "tag") else "none"

    def on_message(self, parent):
        parent.seen.append(("{name}", self.tag))
        return {result}

tagger = Tagger(self)
self.on_message = tagger.on_message
"""

CLASS_FORM = """
class Everything:
    def __init__(self, parent):
        parent.started = []

    def on_start(self, parent):
        parent.started.append("start")

    def on_message(self, parent):
        parent.seen.append(("class", None))
        return True

    def on_file(self, parent):
        return False

    def helper(self):
        return "not an entry point"

self.plugin = 'Everything'
"""

PROTOCOL = """
class Getter:
    def __init__(self, parent):
        pass

    def registered_as(self):
        return ["ftp", "weird"]

    def do_get(self, parent):
        return {answer}

self.plugin = 'Getter'
"""


@pytest.fixture
def user_plugins(sarra_home: Path) -> Path:
    directory = sarra_home / "plugins"
    directory.mkdir()
    return directory


def config_with(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "p.conf"
    path.write_text("broker amqp://guest@localhost/\naccept .*\n" + body)
    return load("subscribe", path)


def loaded(tmp_path: Path, body: str) -> Plugins:
    plugins = Plugins.load(config_with(tmp_path, body))
    plugins.parent.seen = []
    return plugins


def a_notice() -> Notice:
    return Notice(epoch_to_time(time.time()), "http://example.com/", "a/b.txt", size=3)


def test_user_plugins_come_before_the_shipped_ones_and_py_is_optional(user_plugins: Path) -> None:
    assert find("msg_log") == shipped_dir() / "msg_log.py"
    (user_plugins / "msg_log.py").write_text("self.on_message = lambda parent: True\n")
    assert find("msg_log") == user_plugins / "msg_log.py"
    assert find("msg_log.py") == user_plugins / "msg_log.py"


def test_plugins_of_an_entry_point_run_in_config_order_until_one_returns_false(
    tmp_path: Path, user_plugins: Path
) -> None:
    for name, result in (("first", "True"), ("stopper", "False"), ("never", "True")):
        (user_plugins / f"{name}.py").write_text(ENTRY_FORM.format(name=name, result=result))
    plugins = loaded(tmp_path, "tag x\non_message first\non_message stopper\non_message never\n")
    assert plugins.run("on_message", plugins.message(a_notice())) is False
    assert plugins.parent.seen == [("first", "x"), ("stopper", "x")]


def test_none_clears_the_plugins_of_an_entry_point(tmp_path: Path, user_plugins: Path) -> None:
    (user_plugins / "first.py").write_text(ENTRY_FORM.format(name="first", result="True"))
    plugins = loaded(tmp_path, "on_message first\non_message None\n")
    assert not plugins.has("on_message")
    assert not plugins


def test_the_class_form_registers_every_entry_point_method_in_order_with_others(
    tmp_path: Path, user_plugins: Path
) -> None:
    (user_plugins / "everything.py").write_text(CLASS_FORM)
    (user_plugins / "first.py").write_text(ENTRY_FORM.format(name="first", result="True"))
    plugins = loaded(tmp_path, "on_message first\nplugin everything\n")
    assert set(plugins.hooks) == {"on_start", "on_message", "on_file"}
    plugins.event("on_start")
    assert plugins.parent.started == ["start"]
    assert plugins.run("on_message", plugins.message(a_notice()))
    assert plugins.parent.seen == [("first", "none"), ("class", None)]
    assert plugins.run("on_file", plugins.message(a_notice())) is False


def test_an_exception_is_raised_as_plugin_failed_with_its_traceback_logged_once(
    tmp_path: Path, user_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (user_plugins / "bad.py").write_text(
        "def broken(parent):\n    raise KeyError('no such thing')\nself.on_message = broken\n"
    )
    plugins = loaded(tmp_path, "on_message bad\n")
    for _ in range(3):
        with pytest.raises(PluginFailed, match=r"bad\.on_message failed: KeyError"):
            plugins.run("on_message", plugins.message(a_notice()))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert errors[0].exc_info is not None
    assert all(r.exc_info is None for r in errors[1:])
    plugins.event("on_message")  # events log and go on


def test_protocol_plugins_answer_for_their_schemes_only(tmp_path: Path, user_plugins: Path) -> None:
    (user_plugins / "getter.py").write_text(PROTOCOL.format(answer="True"))
    (user_plugins / "fallback.py").write_text(PROTOCOL.format(answer="None"))
    plugins = loaded(tmp_path, "do_get fallback\ndo_get getter\n")
    msg = plugins.message(a_notice())
    assert plugins.transfer("do_get", "ftp", msg) is True
    assert plugins.transfer("do_get", "http", msg) is None
    assert plugins.transfer("do_send", "ftp", msg) is None
    (user_plugins / "failing.py").write_text(PROTOCOL.format(answer="False"))
    failing = loaded(tmp_path, "do_get failing\n")
    assert failing.transfer("do_get", "weird", msg) is False


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (None, 3, "plugin nowhere: not found"),
        ("self.on_message = (\n", 3, "nowhere.py:1: "),
        ("raise OSError('disk')\n", 3, "cannot load: OSError: disk"),
        ("self.on_file = lambda p: True\n", 3, "registers no on_message"),
        ("x = 1\n", 3, "registers no on_message"),
        ("self.plugin = 'Missing'\n", 3, "does not define as a class"),
        ("class A:\n  def __init__(self, p): 1/0\nself.plugin = 'A'\n", 3, "A(parent) failed"),
        ("self.on_message = 42\n", 3, "is not a function"),
    ],
)
def test_a_plugin_that_cannot_load_is_a_config_error_at_its_line(
    tmp_path: Path, user_plugins: Path, text: str | None, line: int, reason: str
) -> None:
    if text is not None:
        (user_plugins / "nowhere.py").write_text(text)
    config = config_with(tmp_path, "on_message nowhere\n")
    with pytest.raises(ConfigError) as caught:
        Plugins.load(config)
    assert f"p.conf:{line}: " in str(caught.value)
    assert reason in str(caught.value)


def test_options_no_plugin_declares_are_errors_at_their_line(
    tmp_path: Path, user_plugins: Path
) -> None:
    (user_plugins / "first.py").write_text(ENTRY_FORM.format(name="first", result="True"))
    config = config_with(tmp_path, "tag x\ntga y\non_message first\nunheard_of 3\n")
    assert config.plugin_options == {"tag": ["x"], "tga": ["y"], "unheard_of": ["3"]}
    with pytest.raises(ConfigError) as caught:
        Plugins.load(config)
    text = str(caught.value)
    assert "p.conf:4: unknown option 'tga'; did you mean 'tag'?" in text
    assert "p.conf:6: unknown option 'unheard_of' (no plugin declares it)" in text
    assert "p.conf:3:" not in text  # tag is declared


def test_options_after_the_plugin_line_are_read_too(tmp_path: Path, user_plugins: Path) -> None:
    (user_plugins / "first.py").write_text(ENTRY_FORM.format(name="first", result="True"))
    plugins = loaded(tmp_path, "on_message first\ntag late\n")
    plugins.run("on_message", plugins.message(a_notice()))
    assert plugins.parent.seen == [("first", "late")]


def test_no_plugin_loads_nothing(tmp_path: Path) -> None:
    plugins = Plugins.load(config_with(tmp_path, ""))
    assert not plugins
    assert plugins.run("on_message", None)


def test_list_plugins_shows_the_search_path_and_add_copies_into_it(
    tmp_path: Path, sarra_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text("self.on_message = lambda parent: True\n")
    assert main("subscribe", ["add", str(mine)]) == 0
    assert (sarra_home / "plugins" / "mine.py").read_text() == mine.read_text()
    assert main("subscribe", ["add", "msg_log.py"]) == 0  # a shipped one, to change
    assert (sarra_home / "plugins" / "msg_log.py").is_file()
    capsys.readouterr()
    assert main("subscribe", ["list", "plugins"]) == 0
    out = capsys.readouterr().out
    user, shipped = out.split("Shipped plugins")
    assert f"User plugins ({sarra_home / 'plugins'})" in user
    assert "  mine\n" in user and "  msg_log\n" in user
    assert "  msg_speedo\n" in shipped and "__init__" not in shipped


def test_new_dir_and_new_file_from_plugins_are_confined(tmp_path: Path) -> None:
    root = tmp_path / "root"
    placement = Placement(root, root / "a" / "b.txt")
    job = Job(a_notice(), None, None)
    job.msg = Msg(a_notice(), new_dir=str(root / "a"), new_file="b.txt")
    assert job_placement(job, placement) is placement
    assert job.msg is not None
    job.msg.new_dir, job.msg.new_file = str(root / "c"), "d.txt"
    assert job_placement(job, placement) == Placement(root, root / "c" / "d.txt")
    job.msg.new_dir = str(tmp_path / "elsewhere")
    assert job_placement(job, placement).path == tmp_path / "elsewhere" / "d.txt"
    job.msg.new_file = "../../escape.txt"
    with pytest.raises(PathRefused):
        job_placement(job, placement)
    remote = Placement(Path("data"), Path("data/a/b.txt"))
    job.msg.new_dir, job.msg.new_file = "data/c", "d.txt"
    assert job_placement(job, remote, remote=True) == Placement(Path("data"), Path("data/c/d.txt"))
