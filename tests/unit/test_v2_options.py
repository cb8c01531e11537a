"""v2's option vocabulary: every name and alias v2's option parser knew is understood here, or
warned about as having no effect; a mistyped option is still refused at file:line with a
did-you-mean. (tests/compat/test_v2_vocabulary.py reads the list from v2's own parser.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from sarra.config.errors import ConfigErrors
from sarra.config.loader import load
from sarra.config.options import find

REFUSED_BEFORE = [
    "a",
    "accept_unmatched",
    "action",
    "c",
    "ca",
    "cb",
    "cl",
    "content_encoding",
    "content_max",
    "ddm",
    "de",
    "default_log_mode",
    "dlm",
    "download-and-discard",
    "dr",
    "fc",
    "fr",
    "gf",
    "h",
    "help",
    "hostname",
    "imx",
    "inl",
    "inlenc",
    "instance",
    "ld",
    "le",
    "lx",
    "message-ttl",
    "move",
    "no",
    "noduplicates",
    "on_hb",
    "on_msg",
    "on_rpt",
    "pdr",
    "post_document_root",
    "post_queue",
    "pump",
    "pwv",
    "pxs",
    "real",
    "reportback",
    "restore2queue",
    "rq",
    "sdb",
    "sf",
    "sld",
    "tls_rigor",
    "tlsr",
    "u",
    "wr",
    "xattr_disabled",
    "xd",
]


def test_every_name_v2_refused_here_before_is_known() -> None:
    assert len(REFUSED_BEFORE) == 54
    assert [name for name in REFUSED_BEFORE if find(name) is None] == []


def test_v2_aliases_mean_what_they_meant(tmp_path: Path) -> None:
    path = tmp_path / "v2.conf"
    path.write_text(
        "broker amqp://guest@localhost/\naccept_unmatched\nreportback on\ntls_rigor lax\n"
        "post_document_root /srv\nxattr_disabled\nnoduplicates 5m\nmessage-ttl 1h\n"
        "default_log_mode 0640\nu http://h/\nreal\ninstance 3\npxs 2\ncl pumpA\n"
        "on_msg msg_log\non_hb hb_log\n"
    )
    config = load("subscribe", path)
    assert config.accept_unmatch and config.report_back and config.tls_rigour == "lax"
    assert config.post_base_dir == "/srv" and config.xattr_disable
    assert config.suppress_duplicates == 300.0 and config.message_ttl == 3600.0
    assert config.chmod_log == 0o640 and config.post_base_url == "http://h/"
    assert config.realpath_post and config.instances == 3 and config.post_exchange_split == 2
    assert config.cluster == "pumpA"
    assert [(entry, name) for entry, name, _ in config.plugin_lines] == [
        ("on_message", "msg_log"),
        ("on_heartbeat", "hb_log"),
    ]


def test_v2_names_without_effect_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "old.conf"
    path.write_text("broker amqp://guest@localhost/\naccept .*\nhostname dd.example\n"
                    "pump on\nmove /a /b\n")  # fmt: skip
    warnings = load("subscribe", path).warnings
    assert len(warnings) == 3
    assert f"{path}:3: hostname is deprecated" in warnings[0]
    assert f"{path}:4: pump has no effect in sarra" in warnings[1]


def test_a_typo_still_gets_file_line_and_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "typo.conf"
    path.write_text("broker amqp://guest@localhost/\naccept_unmatche on\n")
    with pytest.raises(ConfigErrors) as refused:
        load("subscribe", path)
    assert str(refused.value.errors[0]) == (
        f"{path}:2: unknown option 'accept_unmatche'; did you mean 'accept_unmatch'?"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "filename DESTFNSCRIPT=renamer.py",
            "DESTFNSCRIPT=renamer.py: a script per accept line is not built",
        ),
        ("accept .* WHATFN:BOGUS", "file-name keyword 'BOGUS' is not one of"),
        ("filename whatfn", "file-name keyword 'whatfn' is not one of"),
    ],
)
def test_sundew_keywords_not_built_are_refused_at_file_line(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "sundew.conf"
    path.write_text(f"broker amqp://guest@localhost/\n{line}\naccept .*\n")
    with pytest.raises(ConfigErrors) as refused:
        load("subscribe", path)
    assert str(refused.value.errors[0]).startswith(f"{path}:2: ")
    assert reason in str(refused.value.errors[0])


def test_sundew_keywords_that_are_built_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "sundew.conf"
    path.write_text("broker amqp://guest@localhost/\nfilename NONE:TIME\naccept a.* WHATFN\n"
                    "accept b.* DESTFN=x:SATNET=2\naccept .* HEADFN\n")  # fmt: skip
    assert [m.filename for m in load("subscribe", path).masks] == ["WHATFN", "DESTFN=x:SATNET=2",
                                                                  "HEADFN"]  # fmt: skip
