"""A socket carried over a channel (L2, shared by the client's and the server's forwarding).

:class:`Bridge` pumps a nonblocking stream socket to and from a :class:`~pylibssh._channel.Channel`
on the channel's loop:

* back-pressure both ways: socket reads stop while the channel holds more than its
  ``high_water`` mark (resumed on ``drain``), and the channel is paused (the SSH window holds the
  peer back) while more than :attr:`Bridge.buffer_limit` bytes wait for the socket;
* half-close both ways: EOF on the socket sends the channel's EOF and the channel's EOF shuts the
  socket's write side once everything before it went out; data keeps flowing the other way;
* close propagates: a reset or closed socket closes the channel, a closed channel closes the
  socket (after delivering what it had sent), and when both directions have ended both go.

Everything runs on the loop thread with the loop's lock held (fd callbacks and channel events).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from ._channel import Channel

log = logging.getLogger("pylibssh")

_RECV = 256 * 1024


class Bridge:
    """Connects ``sock`` (a connected stream socket; the bridge owns and closes it) and
    ``channel`` (an open channel; closed when the bridge ends). ``on_close`` is called once when
    both are closed. A paused channel (one opened paused so nothing is lost) is resumed."""

    #: pause the channel when this many bytes wait for a slow socket reader
    buffer_limit = 1 << 20

    __slots__ = ("channel", "sock", "_loop", "_fd", "_out", "_reading", "_writing",
                 "_flush_pending", "_sock_eof", "_chan_eof", "_shut_wr", "_closed", "_on_close",
                 "bytes_in", "bytes_out")

    def __init__(self, sock: socket.socket, channel: Channel,
                 on_close: Callable[[Bridge], Any] | None = None):
        self.channel = channel
        self.sock: socket.socket | None = sock
        self._loop = channel._loop
        sock.setblocking(False)
        self._fd = sock.fileno()
        self._out = bytearray()
        self._reading = False
        self._writing = False        # waiting for the socket to take more (writer registered)
        self._flush_pending = False  # a send is deferred to the end of the dispatch pass
        self._sock_eof = False   # the socket's peer sent EOF (we sent the channel's EOF)
        self._chan_eof = False   # the channel's peer sent EOF
        self._shut_wr = False    # we shut the socket's write side
        self._closed = False
        self._on_close = on_close
        self.bytes_in = 0        # channel -> socket
        self.bytes_out = 0       # socket -> channel
        with self._loop.lock:
            if channel.closed:
                self._close()
                return
            channel.on("data", self._from_channel)
            channel.on("end", self._channel_eof)
            channel.on("close", self._channel_closed)
            channel.on("drain", self._start_reading)
            self._start_reading()
            if channel.paused:
                channel.resume()

    # -- socket -> channel ------------------------------------------------------------------------

    def _start_reading(self) -> None:
        if not self._reading and not self._sock_eof and not self._closed:
            self._reading = True
            self._loop.add_reader(self._fd, self._from_socket)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def _from_socket(self) -> None:
        if self._closed:
            return
        try:
            data = self.sock.recv(_RECV)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("forwarded socket: %s", exc)
            self._close()  # reset: the channel goes too
            return
        channel = self.channel
        if not data:
            self._sock_eof = True
            self._stop_reading()
            if not channel.closed:
                channel.send_eof()
            self._maybe_done()
            return
        if channel.closed:
            self._close()
            return
        self.bytes_out += len(data)
        if not channel.write(data):
            self._stop_reading()  # until the channel's drain

    # -- channel -> socket ------------------------------------------------------------------------

    def _from_channel(self, data: bytes, is_stderr: bool) -> None:
        if self._closed or is_stderr:
            return
        self.bytes_in += len(data)
        self._out += data
        if not self._flush_pending and not self._writing:
            # one send for everything this poll delivered (libssh hands over one packet, at
            # most 32 KiB, per call): deferred until the session's dispatch pass ends
            self._flush_pending = True
            self.channel._session.defer(self._flush)
        if len(self._out) > self.buffer_limit and not self.channel.paused:
            self.channel.pause()

    def _flush(self) -> None:
        self._flush_pending = False
        if self._closed:
            return
        out = self._out
        if out:
            try:
                n = self.sock.send(out)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as exc:
                log.debug("forwarded socket: %s", exc)
                self._close()
                return
            del out[:n]
        if out:
            if not self._writing:
                self._writing = True
                self._loop.add_writer(self._fd, self._flush)
            return
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        if self.channel.paused and not self.channel.closed:
            self.channel.resume()
        if self._chan_eof:
            self._shutdown_write()

    def _channel_eof(self) -> None:
        self._chan_eof = True
        if not self._out:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        if self._shut_wr or self._closed:
            return
        self._shut_wr = True
        try:
            self.sock.shutdown(socket.SHUT_WR)  # type: ignore[union-attr]
        except OSError:
            pass
        self._maybe_done()

    def _channel_closed(self) -> None:
        self._chan_eof = True
        if self._out:
            # the peer closed after sending: deliver what it sent, then close the socket
            self._stop_reading()
            self._sock_eof = True
            return
        self._close()

    # -- the end ----------------------------------------------------------------------------------

    def _maybe_done(self) -> None:
        if self._sock_eof and self._shut_wr:
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        sock, self.sock = self.sock, None
        if sock is not None:
            self._loop.remove_fd(self._fd)
            sock.close()
        self._out.clear()
        channel = self.channel
        if not channel.closed:
            channel.close()
        if self._on_close is not None:
            cb, self._on_close = self._on_close, None
            try:
                cb(self)
            except Exception:
                log.exception("unhandled exception in a bridge close callback")

    def close(self) -> None:
        """Close both ends now (any thread)."""
        with self._loop.lock:
            self._close()
        self._loop.wakeup()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"<Bridge fd={self._fd} {'closed' if self._closed else 'open'}>"
