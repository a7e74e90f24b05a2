"""A channel's output queue against OpenSSH's sshd: code that runs in the middle of sending it
(a finalizer the garbage collector or a released buffer runs on the loop's thread) may write to
the same channel; every byte reaches the peer once, in order."""

from __future__ import annotations

import hashlib

import pytest

from clientkit import connect, known_hosts  # noqa: F401

pytestmark = pytest.mark.peer

MiB = 1 << 20


class _WritesWhenFreed(bytearray):
    """Data whose finalizer writes to a channel, as an SFTP file's ``__del__`` sends its CLOSE:
    it runs when the channel drops its last view of the data, inside the output flush."""

    def __init__(self, data: bytes, channel, late: bytes, fired: list):
        super().__init__(data)
        self._channel = channel
        self._late = late
        self._fired = fired

    def __del__(self):
        try:
            self._channel.write(self._late)
            self._fired.append(None)
        except BaseException as exc:  # a finalizer's exception would only be printed
            self._fired.append(exc)


def test_write_from_inside_a_flush_is_sent_once_in_order(connect):
    c = connect()
    p = c.exec("sha256sum")
    ch = p.channel
    fired: list = []
    # more than sshd's first window (2 MiB), so that what follows waits in the queue and goes
    # out in one flush once the window opens; the finalizer runs when that flush moves from the
    # middle item to the last one
    first = bytes(range(256)) * (4 * MiB // 256)
    middle, last, late = b"M" * 1000, b"L" * 70000, b"Z" * 50000
    with ch._loop.lock:  # queued together: the loop's flush waits for the lock
        ch.write(first)
        ch.write(_WritesWhenFreed(middle, ch, late, fired))
        ch.write(last)
    assert c.loop.wait_for(lambda: bool(fired) or ch.closed, 60)
    assert fired == [None], "the finalizer did not run or its write failed"
    assert ch.error is None
    p.close_stdin()
    out, _err = p.read_until_eof(timeout=60)
    assert out.split()[0].decode() == hashlib.sha256(first + middle + last + late).hexdigest()
    assert p.wait(timeout=60) == 0
