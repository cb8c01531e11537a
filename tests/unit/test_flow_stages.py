"""Stages of the loop that need no server: placement, inflight names, duplicate cache,
retry queue, topic prefixes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from queue_stress import Stress

from sarra.broker.mqtt_topology import is_whole, matches
from sarra.config.errors import Where
from sarra.config.masks import Mask
from sarra.flow.inflight import Inflight
from sarra.flow.nodupe import NoDupeCache, notice_key
from sarra.flow.placement import Placement, place
from sarra.flow.prefixes import TopicPrefixes
from sarra.flow.retry import RetryEntry, RetryQueue, read_entries
from sarra.message.notice import Identity, Notice
from sarra.transfer.confine import PathRefused


def mask(directory: str, **captured: object) -> Mask:
    fields: dict[str, object] = {"mirror": False, "strip": "0", "flatten": "/", "filename": None}
    fields |= captured
    return Mask(pattern=".*", regex=re.compile(".*"), accept=True, directory=directory,
                where=Where("test", 1), **fields)  # type: ignore[arg-type]  # fmt: skip


def notice(rel_path: str, **fields: object) -> Notice:
    return Notice("20240101T000000.0", "http://h/", rel_path, **fields)  # type: ignore[arg-type]


def test_no_mirror_puts_files_in_the_directory(tmp_path: Path) -> None:
    placed = place(notice("a/b/c.txt"), mask(str(tmp_path)), mask("."))
    assert placed.path == tmp_path.resolve() / "c.txt"


def test_mirror_keeps_the_tree_and_strip_removes_levels(tmp_path: Path) -> None:
    placed = place(notice("/a/b/c.txt"), mask(str(tmp_path), mirror=True), mask("."))
    assert placed.path == tmp_path.resolve() / "a/b/c.txt"
    stripped = place(notice("/a/b/c.txt"), mask(str(tmp_path), mirror=True, strip="1"), mask("."))
    assert stripped.path == tmp_path.resolve() / "b/c.txt"
    by_regex = place(notice("/data/x/c.txt"), mask(str(tmp_path), mirror=True, strip="^data/"),
                     mask("."))  # fmt: skip
    assert by_regex.path == tmp_path.resolve() / "x/c.txt"


def test_a_question_mark_is_part_of_a_file_name_whatever_the_scheme(tmp_path: Path) -> None:
    """A relPath is a file's path: `?` names a file (a query comes with a retrievePath only)."""
    root = tmp_path.resolve()
    for base in ("http://h/", "https://h/", "sftp://h/"):
        plain = place(
            Notice("20240101T000000.0", base, "d/get.py?station=A"), mask(str(tmp_path)), mask(".")
        )
        assert plain.path == root / "get.py?station=A"
        mirrored = Notice("20240101T000000.0", base, "d/a?b/c", retrieve_path="d/a?x=1")
        assert place(mirrored, mask(str(tmp_path), mirror=True), mask(".")).path == root / "d/a?b/c"


def test_flatten_and_filename_keywords(tmp_path: Path) -> None:
    flat = place(notice("a/b/c.txt"), mask(str(tmp_path), flatten="-"), mask("."))
    assert flat.path.name == "a-b-c.txt"
    whatfn = place(notice("a/SACN31:CWAO:x"), mask(str(tmp_path), filename="WHATFN"), mask("."))
    assert whatfn.path.name == "SACN31"


@pytest.mark.parametrize(
    ("keyword", "name", "expected"),
    [
        (
            "WHATFN",
            "SACN31_CWAO_061200:pxatx:CWAO:SA:3:Direct:20241206120001",
            "SACN31_CWAO_061200",
        ),
        ("HEADFN", "SACN31_CWAO_061200:pxatx:CWAO", "SACN31_CWAO"),
        (
            "NONE",
            "SACN31_CWAO:pxatx:CWAO:SA:3:Direct:20241206120001",
            "SACN31_CWAO:pxatx:CWAO:SA:3:Direct",
        ),
        (
            "NONE",
            "SACN31_CWAO:pxatx:CWAO:SA:33:Direct:20241206120001",
            "SACN31_CWAO:pxatx:CWAO:SA:33",
        ),
        ("NONE", "A:b:SENDER=x:c", "A:b"),
        ("NONESENDER", "A:b:SENDER=x:c", "A:b:SENDER=x"),
        ("SENDER", "A:b:SENDER=x.txt:c", "x.txt"),
        ("WHATFN:TIME", "AACN01:x", "AACN01:20240101000000"),
        ("WHATFN:TIME", "AACN01:x:20231231235959", "AACN01:20231231235959"),
        ("DESTFN=fixed.txt:SATNET=7", "AACN01:x", "fixed.txt:SATNET=7"),
    ],
)
def test_every_sundew_file_name_keyword(
    tmp_path: Path, keyword: str, name: str, expected: str
) -> None:
    placed = place(notice(f"a/{name}"), mask(str(tmp_path), filename=keyword), mask("."))
    assert placed.path.name == expected


def test_the_sundew_extension_header_replaces_the_fields_of_the_name(tmp_path: Path) -> None:
    placed = place(notice("a/AACN01", extra={"sundew_extension": "x:CWAO:AA:3:Direct:20240101"}),
                   mask(str(tmp_path), filename="NONE"), mask("."))  # fmt: skip
    assert placed.path.name == "AACN01:x:CWAO:AA:3:Direct"


def test_rename_header_and_directory_variables(tmp_path: Path) -> None:
    renamed = place(notice("a/c.txt", rename="new/"), mask(str(tmp_path)), mask("."))
    assert renamed.path == tmp_path.resolve() / "new/c.txt"
    when = datetime(2024, 5, 6, tzinfo=UTC)
    dated = place(notice("a/c.txt", source="metpx"),
                  mask(str(tmp_path) + "/${YYYYMMDD}/${SOURCE}"), mask("."), now=when)  # fmt: skip
    assert dated.path == tmp_path.resolve() / "20240506/metpx/c.txt"


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "a/../../x", "/../x"])
def test_paths_that_climb_out_are_refused(tmp_path: Path, hostile: str) -> None:
    with pytest.raises(PathRefused):
        place(notice(hostile), mask(str(tmp_path), mirror=True), mask("."))


def test_rename_that_climbs_out_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PathRefused):
        place(notice("a.txt", rename="../../evil"), mask(str(tmp_path)), mask("."))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [(".tmp", "f.txt.tmp"), (".", ".f.txt"), ("part/", "part/f.txt"), ("NONE", "f.txt")],
)
def test_inflight_names(tmp_path: Path, rule: str, expected: str) -> None:
    final = tmp_path / "f.txt"
    assert Inflight(rule).temporary(final) == tmp_path / expected


def test_tempdir_and_publish(tmp_path: Path) -> None:
    inflight = Inflight(".tmp", tempdir=str(tmp_path / "work"))
    final = tmp_path / "out" / "f.txt"
    assert inflight.temporary(final) == tmp_path / "work" / "f.txt"
    with inflight.open(Placement(tmp_path / "out", final)) as destination:
        destination.write(lambda file: file.write(b"data"), lambda fd: None)
    assert final.read_text() == "data" and not (tmp_path / "work" / "f.txt").exists()


def test_nodupe_ttl_and_persistence(tmp_path: Path) -> None:
    file = tmp_path / "cache"
    cache = NoDupeCache(ttl=60, file=file)
    n = notice("a/b.txt", identity=Identity("md5", "abc"))
    key, path = notice_key(n, "path")
    assert cache.claim(key, path, now=1000.0) is True
    assert cache.claim(key, path, now=1001.0) is False  # claimed by the first copy
    cache.settle(key, path, now=1002.0)
    assert cache.claim(key, path, now=1010.0) is False
    assert cache.claim(key, path, now=1071.0) is True  # the TTL ran out (from 1010)
    assert cache.claim(key, "other/b.txt", now=1010.0) is True
    cache.settle(key, "other/b.txt")
    cache.close()
    reloaded = NoDupeCache(ttl=10**10, file=file)
    assert reloaded.claim(key, path) is False
    assert reloaded.compact(now=time.time()) == 2


def test_nodupe_claim_not_settled_is_forgotten_by_a_restart(tmp_path: Path) -> None:
    """Killed between claim and settle: the redelivered copy passes after the restart."""
    file = tmp_path / "cache"
    cache = NoDupeCache(ttl=60, file=file)
    assert cache.claim("k", "p") is True
    assert cache.claim("k", "p", redelivered=True) is True  # taken over
    cache.close()
    assert NoDupeCache(ttl=60, file=file).claim("k", "p", redelivered=True) is True


def test_nodupe_basis() -> None:
    a = notice("x/f.txt", identity=Identity("md5", "abc"))
    b = notice("y/f.txt", identity=Identity("md5", "abc"))
    assert notice_key(a, "path") != notice_key(b, "path")
    assert notice_key(a, "name") == notice_key(b, "name")
    assert notice_key(a, "data") == notice_key(b, "data")


def entry(name: str, first_failure: float | None = None) -> RetryEntry:
    return RetryEntry(routing_key=f"v02.post.{name}", body=b"body \x00 bytes", headers={"a": "b"},
                      content_type="text/plain", exchange="xpublic",
                      first_failure=first_failure or time.time())  # fmt: skip


def test_retry_queue_survives_a_crash(tmp_path: Path) -> None:
    queue = RetryQueue(tmp_path / "retry", ttl=3600)
    queue.put(entry("one"))
    queue.put(entry("two"))
    # no close: a crash; a new queue reads both back, bytes intact
    again = RetryQueue(tmp_path / "retry", ttl=3600)
    assert [e.routing_key for e in again.pending] == ["v02.post.one", "v02.post.two"]
    assert again.pending[0].body == b"body \x00 bytes"


def test_retry_waits_then_gives_up_after_ttl(tmp_path: Path) -> None:
    queue = RetryQueue(tmp_path / "retry", ttl=100)
    queue.put(entry("late"))
    assert queue.take() is None  # its delay is not over
    taken = queue.take(now=time.time() + 5)
    assert taken is not None and taken.routing_key == "v02.post.late"
    queue.compact()  # in hand: still kept on disk
    assert len(RetryQueue(tmp_path / "retry", ttl=100)) == 1
    queue.done(taken)
    queue.put(entry("old", first_failure=time.time() - 1000))
    assert queue.take(now=time.time() + 600) is None
    assert len(queue) == 0
    queue.close()
    assert (tmp_path / "retry").read_text() == ""


def keys_on_disk(file: Path) -> list[str]:
    return sorted(e.routing_key for e in read_entries(file))


def test_retry_queue_shared_by_workers_and_a_compacting_housekeeping(tmp_path: Path) -> None:
    """Workers put, take, put again and finish while housekeeping compacts every 2 ms: no
    exception, the count always right, the file always what memory holds (a crash at any
    point loses nothing, doubles nothing), every entry finished exactly once."""
    file = tmp_path / "retry"
    queue = RetryQueue(file, ttl=1e6)
    stress = Stress(queue)
    stress.put_all()
    assert stress.problems == []
    everything = sorted(e.routing_key for e in [*queue.pending])
    assert len(everything) == stress.entries
    assert keys_on_disk(file) == everything
    stress.churn(rounds=200)
    assert stress.problems == []
    assert keys_on_disk(file) == everything
    stress.drain()
    assert stress.problems == []
    assert stress.lost_and_twice() == ([], [])
    assert stress.compactions > 10
    assert len(queue) == 0
    queue.close()
    assert keys_on_disk(file) == []


def test_retry_queue_put_that_cannot_write_leaves_the_queue_as_it_was(tmp_path: Path) -> None:
    file = tmp_path / "retry"
    queue = RetryQueue(file, ttl=3600)
    queue.put(entry("kept"))
    taken = queue.take(now=time.time() + 5)
    assert taken is not None
    queue.compact()
    file.unlink()
    file.mkdir()  # the file cannot be opened any more: every put fails
    with pytest.raises(OSError):
        queue.put(entry("new"))
    with pytest.raises(OSError):
        queue.put(taken)
    assert len(queue) == 1 and queue.take(now=time.time() + 5) is None  # still in hand
    queue.release(taken)  # not handled: it waits again
    assert queue.take(now=time.time() + 5) is taken
    file.rmdir()
    queue.put(taken)
    assert keys_on_disk(file) == ["v02.post.kept"]


def test_retry_queue_appends_after_a_torn_line(tmp_path: Path) -> None:
    """A crash in the middle of a line: the next entry starts a line of its own."""
    file = tmp_path / "retry"
    file.write_text(entry("whole").to_line() + "\n" + entry("torn").to_line()[:40])
    queue = RetryQueue(file, ttl=3600)
    queue.put(entry("after"))
    assert keys_on_disk(file) == ["v02.post.after", "v02.post.whole"]


# --- topic prefixes

prefix_words = st.sampled_from(["v02", "v03", "post", "origin", "a", "wis2", "+", "#", "", "x.y"])


def _under(prefix: str, key: str) -> bool:
    """The rule, word for word: the prefix itself, or under it (AMQP: then `.`; a whole MQTT
    topic: its levels, `+` and `#` as MQTT reads them)."""
    return (
        key == prefix
        or key.startswith(prefix + ".")
        or (is_whole(prefix) and matches(prefix + "/#", key))
    )


@settings(max_examples=500)
@given(
    st.lists(
        st.builds(lambda w, sep: sep.join(w), st.lists(prefix_words, min_size=1, max_size=4),
                  st.sampled_from([".", "/"])),
        min_size=1, max_size=3,
    ),
    st.builds(lambda w, sep: sep.join(w), st.lists(prefix_words, max_size=6),
              st.sampled_from([".", "/"])),
)  # fmt: skip
def test_topic_prefixes_match_as_the_rule_says(prefixes: list[str], key: str) -> None:
    topics = TopicPrefixes(prefixes)
    assert topics.match(key) == any(_under(prefix, key) for prefix in prefixes)
    for prefix in prefixes:  # and a key under each, and the prefix itself
        assert topics.match(prefix)
        assert topics.match(prefix + ("/" if is_whole(prefix) else ".") + "z")
