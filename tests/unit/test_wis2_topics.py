"""WIS2 topics: checks against the shipped WIS2 topic hierarchy, topic <-> path mapping."""

from __future__ import annotations

from importlib import resources

import pytest

from sarra.message import wis2_topics
from sarra.message.reason import errors
from sarra.message.wis2_topics import (
    DATA_COMMIT,
    check,
    check_filter,
    is_wis2,
    rel_dir,
    subscription,
    topic_for,
)

SYNOP = "origin/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop"


@pytest.mark.parametrize(
    "topic",
    [
        SYNOP,
        "cache/a/wis2/ca-eccc-msc/data/core/weather/prediction/forecast/medium-range/"
        "probabilistic/global",
        "origin/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations",  # not a leaf
        "origin/a/wis2/ca-eccc-msc/data/core/hydrology/experimental/surface-based-observations/"
        "water-quantity/water-level",
        "origin/a/wis2/ca-eccc-msc/data/recommended/atmospheric-composition/experimental/"
        "space-based-observation/geostationary/solar-flares",
        "origin/a/wis2/de-dwd/metadata",
        "origin/a/wis2/int-eumetsat/data/core/weather/space-based-observations/metop-b/iasi",
        "origin/a/wis2/int-eumetsat/data/core/weather/space-based-observations/metop-b",
        "origin.a.wis2.ca-eccc-msc.data.core.weather.surface-based-observations.synop",
    ],
)
def test_topics_of_the_hierarchy_pass(topic: str) -> None:
    assert check(topic) == []


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("origin/a/wis2/ca-eccc-msc/data/core/weather", "published at level 8"),
        ("origin/a/wis2/ca-eccc-msc/data/core/weather/rainbows", "'rainbows' is not in the WIS2"),
        ("origin/a/wis2/ca-eccc-msc/data/core/climate/synop", "'synop' is not in the WIS2"),
        ("origin/a/wis2/ca-eccc-msc/data/free/weather/surface-based-observations", "data-policy"),
        ("origin/a/wis2/ca-eccc-msc/data/core/astrology/x", "as a discipline"),
        ("origin/a/wis2/de-dwd/metadata/core", "exactly the level 'metadata'"),
        ("outer/a/wis2/de-dwd/metadata", "(channel) 'outer' is not one of origin, cache"),
        ("origin/b/wis2/de-dwd/metadata", "(version) 'b' is not one of a"),
        ("origin/a/wis3/de-dwd/metadata", "(system) 'wis3'"),
        ("origin/a/wis2/de-dwd/notices", "(notification-type) 'notices'"),
        ("origin/a/wis2/dwd/metadata", "centre-id 'dwd' is not tld-centre-name"),
        ("origin/a/wis2/De-DWD/metadata", "lowercase"),
        ("origin/a/wis2/de-dwd/data/core/weather/surface-based-observations/syn.op", "no dots"),
        ("origin/a/wis2/+/metadata", "wildcards"),
        ("origin/a/wis2//metadata", "level 4 is empty"),
        ("origin/a/wis2", "at least"),
        ("v03/post/some/dir", "at least"),
    ],
)
def test_topics_outside_the_hierarchy_are_errors(topic: str, reason: str) -> None:
    found = errors(check(topic))
    assert found and any(reason in r.text for r in found), found


def test_a_topic_a_message_came_on_is_judged_only_when_it_is_a_wis2_one() -> None:
    assert wis2_topics.received_on("v03/post/some/dir") == ()
    assert wis2_topics.received_on("origin/a/wis2/zz-new-centre-test/metadata") == tuple(
        check("origin/a/wis2/zz-new-centre-test/metadata")
    )
    assert [r.code for r in wis2_topics.received_on("origin/a/wis2/ca-eccc-msc/data")] == ["topic"]


def test_an_unknown_or_retired_centre_is_a_warning_only() -> None:
    """New centre-ids do not change the hierarchy's version: an older copy must not refuse."""
    unknown = check("origin/a/wis2/zz-new-centre-test/metadata")
    assert [(r.kind, r.code) for r in unknown] == [("warning", "centre-unknown")]
    assert DATA_COMMIT[:7] in unknown[0].text
    retired = check("origin/a/wis2/au-bom/metadata")
    assert [(r.kind, r.code) for r in retired] == [("warning", "centre-retired")]


@pytest.mark.parametrize(
    "topic_filter",
    [
        "origin/a/wis2/#",
        "#",
        "+/a/wis2/+/data/core/weather/surface-based-observations/synop",
        "cache/a/wis2/+/data/+/weather/prediction/#",
        "origin/a/wis2/+/metadata",
        "origin/a/wis2/+/metadata/#",
        "origin/a/wis2/+/data/core/ocean/experimental/anything/at/all",
    ],
)
def test_subscriptions_that_can_match(topic_filter: str) -> None:
    assert check_filter(topic_filter) == []


@pytest.mark.parametrize(
    ("topic_filter", "kind"),
    [
        ("origin/a/wis2/+/data/core/nothing/#", "warning"),
        ("origin/a/wis2/+/metadata/+", "warning"),
        ("origin/a/wis2/+/data/core/weather", "warning"),  # data is below level 7
        ("v02/post/#", "warning"),
        ("origin/#/wis2", "error"),
        ("origin/a+/wis2/#", "error"),
    ],
)
def test_subscriptions_that_cannot_match(topic_filter: str, kind: str) -> None:
    assert [r.kind for r in check_filter(topic_filter)] == [kind]


def test_topic_and_relative_path_map_both_ways() -> None:
    assert is_wis2(SYNOP) and is_wis2(SYNOP.replace("/", ".")) and is_wis2("cache/b/wis2/x")
    assert not is_wis2("v03.post.x") and not is_wis2(None) and not is_wis2("origin/a")
    directory = rel_dir(SYNOP)
    assert directory == "wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop"
    assert rel_dir(SYNOP.replace("origin/", "cache/")) == directory
    assert rel_dir("v03.post.a.b") is None
    assert topic_for(f"{directory}/X.bufr4", "origin/a") == SYNOP
    assert topic_for(f"/{directory}/X.bufr4", "origin.a") == SYNOP
    assert topic_for("X.bufr4", SYNOP) == SYNOP
    assert topic_for("synop/X.bufr4", SYNOP.rpartition("/")[0]) == SYNOP


def test_subtopics_map_to_mqtt_filters() -> None:
    assert subscription("origin/a/wis2", "#") == "origin/a/wis2/#"
    assert (
        subscription("origin/a/wis2", "*/data/core/weather/#")
        == "origin/a/wis2/+/data/core/weather/#"
    )
    assert subscription("origin.a.wis2", "*.data.core.#") == "origin/a/wis2/+/data/core/#"


def test_the_hierarchy_is_shipped_with_its_licence_and_origin() -> None:
    root = resources.files("sarra.message") / "data" / "wis2-topic-hierarchy"
    assert "Apache License" in (root / "LICENSE").read_text()
    readme = (root / "README.md").read_text()
    assert DATA_COMMIT in readme and "wmo-im/wis2-topic-hierarchy" in readme
    hierarchy = wis2_topics.hierarchy()
    assert len(hierarchy.centres) > 150
    assert set(hierarchy.disciplines.children) == {
        "weather",
        "climate",
        "hydrology",
        "atmospheric-composition",
        "cryosphere",
        "ocean",
        "space-weather",
    }
