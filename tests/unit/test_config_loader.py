"""The configuration language: read order, includes, variables, masks and their captures,
errors with file:line."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sarra.config.errors import ConfigError, ConfigErrors
from sarra.config.loader import load, resolve_config_path
from sarra.config.options import COMPONENTS, OPTIONS, Kind
from sarra.flow.rules import Rules

# The two configs of the subscriber guide (seeds/sarracenia-subscriber-guide.txt), verbatim.
DD_SWOB = """\
broker amqp://
subtopic observations.swob-ml.#
accept .*
# write all SWOBS into the current working directory.
"""

NINJO = """\
broker amqp://
subtopic ec.ops.*.*.ninjo-a.#

directory /tmp/apps/ninjo/import/point/reports/in
accept .*ABFS_1.0.*
accept .*AQHI_1.0.*
accept .*AMDAR_1.0.*

directory /tmp/apps/ninjo/import/point/catalog_common/in
accept .*ninjo-station-catalogue.*

directory /tmp/apps/ninjo/import/point/scit_sac/in
accept .*~~SAC,SAC_MAXR.*

directory /tmp/apps/ninjo/import/point/scit_tracker/in
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors_of(excinfo: pytest.ExceptionInfo[ConfigErrors]) -> list[str]:
    return [str(e) for e in excinfo.value.errors]


def test_dd_swob_binds_subtopic_and_accepts_all(tmp_path: Path) -> None:
    config = load("subscribe", write(tmp_path / "dd_swob.conf", DD_SWOB))
    assert config.broker == "amqp://"
    assert config.exchange == "xpublic"
    [binding] = config.bindings
    assert (binding.exchange, binding.topic_prefix, binding.subtopic) == (
        "xpublic",
        "v02.post",
        "observations.swob-ml.#",
    )
    [mask] = config.masks
    assert mask.accept and mask.pattern == ".*" and mask.directory == "."
    assert mask.mirror is False


def test_ninjo_directories_apply_to_the_accepts_that_follow(tmp_path: Path) -> None:
    config = load("subscribe", write(tmp_path / "ninjo.conf", NINJO))
    captured = [(m.pattern, m.directory) for m in config.masks]
    base = "/tmp/apps/ninjo/import/point"
    assert captured == [
        (".*ABFS_1.0.*", f"{base}/reports/in"),
        (".*AQHI_1.0.*", f"{base}/reports/in"),
        (".*AMDAR_1.0.*", f"{base}/reports/in"),
        (".*ninjo-station-catalogue.*", f"{base}/catalog_common/in"),
        (".*~~SAC,SAC_MAXR.*", f"{base}/scit_sac/in"),
    ]
    url = "https://dd.weather.gc.ca/20240101/ninjo-station-catalogue.xml"
    accepted, mask = Rules.of(config).verdict(url)
    assert accepted and mask is not None and mask.directory.endswith("catalog_common/in")
    assert Rules.of(config).verdict("https://x/other.txt") == (False, None)
    # The last directory line is followed by no accept: the operator is told it does nothing.
    assert any(":15: directory is followed by no accept" in w for w in config.warnings)


def test_first_match_wins_and_reject_stops(tmp_path: Path) -> None:
    config = load(
        "subscribe",
        write(tmp_path / "c.conf", "reject .*\\.tmp$\naccept .*\\.txt$\naccept .*\n"),
    )
    rules = Rules(config.masks, accept_unmatch=False)
    assert rules.verdict("http://h/a.tmp")[0] is False
    accepted, mask = rules.verdict("http://h/a.txt")
    assert accepted and mask is not None and mask.pattern == ".*\\.txt$"


def test_every_placement_option_is_captured(tmp_path: Path) -> None:
    text = (
        "directory /a\nmirror True\nstrip 2\nflatten -\nfilename WHATFN\naccept x.*\n"
        "directory /b\nmirror off\nstrip ^/data/\nflatten /\naccept y.* DESTFN=z\n"
    )
    first, second = load("subscribe", write(tmp_path / "c.conf", text)).masks
    assert (first.directory, first.mirror, first.strip, first.flatten, first.filename) == (
        "/a",
        True,
        "2",
        "-",
        "WHATFN",
    )
    assert (second.directory, second.mirror, second.strip, second.flatten, second.filename) == (
        "/b",
        False,
        "^/data/",
        "/",
        "DESTFN=z",
    )


def test_read_order_default_admin_component_then_config(sarra_home: Path, tmp_path: Path) -> None:
    write(sarra_home / "default.conf", "expire 1h\nprefetch 5\nheartbeat 60\n")
    write(sarra_home / "admin.conf", "prefetch 6\nheartbeat 61\n")
    write(sarra_home / "subscribe.conf", "heartbeat 62\nbatch 7\n")
    config = load("subscribe", write(tmp_path / "c.conf", "batch 8\n"))
    assert (config.expire, config.prefetch, config.heartbeat, config.batch) == (3600, 6, 62, 8)
    assert config.origin["expire"].file.endswith("default.conf")
    assert str(config.origin["batch"]) == f"{tmp_path / 'c.conf'}:1"
    # sarra reads its own component file, not subscribe's
    assert load("sarra", write(tmp_path / "s.conf", "")).heartbeat == 61


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "notify_only False\nexpire 1h\naccept .*\n")
    config = load("subscribe", path, overrides=[("notify_only", None), ("expire", "2h")])
    assert config.notify_only is True and config.expire == 7200
    assert str(config.origin["expire"]) == "command line"


def test_command_line_directory_is_captured_by_the_files_accepts(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "accept .*\n")
    config = load("subscribe", path, overrides=[("directory", "/elsewhere")])
    assert config.masks[0].directory == "/elsewhere"


def test_component_defaults(tmp_path: Path) -> None:
    empty = write(tmp_path / "e.conf", "accept .*\n")
    assert load("sarra", empty).mirror is True
    assert load("subscribe", empty).mirror is False
    assert load("winnow", empty).suppress_duplicates == 1200
    assert load("shovel", empty).notify_only is True
    assert load("subscribe", empty).inflight == ".tmp"
    assert load("poll", empty).sum == "z,d"


def test_bare_flags_and_booleans_and_aliases(tmp_path: Path) -> None:
    config = load(
        "subscribe", write(tmp_path / "c.conf", "mirror\nn\nau off\nsd\nsum s\naccept .*\n")
    )
    assert config.mirror is True
    assert config.notify_only is True
    assert config.accept_unmatch is False
    assert config.suppress_duplicates == 300
    assert config.origin["notify_only"].line == 2


def test_include_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path / "common" / "broker.inc", "broker amqp://feeder@localhost/\nexpire 2h\n")
    path = write(tmp_path / "c.conf", "include common/broker.inc\naccept .*\n")
    config = load("subscribe", path)
    assert config.broker == "amqp://feeder@localhost/"
    assert str(config.origin["expire"]) == f"{tmp_path / 'common' / 'broker.inc'}:2"


def test_include_from_the_config_directory_with_glob(sarra_home: Path, tmp_path: Path) -> None:
    write(sarra_home / "subscribe" / "a_rules.inc", "accept .*a.*\n")
    write(sarra_home / "subscribe" / "b_rules.inc", "accept .*b.*\n")
    config = load("subscribe", write(tmp_path / "c.conf", "include *_rules.inc\n"))
    assert [m.pattern for m in config.masks] == [".*a.*", ".*b.*"]


def test_missing_include_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "accept .*\ninclude nowhere.inc\n")
    with pytest.raises(ConfigErrors) as excinfo:
        load("subscribe", path)
    assert errors_of(excinfo) == [f"{path}:2: include: nowhere.inc not found"]


def test_include_loop_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.inc", "include b.inc\n")
    write(tmp_path / "b.inc", "include a.inc\n")
    with pytest.raises(ConfigErrors, match="include loop"):
        load("subscribe", write(tmp_path / "c.conf", "include a.inc\naccept .*\n"))


def test_unknown_option_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "accept .*\nsubtopc a.#\n")
    with pytest.raises(ConfigErrors) as excinfo:
        load("subscribe", path)
    assert errors_of(excinfo) == [f"{path}:2: unknown option 'subtopc'; did you mean 'subtopic'?"]


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "expire soon\naccept [\nprefetch -3\nloglevel loud\n")
    with pytest.raises(ConfigErrors) as excinfo:
        load("subscribe", path)
    reasons = errors_of(excinfo)
    assert [r.split(": ", 1)[0] for r in reasons] == [f"{path}:{n}" for n in (1, 2, 3, 4)]
    assert "expire: 'soon' is not a duration" in reasons[0]
    assert "accept:" in reasons[1]
    assert "must not be negative" in reasons[2]
    assert "not one of critical" in reasons[3]


def test_value_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "broker\n")
    with pytest.raises(ConfigErrors, match=re.escape(f"{path}:1: broker: needs a value")):
        load("subscribe", path)


def test_unknown_options_are_kept_for_plugins(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "file_rxpipe_name /tmp/p\non_file file_rxpipe\naccept .*\n")
    config = load("subscribe", path)
    assert config.on_file == ["file_rxpipe"]
    assert config.file_rxpipe_name == ["/tmp/p"]


def test_plugin_lists_repeat_and_none_clears(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "on_message a\non_message b\naccept .*\n")
    assert load("subscribe", path).on_message == ["a", "b"]
    path = write(tmp_path / "d.conf", "on_message a\non_message None\non_message c\naccept .*\n")
    assert load("subscribe", path).on_message == ["c"]


def test_headers_add_and_remove(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.conf", "header flavour=vanilla\nheader to_clusters=None\naccept .*\n"
    )
    assert load("subscribe", path).header == {"flavour": "vanilla", "to_clusters": None}


def test_subtopic_captures_exchange_and_prefix_and_none_clears(tmp_path: Path) -> None:
    text = "exchange xa\nsubtopic a.#\nexchange xb\ntopic_prefix v03\nsubtopic b.*\naccept .*\n"
    config = load("subscribe", write(tmp_path / "c.conf", text))
    assert [(b.exchange, b.topic_prefix, b.subtopic) for b in config.bindings] == [
        ("xa", "v02.post", "a.#"),
        ("xb", "v03", "b.*"),
    ]
    assert any("exchange comes after subtopic" in w for w in config.warnings)
    config = load("subscribe", write(tmp_path / "d.conf", "subtopic a.#\nsubtopic None\n"))
    assert config.bindings == []


def test_static_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_ROOT", "/srv/data")
    text = (
        "broker amqp://tsub@localhost/\n"
        "queue q_${BROKER_USER}.${PROGRAM}.${CONFIG}\n"
        "directory ${DATA_ROOT}/${CONFIG}\naccept .*\n"
    )
    config = load("subscribe", write(tmp_path / "feed.conf", text))
    assert config.queue == "q_tsub.sr_subscribe.feed"
    assert config.masks[0].directory == "/srv/data/feed"


def test_date_variables_stay_in_directory_until_a_notice_is_placed(tmp_path: Path) -> None:
    text = "directory /data/${YYYYMMDD}/${SOURCE}\naccept .*\nqueue q_${YYYY}\n"
    config = load("subscribe", write(tmp_path / "c.conf", text))
    assert config.masks[0].directory == "/data/${YYYYMMDD}/${SOURCE}"
    assert config.queue == f"q_{datetime.now(UTC):%Y}"


def test_unknown_variable_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "directory /x/${NO_SUCH_THING_HERE}\naccept .*\n")
    with pytest.raises(ConfigErrors, match=re.escape(f"{path}:1: directory: unknown variable")):
        load("subscribe", path)


def test_broker_user_before_broker_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "queue q_${BROKER_USER}\n")
    with pytest.raises(ConfigErrors, match="before a broker is set"):
        load("subscribe", path)


def test_declare_env_feeds_later_variables(tmp_path: Path) -> None:
    text = "declare env PUMP=ddsr1\ndirectory /d/${PUMP}\naccept .*\n"
    config = load("subscribe", write(tmp_path / "c.conf", text))
    assert config.masks[0].directory == "/d/ddsr1"
    assert config.declare == [("env", "PUMP=ddsr1")]


def test_deprecated_option_warns_with_what_to_use(tmp_path: Path) -> None:
    config = load("subscribe", write(tmp_path / "c.conf", "host example.com\naccept .*\n"))
    assert any("host is deprecated: give the host in the broker URL" in w for w in config.warnings)


def test_bad_url(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conf", "post_broker amqp://u@h:notaport/\n")
    with pytest.raises(ConfigErrors, match=re.escape(f"{path}:1: post_broker: not a valid URL")):
        load("post", path)


def test_resolve_config_by_name_and_disabled(sarra_home: Path) -> None:
    write(sarra_home / "subscribe" / "feed.conf", "accept .*\n")
    write(sarra_home / "subscribe" / "old.conf.off", "accept .*\n")
    assert resolve_config_path("subscribe", "feed").name == "feed.conf"
    assert resolve_config_path("subscribe", "feed.conf").name == "feed.conf"
    with pytest.raises(ConfigError, match="disabled; run: sr_subscribe enable old"):
        resolve_config_path("subscribe", "old")
    with pytest.raises(ConfigError, match="did you mean 'feed'"):
        resolve_config_path("subscribe", "fed")


def test_table_declares_every_option_once_with_help() -> None:
    for option in OPTIONS.values():
        assert option.help and option.group
        if option.kind == Kind.CHOICE:
            assert option.default in option.choices
        for component in option.per_component:
            assert component in COMPONENTS


def test_dates_with_offsets() -> None:
    from sarra.config.variables import date_value

    now = datetime(2024, 3, 1, 1, 30, tzinfo=UTC)
    assert date_value("YYYYMMDD", now) == "20240301"
    assert date_value("YYYYMMDD-1D", now) == "20240229"
    assert date_value("HH-2H", now) == "23"
    assert date_value("JJJ", now) == "061"
    assert date_value("MM+1D", now + timedelta(days=30)) == "04"
    assert date_value("NOT_A_DATE", now) is None


@pytest.mark.parametrize("value", ["d", "s", "n", "0", "a", "z,d", "z,s"])
def test_checksum_methods_accepted(tmp_path: Path, value: str) -> None:
    assert load("post", write(tmp_path / "c.conf", f"sum {value}\n")).sum == value


@pytest.mark.parametrize(("value", "reason"), [("x", "must be one of"), ("z", "z needs")])
def test_checksum_method_refused(tmp_path: Path, value: str, reason: str) -> None:
    with pytest.raises(ConfigErrors, match=reason):
        load("post", write(tmp_path / "c.conf", f"sum {value}\n"))


def test_a_winnow_of_several_instances_splits_its_exchange_unless_its_cache_is_shared(
    tmp_path: Path,
) -> None:
    base = "broker amqp://localhost/\nexchange xwinnow\npost_exchange xout\ninstances 2\n"
    split = load("winnow", write(tmp_path / "a.conf", base))
    assert split.exchange_split is True
    assert any("exchange_split" in warning for warning in split.warnings)
    shared = load("winnow", write(tmp_path / "b.conf", base + "nodupe_driver redis\n"))
    assert shared.exchange_split is False
    one = load("winnow", write(tmp_path / "c.conf", base.replace("instances 2", "instances 1")))
    assert one.exchange_split is False


def test_destination_timezone_must_be_a_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "zone.conf"
    path.write_text("destination_timezone Mars/Olympus\n")
    with pytest.raises(ConfigErrors, match=r"zone.conf:1: .*not a time zone"):
        load("poll", path)
