"""One accept/reject decision (sarra.flow.rules) for every component: what sr_post and sr_watch
take of local paths is what the consuming loop's filter takes of the notices made of them, by
the same rule; sr_poll's rules are those read under each polled directory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sarra.config.loader import load
from sarra.flow.announce import Announcer
from sarra.flow.job import Job
from sarra.flow.loop import ConsumerLoop
from sarra.flow.rules import Rules, accepted_by, why_rejected

RULES = (
    "directory /in/a\n"
    "reject .*/skip/.*\n"
    "accept .*\\.txt$\n"
    "directory /in/b\n"
    "mirror True\n"
    "accept .*/keep/.*\n"
    "reject .*\\.tmp$\n"
    "accept .*/b[0-9]\\.dat$\n"
)

NAMES = [
    "x/a.txt", "x/skip/a.txt", "x/keep/a.tmp", "x/keep/b.bin", "x/b.tmp", "x/b1.dat",
    "x/b12.dat", "x/c.bin", "skip/keep/c.txt",
]  # fmt: skip


def rule(rules: Rules, text: str) -> str | None:
    mask = rules.verdict(text)[1]
    return None if mask is None else f"{mask.pattern} {mask.directory} {mask.where.line}"


def test_a_rule_set_gives_the_same_verdicts_to_sr_post_and_to_the_consuming_filter(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    paths = []
    for name in NAMES:
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"data\n")
        paths.append(str(path))
    for unmatched in ("False", "True"):
        conf = f"accept_unmatch {unmatched}\n" + RULES
        (tmp_path / "p.conf").write_text("post_broker amqp://guest@localhost/\n" + conf)
        (tmp_path / "s.conf").write_text("broker amqp://guest@localhost/\n" + conf)
        announcer = Announcer(load("post", tmp_path / "p.conf"))
        loop = ConsumerLoop(load("shovel", tmp_path / "s.conf"), 0, threading.Event())
        try:
            posted = {path: announcer.accepts(path) for path in paths}
            filtered = {}
            for path in paths:
                (notice,) = announcer.notices(path, os.lstat(path))
                before = loop.counts["rejected"]
                loop._filter(Job(notice, None, None))
                filtered[path] = loop.counts["rejected"] == before
                # the very rule that decided is the same on both sides
                assert rule(announcer.rules, path) == rule(loop.rules, notice.url)
        finally:
            loop.retry.close()
            loop.pool.shutdown()
        assert posted == filtered
        assert any(posted.values()) and not all(posted.values())
        assert posted[str(tree / "x/c.bin")] is (unmatched == "True")


def test_the_deciding_rule_carries_its_placement_and_says_why(tmp_path: Path) -> None:
    conf = "directory /in/a\nreject .*\\.tmp$\naccept .*\\.txt$\ndirectory /in/b\nmirror True\n"
    path = tmp_path / "c.conf"
    path.write_text("broker amqp://guest@localhost/\n" + conf + "accept_unmatch True\n")
    rules = Rules.of(load("subscribe", path))
    accepted, mask = rules.verdict("https://h/a.txt")
    assert accepted and mask is not None and mask.directory == "/in/a"
    assert accepted_by(mask).startswith("accept .*\\.txt$ (")
    accepted, mask = rules.verdict("https://h/a.tmp")
    assert not accepted and why_rejected(mask).startswith("matches reject .*\\.tmp$ (")
    accepted, mask = rules.verdict("https://h/a.bin")
    assert accepted and mask is None and accepted_by(mask) == "accept_unmatch"
    assert rules.default is not None
    assert (rules.default.directory, rules.default.mirror) == ("/in/b", True)
    assert why_rejected(None) == "no accept"


def test_sr_post_matches_a_files_url_as_the_consuming_filter_does(tmp_path: Path) -> None:
    """As in v2 and sr3, the rules match the URL a file is announced under (`file:/...` with
    the default base), in sr_post as in the filter of the notices it makes: a rule anchored at
    the path's `/` takes nothing in either, one written with `file:` the same in both."""
    tree = tmp_path / "data"
    tree.mkdir()
    path = tree / "a.txt"
    path.write_text("x")
    for rules, taken in ((f"accept {tree}/.*\n", False), (f"accept file:{tree}/.*\n", True)):
        conf = "accept_unmatch False\n" + rules
        (tmp_path / "p.conf").write_text("post_broker amqp://guest@localhost/\n" + conf)
        (tmp_path / "s.conf").write_text("broker amqp://guest@localhost/\n" + conf)
        announcer = Announcer(load("post", tmp_path / "p.conf"))
        loop = ConsumerLoop(load("shovel", tmp_path / "s.conf"), 0, threading.Event())
        try:
            (notice,) = announcer.notices(str(path), os.lstat(path))
            assert notice.url == f"file:{path}"
            loop._filter(Job(notice, None, None))
            assert (loop.counts["rejected"] == 0) is taken
            assert announcer.accepts(str(path)) is taken
        finally:
            loop.retry.close()
            loop.pool.shutdown()
