"""The sr_<component> and sr commands, run as an operator runs them (installed console scripts)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from sarra.cli import commands

BIN = Path(sys.executable).parent
SECRET = "Sup3r-s3cret"


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, "EDITOR": "true", **(env or {})},
        timeout=60,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture
def feed(sarra_home: Path) -> Path:
    path = sarra_home / "subscribe" / "feed.conf"
    path.parent.mkdir(parents=True)
    path.write_text(
        f"broker amqps://tsub:{SECRET}@broker.example.org/\n"
        "subtopic observations.#\n"
        "directory /data/obs\naccept .*\\.xml$\n"
    )
    return path


def test_show_gives_values_origins_and_rules_without_the_password(feed: Path) -> None:
    result = run("sr_subscribe", "show", "feed")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "amqps://tsub:***@broker.example.org/" in result.stdout
    assert f"{feed}:1" in result.stdout
    assert "accept .*\\.xml$  ->  directory=/data/obs mirror=False" in result.stdout
    assert "xpublic  v02.post.observations.#" in result.stdout
    assert "expire" in result.stdout and "5m" in result.stdout


def test_password_on_the_command_line_is_never_printed(feed: Path) -> None:
    broker = f"amqp://u:{SECRET}@h/"
    result = run("sr_subscribe", "--broker", broker, "--expire", "soon", "show", "feed")
    assert result.returncode == 2
    assert SECRET not in result.stdout + result.stderr
    assert "command line: expire: 'soon' is not a duration" in result.stderr


def test_config_error_is_file_line_reason_without_traceback(sarra_home: Path) -> None:
    path = sarra_home / "subscribe" / "bad.conf"
    path.parent.mkdir(parents=True)
    path.write_text("broker amqp://localhost/\nsubtopc a.#\n")
    result = run("sr_subscribe", "show", "bad")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"sr_subscribe: {path}:2: unknown option 'subtopc'; did you mean 'subtopic'?"
    )


def test_loose_credentials_are_refused_with_the_fix(sarra_home: Path, feed: Path) -> None:
    credentials = sarra_home / "credentials.conf"
    credentials.write_text(f"amqps://tsub:{SECRET}@broker.example.org/\n")
    credentials.chmod(0o644)
    result = run("sr_subscribe", "show", "feed")
    assert result.returncode == 1
    assert "chmod 600" in result.stderr and str(credentials) in result.stderr
    assert SECRET not in result.stdout + result.stderr
    no_traceback(result)
    credentials.chmod(0o600)
    assert run("sr_subscribe", "show", "feed").returncode == 0


def test_add_list_disable_enable_remove(sarra_home: Path, tmp_path: Path) -> None:
    assert run("sr_subscribe", "add", "dd_swob").returncode == 0
    assert (sarra_home / "subscribe" / "dd_swob.conf").is_file()
    again = run("sr_subscribe", "add", "dd_swob")
    assert again.returncode == 1 and "already exists" in again.stderr

    listing = run("sr_subscribe", "list").stdout
    assert "ddi_ninjo_part1.conf" in listing  # shipped examples
    assert "  dd_swob.conf" in listing  # the user's configs

    assert run("sr_subscribe", "disable", "dd_swob").returncode == 0
    assert (sarra_home / "subscribe" / "dd_swob.conf.off").is_file()
    disabled = run("sr_subscribe", "show", "dd_swob")
    assert disabled.returncode == 1 and "enable dd_swob" in disabled.stderr
    assert "dd_swob (disabled)" in run("sr", "list").stdout
    assert run("sr_subscribe", "enable", "dd_swob").returncode == 0
    assert run("sr_subscribe", "show", "dd_swob").returncode == 0

    assert run("sr_subscribe", "remove", "dd_swob").returncode == 0
    assert not list((sarra_home / "subscribe").iterdir())


def test_add_refuses_a_config_with_errors(tmp_path: Path, sarra_home: Path) -> None:
    source = tmp_path / "broken.conf"
    source.write_text("accept [\n")
    result = run("sr_subscribe", "add", str(source))
    assert result.returncode == 2 and f"{source}:1: accept:" in result.stderr
    assert not (sarra_home / "subscribe" / "broken.conf").exists()


def test_add_a_plugin_goes_to_plugins(tmp_path: Path, sarra_home: Path) -> None:
    plugin = tmp_path / "msg_mine.py"
    plugin.write_text("# a plugin\n")
    assert run("sr_subscribe", "add", str(plugin)).returncode == 0
    assert (sarra_home / "plugins" / "msg_mine.py").is_file()
    assert "msg_mine" in run("sr_subscribe", "list", "plugins").stdout


def test_list_one_file_prints_it_without_the_password(feed: Path, sarra_home: Path) -> None:
    listed = run("sr_subscribe", "list", "feed").stdout
    assert SECRET not in listed
    assert listed == feed.read_text().replace(SECRET, "***")
    credentials = sarra_home / "credentials.conf"
    credentials.write_text(f"sftp://u:{SECRET}@h/\nhttps://h/ bearer_token={SECRET}\n")
    credentials.chmod(0o600)
    listed = run("sr_subscribe", "list", "credentials.conf").stdout
    assert listed == "sftp://u:***@h/\nhttps://h/ bearer_token=***\n"


def test_log_when_there_is_none_says_where_it_looked(feed: Path) -> None:
    result = run("sr_subscribe", "log", "feed")
    assert result.returncode == 1 and "no log yet for feed" in result.stderr


def test_log_shows_the_end_of_each_instance_log(feed: Path, tmp_path: Path) -> None:
    logs = tmp_path / "cache" / "sarra" / "log"
    logs.mkdir(parents=True)
    for instance in (1, 2):
        lines = "".join(f"line {n} of {instance}\n" for n in range(20))
        (logs / f"sr_subscribe_feed_{instance:02d}.log").write_text(lines)
    result = run("sr_subscribe", "log", "feed", "other")  # two configs: no following
    assert result.returncode == 1  # 'other' has no log
    assert "line 19 of 1" in result.stdout and "line 19 of 2" in result.stdout
    assert "line 9 of 1" not in result.stdout


def test_edit_checks_the_config_afterwards(feed: Path) -> None:
    result = run("sr_subscribe", "edit", "feed")
    assert result.returncode == 0 and f"{feed}: valid" in result.stdout


def test_old_argument_order_is_accepted_with_a_warning(feed: Path) -> None:
    result = run("sr_subscribe", "feed", "show")
    assert result.returncode == 0 and "old order" in result.stderr


def test_unknown_command_line_option_suggests(feed: Path) -> None:
    result = run("sr_subscribe", "--expier", "5m", "show", "feed")
    assert result.returncode == 2 and "did you mean --expire?" in result.stderr


def test_flags_on_the_command_line_do_not_swallow_the_action(feed: Path) -> None:
    result = run("sr_subscribe", "--reset", "--notify_only", "false", "show", "feed")
    assert result.returncode == 0, result.stderr
    assert "reset                        True" in result.stdout
    assert "notify_only                  False" in result.stdout


def test_help_lists_options_and_explains_one() -> None:
    listing = run("sr_sarra", "help").stdout
    assert "usage: sr_sarra" in listing and "suppress_duplicates" in listing
    one = run("sr_sarra", "help", "mirror").stdout
    assert "default for sr_sarra: True" in one


def test_sr_check_examples_all_parse() -> None:
    result = run("sr", "check", "--examples")
    assert result.returncode == 0, result.stdout
    assert "0 with errors" in result.stdout


def test_sr_check_reports_faulty_user_configs(feed: Path, sarra_home: Path) -> None:
    (sarra_home / "subscribe" / "bad.conf").write_text("prefetch lots\n")
    result = run("sr", "check")
    assert result.returncode == 1
    assert "ok    subscribe/feed.conf" in result.stdout
    assert "bad.conf:1: prefetch: 'lots' is not a whole number" in result.stdout


def test_sr_post_help_shows_the_path_form() -> None:
    assert "sr_post [options] [-p] path ..." in run("sr_post", "help").stdout


@pytest.mark.parametrize("flag", ["-c", "--config", "-config"])
def test_c_config_names_the_config_as_in_v2(feed: Path, flag: str) -> None:
    result = run("sr_subscribe", flag, "feed", "show")
    assert result.returncode == 0, result.stderr
    assert "accept .*\\.xml$" in result.stdout and "old order" not in result.stderr
    assert run("sr_subscribe", "show", flag, str(feed)).returncode == 0


def test_status_and_stop_without_a_config_act_on_every_config(feed: Path) -> None:
    other = feed.with_name("other.conf")
    other.write_text(feed.read_text())
    feed.with_name("off.conf.off").write_text(feed.read_text())
    status = run("sr_subscribe", "status")
    assert status.returncode == 0, status.stderr
    said = status.stdout.splitlines()
    assert [line for line in said if line.startswith("sr_subscribe")] == [
        "sr_subscribe feed is stopped",
        "sr_subscribe other is stopped",
    ]
    assert [line.split() for line in said if "/" in line] == [
        ["subscribe/feed", "stopped"],
        ["subscribe/other", "stopped"],
    ]
    assert run("sr_subscribe", "stop").stdout.splitlines() == [
        "sr_subscribe feed: stopped",
        "sr_subscribe other: stopped",
    ]
    assert run("sr_sarra", "status").stdout == "sr_sarra: no configs to status\n"
    assert run("sr_subscribe", "cleanup").returncode == 2  # still needs a config


@pytest.mark.parametrize(
    ("component", "name"),
    [("subscribe", "dd_amis.conf"), ("subscribe", "hpfx_amis"), ("sarra", "wmo_mesh.conf"),
     ("sender", "ec2collab"), ("watch", "master.conf"), ("post", "WMO_mesh_post.conf")],
)  # fmt: skip
def test_add_finds_the_examples_v2_users_name(sarra_home: Path, component: str, name: str) -> None:
    added = run(f"sr_{component}", "add", name)
    assert added.returncode == 0, added.stderr
    assert (sarra_home / component / f"{name.removesuffix('.conf')}.conf").is_file()


@pytest.mark.parametrize("name", [command.name for command in commands.COMMANDS])
def test_every_command_says_its_version_and_helps(name: str) -> None:
    """--version prints the installed package's version; --help and -h exit 0."""
    version = run(name, "--version")
    assert (version.returncode, version.stdout) == (0, f"sarra {metadata.version('sarra')}\n")
    for word in ("--help", "-h"):
        helped = run(name, word)
        assert helped.returncode == 0, helped.stderr
        assert "usage: " in helped.stdout and not helped.stderr


def test_sr_help_after_an_action_exits_0() -> None:
    helped = run("sr", "start", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: sr action")
