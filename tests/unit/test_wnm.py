"""The WNM codec: import, export, relays (id and pubtime kept), round trips and cross-format
with v03, selection beside v02/v03, validation modes, and a property test: every notice we can
export is a valid message (by our validator and by the specification's schema)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import string
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from wnm_kit import OWN_EXAMPLES, SYNOP, schema_errors, schema_validator, spec_files, valid

from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.flow.loop import ConsumerLoop
from sarra.flow.publish import NoticePublisher
from sarra.message import decode_any, encode_any, format_for, prefix_for, v02, v03, wnm
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.http_path import PATH_SAFE
from sarra.message.notice import Blocks, Identity, Notice, Report
from sarra.message.reason import errors
from sarra.message.wnm_validate import (
    MAX_INLINE_BYTES,
    MAX_MESSAGE_BYTES,
    check_body,
    decode_content,
)

DIRECTORY = "wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop"


@pytest.fixture(scope="module")
def spec_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return spec_files("examples", tmp_path_factory.mktemp("wnm-examples"))


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return schema_validator(tmp_path_factory.mktemp("wnm-schema"))


def _notice(**changes: Any) -> Notice:
    data = b"some BUFR\n"
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    fields: dict[str, Any] = {
        "pubtime": "20260820T120501.123",
        "base_url": "https://dd.example.ca/",
        "rel_path": f"{DIRECTORY}/X 1#%.bufr4",
        "identity": Identity("sha512", digest),
        "size": len(data),
        "mtime": "20260820T120000",
    }
    return Notice(**{**fields, **changes})


def _body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


# --- import


def test_import_takes_the_canonical_link_not_the_first() -> None:
    message = valid()
    message["links"].reverse()  # the item link first
    notice = wnm.decode(SYNOP, _body(message))
    assert notice.base_url == "https://dd.example.ca/"
    assert notice.retrieve_path == "wis2/synop/WIGOS_0-20000-0-71628.bufr4"
    assert notice.rel_path == f"{DIRECTORY}/WIGOS_0-20000-0-71628.bufr4"
    assert notice.url == f"https://dd.example.ca/{DIRECTORY}/WIGOS_0-20000-0-71628.bufr4"
    assert notice.pubtime == "20260820T120501.123456"
    assert notice.size == 27
    assert notice.identity == Identity("sha256", message["properties"]["integrity"]["value"])
    assert notice.topic == SYNOP
    assert notice.extra["id"] == message["id"]
    assert notice.extra["data_id"] == message["properties"]["data_id"]
    assert notice.extra["metadata_id"] == "urn:wmo:md:ca-eccc-msc:observations.synop"
    assert notice.extra["wigos_station_identifier"] == "0-20000-0-71628"
    assert notice.extra["links"] == [
        {"href": "https://dd.example.ca/oapi/items/71628", "rel": "item"}
    ]


def test_origin_and_cache_copies_land_at_the_same_path() -> None:
    origin = wnm.decode(SYNOP, _body(valid()))
    cache = wnm.decode(SYNOP.replace("origin/", "cache/"), _body(valid()))
    assert origin.rel_path == cache.rel_path


def test_without_a_wis2_topic_the_path_is_the_links() -> None:
    notice = wnm.decode("v03.post.x", _body(valid()))
    assert notice.rel_path == "wis2/synop/WIGOS_0-20000-0-71628.bufr4"
    assert notice.retrieve_path is None
    assert notice.url == valid()["links"][0]["href"]


def test_a_link_without_a_file_name_takes_data_ids() -> None:
    message = valid()
    message["links"][0]["href"] = "https://dd.example.ca/api/items/"
    notice = wnm.decode(SYNOP, _body(message))
    assert notice.rel_path == f"{DIRECTORY}/WIGOS_0-20000-0-71628_20260820T120000"
    message["links"][0]["href"] = "https://dd.example.ca/a/%2E%2E"
    message["properties"]["data_id"] = "../"
    with pytest.raises(MalformedNotice, match="file name"):
        wnm.decode(SYNOP, _body(message))


def test_an_escaped_slash_in_the_link_cannot_climb_out() -> None:
    message = valid()
    message["links"][0]["href"] = "https://dd.example.ca/a/..%2F..%2Fetc%2Fpasswd"
    notice = wnm.decode(SYNOP, _body(message))
    assert notice.rel_path == f"{DIRECTORY}/WIGOS_0-20000-0-71628_20260820T120000"


def test_a_topic_that_cannot_be_a_path_is_not_one() -> None:
    """In warn mode a message on a malformed topic is taken: its path is then the link's."""
    for topic in ("origin/a/wis2/../../etc/data", "origin.a.wis2..x", "origin/a/wis2/a\0b/data"):
        notice = wnm.decode(topic, _body(valid()), "warn")
        assert notice.rel_path == "wis2/synop/WIGOS_0-20000-0-71628.bufr4", topic
        with pytest.raises(MalformedNotice, match="topic level"):
            wnm.decode(topic, _body(valid()))


def test_hex_integrity_is_read_as_hex() -> None:
    message = valid()
    digest = hashlib.sha256(b"x").digest()
    message["properties"]["integrity"]["value"] = digest.hex()
    decoded = wnm.decode_checked(SYNOP, _body(message))
    assert [r.code for r in decoded.reasons] == ["integrity-hex"]
    assert decoded.notice.identity == Identity("sha256", base64.b64encode(digest).decode())


def test_unusable_integrity_and_content_are_ignored(spec_examples: dict[str, Path]) -> None:
    """example1: an abbreviated integrity value, 27 bytes of content said to be 457, no
    length: nothing is trusted, so the file is downloaded and not checked."""
    notice = wnm.decode(None, spec_examples["example1.json"].read_bytes())
    assert notice.identity is None and notice.content is None and notice.size is None


def test_inline_contents_are_read() -> None:
    _, message = OWN_EXAMPLES["inline gzip from a global cache, deprecated version"]
    notice = wnm.decode(None, _body(message))
    assert notice.content is not None and notice.content["encoding"] == "base64"
    assert base64.b64decode(notice.content["value"]) == b"BUFR data of station 71628\n" * 40
    text = valid()
    text["properties"]["content"] = {"encoding": "utf-8", "value": "été", "size": 5}
    text["links"][0]["length"] = 5
    assert wnm.decode(SYNOP, _body(text)).content == {"encoding": "utf-8", "value": "été"}
    text["links"][0]["length"] = 6  # the content contradicts the link: downloaded instead
    assert wnm.decode(SYNOP, _body(text)).content is None
    del text["links"][0]["length"]
    assert wnm.decode(SYNOP, _body(text)).size == 5


def test_a_deletion_is_a_removal_and_an_update_is_kept() -> None:
    _, deletion = OWN_EXAMPLES["deletion, no geometry, no time"]
    notice = wnm.decode(SYNOP, _body(deletion))
    assert notice.file_op == {"remove": ""}
    _, update = OWN_EXAMPLES["update, polygon, extent, sha3-512"]
    notice = wnm.decode(None, _body(update))
    assert notice.file_op is None and notice.extra["rel"] == "update"
    assert notice.base_url == "sftp://files.example.fr/"


def test_a_time_with_an_offset_is_read_in_utc() -> None:
    message = valid()
    message["properties"]["pubtime"] = "2026-08-20T14:05:01.5+02:00"
    assert wnm.decode(SYNOP, _body(message), "warn").pubtime == "20260820T120501.5"


def test_a_time_in_utc_is_read_as_written() -> None:
    message = valid()
    message["properties"]["pubtime"] = "2026-08-20t14:05:01.250z"
    assert wnm.decode(SYNOP, _body(message)).pubtime == "20260820T140501.250"
    message["properties"]["pubtime"] = "2026-08-20T14:05:01-00:00"
    assert wnm.decode(SYNOP, _body(message), "warn").pubtime == "20260820T140501"


_HREFS = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["https", "http", "ftp", "sftp", "HTTPS", "file"]),
    st.text(string.ascii_lowercase + string.digits + ".-:@[]", min_size=1, max_size=12),
    st.text(string.ascii_letters + string.digits + "/._~-%?#=&+@:;,!$'()* \té", max_size=24).map(
        "/{}".format
    ),
)


@given(_HREFS)
@settings(max_examples=300)
def test_a_link_is_read_as_urlsplit_reads_it_and_written_back_as_it_was(href: str) -> None:
    try:
        parts = urlsplit(href)
    except ValueError:
        return  # not a URL
    assume(unquote(parts.path).strip("/"))  # a link to something
    message = valid()
    message["links"][0]["href"] = href
    try:
        notice = wnm.decode(SYNOP, _body(message), "warn")
    except MalformedNotice:
        return  # no notice in it (no host, a bad port): refused
    assert notice.base_url == f"{parts.scheme}://{parts.netloc}/"
    query = f"?{parts.query}" if parts.query else ""
    if parts.scheme.lower() in ("http", "https"):  # the path as written: it is sent so
        fetched = notice.retrieve_path or quote(notice.rel_path, safe=PATH_SAFE)
        assert unquote(fetched) == unquote(parts.path.lstrip("/") + query)
    else:
        fetched = notice.rel_path if notice.retrieve_path is None else notice.retrieve_path
        assert fetched == unquote(parts.path).lstrip("/") + query
    try:
        _, body = wnm.encode(notice, "", topic=SYNOP)
    except NotEncodable:
        return  # a scheme a message may not link to
    assert json.loads(body)["links"][0]["href"] == href


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m["properties"].pop("pubtime"), "pubtime"),
        (lambda m: m.__setitem__("links", [{"href": "x", "rel": "item"}]), "canonical"),
        (lambda m: m["links"][0].__setitem__("href", "relative/path"), "relative/path"),
        (lambda m: m["links"][0].__setitem__("href", "https://h:99999/x"), "99999"),
    ],
)
def test_a_message_that_gives_no_notice_is_refused_in_every_mode(change: Any, reason: str) -> None:
    message = valid()
    change(message)
    for mode in wnm.VALIDATION_MODES:
        with pytest.raises(MalformedNotice, match=reason):
            wnm.decode(SYNOP, _body(message), mode)


# --- validation modes


def _two_canonical_links() -> bytes:
    message = valid()
    message["links"].append({"href": "https://elsewhere.example/x.bufr4", "rel": "canonical"})
    return _body(message)


def test_reject_mode_refuses_with_the_reasons() -> None:
    with pytest.raises(MalformedNotice, match="exactly one link with rel canonical"):
        wnm.decode(SYNOP, _two_canonical_links(), "reject")


def test_a_topic_outside_the_hierarchy_is_refused() -> None:
    with pytest.raises(MalformedNotice, match="'rainbows' is not in the WIS2"):
        wnm.decode(
            SYNOP.replace("synop", "rainbows").replace("surface-based-observations", "rainbows"),
            _body(valid()),
        )


def test_warn_mode_takes_the_message_and_says_why() -> None:
    decoded = wnm.decode_checked(SYNOP, _two_canonical_links(), "warn")
    assert decoded.notice.base_url == "https://dd.example.ca/"  # the first of them
    assert [r.code for r in errors(decoded.reasons)] == ["link-relation"]
    assert "_comment" not in decoded.notice.extra


def test_tag_mode_adds_the_reasons_to_the_message() -> None:
    notice = wnm.decode(SYNOP, _two_canonical_links(), "tag")
    comment = notice.extra["_comment"]["validationErrors"]
    assert len(comment) == 1 and "exactly one link" in comment[0]
    with pytest.raises(NotEncodable, match="exactly one link"):  # never written on as it is
        wnm.encode(notice, "origin/a")
    notice.extra["links"] = [link for link in notice.extra["links"] if link["rel"] != "canonical"]
    _, body = wnm.encode(notice, "origin/a")
    assert json.loads(body)["properties"]["_comment"]["validationErrors"] == comment


def test_decode_any_hands_over_the_reasons_of_a_message_it_took() -> None:
    seen: list[Any] = []
    notice = decode_any(
        SYNOP,
        _two_canonical_links(),
        None,
        "application/json",
        wis2_validation="warn",
        on_wis2_reasons=lambda n, r: seen.append((n, r)),
    )
    assert seen and seen[0][0] is notice and seen[0][1][0].code == "link-relation"
    with pytest.raises(MalformedNotice):
        decode_any(SYNOP, _two_canonical_links(), None, "application/json")


def test_the_loop_logs_each_kind_of_fault_once_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    loop = SimpleNamespace(_wis2_seen=set())
    hex_message = valid()
    hex_message["properties"]["integrity"]["value"] = "ab" * 32
    decoded = wnm.decode_checked(SYNOP, _body(hex_message))
    with caplog.at_level(logging.DEBUG, logger="sarra.flow"):
        for _ in range(3):
            ConsumerLoop._wis2_reasons(loop, decoded.notice, decoded.reasons)  # type: ignore[arg-type]
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert hex_message["id"] in caplog.records[0].getMessage()


# --- export


def test_export_writes_a_complete_valid_message(schema: Any) -> None:
    topic, body = wnm.encode(_notice(), "origin/a")
    assert topic == SYNOP
    message = json.loads(body)
    assert errors(check_body(body, topic=topic, strict=True)[1]) == []
    assert schema_errors(schema, message) == []
    properties = message["properties"]
    assert message["conformsTo"] == ["http://wis.wmo.int/spec/wnm/1/conf/core"]
    assert "version" not in message
    assert properties["pubtime"] == "2026-08-20T12:05:01.123Z"
    assert properties["data_id"] == f"{DIRECTORY}/X 1#%.bufr4"
    assert properties["datetime"] is None
    assert properties["integrity"]["method"] == "sha512"
    assert message["links"] == [
        {
            "href": f"https://dd.example.ca/{DIRECTORY}/X%201%23%25.bufr4",
            "rel": "canonical",
            "type": "application/bufr",
            "length": 10,
        }
    ]
    assert "mtime" not in properties  # what WNM does not carry stays out


def test_the_id_of_a_new_message_is_stable() -> None:
    """A notice written twice (a retry) is one message for the Global Brokers' loop check."""
    one, two = wnm.encode(_notice(), "origin/a")[1], wnm.encode(_notice(), "origin/a")[1]
    assert json.loads(one)["id"] == json.loads(two)["id"]
    later = wnm.encode(_notice(pubtime="20260820T120502"), "origin/a")[1]
    assert json.loads(later)["id"] != json.loads(one)["id"]


def test_a_poster_gives_the_whole_topic_as_its_prefix() -> None:
    topic, body = wnm.encode(_notice(rel_path="X.bufr4"), SYNOP)
    assert topic == SYNOP
    assert json.loads(body)["properties"]["data_id"] == f"{DIRECTORY}/X.bufr4"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"report": Report(201)}, "a report has no WIS2"),
        ({"blocks": Blocks("inplace", 10, 3, 0, 1)}, "a part of a file"),
        ({"file_op": {"link": "target"}}, "file operation"),
        ({"file_op": {"directory": ""}}, "file operation"),
        ({"rel_path": "v03/post/X.bufr4"}, "topic 'origin/a/v03/post'"),
        ({"rel_path": f"{DIRECTORY}.v2/X.bufr4"}, "no dots"),
        ({"base_url": "file:///var/data/"}, "not HTTP, HTTPS, FTP or SFTP"),
        ({"identity": Identity("sha512", "not base64")}, "not the base64 of a 64-byte digest"),
        ({"pubtime": "noon"}, "pubtime"),
        ({"extra": {"padding": "x" * MAX_MESSAGE_BYTES}}, "more than the 8192 allowed"),
        ({"extra": {"geometry": {"type": "LineString", "coordinates": []}}}, "a Point, a Polygon"),
    ],
)
def test_what_cannot_be_a_valid_message_is_refused_with_its_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(NotEncodable) as refused:
        wnm.encode(_notice(**changes), "origin/a")
    assert reason in str(refused.value)


def test_a_removal_is_a_deletion_and_other_methods_are_left_out() -> None:
    body = wnm.encode(
        _notice(file_op={"remove": ""}, identity=Identity("md5", "AAAA")), "origin/a"
    )[1]
    message = json.loads(body)
    assert message["links"][0]["rel"] == "deletion" and "length" not in message["links"][0]
    assert "integrity" not in message["properties"]
    renamed = json.loads(wnm.encode(_notice(file_op={"rename": "old"}), "origin/a")[1])
    assert renamed["links"][0]["rel"] == "canonical"


def test_inline_content_only_when_it_fits() -> None:
    def exported(data: bytes, encoding: str) -> dict[str, Any] | None:
        value = data.decode() if encoding == "utf-8" else base64.b64encode(data).decode()
        notice = _notice(
            size=len(data), identity=None, content={"encoding": encoding, "value": value}
        )
        return json.loads(wnm.encode(notice, "origin/a")[1])["properties"].get("content")

    assert exported(b"small text", "utf-8") == {
        "encoding": "utf-8",
        "value": "small text",
        "size": 10,
    }
    assert exported(b"\x00\x01", "base64") == {"encoding": "base64", "value": "AAE=", "size": 2}
    repetitive = b"\x00" * 4000  # base64 is 5336 bytes, gzip far less
    content = exported(repetitive, "base64")
    assert content is not None and content["encoding"] == "gzip" and content["size"] == 4000
    assert gzip.decompress(base64.b64decode(content["value"])) == repetitive
    noise = bytes(hashlib.sha512(bytes([i])).digest()[j] for i in range(64) for j in range(64))
    assert exported(noise[:3500], "base64") is None  # neither base64 nor gzip fits: link only
    assert exported(b"x" * (MAX_INLINE_BYTES + 1), "utf-8") is None  # size over 4096


def test_content_is_dropped_when_the_message_would_be_too_large() -> None:
    data = b"y" * 4000
    notice = _notice(
        size=len(data),
        identity=None,
        content={"encoding": "utf-8", "value": data.decode()},
        extra={"note": "z" * 5000},
    )
    message = json.loads(wnm.encode(notice, "origin/a")[1])
    assert "content" not in message["properties"] and message["properties"]["note"]


# --- relays, round trips, cross-format


def test_a_relay_keeps_id_pubtime_and_every_property(spec_examples: dict[str, Path]) -> None:
    relayed = {}
    for name, path in spec_examples.items():
        original = json.loads(path.read_bytes())
        notice = wnm.decode(SYNOP, path.read_bytes())
        _, body = wnm.encode(notice, "origin/a")
        again = json.loads(body)
        relayed[name] = again
        assert again["id"] == original["id"], name
        assert again["properties"]["pubtime"] == original["properties"]["pubtime"], name
        assert again["geometry"] == original["geometry"], name
        for key, value in original["properties"].items():
            if key not in ("integrity", "content"):  # unusable ones are left out, hex -> base64
                assert again["properties"][key] == value, (name, key)
        main = [link for link in original["links"] if link["rel"] in ("canonical", "deletion")]
        assert main[0] in again["links"], name  # the href as it was written, escapes and all
        assert len(again["links"]) == len(original["links"]), name
    eumetsat = relayed["eumetsat-msg-seviri-core-notification.json"]["properties"]["integrity"]
    assert base64.b64decode(eumetsat["value"]).hex().startswith("5a4cae86ee22d91f")


@pytest.mark.parametrize("name", list(OWN_EXAMPLES))
def test_our_examples_survive_a_relay_exactly(name: str) -> None:
    topic, message = OWN_EXAMPLES[name]
    notice = wnm.decode(topic, _body(message))
    prefix = "/".join(topic.split("/")[:2])
    again_topic, body = wnm.encode(notice, prefix)
    again = json.loads(body)
    assert again_topic == topic
    expected = json.loads(json.dumps(message))
    if "version" in expected:  # the deprecated form is written as conformsTo
        del expected["version"]
        expected["conformsTo"] = ["http://wis.wmo.int/spec/wnm/1/conf/core"]
    if "content" in expected["properties"]:  # written in the encoding that fits first
        was, now = expected["properties"]["content"], again["properties"]["content"]
        assert decode_content(now["encoding"], now["value"]) == (
            decode_content(was["encoding"], was["value"])
        )
        again["properties"]["content"] = was
    assert sorted(again["links"], key=str) == sorted(expected["links"], key=str)
    again["links"] = expected["links"]
    assert again == expected


def test_wnm_through_v03_and_back_keeps_everything() -> None:
    """A shovel MQTT (WNM) -> AMQP (v03) -> MQTT (WNM) gives the message back."""
    topic, message = OWN_EXAMPLES["new data, point, sha256"]
    notice = wnm.decode(topic, _body(message))
    key, body = v03.encode(notice, "v03")
    through = v03.decode(key, body)
    assert through == notice
    again = json.loads(wnm.encode(through, "origin/a")[1])
    again["links"].sort(key=str)
    expected = json.loads(json.dumps(message))
    expected["links"].sort(key=str)
    assert again == expected


def test_v03_to_wnm_and_back_keeps_what_both_carry() -> None:
    data = b"0123456789"
    v03_body = json.dumps(
        {
            "pubTime": "20260820T120501.123456789",
            "baseUrl": "https://dd.example.ca",
            "relPath": f"/{DIRECTORY}/obs 1.bufr4",
            "identity": {
                "method": "sha512",
                "value": base64.b64encode(hashlib.sha512(data).digest()).decode(),
            },
            "size": len(data),
            "content": {"encoding": "utf-8", "value": data.decode()},
            "mtime": "20260820T120000",
            "data_id": "my/own/data_id",
            "metadata_id": "urn:wmo:md:ca-eccc-msc:synop",
            "contentType": "application/bufr",
        }
    )
    original = v03.decode("v03.wis2.x", v03_body)
    topic, body = wnm.encode(original, "origin/a")
    assert errors(check_body(body, topic=topic, strict=True)[1]) == []
    back = wnm.decode(topic, body)
    for name in ("pubtime", "identity", "size", "content"):
        assert getattr(back, name) == getattr(original, name), name
    assert back.url == "https://dd.example.ca/" + original.rel_path.lstrip("/")
    assert back.rel_path == original.rel_path.lstrip("/")
    for key in ("data_id", "metadata_id", "contentType"):
        assert back.extra[key] == original.extra[key]
    assert back.mtime is None  # WNM does not carry it


def test_v02_to_wnm_maps_the_checksum() -> None:
    data = b"abc"
    text = f"20260820120501.5 https://dd.example.ca /{DIRECTORY}/a.txt"
    headers = {"sum": f"s,{hashlib.sha512(data).hexdigest()}", "parts": "1,3,1,0,0"}
    notice = v02.decode("v02.post.x", text, headers)
    message = json.loads(wnm.encode(notice, "origin/a")[1])
    value = message["properties"]["integrity"]["value"]
    assert base64.b64decode(value) == hashlib.sha512(data).digest()
    assert message["links"][0]["length"] == 3 and message["links"][0]["type"] == "text/plain"


# --- selection beside v02 and v03


def test_decode_any_recognises_each_format() -> None:
    wnm_body = _body(valid())
    v03_key, v03_body = v03.encode(_notice(), "v03")
    v02_key, v02_text, v02_headers = v02.encode(_notice(), "v02.post")
    assert decode_any(SYNOP, wnm_body, None, "application/json").extra["id"] == valid()["id"]
    assert decode_any(SYNOP.replace("/", "."), wnm_body).extra["id"] == valid()["id"]
    assert decode_any("anything", wnm_body, None, "application/geo+json").extra["id"]
    assert decode_any("v03.post", wnm_body).extra["id"]  # keys tell, whatever the topic
    assert decode_any(v03_key, v03_body, None, "application/json") == _notice()
    assert decode_any(SYNOP, v03_body) == _notice()  # a v03 body on a WIS2 topic
    assert decode_any(v02_key, v02_text.encode(), v02_headers).rel_path == _notice().rel_path


def test_v02_notices_under_a_v03_prefix_go_under_v02_post_as_sr3_s() -> None:
    assert prefix_for("v02", "v03") == "v02.post"
    assert prefix_for("v02", "v03.post") == "v02.post"
    assert prefix_for("v02", "v02.foo") == "v02.foo"  # as v2 (sr3 would write v02.post)
    assert prefix_for("v03", "v02.post") == "v02.post"
    assert prefix_for("wis", "origin/a") == "origin/a"


def test_the_format_follows_post_format_or_the_prefix() -> None:
    assert format_for("auto", "v02.post") == "v02"
    assert format_for(None, "v03") == "v03"
    assert format_for("auto", "origin/a") == "wis"
    assert format_for("auto", "cache.a.wis2") == "wis"
    assert format_for("wis", "v03") == "wis"
    assert format_for("v03", "origin/a") == "v03"
    encoded = encode_any(_notice(), "wis", "origin/a")
    assert (encoded.topic, encoded.content_type, encoded.headers) == (
        SYNOP,
        "application/geo+json",
        None,
    )
    assert encode_any(_notice(), "v03", "v03").content_type == "application/json"
    assert encode_any(_notice(), "v02", "v02.post").headers


# --- property: what we can export is valid

_NAME = st.text(
    string.ascii_letters + string.digits + "-_. %#+:@é", min_size=1, max_size=30
).filter(lambda name: name not in (".", ".."))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def notices(draw: st.DrawFn) -> Notice:
    method = draw(
        st.sampled_from(["sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"])
    )
    data = draw(st.binary(max_size=5000))
    as_text = draw(st.booleans())
    content = None
    if draw(st.booleans()):
        try:
            content = {"encoding": "utf-8", "value": data.decode()} if as_text else None
        except UnicodeDecodeError:
            content = None
        content = content or {"encoding": "base64", "value": base64.b64encode(data).decode()}
    extra: dict[str, Any] = draw(
        st.dictionaries(
            st.text(string.ascii_lowercase + "_-", min_size=1, max_size=10).filter(
                lambda k: (
                    k not in wnm.NOT_PROPERTIES
                    and k
                    not in (
                        "pubtime",
                        "data_id",
                        "datetime",
                        "start_datetime",
                        "end_datetime",
                        "integrity",
                        "content",
                        "cache",
                        "metadata_id",
                        "producer",
                        "global-cache",
                    )
                )
            ),
            _JSON,
            max_size=4,
        )
    )
    if draw(st.booleans()):
        extra["metadata_id"] = draw(st.text(min_size=1, max_size=40))
    if draw(st.booleans()):
        extra["geometry"] = {
            "type": "Point",
            "coordinates": [draw(st.floats(-180, 180)), draw(st.floats(-90, 90))],
        }
    moment = draw(st.integers(0, 4102444800))
    fraction = draw(st.text("0123456789", max_size=9))
    pubtime = time.strftime("%Y%m%dT%H%M%S", time.gmtime(moment))
    return Notice(
        pubtime=f"{pubtime}.{fraction}" if fraction else pubtime,
        base_url=draw(
            st.sampled_from(
                ["https://dd.example.ca/", "http://h:8080/data", "sftp://h/", "ftp://u@h/"]
            )
        ),
        rel_path=f"{DIRECTORY}/{draw(_NAME)}",
        identity=Identity(method, base64.b64encode(hashlib.new(method, data).digest()).decode()),
        size=len(data),
        content=content,
        file_op=draw(st.sampled_from([None, {"remove": ""}])),
        extra=extra,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notices())
def test_every_notice_we_can_export_is_a_valid_message(notice: Notice) -> None:
    try:
        topic, body = wnm.encode(notice, "origin/a")
    except NotEncodable as refused:
        assert "more than the 8192 allowed" in str(refused)  # only ever too large
        return
    assert len(body) <= MAX_MESSAGE_BYTES
    assert errors(check_body(body, topic=topic, strict=True)[1]) == []
    back = wnm.decode(topic, body)
    assert back.rel_path == notice.rel_path
    base = notice.base_url.rstrip("/") + "/"
    fetched = back.retrieve_path or back.rel_path
    if back.retrieve_path and urlsplit(base).scheme in ("http", "https"):  # as written
        fetched = unquote(fetched)
    assert back.base_url + fetched == base + notice.rel_path
    assert (back.pubtime, back.identity, back.file_op) == (
        notice.pubtime,
        notice.identity,
        notice.file_op,
    )
    assert back.size == (None if notice.file_op else notice.size)
    if back.content is not None:
        assert back.content == notice.content or (
            base64.b64decode(back.content["value"]) == base64.b64decode(notice.content["value"])
        )
    for key, value in notice.extra.items():
        assert back.extra[key] == value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notice=notices())
def test_exports_pass_the_specifications_schema(schema: Any, notice: Notice) -> None:
    try:
        _, body = wnm.encode(notice, "origin/a")
    except NotEncodable:
        return
    assert schema_errors(schema, json.loads(body)) == []


@pytest.mark.parametrize(
    ("lines", "content_type"),
    [
        ("post_topic_prefix origin/a\n", "application/geo+json"),
        ("post_topic_prefix origin.a\npost_format wis\n", "application/geo+json"),
        ("post_topic_prefix origin/a\npost_format v03\n", "application/json"),
        ("post_topic_prefix v03\n", "application/json"),
        ("", "text/plain"),
    ],
)
def test_the_publisher_writes_the_configured_format(
    tmp_path: Path, lines: str, content_type: str
) -> None:
    path = tmp_path / "wis.conf"
    path.write_text(f"post_broker amqp://guest:guest@127.0.0.1/\npost_exchange xwis\n{lines}")
    publisher = NoticePublisher(load("post", path), Credentials())
    message = publisher.message(_notice())
    assert message.content_type == content_type
    if content_type == "application/geo+json":
        assert message.routing_key == SYNOP
        assert json.loads(message.body)["type"] == "Feature"
