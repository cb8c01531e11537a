"""Hostile notices at decode (pure, no broker): every malformed notice is refused with one short
line naming the reason, and a notice that passes decode goes through the later stages without
an unexpected exception."""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hostile import MD5_HEX, MUTATIONS, good_v02_headers, good_v03, malformed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sarra.config.credentials import redact_url
from sarra.config.errors import Where
from sarra.config.masks import Mask
from sarra.flow.download import inline_bytes, remote_path, server_key
from sarra.flow.nodupe import notice_key
from sarra.flow.placement import place
from sarra.message import decode_any, v02, v03
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.notice import Notice, time_to_epoch
from sarra.message.topic import routing_key
from sarra.message.validate import MAX_DEPTH, MAX_NAME_BYTES, MAX_PATH_BYTES
from sarra.transfer.confine import PathRefused

BASE = "http://127.0.0.1:8000/"


def v03_reason(**changes: Any) -> str:
    fields = good_v03(BASE, "a/b.txt") | changes
    with pytest.raises(MalformedNotice) as caught:
        v03.decode("v03.a", json.dumps(fields).encode())
    return caught.value.reason


def v02_reason(rel_path: str = "a/b.txt", base: str = BASE, **headers: Any) -> str:
    body = f"20240101120000.5 {base} {rel_path}"
    with pytest.raises(MalformedNotice) as caught:
        v02.decode("v02.post.a", body.encode(), good_v02_headers() | headers)
    return caught.value.reason


# --- the cases of issue 14, each refused with its reason -----------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"relPath": "d/" * 2000 + "f"}, "relPath has 2001 names, more than 64"),
        ({"fileOp": {"link": 5}}, "fileOp.link must be a string, not int"),
        ({"fileOp": {"rename": ["x"]}}, "fileOp.rename must be a string, not list"),
        ({"fileOp": {"link": ""}}, "fileOp.link is empty"),
        ({"fileOp": {"remove": {"x": 1}}}, "fileOp.remove must be a flag, not dict"),
        ({"baseUrl": "http://[::1/"}, r"baseUrl does not parse \(Invalid IPv6 URL\)"),
        ({"baseUrl": "http://h:99999/"}, r"baseUrl does not parse \(Port out of range"),
        ({"baseUrl": "http://h:port/"}, r"baseUrl does not parse"),
        ({"baseUrl": "dd.weather.gc.ca/x"}, "baseUrl has no scheme"),
        ({"baseUrl": "http:///x"}, "baseUrl has no host"),
        ({"relPath": "a/\udcff.txt"}, r"relPath holds a lone surrogate: 'a/\\udcff.txt'"),
        ({"relPath": "a/b\x00c"}, "relPath holds a NUL byte"),
        ({"relPath": "a/" + "x" * 256}, "relPath holds a name longer than 255 bytes"),
        ({"relPath": "/".join(["y" * 200] * 21)}, "relPath is 4220 bytes long, more than 4095"),
        ({"retrievePath": "\x00"}, "retrievePath holds a NUL byte"),
        ({"rename": "d/" * 70}, "rename has 70 names, more than 64"),
        ({"size": -1}, "size must be a non-negative integer"),
        ({"size": "9" * 5000}, "size must be a non-negative integer"),
        ({"size": 2**63}, "size must be an integer from 0 to"),
        ({"mode": "zz"}, "mode is not octal: 'zz'"),
        ({"mtime": "20240230T000000"}, "mtime is not a time: '20240230T000000'"),
        ({"atime": "20241399T000000"}, "atime is not a time"),
        ({"pubTime": "20240101T250000"}, "pubTime is not a time"),
        ({"identity": {"method": 5, "value": "x"}}, "identity needs a string method"),
        ({"source": "../../etc"}, "source is not a name: '../../etc'"),
        ({"to_clusters": "a/b"}, "to_clusters is not a name"),
        ({"content": {"value": 5}}, "content.value must be a string, not int"),
        ({"report": {"code": 5000}}, "report code 5000 is not a 3-digit code"),
        ({"note": {"x": ["\udc80"]}}, "note.x holds a lone surrogate"),
        ({"\udc80": 1}, "a key of the notice holds a lone surrogate"),
        ({"nested": json.loads("[" * 40 + "]" * 40)}, "nested is nested more than 32 deep"),
    ],
)
def test_v03_hostile_fields_are_refused(changes: dict[str, Any], reason: str) -> None:
    assert re.search(reason, v03_reason(**changes))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"pubTime": "20240101T120000", "x": NaN}', "NaN is not a JSON number"),
        (b"{\xed\xb2\x80}", "body is not UTF-8"),
        (b"[" * 100_000, "body is not JSON"),
    ],
)
def test_v03_bodies_no_json_peer_writes_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedNotice, match=reason):
        v03.decode("v03.a", body)


@pytest.mark.parametrize(
    ("rel_path", "base", "headers", "reason"),
    [
        ("d/" * 2000 + "f", BASE, {}, "relPath has 2001 names"),
        ("a/b.txt", "http://[::1/", {}, "baseUrl does not parse"),
        ("a/b\x00c", BASE, {}, "relPath holds a NUL byte"),
        ("a/b.txt", BASE, {"sum": "L,x", "link": 5}, "header link must be text, not int"),
        ("a/b.txt", BASE, {"sum": "L,x", "link": "d/" * 100}, "fileOp.link has 100 names"),
        ("a/b.txt", BASE, {"parts": "1," + "9" * 5000 + ",1,0,0"}, "bad parts header"),
        ("a/b.txt", BASE, {"mode": "zz"}, "mode is not octal"),
        ("a/b.txt", BASE, {"source": "../x"}, "source is not a name"),
        ("a/b.txt", BASE, {"oldname": "\x00"}, "fileOp.rename holds a NUL byte"),
        ("a/b.txt", BASE, {"x": float("nan")}, "x is not a finite number"),
        ("a/b.txt", BASE, {"x": {"t": object()}}, "t must be text or a number, not object"),
    ],
)
def test_v02_hostile_fields_are_refused(
    rel_path: str, base: str, headers: dict[str, Any], reason: str
) -> None:
    assert reason in v02_reason(rel_path, base, **headers)


def test_v02_report_code_too_long_for_an_int_is_refused() -> None:
    body = f"20240101120000.5 {BASE} a/b.txt {'9' * 5000} host user 0"
    with pytest.raises(MalformedNotice, match="report code is not a number"):
        v02.decode("v02.report.a", body, {"sum": f"d,{MD5_HEX}"})


def test_a_str_body_given_surrogates_is_refused() -> None:
    # bodies given as text (a plugin's notice, the retry queue) are held to the same rules
    with pytest.raises(MalformedNotice, match="lone surrogate"):
        v02.decode("v02.post.a", f"20240101120000.5 {BASE} a/\udcff", {})
    with pytest.raises(MalformedNotice, match="lone surrogate"):
        v03.decode("v03.a", json.dumps(good_v03(BASE, "a/\udcff"), ensure_ascii=False))


def test_limits_are_inclusive() -> None:
    deepest = "/".join(["d"] * MAX_DEPTH)
    longest_name = "a/" + "é" * (MAX_NAME_BYTES // 2)
    longest_path = "/".join(["y" * MAX_NAME_BYTES] * 16)
    assert len(longest_path) == MAX_PATH_BYTES
    for rel_path in (deepest, longest_name, longest_path):
        assert v03.decode("v03.a", json.dumps(good_v03(BASE, rel_path))).rel_path == rel_path
    assert "more than 64" in v03_reason(relPath=deepest + "/f")
    assert "longer than 255 bytes" in v03_reason(relPath=longest_name + "é")
    assert "more than 4095" in v03_reason(relPath=longest_path + "y")


def test_times_of_the_29th_to_the_31st_are_checked_against_their_month() -> None:
    assert v03.decode("v03.a", json.dumps(good_v03(BASE, "a") | {"mtime": "20240229T000000"}))
    assert "mtime is not a time" in v03_reason(mtime="20230229T000000")
    assert "mtime is not a time" in v03_reason(mtime="20240431T000000")


# --- the seeded fuzz: every mutation refused, with one short printable line -----------------------


def test_thousands_of_malformed_notices_are_refused_each_with_one_short_line() -> None:
    kinds: Counter[str] = Counter()
    for wire in malformed(random.Random(14), 3000):
        with pytest.raises(MalformedNotice) as caught:
            decode_any(wire.routing_key, wire.body, wire.headers, wire.content_type)
        reason = caught.value.reason
        assert reason.isprintable() and len(reason) <= 250, (wire.kind, reason)
        kinds[wire.kind] += 1
    assert len(kinds) == len(MUTATIONS)


# --- properties: what passes decode goes through the later stages --------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=20)  # surrogates too
url_like = st.sampled_from(["http://", "https://h", "ftp://u@h:21/", "file:/", "x"]).flatmap(
    lambda head: any_text.map(lambda tail: head + tail)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text | url_like,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)


def later_stages(notice: Notice, tmp_path: Path) -> None:
    """What the loop and its workers do with a decoded notice's content, short of I/O; only
    the expected refusals may be raised."""
    default = Mask(pattern="", regex=re.compile(""), accept=True, directory=str(tmp_path),
                   mirror=True, strip="0", flatten="/", filename=None,
                   where=Where("t"))  # fmt: skip
    redact_url(notice.url)
    remote_path(notice)
    server_key(notice)
    routing_key(notice.rel_path, "v02.post")
    notice_key(notice, "path")
    for moment in (notice.pubtime, notice.mtime, notice.atime):
        if moment is not None:
            time_to_epoch(moment)
    if notice.mode is not None:
        int(notice.mode, 8)
    if notice.content is not None:
        inline_bytes(notice.content)
    if notice.blocks is not None:
        notice.blocks.to_parts().offset  # noqa: B018
    for encode in (v02.encode, v03.encode):
        with contextlib.suppress(NotEncodable):
            encode(notice)
    with contextlib.suppress(PathRefused):
        place(notice, None, default)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(sorted(v03.FIELDS)), json_values, max_size=4))
def test_v03_decode_refuses_or_gives_a_notice_the_later_stages_take(
    changes: dict[str, Any], tmp_path: Path
) -> None:
    fields = good_v03(BASE, "a/b.txt") | changes
    try:
        notice = v03.decode("v03.a", json.dumps(fields).encode())
    except MalformedNotice:
        return
    later_stages(notice, tmp_path)


header_values = st.text() | st.integers() | st.booleans() | st.floats() | st.binary(max_size=8)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rel_path=st.text(st.characters(exclude_categories=()), max_size=60),
    headers=st.dictionaries(
        st.sampled_from(sorted(v02.HEADERS | {"x"})), header_values, max_size=4
    ),
)
def test_v02_decode_refuses_or_gives_a_notice_the_later_stages_take(
    rel_path: str, headers: dict[str, Any], tmp_path: Path
) -> None:
    body = f"20240101120000.5 {BASE} {rel_path or 'a'}".encode("utf-8", "surrogatepass")
    try:
        notice = v02.decode("v02.post.a", body, good_v02_headers() | headers)
    except MalformedNotice:
        return
    later_stages(notice, tmp_path)
