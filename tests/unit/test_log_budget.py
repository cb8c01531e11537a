"""LogBudget: the first lines of each kind of bad input in a window, then one line that sums up."""

from __future__ import annotations

import logging

import pytest

from sarra.flow.log_budget import LogBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def test_the_first_lines_of_a_kind_are_logged_then_held_then_summed_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="budget")
    clock = Clock()
    budget = LogBudget(logging.getLogger("budget"), burst=3, window=60, clock=clock)
    for n in range(50):
        budget.log(logging.WARNING, "malformed notice", "malformed notice dropped: %d", n)
    assert lines(caplog) == [
        "malformed notice dropped: 0",
        "malformed notice dropped: 1",
        "malformed notice dropped: 2",
        "more malformed notice lines in the next 60 s go to debug level, counted",
    ]
    assert "malformed notice dropped: 49" in lines(caplog, logging.DEBUG)
    budget.flush()  # the window is not over: nothing yet
    assert len(lines(caplog)) == 4
    clock.now += 60
    budget.flush()
    assert lines(caplog)[4:] == [
        "47 more malformed notice lines in 60 s were at debug level; the last:"
        " malformed notice dropped: 49"
    ]
    budget.log(logging.WARNING, "malformed notice", "malformed notice dropped: %d", 50)
    assert lines(caplog)[-1] == "malformed notice dropped: 50"  # a new window


def test_each_kind_has_its_own_budget_and_a_new_window_sums_up_the_last(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="budget")
    clock = Clock()
    budget = LogBudget(logging.getLogger("budget"), burst=1, window=10, clock=clock)
    for n in range(3):
        budget.log(logging.ERROR, "refused path", "refused /x%d", n)
        budget.log(logging.WARNING, "malformed notice", "malformed %d", n)
    clock.now += 11
    budget.log(logging.ERROR, "refused path", "refused /y")
    assert lines(caplog) == [
        "refused /x0",
        "more refused path lines in the next 10 s go to debug level, counted",
        "malformed 0",
        "more malformed notice lines in the next 10 s go to debug level, counted",
        "2 more refused path lines in 10 s were at debug level; the last: refused /x2",
        "refused /y",
        "more refused path lines in the next 10 s go to debug level, counted",
    ]


def test_a_window_with_nothing_held_sums_up_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="budget")
    clock = Clock()
    budget = LogBudget(logging.getLogger("budget"), burst=5, window=10, clock=clock)
    budget.log(logging.WARNING, "malformed notice", "one")
    clock.now += 20
    budget.flush()
    assert lines(caplog) == ["one"]
