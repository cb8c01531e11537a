"""sr3's configs as they are: its option names (mapped to ours, or warned about), its defaults
for configs in ~/.config/sr3, its tree (configs, credentials.conf), and a name in both trees."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import config_names, load, resolve_config_path, shadowed
from sarra.config.options import COMPONENTS, OPTIONS, find
from sarra.config.variables import base_url_values, date_value, is_per_notice
from sarra.flow.placement import Placement, onward_base_url, onward_rel_path, place
from sarra.flow.send import Sender
from sarra.message.notice import Notice, epoch_to_time
from sarra.transfer.confine import PathRefused

SR3_SUBSCRIBER = """\
broker amqps://anonymous@dd.weather.gc.ca/
topicPrefix v03
subtopic observations.swob-ml.#
acceptUnmatched off
nodupe_ttl 10m
callback log
flowcb accept.httptohttps
logEvents after_accept,after_work
messageRateMax 10
fileEvents create,modify
post_baseUrl http://localhost/
directory /tmp/swob
accept .*
"""
"""A plain sr3 subscriber: each of the nine lines v2's table refused is an sr3 name."""


def sr3_tree(home: Path) -> Path:
    """~/.config/sr3 beside the ~/.config/sarra of sarra_home."""
    return home.parent / "sr3"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_plain_sr3_subscriber_reads_with_its_names_mapped(sarra_home: Path) -> None:
    path = write(sr3_tree(sarra_home) / "subscribe" / "swob.conf", SR3_SUBSCRIBER)
    config = load("subscribe", path)
    assert config.dialect == "sr3"
    assert config.topic_prefix == "v03"
    assert config.accept_unmatch is False
    assert config.suppress_duplicates == 600.0
    assert config.events == "create|modify"
    assert config.post_base_url == "http://localhost/"
    assert [line[1] for line in config.plugin_lines] == ["log", "accept.httptohttps"]
    assert config.warnings == [f"{path}:9: messageRateMax has no effect in sarra: use on_post "
                               "post_rate_limit"]  # fmt: skip


def test_sr3_defaults_only_for_configs_of_the_sr3_tree(sarra_home: Path) -> None:
    body = "broker amqp://anonymous@localhost/\n"
    sr3 = load("subscribe", write(sr3_tree(sarra_home) / "subscribe" / "a.conf", body))
    v2 = load("subscribe", write(sarra_home / "subscribe" / "a.conf", body))
    assert (sr3.topic_prefix, v2.topic_prefix) == ("v03", "v02.post")
    assert (sr3.accept_unmatch, v2.accept_unmatch) == (True, False)
    assert (sr3.sum, v2.sum) == ("s", "d")
    assert (sr3.post_format, v2.post_format) == ("v03", "auto")
    watch = load("watch", write(sr3_tree(sarra_home) / "watch" / "w.conf", body))
    assert watch.events == "create|delete|link|mkdir|modify|rmdir"
    assert (watch.post_on_start, watch.blocksize) == (False, 1)
    winnow = load("winnow", write(sr3_tree(sarra_home) / "winnow" / "w.conf", body))
    assert winnow.suppress_duplicates == 300.0
    poll = load("poll", write(sr3_tree(sarra_home) / "poll" / "p.conf", body))
    assert (poll.sum, poll.file_time_limit) == ("z,s", 30 * 86400.0)


def test_sr3_defaults_are_only_those_that_differ_from_v2_s() -> None:
    for option in OPTIONS.values():
        for key, value in option.sr3_default.items():
            own = option.sr3_default.keys()
            components = [c for c in COMPONENTS if c not in own] if key == "*" else [key]
            assert all(option.default_for(c, "sr3") == value for c in components)
            assert any(option.default_for(c) != value for c in components), option.name


@pytest.mark.parametrize(
    ("line", "option", "value"),
    [
        ("identity sha512", "sum", "s"),
        ("identity md5", "sum", "d"),
        ("integrity cod,md5", "sum", "z,d"),
        ("identity arbitrary", "sum", "a"),
        ("sum s", "sum", "s"),
        ("sum sha512", "sum", "s"),
        ("events create,modify", "events", "create|modify"),
        ("download off", "notify_only", True),
        ("download", "notify_only", False),
        ("fileEvents +mkdir", "events", "create|delete|link|mkdir|modify"),
        ("fileEvents -link,delete", "events", "create|modify"),
        ("fileEvents all", "events", "create|delete|link|mkdir|modify|rmdir"),
        ("byteRateMax 1m", "kbytes_ps", 1024),
        ("permDefault 0o644", "chmod", 0o644),
        ("housekeeping 1m", "heartbeat", 60.0),
        ("logRotateCount 9", "logrotate", 9),
        ("sendTo sftp://user@host/", "destination", "sftp://user@host/"),
        ("pollUrl sftp://user@host/", "destination", "sftp://user@host/"),
        ("queueName q_anonymous.mine", "queue", "q_anonymous.mine"),
        ("report on", "report_back", True),
        ("MemoryMax 1g", "hb_memory_max", 1 << 30),
    ],
)
def test_sr3_values_read_as_ours(tmp_path: Path, line: str, option: str, value: object) -> None:
    path = write(tmp_path / "c.conf", f"broker amqp://anonymous@localhost/\n{line}\n")
    assert getattr(load("sender", path), option) == value


def test_sr3_options_without_effect_are_warned_with_file_and_line(tmp_path: Path) -> None:
    body = "broker amqp://anonymous@localhost/\naccept .*\nlogJson on\nrunStateThreshold_lag 30\n"
    path = write(tmp_path / "c.conf", body)
    config = load("subscribe", path)
    assert config.warnings == [
        f"{path}:3: logJson has no effect in sarra: sarra has no such setting",
        f"{path}:4: runStateThreshold_lag has no effect in sarra: sr status has its own thresholds",
    ]


def test_a_mistyped_sr3_name_gets_file_line_and_the_sr3_name(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "broker amqp://anonymous@localhost/\ntopicPrefx v03\n")
    with pytest.raises(ConfigErrors) as caught:
        load("subscribe", path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:2: unknown option 'topicPrefx'; did you mean 'topicPrefix'?"
    ]


def test_an_sr3_value_of_the_wrong_kind_is_file_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "broker amqp://anonymous@localhost/\ndownload maybe\n")
    with pytest.raises(ConfigErrors) as caught:
        load("subscribe", path)
    assert str(caught.value.errors[0]).startswith(f"{path}:2: download: 'maybe' is not a boolean")


def test_the_sr3_tree_s_default_conf_is_read_for_its_configs_only(sarra_home: Path) -> None:
    write(sr3_tree(sarra_home) / "default.conf", "logLevel debug\n")
    write(sarra_home / "default.conf", "loglevel warning\n")
    body = "broker amqp://anonymous@localhost/\n"
    assert load("shovel", write(sr3_tree(sarra_home) / "shovel" / "s.conf", body)).loglevel == (
        "debug"
    )
    assert load("shovel", write(sarra_home / "shovel" / "s.conf", body)).loglevel == "warning"


def test_configs_of_both_trees_are_found_and_sarra_s_wins_a_name_in_both(
    sarra_home: Path,
) -> None:
    body = "broker amqp://anonymous@localhost/\n"
    mine = write(sarra_home / "subscribe" / "both.conf", body)
    theirs = write(sr3_tree(sarra_home) / "subscribe" / "both.conf", body)
    only_sr3 = write(sr3_tree(sarra_home) / "subscribe" / "dd_swob.conf", body)
    write(sr3_tree(sarra_home) / "subscribe" / "off.conf.off", body)
    assert config_names("subscribe") == ["both", "dd_swob"]
    assert config_names("subscribe", disabled=True) == ["off"]
    assert resolve_config_path("subscribe", "dd_swob") == only_sr3
    assert resolve_config_path("subscribe", "both") == mine
    assert shadowed("subscribe") == [theirs]
    with pytest.raises(ConfigError, match="disabled"):
        resolve_config_path("subscribe", "off")


def test_a_disabled_config_of_sarra_s_shadows_sr3_s_of_the_same_name(sarra_home: Path) -> None:
    body = "broker amqp://anonymous@localhost/\n"
    write(sarra_home / "subscribe" / "x.conf.off", body)
    theirs = write(sr3_tree(sarra_home) / "subscribe" / "x.conf", body)
    assert config_names("subscribe") == []
    assert config_names("subscribe", disabled=True) == ["x"]
    assert shadowed("subscribe") == [theirs]
    with pytest.raises(ConfigError, match="disabled"):
        resolve_config_path("subscribe", "x")


def test_sr3_credentials_follow_sarra_s(sarra_home: Path) -> None:
    mine = write(sarra_home / "credentials.conf", "amqp://alice:mine@broker/\n")
    theirs = write(
        sr3_tree(sarra_home) / "credentials.conf",
        "amqp://alice:theirs@broker/\nsftp://bob@host/ ssh_keyfile=/k,login_method=publickey\n",
    )
    for path in (mine, theirs):
        os.chmod(path, 0o600)
    found = Credentials.load(paths.credentials_file())
    assert found.lookup("amqp://alice@broker/").password == "mine"
    assert found.lookup("sftp://bob@host/").ssh_keyfile == "/k"


def test_every_sr3_name_stands_for_one_option() -> None:
    for option in OPTIONS.values():
        for name in option.sr3:
            assert find(name) is option


def test_sr3_s_strftime_dates_with_offsets() -> None:
    now = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert date_value("%Y%m%d", now) == "20240501"
    assert date_value("%o-1h%Y%m%d_%H", now) == "20240501_11"
    assert date_value("%o+2d%j", now) == "124"
    assert is_per_notice("%Y/%m/%d")


def test_sr3_s_date_in_a_directory_is_kept_for_each_notice(tmp_path: Path) -> None:
    body = "broker amqp://anonymous@localhost/\ndirectory /data/${%Y%m%d}\naccept .*\n"
    config = load("subscribe", write(tmp_path / "c.conf", body))
    assert config.masks[0].directory == "/data/${%Y%m%d}"


def test_post_broker_user_is_a_variable(tmp_path: Path) -> None:
    body = "post_broker amqp://feeder@localhost/\npost_exchange xs_${POST_BROKER_USER}\n"
    assert load("shovel", write(tmp_path / "c.conf", body)).post_exchange == "xs_feeder"


def test_sr3_s_base_url_path_variables_fill_directory_and_post_base_url(tmp_path: Path) -> None:
    """sr3's ${BUP} and ${BUPL}: the path of a received notice's base URL, and its last element
    (sr3's example subscribe/hpfxWIS2DownloadAll.conf uses both places)."""
    body = (
        "broker amqp://anonymous@localhost/\nmirror True\ndirectory /tmp/sketch/${BUPL}\n"
        "post_baseUrl http://localhost/${BUPL}\npost_baseDir /tmp/sketch\naccept .*\n"
    )
    config = load("subscribe", write(tmp_path / "c.conf", body))
    assert config.post_base_url == "http://localhost/${BUPL}"
    notice = Notice("20240501123000", "https://hpfx.example/~me/WMO_Sketch", "a/b.xml")
    placement = place(notice, config.masks[0], config.masks[0])
    assert str(placement.path) == "/tmp/sketch/WMO_Sketch/a/b.xml"
    assert onward_base_url(config.post_base_url, notice) == "http://localhost/WMO_Sketch"
    assert base_url_values(notice.base_url) == {"BUP": "/~me/WMO_Sketch", "BUPL": "WMO_Sketch"}


@pytest.mark.parametrize(
    ("directory", "base_url"),
    [
        ("/tmp/sketch/${BUPL}", "https://h/.."),
        ("/tmp/sketch/${BUP}", "https://h/a/../../.."),
        ("${BUP}", "https://h/etc"),
        ("sub/${BUP}", "https://h/../../x"),
    ],
)
def test_a_notice_s_values_never_lead_the_directory_out(
    tmp_path: Path, directory: str, base_url: str
) -> None:
    """What a notice gives a directory (its base URL path here) is confined below the fixed
    head of the directory: no climbing out of it, no absolute directory from a notice."""
    body = f"broker amqp://anonymous@localhost/\nmirror True\ndirectory {directory}\naccept .*\n"
    config = load("subscribe", write(tmp_path / "c.conf", body))
    notice = Notice("20240501123000", base_url, "a/b.xml")
    with pytest.raises(PathRefused, match="a notice's values"):
        place(notice, config.masks[0], config.masks[0])


def test_a_notice_s_value_that_only_looks_like_a_climb_is_kept(tmp_path: Path) -> None:
    body = "broker amqp://anonymous@localhost/\nmirror True\ndirectory /t/s${BUPL}\naccept .*\n"
    config = load("subscribe", write(tmp_path / "c.conf", body))
    notice = Notice("20240501123000", "https://h/x/..", "a/b.xml")  # the name s.., no climb
    assert str(place(notice, config.masks[0], config.masks[0]).path) == "/t/s../a/b.xml"


def test_base_url_path_variables_are_refused_where_no_notice_is_received(tmp_path: Path) -> None:
    body = "post_broker amqp://localhost/\npost_baseUrl http://localhost/${BUPL}\npath /tmp\n"
    with pytest.raises(ConfigErrors) as caught:
        load("post", write(tmp_path / "p.conf", body))
    assert str(caught.value).endswith(
        "p.conf:2: post_base_url: ${BUP} and ${BUPL} come from a received notice's base URL:"
        " sr_post receives none"
    )


def test_post_base_url_dates_are_still_filled_in_on_read(tmp_path: Path) -> None:
    body = "post_broker amqp://localhost/\npost_baseUrl http://localhost/${YYYY}/\npath /tmp\n"
    config = load("post", write(tmp_path / "p.conf", body))
    assert "${" not in config.post_base_url


def test_in_sr3_s_tree_the_source_is_the_post_broker_s_user_and_replaces_the_notice_s(
    sarra_home: Path,
) -> None:
    body = "broker amqp://reader@localhost/\npost_broker amqp://writer@localhost/\n"
    shovel = load("shovel", write(sr3_tree(sarra_home) / "shovel" / "s.conf", body))
    assert (shovel.source, shovel.source_from_message) == ("writer", False)
    reader = load(
        "subscribe", write(sr3_tree(sarra_home) / "subscribe" / "r.conf", body.split("\n")[0])
    )
    assert reader.source == "reader"
    own = load("shovel", write(sr3_tree(sarra_home) / "shovel" / "o.conf", body + "source me\n"))
    assert own.source == "me"
    by_exchange = body + "sourceFromExchange on\n"
    assert (
        load("sarra", write(sr3_tree(sarra_home) / "sarra" / "x.conf", by_exchange)).source is None
    )
    v2 = load("shovel", write(sarra_home / "shovel" / "s.conf", body))
    assert (v2.source, v2.source_from_message) == (None, True)


def test_an_onward_rel_path_has_no_leading_slash_in_sr3_s_tree_only() -> None:
    assert onward_rel_path("/data/mesh/a/b.txt", "/data/mesh", "sr3") == "a/b.txt"
    assert onward_rel_path("/data/mesh/a/b.txt", "/data/mesh", "v2") == "/a/b.txt"
    assert onward_rel_path("/other/b.txt", "/data/mesh", "sr3") == "other/b.txt"


def test_a_sender_of_sr3_s_tree_reads_a_file_notice_below_base_dir(
    sarra_home: Path, tmp_path: Path
) -> None:
    (tmp_path / "base" / "out").mkdir(parents=True)
    (tmp_path / "base" / "out" / "a.txt").write_bytes(b"hello")
    body = f"destination file://{tmp_path / 'dest'}\nbaseDir {tmp_path / 'base'}\n"
    notice = Notice(epoch_to_time(0), "file:", "out/a.txt", size=5)  # as sr3's watch posts
    outcomes = {}
    for tree in (sr3_tree(sarra_home), sarra_home):
        dest = tmp_path / "dest" / tree.name
        dest.mkdir(parents=True)
        worker = Sender(load("sender", write(tree / "sender" / "s.conf", body)), Credentials())
        outcomes[tree.name] = worker.handle(notice, Placement(dest, dest / "a.txt")).status
    assert outcomes == {"sr3": "done", "sarra": "permanent"}  # v2's: the path /out/a.txt
    assert (tmp_path / "dest" / "sr3" / "a.txt").read_bytes() == b"hello"


def test_an_sr3_poll_lists_its_path_lines_each_through_every_mask(sarra_home: Path) -> None:
    body = "pollUrl sftp://u@host/\npath /a\nreject .*\\.txt$\npath /b\naccept .*\\.dat$\n"
    poll = load("poll", write(sr3_tree(sarra_home) / "poll" / "p.conf", body))
    found = [(m.directory, m.accept, m.pattern) for m in poll.masks]
    rules = [(False, ".*\\.txt$"), (True, ".*\\.dat$"), (True, ".*")]  # acceptUnmatched: last
    assert found == [(d, *rule) for d in ("/a", "/b") for rule in rules]
    assert poll.directory == "/a"  # nothing else listed
    v2 = load("poll", write(sarra_home / "poll" / "p.conf", body.replace("path /b\n", "")))
    assert {m.directory for m in v2.masks} == {"."}  # v2's poll lists directory lines
