"""`sr` with sr3's tree: configs of ~/.config/sr3 listed, checked and named as sr3 names them
(component/config), and `sr convert` both ways."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sarra.cli import sr
from sarra.cli.component import main as component_main
from sarra.components import instances
from sarra.config.loader import load

SR3_CONFIG = """\
broker amqp://anonymous@localhost/
topicPrefix v03
subtopic observations.#
nodupe_ttl 10m
identity sha512
fileEvents create,modify
messageRateMax 10
directory /tmp/swob
accept .*
"""

V2_CONFIG = """\
# a v2 subscriber
broker amqp://anonymous@localhost/
subtopic observations.#
sum d
notify_only on
directory /tmp/old
accept .*
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def trees(sarra_home: Path) -> tuple[Path, Path]:
    """(~/.config/sarra, ~/.config/sr3) holding: sr3's dd_swob, sarra's old, a same-named
    sr3 old (shadowed), and an sr3 flow config."""
    sr3 = sarra_home.parent / "sr3"
    write(sr3 / "subscribe" / "dd_swob.conf", SR3_CONFIG)
    write(sarra_home / "subscribe" / "old.conf", V2_CONFIG)
    write(sr3 / "subscribe" / "old.conf", SR3_CONFIG)
    write(sr3 / "flow" / "sched.conf", "callback scheduled\n")
    return sarra_home, sr3


def test_sr_list_shows_both_trees_and_what_is_not_run(
    trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sarra, _ = trees
    assert sr.main(["list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "subscribe/dd_swob (sr3)",
        "subscribe/old",
        "flow/sched (sr3)",
        f"subscribe/old (sr3, not run: shadowed by {sarra / 'subscribe' / 'old.conf'})",
    ]


def test_sr_check_reads_sr3_configs_with_their_warnings(
    trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sarra, sr3 = trees
    assert sr.main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ok    subscribe/dd_swob.conf (sr3)"
    assert out[1] == (f"      warning: {sr3 / 'subscribe' / 'dd_swob.conf'}:7: messageRateMax "
                      "has no effect in sarra: use on_post post_rate_limit")  # fmt: skip
    assert "ok    flow/sched.conf (sr3)" in out  # sr3's generic flow
    assert out[-1] == (f"3 configs in {sarra} and {sr3} checked: 3 ok, 0 with errors; 1 of sr3's "
                       "tree not run here")  # fmt: skip


def test_sr_action_takes_sr3_s_component_slash_config(
    trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sr3 = trees
    assert sr.main(["show", "subscribe/dd_swob"]) == 0
    shown = capsys.readouterr().out
    assert f"# read: {sr3 / 'subscribe' / 'dd_swob.conf'}" in shown
    assert "v03" in shown
    assert sr.main(["show", "subscribe/dd_*"]) == 0
    assert sr.main(["show", "nothing/here"]) == 2
    assert sr.main(["show", "subscribe/zz*"]) == 2
    assert "no config matches" in capsys.readouterr().err


def test_sr_disable_and_enable_an_sr3_config_in_its_own_tree(
    trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sr3 = trees
    assert sr.main(["disable", "subscribe/dd_swob"]) == 0
    assert (sr3 / "subscribe" / "dd_swob.conf.off").is_file()
    assert sr.main(["enable", "subscribe/dd_swob"]) == 0
    assert (sr3 / "subscribe" / "dd_swob.conf").is_file()


def test_sr_convert_v2_to_sr3_and_back_keeps_what_the_config_does(
    sarra_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v2 = write(sarra_home / "subscribe" / "old.conf", V2_CONFIG)
    before = load("subscribe", v2)
    assert sr.main(["convert", "subscribe/old"]) == 0
    converted = sarra_home.parent / "sr3" / "subscribe" / "old.conf"
    text = converted.read_text()
    for line in ("topicPrefix v02.post", "acceptUnmatched False", "identity md5",
                 "download False", "# a v2 subscriber"):  # fmt: skip
        assert line in text.splitlines(), line
    as_sr3 = load("subscribe", converted)
    assert as_sr3.dialect == "sr3"
    for option in ("topic_prefix", "accept_unmatch", "sum", "notify_only", "subtopic", "events"):
        assert getattr(as_sr3, option) == getattr(before, option), option
    assert sr.main(["convert", "subscribe/old"]) == 1  # never replaces a file
    assert "already exists" in capsys.readouterr().err
    v2.unlink()
    assert sr.main(["convert", "--to", "v2", "subscribe/old"]) == 0
    back = load("subscribe", v2)
    assert back.dialect == "v2"
    for option in ("topic_prefix", "accept_unmatch", "sum", "notify_only", "subtopic", "events"):
        assert getattr(back, option) == getattr(before, option), option
    assert "sum d" in v2.read_text().splitlines()


def test_sr_convert_a_config_with_errors_says_file_line(
    sarra_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(sarra_home / "subscribe" / "bad.conf", "broker amqp://anonymous@localhost/\nsubtopik x\n")
    assert sr.main(["convert", "subscribe/bad"]) == 2
    assert "bad.conf:2: unknown option 'subtopik'; did you mean 'subtopic'?" in (
        capsys.readouterr().err
    )


def test_sr_component_list_says_which_configs_are_sr3_s(
    trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, sr3 = trees
    assert component_main("subscribe", ["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"  dd_swob.conf (sr3: {sr3 / 'subscribe' / 'dd_swob.conf'})" in out
    assert "  old.conf" in out


def test_start_refuses_an_sr3_config_that_sr3_runs(
    trees: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process with sr3's command line (`.../sarracenia/instance.py --no 1 start
    subscribe/dd_swob`) runs the config: sr start names it and starts nothing."""
    program = tmp_path / "sarracenia" / "instance.py"
    program.parent.mkdir()
    program.write_text("import sys, time\nprint('up', flush=True)\ntime.sleep(60)\n")
    sr3 = subprocess.Popen(
        [sys.executable, str(program), "--no", "1", "start", "subscribe/dd_swob"],
        stdout=subprocess.PIPE,
    )
    try:
        assert sr3.stdout is not None and sr3.stdout.readline() == b"up\n"
        assert sr.main(["start", "subscribe/dd_swob"]) == 1
        err = capsys.readouterr().err
        assert f"sr3 runs subscribe/dd_swob (pids {sr3.pid})" in err
        assert instances.running_pids("subscribe", "dd_swob") == []
    finally:
        sr3.kill()
        sr3.wait()
