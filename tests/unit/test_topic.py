"""Topics: escaping, path -> topic, truncation, bindings, topic -> dirs, exchange split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sarra.message.topic import (
    MAX_KEY_BYTES,
    escape,
    fit_routing_key,
    path_to_topic,
    report_prefix,
    routing_key,
    split_exchange,
    subtopic_binding,
    topic_to_dirs,
    unescape,
)

# text rich in the characters escaping cares about
tricky_text = st.text(
    alphabet=st.sampled_from(" #%2035/.*é") | st.characters(exclude_categories=("Cs",)),
    max_size=60,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain/path.txt", "plain/path.txt"),
        ("a b#c", "a%20b%23c"),
        ("50%", "50%"),  # a lone % is written as v2 writes it
        ("%2x", "%2x"),
        ("%20", "%2520"),  # would read as an escape: protected
        ("%23%25", "%2523%2525"),
        ("% ", "%%20"),
    ],
)
def test_escape(text, escaped):
    assert escape(text) == escaped
    assert unescape(escaped) == text


@settings(max_examples=300)
@given(tricky_text)
def test_unescape_reverses_escape(text):
    escaped = escape(text)
    assert " " not in escaped
    assert "#" not in escaped
    assert unescape(escaped) == text


@settings(max_examples=100)
@given(tricky_text.filter(lambda t: not any(s in t for s in ("%20", "%23", "%25"))))
def test_escape_is_v2_escaping_for_paths_without_escape_lookalikes(text):
    assert escape(text) == text.replace(" ", "%20").replace("#", "%23")


@pytest.mark.parametrize(
    ("rel_path", "topic"),
    [
        ("/data/shared/products/foo", "v02.post.data.shared.products"),
        ("foo", "v02.post"),
        ("/foo", "v02.post"),
        ("a//b/f", "v02.post.a.b"),
        ("a/b/", "v02.post.a"),
        ("a/../b/f", "v02.post.a.b"),
        ("v1.2/x/f", "v02.post.v1.2.x"),
        ("dir with space/#hash/*/f", "v02.post.dir%20with%20space.%23hash.*"),
    ],
)
def test_path_to_topic(rel_path, topic):
    assert path_to_topic(rel_path, "v02.post") == topic


def test_short_key_is_not_truncated():
    key = routing_key("a/b/c", "v03")
    assert key == "v03.a.b"
    assert key.truncated is False


def test_long_key_is_cut_on_a_character_boundary():
    key = routing_key("é" * 300 + "/file", "v02.post")
    assert key.truncated is True
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert len(key.encode()) >= MAX_KEY_BYTES - 1
    assert key == ("v02.post." + "é" * 300)[: len(key)]


def test_cut_never_leaves_half_an_escape():
    # the 255-byte limit falls inside the second %23
    topic = "x" * 251 + "%23%23"
    assert fit_routing_key(topic) == "x" * 251 + "%23"


@settings(max_examples=200)
@given(st.lists(tricky_text, min_size=1, max_size=8))
def test_routing_key_always_fits(directories):
    full = path_to_topic("/".join([*directories, "file"]), "v02.post")
    key = fit_routing_key(full)
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert full.startswith(key)
    assert key.truncated == (key != full)
    if key.truncated:
        assert not key.endswith((".", "%", "%2"))


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("v02.post", "v02.report"), ("v03.post", "v03.report"), ("v03", "v03.report")],
)
def test_report_prefix(prefix, expected):
    assert report_prefix(prefix) == expected


@pytest.mark.parametrize(
    ("subtopic", "binding"),
    [
        ("#", "v02.post.#"),
        ("a.b.#", "v02.post.a.b.#"),
        ("#.x", "v02.post.#.x"),
        ("a#b.*.c d", "v02.post.a%23b.*.c%20d"),
        ("x.#y", "v02.post.x.%23y"),
    ],
)
def test_subtopic_binding(subtopic, binding):
    assert subtopic_binding("v02.post", subtopic) == binding


def test_binding_matches_the_escaped_topic():
    directory = "dir #1"
    assert subtopic_binding("v02.post", directory) == path_to_topic(f"{directory}/f", "v02.post")


@pytest.mark.parametrize(
    ("topic", "dirs"),
    [
        ("v02.post.data.shared.products", "data/shared/products"),
        ("v02.post", ""),
        ("v02.post.dir%20with%20space.%23hash", "dir with space/#hash"),
    ],
)
def test_topic_to_dirs(topic, dirs):
    assert topic_to_dirs(topic, "v02.post") == dirs


def test_topic_to_dirs_refuses_another_prefix():
    with pytest.raises(ValueError, match=r"does not start with 'v02\.post'"):
        topic_to_dirs("v02.postx.a", "v02.post")


def test_split_exchange():
    # bytes of "d,abc": 100 + 44 + 97 + 98 + 99 = 438; 438 % 4 = 2
    assert split_exchange("xwinnow", 4, "d,abc") == "xwinnow02"
    assert split_exchange("xwinnow", 1, "d,abc") == "xwinnow00"
    assert split_exchange("x", 100, "d,abc") == "x38"


def test_split_exchange_needs_a_positive_count():
    with pytest.raises(ValueError, match="at least 1"):
        split_exchange("xwinnow", 0, "d,abc")
