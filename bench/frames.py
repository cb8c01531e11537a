"""Instructions to read a frame: a publisher confirm through pika's frame path against read
directly, and a delivery read directly (sarra.broker.deliveries), counted by valgrind.

Each case reads the same bytes over and over through a connection's frame reading (no socket):
the confirms as a publisher gets them, reads of CONFIRMS_A_READ basic.ack frames (`multiple`)
on its channel, each handed as (delivery tag, multiple, nack) to a function that does nothing
(through pika: its Frame and Basic.Ack, its callback dispatch as `confirm_delivery` registers
it, and the publisher's `_on_confirm` taking the three fields from the frame); the deliveries as
a consumer gets them, reads of the 15 notices of bench/consume.py (v02 bodies and headers) to a
consumer's handler that does nothing. Each case runs twice under valgrind's callgrind, with
FEW and FEW + MANY reads (after a run that writes the bytecode, the hash seed fixed): the
difference over MANY reads is what the reading costs, without the interpreter's start and the
making of the bytes. Instructions are the same from run to run within a percent, where CPU time
on a busy 2-core machine swings by a third.

    .venv/bin/python bench/frames.py

No broker needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from pika import frame, spec
from pika.callback import CallbackManager
from pika.channel import Channel

from sarra.broker.link import DirectConnection

CONFIRMS_A_READ = 4
NOTICES = 15
FEW, MANY = 20, 1000
BODY = b"20240101120000.5 https://dd.weather.gc.ca /observations/swob-ml/20240101/x%02d.xml"
HEADERS = {"sum": "d,25d231ec0ae3c569ba27ab7a74dd72ce", "parts": "1,5354,1,0,0", "source": "x"}
TAG = "ctag1.0123456789abcdef"


class Reading(DirectConnection):
    """A connection's frame reading alone: pika's own processing of frames (its callbacks),
    with nothing connected."""

    def __init__(self) -> None:  # not connected: only the reading is exercised
        self._frame_buffer = b""
        self.bytes_received = 0
        self.frames_received = 0
        self.callbacks = CallbackManager()

    def open_channel(self) -> Channel:
        channel = Channel(self, 1, None)
        channel._state = Channel.OPEN
        return channel


def nothing(*_args: Any) -> None:
    """The handler: the cost of a call, nothing more."""


def confirms_through_pika() -> tuple[Reading, bytes, int]:
    reading = Reading()
    channel = reading.open_channel()

    def on_confirm(value: frame.Method) -> None:  # as the publisher's _on_confirm
        method = value.method
        nothing(method.delivery_tag, method.multiple, isinstance(method, spec.Basic.Nack))

    for method in (spec.Basic.Ack, spec.Basic.Nack):  # as pika's confirm_delivery does
        reading.callbacks.add(channel.channel_number, method, on_confirm, False)
    return reading, confirms(), CONFIRMS_A_READ


def confirms_directly() -> tuple[Reading, bytes, int]:
    reading = Reading()
    reading.confirm_directly(reading.open_channel(), nothing)
    return reading, confirms(), CONFIRMS_A_READ


def deliveries_directly() -> tuple[Reading, bytes, int]:
    reading = Reading()
    reading.deliver_directly(reading.open_channel(), TAG, nothing)
    pieces = []
    for n in range(NOTICES):
        method = spec.Basic.Deliver(TAG, n + 1, False, "xpublic", f"v02.post.bench.{n % 10}")
        body = BODY % n
        properties = spec.BasicProperties(
            content_type="text/plain", headers=HEADERS, delivery_mode=2
        )
        pieces += [
            frame.Method(1, method).marshal(),
            frame.Header(1, len(body), properties).marshal(),
            frame.Body(1, body).marshal(),
        ]
    return reading, b"".join(pieces), NOTICES


def confirms() -> bytes:
    return b"".join(
        frame.Method(1, spec.Basic.Ack(n * 50, True)).marshal() for n in range(CONFIRMS_A_READ)
    )


CASES: dict[str, Callable[[], tuple[Reading, bytes, int]]] = {
    "confirm through pika": confirms_through_pika,
    "confirm read directly": confirms_directly,
    "delivery read directly": deliveries_directly,
}


def child(case: str, reads: int) -> None:
    reading, data, _items = CASES[case]()
    read = reading._on_data_available
    for _ in range(reads):
        read(data)
    assert reading.bytes_received == reads * len(data) and reading._frame_buffer == b""


def instructions(case: str, reads: int) -> int:
    """The instructions a child reading `reads` times executes (callgrind)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("bench/frames.py needs valgrind")
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--child", case, str(reads)],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{case} under valgrind failed: {done.stderr[-800:]}")
    return int(found[1])


def main() -> None:
    for case, make in CASES.items():
        items = make()[2]
        instructions(case, 1)  # the bytecode written, if it was not
        spent = instructions(case, FEW + MANY) - instructions(case, FEW)
        a_frame = spent / (MANY * items)
        what = "delivery (3 frames)" if "delivery" in case else "frame"
        print(f"{case}: {a_frame / 1000:.2f}k instructions a {what}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
