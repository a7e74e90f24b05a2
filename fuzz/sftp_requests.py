"""SFTP server: request decoding and reply encoding (pylibssh/server/sftp.py over libssh's
``sftp_get_client_message``, with the local backend, pylibssh/server/sftp_local.py).

Input: the bytes an SFTP client sends after its INIT (the harness sends ``INIT 3`` first), on a
fresh ``sftp`` channel of a live connection, followed by EOF; the served directory is laid out
anew for each input (fuzz/_sftp.py).

Contract: every input is served to the end: the server answers each complete request exactly
once, in order, with well-formed SFTP version 3 replies of a type that fits the request, or ends
the subsystem cleanly at a packet it cannot read; then it closes the channel. No exception is
expected: any Python exception, a hang (no close within the harness's deadline), a native crash
or a sanitizer report is a failure, as is any change outside the served directory.
"""

from __future__ import annotations

from ._sftp import SFTPHarness

MAX_LEN = 16384
DICTIONARY = "sftp"
EXPECTED: tuple[type[BaseException], ...] = ()

_harness: SFTPHarness | None = None


def setup() -> None:
    global _harness
    _harness = SFTPHarness()


def test_one_input(data: bytes) -> None:
    assert _harness is not None
    _harness.run(data)
