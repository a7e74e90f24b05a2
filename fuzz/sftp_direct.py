"""SFTP server's C fast path (csrc/pylibssh_sftp.c): the packet counter that frames the
channel's bytes into SFTP packets, and the READ, WRITE and CLOSE requests it answers itself for
the local backend's open files, on libssh's SFTP request parser.

Input: the requests an SFTP client sends once it has two files open (the harness sends INIT,
then opens ``/a.txt`` read-write, handle 1, and ``/dir/b.bin`` read-only, handle 2: 8-byte
handles ``\\0\\0\\0\\0\\0\\0\\0\\1`` and ``...\\2``), on a fresh ``sftp`` channel of a live
connection, followed by EOF.

Contract: as fuzz/sftp_requests.py: every complete request answered once, in order, with
well-formed replies, or a clean end of the subsystem at a packet that cannot be read; no Python
exception, hang, native crash or sanitizer report; nothing outside the served directory changes.
"""

from __future__ import annotations

import struct

from ._sftp import FXP_OPEN, SFTPHarness, packet, sstr

MAX_LEN = 16384
DICTIONARY = "sftp"
EXPECTED: tuple[type[BaseException], ...] = ()

READ, WRITE, CREAT = 0x01, 0x02, 0x08
PROLOGUE = (packet(FXP_OPEN, struct.pack(">I", 0xF0000001) + sstr("/a.txt")
                   + struct.pack(">II", READ | WRITE, 0))
            + packet(FXP_OPEN, struct.pack(">I", 0xF0000002) + sstr("/dir/b.bin")
                     + struct.pack(">II", READ, 0)))

_harness: SFTPHarness | None = None


def setup() -> None:
    global _harness
    _harness = SFTPHarness(PROLOGUE)


def test_one_input(data: bytes) -> None:
    assert _harness is not None
    _harness.run(data)
