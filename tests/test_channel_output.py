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
            self._fired.append(self._channel.session.loop.in_loop_thread())
        except BaseException as exc:  # a finalizer's exception would only be printed
            self._fired.append(exc)


def test_write_from_inside_a_flush_is_sent_once_in_order(connect):
    c = connect()
    p = c.exec("sha256sum")
    ch = p.channel
    fired: list = []
    # the session holds channel output while libssh's buffer for the socket holds
    # output_high_water bytes: with 0, everything below is queued before anything is sent (the
    # window alone would not do: libssh's write takes the window adjustments that have arrived)
    ch.session.output_high_water = 0
    first = bytes(range(256)) * (4 * MiB // 256)  # more than sshd's window: several flushes
    middle, last, late = b"M" * 1000, b"L" * 70000, b"Z" * 50000
    with ch._loop.lock:
        ch.write(first)
        data = _WritesWhenFreed(middle, ch, late, fired)
        ch.write(data)
        ch.write(last)
        del data  # the queue holds the last reference: the flush that sends it drops it
        assert ch.buffered == len(first) + len(middle) + len(last)
        del ch.session.output_high_water
        ch.session.kick()
    assert c.loop.wait_for(lambda: bool(fired) or ch.closed, 60)
    assert fired == [True], "the finalizer did not run on the loop's thread, or its write failed"
    assert ch.error is None
    p.close_stdin()
    out, _err = p.read_until_eof(timeout=60)
    assert out.split()[0].decode() == hashlib.sha256(first + middle + last + late).hexdigest()
    assert p.wait(timeout=60) == 0
