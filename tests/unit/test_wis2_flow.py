"""WIS2 in the flow, without a server: which notices are WIS2 ones, their duplicate keys, the
wis2_* selection options, the downloader's rules (integrity of every WIS2 method, pubtime
ordering of versions, deletions), what a Global Cache republishes, and what posters publish."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from wnm_kit import CORE, SYNOP, schema_errors, schema_validator

from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigErrors
from sarra.config.loader import Config, load
from sarra.flow import wis2
from sarra.flow.announce import Announcer
from sarra.flow.download import Downloader
from sarra.flow.nodupe import NoDupeCache, notice_keys
from sarra.flow.placement import place
from sarra.flow.publish import NoticePublisher
from sarra.integrity.checksum import checksum_bytes, new_checksum
from sarra.message import wnm
from sarra.message.errors import NotEncodable
from sarra.message.notice import Identity, Notice, time_to_epoch
from sarra.message.wnm_validate import check_body

DATA_ID = "wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop/WIGOS_71628_1200"


def message(
    data: bytes = b"synop 71628",
    *,
    id: str = "3f0b4b0e-8a0c-4a52-9c37-0b7c2d5a1e11",
    pubtime: str = "2026-08-20T12:05:01.123Z",
    rel: str = "canonical",
    method: str = "sha256",
    **properties: Any,
) -> dict[str, Any]:
    """A WNM of a file of `data` (properties given override or add to the defaults)."""
    digest = base64.b64encode(hashlib.new(method, data).digest()).decode()
    link = {"href": "https://dd.example.ca/synop/f.bufr4", "rel": rel, "length": len(data)}
    if rel == "deletion":
        del link["length"]
    found = {
        "id": id,
        "conformsTo": [CORE],
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-75.67, 45.38]},
        "properties": {
            "pubtime": pubtime,
            "data_id": DATA_ID,
            "metadata_id": "urn:wmo:md:ca-eccc-msc:observations.synop",
            "datetime": "2026-08-20T12:00:00Z",
            "integrity": {"method": method, "value": digest},
            **properties,
        },
        "links": [link],
    }
    return found


def decoded(found: dict[str, Any], topic: str = SYNOP) -> Notice:
    return wnm.decode(topic, json.dumps(found))


def config(tmp_path: Path, component: str, body: str) -> Config:
    path = tmp_path / f"{component}.conf"
    path.write_text(body)
    return load(component, path)


# --- which notices, which keys


def test_a_wnm_is_a_wis2_notice_and_a_v03_one_is_not() -> None:
    assert wis2.is_wis2(decoded(message()))
    assert not wis2.is_wis2(Notice("20260820T120000", "https://h/", "a/b.txt"))


def test_copies_of_a_message_and_of_its_data_share_keys_an_update_does_not() -> None:
    origin = decoded(message())
    again = decoded(message(), topic=SYNOP)  # the same message from another Global Broker
    cached = decoded(message(id="e1d2c3b4-a596-4877-8899-aabbccddeeff"), "cache/a/" + SYNOP[9:])
    update = decoded(
        message(id="9b4cc1a3-6f0e-4e1e-8a77-51d0a1c2e9f4", pubtime="2026-08-20T12:30:00Z",
                rel="update")
    )  # fmt: skip
    keys = notice_keys(origin, "path")
    assert keys == notice_keys(again, "path")
    assert keys[0] != notice_keys(cached, "path")[0] and keys[1] == notice_keys(cached, "path")[1]
    assert set(keys).isdisjoint(notice_keys(update, "path"))
    cache = NoDupeCache(900)
    assert all(cache.claim(*key) for key in keys)
    assert not cache.claim(*notice_keys(cached, "path")[1])  # the data, under another id


# --- selection


@pytest.mark.parametrize(
    ("options", "changes", "refused"),
    [
        ("wis2_centre_id ca-eccc-msc,de-dwd", {}, None),
        ("wis2_centre_id de-dwd", {}, "centre-id ca-eccc-msc is not in wis2_centre_id"),
        ("wis2_data_id .*/synop/WIGOS_71628", {}, None),
        ("wis2_data_id .*/temp/\nwis2_data_id wis2/ca-eccc-msc/", {}, None),
        ("wis2_data_id .*/temp/", {}, "data_id matches no wis2_data_id"),
        ("wis2_metadata_id urn:wmo:md:ca-eccc-msc:", {}, None),
        ("wis2_metadata_id urn:wmo:md:ca-", {"metadata_id": None}, "metadata_id matches no"),
        ("wis2_bbox -80,40,-70,50", {}, None),
        ("wis2_bbox 0,40,10,50", {}, "geometry outside wis2_bbox"),
        ("wis2_bbox 170,40,-70,50", {}, None),  # across the antimeridian
        ("wis2_bbox 0,40,10,50", {"geometry": None}, None),  # may be anywhere
        ("wis2_bbox 0,40,10,50", {"geometry": {"type": "Polygon", "coordinates": [
            [[-10, 30], [20, 30], [20, 60], [-10, 60], [-10, 30]]]}}, None),  # holds the box
        ("wis2_bbox 0,40,10,50", {"geometry": {"type": "Polygon", "coordinates": [
            [[5, 30], [15, 60], [30, 30], [5, 30]]]}}, None),  # edges cross
        ("wis2_bbox 0,40,10,50", {"geometry": {"type": "Polygon", "coordinates": [
            [[20, 30], [30, 60], [30, 30], [20, 30]]]}}, "geometry outside"),
        ("wis2_time_window 2026-08-20T00:00:00Z/2026-08-21T00:00:00Z", {}, None),
        ("wis2_time_window 2026-08-21T00:00:00Z/..", {}, "datetime outside wis2_time_window"),
        ("wis2_time_window ../2026-08-20T11:00:00Z", {}, "datetime outside"),
        ("wis2_time_window 2026-08-20T11:00:00Z/..", {"datetime": None}, None),
        ("wis2_time_window 2026-08-20T18:00:00Z/..", {"datetime": None, "start_datetime":
            "2026-08-20T00:00:00Z", "end_datetime": "2026-08-21T00:00:00Z"}, None),
        ("wis2_time_window 6h/..", {}, None),  # 'now' below is 2026-08-20T15:00Z
        ("wis2_time_window 1h/..", {}, "datetime outside"),
    ],
)  # fmt: skip
def test_the_selection_options(
    tmp_path: Path, options: str, changes: dict[str, Any], refused: str | None
) -> None:
    found = message()
    for key, value in changes.items():
        if key == "geometry":
            found["geometry"] = value
        elif value is None:
            found["properties"].pop(key)
            if key == "datetime" and len(changes) == 1:
                found["properties"]["datetime"] = None
        else:
            found["properties"][key] = value
    selection = wis2.Selection(config(tmp_path, "subscribe", options + "\n"))
    why = selection.refuses(decoded(found), now=time_to_epoch("20260820T150000"))
    if refused is None:
        assert why is None
    else:
        assert why is not None and why.startswith(refused)


def test_the_selection_takes_every_other_notice(tmp_path: Path) -> None:
    selection = wis2.Selection(config(tmp_path, "subscribe", "wis2_centre_id de-dwd\n"))
    assert selection.refuses(Notice("20260820T120000", "https://h/", "a/b.txt")) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("wis2_bbox 1,2,3", "is not west,south,east,north"),
        ("wis2_bbox 0,60,10,50", "south is above north"),
        ("wis2_bbox 0,40,200,50", "longitudes go from -180 to 180"),
        ("wis2_time_window yesterday", "is not start/end"),
        ("wis2_time_window 2026-13-01T00:00:00Z/..", "is not an RFC 3339 date-time"),
        ("wis2_time_window 2026-08-02T00:00:00Z/2026-08-01T00:00:00Z", "ends before it starts"),
        ("wis2_data_id (unclosed", "unterminated subpattern"),
        ("post_data_id x/${NOPE}", "unknown variable ${NOPE}"),
        ("also_broker not a url", "not a URL"),
        ("wis2_global_cache Cache", "is not a centre-id"),
        ("post_topic origin/a/${WIS2_DIR}", "post_topic cannot use it"),
    ],
)
def test_bad_wis2_option_values_are_refused_with_a_reason(
    tmp_path: Path, line: str, reason: str
) -> None:
    with pytest.raises(ConfigErrors, match=re.escape(reason)):
        config(tmp_path, "subscribe", line + "\n")


def test_wis2_options_meant_for_other_components_are_warned_of(tmp_path: Path) -> None:
    poster = config(tmp_path, "post", "also_broker mqtt://b.example\nwis2_global_cache x-y\n")
    assert any("also_broker has no effect on sr_post" in w for w in poster.warnings)
    assert any("wis2_global_cache has no effect on sr_post (it is for sr_sarra)" in w
               for w in poster.warnings)  # fmt: skip
    assert config(tmp_path, "sarra", "wis2_global_cache x-y\n").warnings == []


def test_also_broker_turns_the_duplicate_cache_on_unless_the_config_says(tmp_path: Path) -> None:
    two = "broker mqtt://a.example\nalso_broker mqtts://b.example\n"
    assert config(tmp_path, "subscribe", two).suppress_duplicates == 900
    assert (
        config(tmp_path, "subscribe", two + "suppress_duplicates 1h\n").suppress_duplicates == 3600
    )
    assert config(tmp_path, "subscribe", two + "suppress_duplicates off\n").suppress_duplicates == 0
    assert config(tmp_path, "subscribe", "broker mqtt://a.example\n").suppress_duplicates == 0


# --- the downloader's rules


@pytest.mark.parametrize(
    "method", ["sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"]
)
def test_every_wis2_integrity_method_is_computed(method: str) -> None:
    checksum = new_checksum(method)
    checksum.update(b"abc")
    assert checksum.value() == hashlib.new(method, b"abc").hexdigest()
    assert checksum_bytes(b"abc", method) == checksum.value()


class Here:
    """A downloader of `file:` notices from `source` into `destination`."""

    def __init__(self, tmp_path: Path, options: str = "") -> None:
        self.source = tmp_path / "source"
        self.destination = tmp_path / "destination"
        self.source.mkdir(parents=True)
        self.config = config(
            tmp_path,
            "subscribe",
            f"directory {self.destination}\nbase_dir {self.source}\naccept .*\n{options}",
        )
        self.downloader = Downloader(self.config, Credentials())

    def notice(self, data: bytes, **changes: Any) -> Notice:
        """The WIS2 notice of `data`, served as source/f.bufr4."""
        (self.source / "f.bufr4").write_bytes(data)
        found = decoded(message(data, **changes))
        return dataclasses.replace(
            found, base_url=f"file://{self.source}/", retrieve_path="f.bufr4"
        )

    def handle(self, notice: Notice) -> Any:
        mask = self.config.masks[0]
        return self.downloader.handle(notice, place(notice, mask, mask))

    @property
    def file(self) -> Path:
        return self.destination / "f.bufr4"


@pytest.mark.parametrize("method", ["sha256", "sha3-384", "sha512"])
def test_a_wis2_file_is_put_in_place_only_when_its_integrity_matches(
    tmp_path: Path, method: str
) -> None:
    here = Here(tmp_path)
    good = here.notice(b"synop 71628", method=method)
    outcome = here.handle(good)
    assert outcome.status == "done" and not outcome.reason
    assert here.file.read_bytes() == b"synop 71628"
    assert here.file.stat().st_mtime == time_to_epoch(good.pubtime)  # its pubtime
    here.file.unlink()
    (here.source / "f.bufr4").write_bytes(b"synop 71629")  # not what the message announced
    outcome = here.handle(dataclasses.replace(good, extra={**good.extra, "id": "x"}))
    assert outcome.status == "transient"
    assert "integrity check failed" in outcome.reason
    assert not here.file.exists() and os.listdir(here.destination) == []


def test_a_v03_file_that_differs_from_its_checksum_is_kept_with_a_warning(
    tmp_path: Path,
) -> None:
    here = Here(tmp_path)
    notice = here.notice(b"synop 71628")
    (here.source / "f.bufr4").write_bytes(b"synop 71629")
    plain = dataclasses.replace(notice, extra={})  # not a WIS2 notice any more
    outcome = here.handle(plain)
    assert outcome.status == "done" and outcome.reason.startswith("warning: checksum differs")


def test_a_wis2_file_is_replaced_only_by_a_later_message(tmp_path: Path) -> None:
    here = Here(tmp_path)
    assert here.handle(here.notice(b"v1", pubtime="2026-08-20T12:00:00Z")).status == "done"
    same = here.handle(here.notice(b"v1", pubtime="2026-08-20T12:00:00Z"))
    assert same.status == "skipped" and "of this message already" in same.reason
    older = here.handle(here.notice(b"v0", pubtime="2026-08-20T11:00:00Z", rel="update"))
    assert older.status == "skipped" and "of a later message" in older.reason
    assert here.file.read_bytes() == b"v1"
    newer = here.handle(here.notice(b"v2", pubtime="2026-08-20T12:30:00.5Z", rel="update"))
    assert newer.status == "done"
    assert here.file.read_bytes() == b"v2"
    assert here.file.stat().st_mtime == time_to_epoch("20260820T123000.5")


def test_a_wis2_deletion_is_carried_out_only_where_the_config_allows(tmp_path: Path) -> None:
    here = Here(tmp_path)
    assert here.handle(here.notice(b"v1", pubtime="2026-08-20T12:00:00Z")).status == "done"
    deletion = here.notice(b"", pubtime="2026-08-20T13:00:00Z", rel="deletion")
    assert deletion.file_op == {"remove": ""}
    kept = here.handle(deletion)
    assert kept.status == "skipped" and "wis2_deletions is off" in kept.reason
    assert here.file.exists()
    allowed = Here(tmp_path / "allowed", "wis2_deletions on\n")
    assert allowed.handle(allowed.notice(b"v1", pubtime="2026-08-20T12:00:00Z")).status == "done"
    early = allowed.notice(b"", pubtime="2026-08-20T11:00:00Z", rel="deletion")
    refused = allowed.handle(early)
    assert refused.status == "skipped" and "older than the local file" in refused.reason
    assert allowed.file.exists()
    done = allowed.handle(allowed.notice(b"", pubtime="2026-08-20T13:00:00Z", rel="deletion"))
    assert done.status == "done" and done.operation == "removed"
    assert not allowed.file.exists()


def test_a_v03_removal_is_carried_out_as_before(tmp_path: Path) -> None:
    here = Here(tmp_path)
    here.destination.mkdir()
    here.file.write_bytes(b"old")
    removal = Notice("20260820T120000", "https://h/", "f.bufr4", file_op={"remove": ""})
    assert here.handle(removal).operation == "removed"
    assert not here.file.exists()


# --- the Global Cache role


def test_a_global_cache_gives_a_new_id_of_its_own_and_keeps_the_rest() -> None:
    origin = decoded(message())
    copy_ = wis2.republished(origin, "de-dwd-global-cache", copy=True)
    passed = wis2.republished(origin, "de-dwd-global-cache", copy=False)
    other = wis2.republished(origin, "fr-meteofrance-global-cache", copy=True)
    assert copy_.extra["id"] == passed.extra["id"] != origin.extra["id"]
    assert copy_.extra["id"] != other.extra["id"]
    assert copy_.extra["global-cache"] == "de-dwd-global-cache"
    assert "global-cache" not in passed.extra
    assert copy_.pubtime == origin.pubtime and copy_.extra["data_id"] == DATA_ID
    assert wis2.cache_topic(SYNOP) == "cache/" + SYNOP.removeprefix("origin/")
    assert wis2.cache_topic("v03.a.b") is None
    recommended = decoded(message(), "origin/a/wis2/ca-eccc-msc/data/recommended/weather/"
                          "surface-based-observations/synop")  # fmt: skip
    assert wis2.is_recommended(recommended) and not wis2.is_recommended(origin)


# --- publishing


def published(
    tmp_path: Path, body: str, notice: Notice, component: str = "post"
) -> tuple[str, dict[str, Any]]:
    """The topic and message a config publishes for a notice (nothing is sent)."""
    publisher = NoticePublisher(
        config(tmp_path, component, "post_broker mqtt://127.0.0.1\n" + body), Credentials()
    )
    written = publisher.message(notice)
    _, reasons = check_body(written.body, topic=written.routing_key, strict=True)
    assert [r.text for r in reasons] == []
    return written.routing_key, json.loads(written.body)


def local_file(data: bytes, rel_path: str) -> Notice:
    value = base64.b64encode(hashlib.sha512(data).digest()).decode()
    return Notice(
        "20260820T120501.25", "https://dd.example.ca/", rel_path,
        identity=Identity("sha512", value), size=len(data),
    )  # fmt: skip


def test_post_topic_and_the_data_and_metadata_id_patterns(tmp_path: Path) -> None:
    topic, found = published(
        tmp_path,
        "post_format wis\npost_topic origin/a/wis2/ca-eccc-msc/data/core/weather/"
        "surface-based-observations/synop\npost_data_id ${WIS2_DIR}/${STEM}\n"
        "post_metadata_id urn:wmo:md:ca-eccc-msc:${STEM}\n",
        local_file(b"obs", "incoming/x/WIGOS_71628.bufr4"),
    )
    assert topic == SYNOP
    assert found["properties"]["data_id"] == SYNOP.removeprefix("origin/a/") + "/WIGOS_71628"
    assert found["properties"]["metadata_id"] == "urn:wmo:md:ca-eccc-msc:WIGOS_71628"
    assert found["properties"]["pubtime"] == "2026-08-20T12:05:01.25Z"
    assert found["properties"]["integrity"]["method"] == "sha512"
    assert found["links"][0]["href"] == "https://dd.example.ca/incoming/x/WIGOS_71628.bufr4"


def test_a_relayed_message_keeps_its_own_data_id_and_topic(tmp_path: Path) -> None:
    relayed = decoded(message())
    topic, found = published(
        tmp_path,
        "post_topic_prefix origin/a\npost_data_id ${STEM}\n",
        relayed,
        component="shovel",
    )
    assert topic == SYNOP
    assert found["id"] == relayed.extra["id"]
    assert found["properties"]["data_id"] == DATA_ID
    assert found["properties"]["pubtime"] == "2026-08-20T12:05:01.123Z"


def test_a_global_cache_publishes_on_the_cache_channel(tmp_path: Path) -> None:
    relayed = wis2.republished(decoded(message()), "de-dwd-global-cache", copy=True)
    topic, found = published(
        tmp_path, "post_topic_prefix origin/a\nwis2_global_cache de-dwd-global-cache\n", relayed,
        component="sarra",
    )  # fmt: skip
    assert topic == "cache/a/" + SYNOP.removeprefix("origin/a/")
    assert found["properties"]["global-cache"] == "de-dwd-global-cache"


def test_a_message_that_cannot_be_valid_is_not_encodable(tmp_path: Path) -> None:
    publisher = NoticePublisher(
        config(tmp_path, "post", "post_broker mqtt://127.0.0.1\npost_format wis\n"
               "post_topic_prefix origin/a/wis2/ca-eccc-msc/data/core/weather\n"),
        Credentials(),
    )  # fmt: skip
    with pytest.raises(NotEncodable, match=r"data is published at level 8"):
        publisher.message(local_file(b"obs", "f.bufr4"))


def test_posters_of_wis2_messages_post_whole_files_with_sha512(tmp_path: Path) -> None:
    big = tmp_path / "big.grib2"
    big.write_bytes(os.urandom(64 * 1024))
    body = "post_broker mqtt://127.0.0.1\nblocksize 16k\n"
    v03 = Announcer(config(tmp_path, "post", body + "post_topic_prefix v03\n"))
    assert len(v03.notices(str(big), big.stat())) == 4  # parts
    announcer = Announcer(config(tmp_path, "post", body + "post_format wis\n"))
    (whole,) = announcer.notices(str(big), big.stat())
    assert whole.blocks is None and whole.size == 64 * 1024
    assert whole.identity is not None and whole.identity.method == "sha512"
    md5 = Announcer(config(tmp_path, "post", body + "post_format wis\nsum d\n"))
    assert md5.notices(str(big), big.stat())[0].identity.method == "md5"  # type: ignore[union-attr]


def test_what_we_publish_passes_the_specifications_schema(tmp_path: Path) -> None:
    validator = schema_validator(tmp_path / "spec")
    posted = published(
        tmp_path, "post_format wis\npost_topic_prefix origin/a/wis2/ca-eccc-msc/data/core/"
        "weather/experimental\n", local_file(b"obs", "f.bufr4"),
    )[1]  # fmt: skip
    relayed = published(tmp_path, "post_topic_prefix origin/a\n", decoded(message()), "shovel")[1]
    cached = wis2.republished(decoded(message()), "de-dwd-global-cache", copy=True)
    gc = published(tmp_path, "post_format wis\nwis2_global_cache de-dwd-global-cache\n", cached,
                   "sarra")[1]  # fmt: skip
    deletion = decoded(message(b"", rel="deletion", pubtime="2026-08-20T13:00:00Z"))
    deleted = published(tmp_path, "post_topic_prefix origin/a\n", deletion, "shovel")[1]
    for found in (posted, relayed, gc, deleted):
        assert schema_errors(validator, copy.deepcopy(found)) == []
