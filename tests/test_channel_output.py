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
    # more than sshd's first window (2 MiB), so that what follows waits in the queue and goes
    # out in one flush once the window opens; the finalizer runs when that flush moves from the
    # middle item to the last one. libssh may take window adjustments while the test queues
    # (the write polls for them), and send the middle item at once: then the finalizer runs in
    # the test's thread (the order still holds) and the test tries again
    first = bytes(range(256)) * (8 * MiB // 256)
    middle, last, late = b"M" * 1000, b"L" * 70000, b"Z" * 50000
    expected = hashlib.sha256(first + middle + last + late).hexdigest()
    in_flush = 0
    for _attempt in range(5):
        p = c.exec("sha256sum")
        ch = p.channel
        fired: list = []
        with ch._loop.lock:  # the loop's flush waits for the lock
            ch.write(first)
            data = _WritesWhenFreed(middle, ch, late, fired)
            ch.write(data)
            ch.write(last)
            del data  # the queue holds the last reference, unless it was sent already
        assert c.loop.wait_for(lambda: bool(fired) or ch.closed, 60)
        assert len(fired) == 1 and isinstance(fired[0], bool), fired
        assert ch.error is None
        p.close_stdin()
        out, _err = p.read_until_eof(timeout=60)
        assert out.split()[0].decode() == expected
        assert p.wait(timeout=60) == 0
        in_flush += fired[0]
        if in_flush:
            break
    assert in_flush, "the finalizer never ran inside the loop's flush"
