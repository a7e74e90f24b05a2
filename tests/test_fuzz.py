"""The fuzz harnesses (fuzz/) run briefly in the suite: every file of each seed corpus (the
inputs that once failed among them, ``regress-*``) and then a couple of seconds of mutation, on
the ordinary build (Python coverage only; ``./dev fuzz`` runs them long, on an instrumented
build). A parser that regresses on a seed, raises an exception its contract does not allow,
hangs or crashes fails here.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is in the fuzz extra (./dev installs it)")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzz._sftp import (  # noqa: E402
    FXP_OPEN,
    FXP_READ,
    FXP_STATUS,
    FXP_VERSION,
    INIT,
    MalformedReply,
    check_replies,
    packet,
    sstr,
)
from fuzz.runner import harness_names, run_harness  # noqa: E402

SECONDS = 2  # of mutation per harness, after the seeds


@pytest.mark.parametrize("name", harness_names())
def test_harness(name, tmp_path):
    seeds = [p for p in (ROOT / "fuzz" / "corpus" / name).iterdir()]
    assert seeds, f"fuzz/corpus/{name} has no seeds"
    # a generous hang limit: the machine may be busy, and a hang still ends the run
    result = run_harness(name, SECONDS, tmp_path, timeout=120, echo=False)
    assert result.ok, f"{result.summary()}\n{result.output[-6000:]}"
    assert result.runs >= len(seeds), "the seed corpus was not run"


def _reply(kind: int, rid: int, body: bytes) -> bytes:
    return packet(kind, struct.pack(">I", rid) + body)


def test_reply_check_finds_broken_replies():
    """The SFTP harnesses' reply check fails on what a broken server would send, so a harness
    run that passes means the replies were right."""
    version = packet(FXP_VERSION, struct.pack(">I", 3))
    sent = INIT + packet(FXP_OPEN, struct.pack(">I", 7) + sstr("/x") + bytes(8)) + \
        packet(FXP_READ, struct.pack(">I", 8) + sstr(bytes(8)) + bytes(12))
    status = struct.pack(">I", 2) + sstr("No such file") + sstr("")
    good = version + _reply(FXP_STATUS, 7, status) + _reply(FXP_STATUS, 8, status)
    check_replies(sent, good)
    check_replies(sent, version + _reply(FXP_STATUS, 7, status))  # the subsystem ended early
    broken = {
        "a lost reply": version + _reply(FXP_STATUS, 8, status),
        "an extra reply": good + _reply(FXP_STATUS, 8, status),
        "a truncated status": version + _reply(FXP_STATUS, 7, status[:-2]),
        "a reply of the wrong type": version + _reply(FXP_VERSION, 7, b""),
        "no version": _reply(FXP_STATUS, 7, status),
        "a cut packet": good[:-1],
    }
    for what, replies in broken.items():
        with pytest.raises(MalformedReply):
            check_replies(sent, replies)
            pytest.fail(f"{what} passed the check")
