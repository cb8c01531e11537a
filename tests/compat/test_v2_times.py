"""Every time v2 writes is read here, as the instant v2 meant.

v2 writes the fraction of a second with `{:.9g}` less its first character, so a fraction under
0.0001 comes out in exponent form (`20261206152218.91685486e-05`, or `...e-10` alone), and a
whole second with no fraction at all. v2's own encoder (sr_message.post, run in v2's
environment) writes v02 and v03 notices for thousands of generated times; ours decodes each:
every one accepted, pubtime, mtime and atime the instant v2 itself reads back (timestr2flt).
That is within 0.0001 s of the time written (the digit v2 drops is worth less), except where
the fraction rounds up to a whole second, which v2 writes as no fraction at all."""

from __future__ import annotations

import json
import random

import pytest
from peers import PeerEnv
from v2peer import HERE, run_v2

from sarra.message import decode_any
from sarra.message.notice import time_to_epoch, time_v02_to_v03, time_v03_to_v02

LAST_2099 = 4_102_444_799  # v2's encoder assumes a year of four digits


def generated_times(count: int) -> list[float]:
    """Seconds whose fractions span every form v2's {:.9g} takes: none, plain, under 0.0001
    (exponent), rounding to a whole second; near 1970 a float keeps fractions down to 1e-12."""
    rng = random.Random(20261206)
    times = []
    for i in range(count):
        whole = rng.randrange(0, 100_000) if i % 4 == 0 else rng.randrange(0, LAST_2099)
        fraction = (
            0.0,
            rng.random(),
            10 ** -rng.uniform(4, 12),
            1 - 10 ** -rng.uniform(9, 12),
            rng.randrange(1, 10) * 10.0 ** -rng.randrange(1, 10),
        )[i % 5]
        times.append(whole + fraction)
    return times


@pytest.fixture(scope="module")
def v2_notices(v2: PeerEnv, tmp_path_factory: pytest.TempPathFactory) -> list[list]:
    """[seconds, version, topic, body, headers, v2's reading] of each notice v2 wrote."""
    lines = [
        f"{seconds!r} {version} data/{i:05d}/f.txt"
        for i, seconds in enumerate(generated_times(3000))
        for version in ("v02", "v03")
    ]
    script = ["python", str(HERE / "v2_encode.py")]
    done = run_v2(v2, tmp_path_factory.mktemp("v2home"), script, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_v2_writes_every_time_form(v2_notices: list[list]) -> None:
    """The generated times make v2 write each form (else the check below proves little)."""
    pubtimes = [json.loads(b)["pubTime"] if v == "v03" else b.split()[0]
                for _, v, _, b, _, _ in v2_notices]  # fmt: skip
    assert any("e-" in t and "." in t for t in pubtimes)  # .91685486e-05
    assert any("e-" in t and "." not in t for t in pubtimes)  # e-10
    assert any(len(t.replace("T", "")) == 14 for t in pubtimes)  # no fraction
    assert any("." in t and "e" not in t for t in pubtimes)


def test_every_notice_v2_writes_is_read_as_the_instant_v2_meant(v2_notices: list[list]) -> None:
    assert len(v2_notices) == 6000
    for _seconds, version, topic, body, headers, v2_reading in v2_notices:
        notice = decode_any(topic, body, headers)
        for name in ("pubtime", "mtime", "atime"):
            text = getattr(notice, name)
            ours = time_to_epoch(text)
            assert ours == pytest.approx(v2_reading, abs=1e-6), (version, body, name)
            assert time_v02_to_v03(text) == text and "e" not in text  # kept in plain v03 form


def test_the_forms_of_v2_times() -> None:
    assert time_v02_to_v03("20261206152218.91685486e-05") == "20261206T152218.0000091685486"
    assert time_v03_to_v02("20261206T152218.91685486e-05") == "20261206152218.0000091685486"
    assert time_v02_to_v03("20261206152218e-10") == "20261206T152218"
    assert time_v02_to_v03("20261206152218") == "20261206T152218"
    assert time_to_epoch("20261206152218.91685486e-05") == pytest.approx(
        time_to_epoch("20261206152218") + 0.91685486e-05, abs=1e-9
    )
    for bad in ("20261206152218.5e+05", "20261206152218.5e-", "20261206152218.5e-1234",
                "2026120615221.5", "20261206152218.e-05"):  # fmt: skip
        with pytest.raises(ValueError):
            time_v02_to_v03(bad)


def test_an_exponent_time_costs_no_more_than_its_digits() -> None:
    """An exponent of three digits (as far as v2's floats go) yields a bounded string."""
    assert len(time_v02_to_v03("19700101000000.5e-999")) <= len("19700101T000000.") + 18
