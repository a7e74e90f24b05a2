"""Copy between a channel and a socket on the channel's loop (what forwarding does with each
connection).

Back-pressure both ways, nothing buffered without bound:

* socket -> channel: the socket is read while the channel's queue is under its ``high_water``;
  once ``write`` returns False the socket is no longer read until ``drain`` (the TCP window then
  holds the sender back);
* channel -> socket: a data callback in C (``pylibssh_sock_sink``, csrc/pylibssh_glue.c) takes
  the channel's bytes inside libssh's poll into its own buffer (``_SINK`` bytes), sent with one
  system call once the poll is dispatched (or when full). What it cannot take (the socket and
  the buffer are full) goes to Python, which queues it and sends it when the socket is
  writable; the C callback stays out of the way until both queues are empty, so bytes keep
  their order. Above ``high_water`` queued bytes the channel is paused (the SSH window holds
  the peer back) until the socket took them.

Half-close is carried both ways: the socket's EOF becomes the channel's EOF, the channel's EOF a
``shutdown(SHUT_WR)`` once the queued bytes are written. Closing either end closes the other
(after what was already received from it is delivered). The socket is closed exactly once.
"""

from __future__ import annotations

import errno
import itertools
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from ._binding.callbacks import new_socket_sink, sink_attach, sink_detach, sink_flush
from ._channel import Channel

__all__ = ["Bridge", "bridge"]

log = logging.getLogger("pylibssh")

_RECV = 256 * 1024  # one read when it has to be kept (queued behind the channel's output)
_RECV_DIRECT = 1 << 20  # one read that the channel takes at once (into the thread's buffer)
_SINK = 256 * 1024  # the C sink's buffer: channel data sent with one system call
_IOV_MAX = 64  # buffers per sendmsg (the system allows 1024)
_local = threading.local()


def _read_buffer() -> memoryview:
    """The loop thread's read buffer: what is read into it is copied into libssh's packets
    before the next read, so all bridges of a loop share one."""
    view = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(_RECV_DIRECT))
    return view


class Bridge:
    """Copies between ``channel`` and the connected ``sock`` until both are done; the bridge
    owns the socket from now on. ``on_close`` runs once, when both ends are closed."""

    #: bytes from the channel waiting for the socket before the channel is paused
    high_water = 1 << 20

    def __init__(self, channel: Channel, sock: socket.socket,
                 on_close: Callable[[Bridge], Any] | None = None):
        self.channel = channel
        self.sock = sock
        self._loop = channel._loop
        self._on_close = on_close
        sock.setblocking(False)
        self._fd = sock.fileno()
        self._out: deque[memoryview] = deque()
        self._out_bytes = 0
        self._reading = False
        self._writing = False
        self._flush_scheduled = False
        self._sock_eof = False      # the socket sent EOF (and the channel was told)
        self._chan_eof = False      # the channel sent EOF (the socket is told after _out)
        self._shut_wr = False
        self._chan_closed = False
        self._sock_closed = False
        self._done = False
        self.bytes_in = 0   # socket -> channel
        self._bytes_out = 0  # channel -> socket, through Python
        self._sink, self._sink_cb, self._sink_keep = new_socket_sink(self._fd, _SINK, self)
        self._own_cb = channel._cb  # the sink points at it until detached
        with self._loop.lock:
            if channel._add_c_callbacks(self._sink_cb, self._sink_keep):
                sink_attach(self._sink, self._own_cb)
            channel.on("data", self._on_data)
            channel.on("end", self._on_end)
            channel.on("drain", self._on_drain)
            channel.on("close", self._on_channel_close)
            if channel.closed:
                self._on_channel_close()
            else:
                self._set_reading(True)

    # -- socket -> channel ----------------------------------------------------------------------

    def _set_reading(self, on: bool) -> None:
        if on == self._reading or self._sock_closed:
            return
        self._reading = on
        if on:
            self._loop.add_reader(self._fd, self._readable)
        else:
            self._loop.remove_reader(self._fd)

    def _readable(self) -> None:
        if self._chan_closed:
            self._set_reading(False)
            return
        # when the channel takes a whole read at once (empty queue, no more than the peer's
        # window, room in libssh's buffer) libssh copies it into its packets before write()
        # returns: read into one reused buffer instead of a new bytes object per read (a large
        # allocation, with an mmap and page faults, each time)
        window = self.channel._sendable()
        data: bytes | memoryview
        try:
            if window > 0:
                view = _read_buffer()
                n = self.sock.recv_into(view, min(window, _RECV_DIRECT))
                data = view[:n]
            else:
                data = self.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("%r: socket read failed: %s", self, exc)
            self._abort()
            return
        if not data:
            self._sock_eof = True
            self._set_reading(False)
            try:
                self.channel.send_eof()
            except Exception:
                log.debug("%r: send_eof", self, exc_info=True)
            self._check_done()
            return
        self.bytes_in += len(data)
        try:
            ok = self.channel.write(data)
            if window > 0 and self.channel.buffered:
                self.channel._own_queued()  # not expected (libssh takes up to the window)
        except Exception as exc:
            log.debug("%r: channel write failed: %s", self, exc)
            self._abort()
            return
        if not ok:
            self._set_reading(False)  # until 'drain'

    def _on_drain(self) -> None:
        if not self._sock_eof and not self._chan_closed:
            self._set_reading(True)

    # -- channel -> socket ----------------------------------------------------------------------

    def _on_data(self, data: bytes, is_stderr: bool = False) -> None:
        self._sink.blocked = 1  # the C sink waits until this queue is written (order)
        if self._sock_closed or self._shut_wr:
            return
        self._bytes_out += len(data)
        self._out.append(memoryview(data))
        self._out_bytes += len(data)
        if self._out_bytes >= self.high_water and not self.channel.paused:
            self.channel.pause()
        if not self._writing and not self._flush_scheduled:
            # one poll usually delivers several packets: send them with one system call once
            # this dispatch is over (later in the same loop iteration)
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        with self._loop.lock:
            self._flush_scheduled = False
            if not self._writing and not self._sock_closed:
                self._flush_out()

    def _c_sink_dirty(self) -> None:
        """Inside libssh: the C sink took bytes; send them once the poll is dispatched."""
        self.channel._session.defer(self._flush_sink)

    def _flush_sink(self) -> None:
        if not self._writing and not self._sock_closed:
            self._flush_out()

    @property
    def _idle(self) -> bool:
        """Nothing waits for the socket (neither the C sink's buffer nor Python's queue)."""
        return not self._out and not self._sink.len

    def _set_writing(self, on: bool) -> None:
        if on == self._writing or self._sock_closed:
            return
        self._writing = on
        if on:
            self._loop.add_writer(self._fd, self._flush_out)
        else:
            self._loop.remove_writer(self._fd)

    def _flush_out(self) -> None:
        """Send what is queued: the C sink's buffer, then Python's queue (scatter-gather);
        wait for writability if the socket is full."""
        try:
            left = sink_flush(self._sink)
        except OSError as exc:
            log.debug("%r: socket write failed: %s", self, exc)
            self._abort()
            return
        if left:
            self._set_writing(True)
            return
        while self._out:
            try:
                n = self.sock.sendmsg(list(itertools.islice(self._out, _IOV_MAX)))
            except (BlockingIOError, InterruptedError):
                self._set_writing(True)
                return
            except OSError as exc:
                log.debug("%r: socket write failed: %s", self, exc)
                self._abort()
                return
            self._out_bytes -= n
            while n:
                view = self._out[0]
                if n < len(view):
                    self._out[0] = view[n:]
                    break
                n -= len(view)
                self._out.popleft()
        self._set_writing(False)
        if not self._shut_wr and not self.channel._undelivered:
            # both queues are empty and no data taken from libssh waits for its delivery (a
            # channel write can process incoming packets): the C sink may take data again
            self._sink.blocked = 0
        if self.channel.paused and not self._chan_closed:
            self.channel.resume()
        self._after_flush()

    def _on_end(self) -> None:
        self._chan_eof = True
        if self._idle:
            self._after_flush()

    def _after_flush(self) -> None:
        """The socket took everything queued: pass on the channel's EOF or close."""
        if self._chan_closed:
            self._close_socket()
            return
        if self._chan_eof and not self._shut_wr:
            self._shut_wr = True
            self._sink.blocked = 1
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                if exc.errno != errno.ENOTCONN:
                    log.debug("%r: shutdown: %s", self, exc)
        self._check_done()

    # -- the end --------------------------------------------------------------------------------

    def _check_done(self) -> None:
        if self._sock_eof and self._shut_wr and self._idle:
            self.channel.close()  # after its queued output; 'close' closes the socket

    def _on_channel_close(self) -> None:
        self._chan_closed = True
        self._set_reading(False)
        if self._idle:
            self._close_socket()
        # else: _flush_out delivers what the channel sent before closing, then closes

    def _abort(self) -> None:
        """A socket error: drop both ends."""
        self._out.clear()
        self._out_bytes = 0
        self._close_socket()
        if not self._chan_closed:
            self.channel.close()

    def _stop_sink(self) -> None:
        sink_detach(self._sink)  # the channel's own data callback is back
        self.channel._remove_c_callbacks(self._sink_cb)

    @property
    def bytes_out(self) -> int:
        """Bytes written to the socket from the channel."""
        sent: int = self._bytes_out + self._sink.bytes
        return sent

    def _close_socket(self) -> None:
        if self._sock_closed:
            return
        self._stop_sink()  # before the fd can be reused
        self._reading = self._writing = False
        self._loop.remove_fd(self._fd)
        self._sock_closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        if not self._chan_closed:
            try:
                self.channel.close()
            except Exception:
                log.debug("%r: closing the channel", self, exc_info=True)
        self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        callback, self._on_close = self._on_close, None
        if callback is not None:
            try:
                callback(self)
            except Exception:
                log.exception("a bridge's on_close callback raised")

    @property
    def closed(self) -> bool:
        """Whether the socket side is closed."""
        return self._sock_closed

    def close(self) -> None:
        """Close both ends now (what is queued is dropped)."""
        with self._loop.lock:
            self._abort()

    def __repr__(self) -> str:
        return f"<Bridge fd={self._fd} in={self.bytes_in} out={self.bytes_out}>"


def bridge(channel: Channel, sock: socket.socket,
           on_close: Callable[[Bridge], Any] | None = None) -> Bridge:
    """Copy between ``channel`` and ``sock`` (see :class:`Bridge`)."""
    return Bridge(channel, sock, on_close)
