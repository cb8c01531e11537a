"""act_on_each, the way start, stop, restart and sanity go over many configs: every config is
acted on whatever the others do, failures are reported one line a reason, and the waits of a
few configs overlap, finished in the order the configs were named."""

from __future__ import annotations

import pytest

from sarra.cli import lifecycle
from sarra.cli.args import CommandLine
from sarra.cli.lifecycle import Failed, Failure, Finish, act_on_each
from sarra.config.errors import ConfigError, ConfigErrors, Where


def test_every_config_is_acted_on_and_each_failure_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "OVERLAP", 2)
    events: list[str] = []

    def act(component: str, ref: str, command: CommandLine) -> Finish | None:
        events.append(f"begin {ref}")
        if ref == "regex":
            raise ConfigErrors(
                [
                    ConfigError(Where("/c/regex.conf", 7), "reject: missing )"),
                    ConfigError(Where("/c/regex.conf", 9), "unknown option 'x'"),
                ]
            )
        if ref == "none":
            return None

        def finish() -> None:
            events.append(f"end {ref}")
            if ref == "dies":
                raise Failed("0 of 1 instances running")

        return Finish(finish, 1)

    names = ["a", "regex", "b", "dies", "none", "c", "d"]
    failures = act_on_each("subscribe", CommandLine("start", names), act)

    assert failures == [Failure("subscribe", "regex", 2), Failure("subscribe", "dies", 1)]
    assert capsys.readouterr().err.splitlines() == [
        "sr_subscribe regex: /c/regex.conf:7: reject: missing )",
        "sr_subscribe regex: /c/regex.conf:9: unknown option 'x'",
        "sr_subscribe dies: 0 of 1 instances running",
    ]
    # at most 2 instances left waiting: a config is finished once two more were begun
    assert events == [
        "begin a", "begin regex", "begin b", "begin dies", "end a", "begin none",
        "begin c", "end b", "begin d", "end dies", "end c", "end d",
    ]  # fmt: skip
