"""The SFTP client on the loop: SFTP version 3 and OpenSSH's extensions spoken on an ``sftp``
subsystem channel, every operation a request matched to its reply by id, nothing ever waiting.

:class:`SFTPEngine` is the client. Each of its operations is sent at once (under the loop's lock,
from any thread) and returns a :class:`concurrent.futures.Future` that the reply completes, so
the blocking :class:`~pylibssh.client.sftp.SFTPClient` waits on it and an asyncio front end can
``await asyncio.wrap_future(...)`` it. Every request has its own deadline (``timeout`` seconds
from when it was sent): a server that does not answer in time fails that request with
:class:`~pylibssh.errors.SSHTimeoutError` naming it, at its deadline, and nothing else.

**Receiving.** A C data callback in front of the channel's own (csrc/pylibssh_sftp_client.c)
cuts the byte stream into packets during libssh's poll. A DATA reply to a READ registered with a
file descriptor is written to that file there (``pwrite``); Python sees one small record per READ,
no data. Everything else is handed over whole after each poll (``ClientSession._process`` drains
the channel, then pokes tasks), parsed with :mod:`pylibssh.sftp.codec` and dispatched.

**Transfers.** :meth:`SFTPEngine.get` and :meth:`SFTPEngine.put` keep ``in_flight`` requests of
the server's maximum length (``limits@openssh.com``; 32 KiB otherwise) going. A file's STAT goes
with its OPEN, and its CLOSE with its last READ or WRITE, so a small file costs two round trips.
A larger download is a bulk one: the C receiver sends its READs itself as replies come, and
Python runs only at its start and end, for a reply that is not a whole DATA, and for progress.
A larger upload is a bulk one too: after each pass C reads the file and writes the WRITEs to the
channel itself, keeping ``in_flight`` of them in flight, and the receiver takes their STATUS OK
replies; Python hears of a reply that is not OK, of the end, and counts progress.
:meth:`SFTPEngine.get_many` / :meth:`SFTPEngine.put_many` run many such transfers at once.

**Errors.** A status other than OK is an :class:`~pylibssh.errors.SFTPError` (a
``FileNotFoundError``, ``PermissionError``... where one fits) of that request. A reply that does
not parse, or that breaks the framing, ends this SFTP session: every request fails with an
``SFTPError`` (BAD_MESSAGE) saying what was wrong, and the channel is closed; the connection and
its other channels go on. The channel closing or the connection failing fails every request with
the reason.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import struct
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._binding import HAS
from .._binding import channel as channel_api
from .._binding import client as client_api
from .._binding import sftp as sftp_api
from .._binding.constants import (
    PYLIBSSH_SFTP_BULK_DONE,
    PYLIBSSH_SFTP_BULK_READ,
    PYLIBSSH_SFTP_UP_DONE,
    PYLIBSSH_SFTP_UP_WRITE,
    PYLIBSSH_SFTP_WRITTEN,
)
from ..errors import (
    ClosedError,
    SFTPError,
    SSHError,
    SSHTimeoutError,
    error_from,
    sftp_error,
)
from ..sftp import SFTPAttributes, SFTPStatus, codec
from ..sftp.codec import FXP, SFTPDecodeError
from ..sftp.constants import OpenFlags
from ..timeouts import DEFAULT, Timeout, resolve
from ._task import AGAIN, TaskGen
from .process import ClientChannel, open_session_gen, setup_requests

if TYPE_CHECKING:
    from .session import ClientSession

log = logging.getLogger("pylibssh.client")

__all__ = ["SFTPEngine", "SFTPLimits", "SFTPName", "StatVFS", "TransferResult", "start_engine",
           "transfer_many",
           "DEFAULT_TIMEOUT", "IN_FLIGHT", "CHUNK"]

#: seconds a request may wait for its reply unless told otherwise
DEFAULT_TIMEOUT = 60.0
#: requests in flight per transfer
IN_FLIGHT = 32
#: the read and write length every SFTP server takes (without ``limits@openssh.com``)
CHUNK = 32768
#: files in flight in get_many/put_many, and requests in flight for each of them
MANY_FILES = 64
MANY_FILE_IN_FLIGHT = 8

_RECEIVE_ROUNDS = 8  # rounds of replies taken in one pass before leaving the rest to the next

Progress = Callable[[int, int], Any]
_T = TypeVar("_T")

_U32 = struct.Struct(">I")
_HEAD = struct.Struct(">IB")
_WRITTEN = struct.Struct(">II")  # the C receiver's record after the id: bytes, errno
_WRITTEN_KIND = PYLIBSSH_SFTP_WRITTEN
_BULK_READ = PYLIBSSH_SFTP_BULK_READ
_BULK_DONE = PYLIBSSH_SFTP_BULK_DONE
_BULK_READ_RECORD = struct.Struct(">IIQIBII")  # id, bulk, offset, length, written, bytes, errno
_UP_WRITE = PYLIBSSH_SFTP_UP_WRITE
_UP_DONE = PYLIBSSH_SFTP_UP_DONE
_UP_WRITE_RECORD = struct.Struct(">IIQI")  # id, upload, offset, length
_BULK_REPORT_EVERY = 1 << 20  # bytes between progress calls of a bulk download
_RESUME_CHECK = 65536  # resuming compares this many bytes before the point of resumption


@dataclass
class SFTPName:
    """One directory entry: ``filename``, ``longname`` (``ls -l`` line) and ``attrs``."""

    filename: str
    longname: str
    attrs: SFTPAttributes


@dataclass
class StatVFS:
    """``statvfs@openssh.com``'s answer, with ``os.statvfs_result``'s field names."""

    f_bsize: int
    f_frsize: int
    f_blocks: int
    f_bfree: int
    f_bavail: int
    f_files: int
    f_ffree: int
    f_favail: int
    f_fsid: int
    f_flag: int
    f_namemax: int


@dataclass
class SFTPLimits:
    """The server's limits (``limits@openssh.com``; without it, what every server takes)."""

    max_packet_length: int
    max_read_length: int
    max_write_length: int
    max_open_handles: int


@dataclass
class TransferResult:
    """What :meth:`SFTPEngine.get` and :meth:`SFTPEngine.put` give: the bytes moved, and the
    remote file's attributes (a get's from its STAT; a put's after the CLOSE when asked for)."""

    transferred: int
    attrs: SFTPAttributes | None = None


def _future() -> Future[Any]:
    f: Future[Any] = Future()
    f.set_running_or_notify_cancel()  # a running future cannot be cancelled: one outcome
    return f


def _settle(f: Future[Any], result: Any = None, exc: BaseException | None = None) -> None:
    if f.done():
        return
    if exc is not None:
        f.set_exception(exc)
    else:
        f.set_result(result)


def _path(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    p = os.fspath(path)
    return os.fsdecode(p) if isinstance(p, bytes) else p


def _kind_name(kind: int) -> str:
    try:
        return FXP(kind).name
    except ValueError:
        return f"type {kind}"


def _status_error(payload: Any, what: str, path: str | None) -> SFTPError | None:
    """The error a STATUS reply carries (None for OK)."""
    code, msg = codec.parse_status(payload)
    if code == SFTPStatus.OK:
        return None
    return sftp_error(code, f"{what}: {msg}" if msg else what, path)


def _expect(kind: int, payload: Any, want: int, what: str, path: str | None) -> Any:
    """``payload`` when the reply is of type ``want``; a STATUS raises its error; anything else
    does not fit the request: :class:`SFTPDecodeError`."""
    if kind == want:
        return payload
    if kind == FXP.STATUS:
        err = _status_error(payload, what, path)
        if err is None:
            raise SFTPDecodeError(f"STATUS OK where {_kind_name(want)} was due")
        raise err
    raise SFTPDecodeError(f"a {_kind_name(kind)} reply where {_kind_name(want)} was due")


def _ok(kind: int, payload: Any, what: str, path: str | None) -> None:
    if kind != FXP.STATUS:
        raise SFTPDecodeError(f"a {_kind_name(kind)} reply where STATUS was due")
    err = _status_error(payload, what, path)
    if err is not None:
        raise err


class _Request:
    __slots__ = ("rid", "what", "path", "reply", "fail", "deadline", "timeout", "close_late")

    def __init__(self, what: str, path: str | None, reply: Callable[[int, Any], Any],
                 fail: Callable[[BaseException], Any], timeout: float | None):
        self.rid = 0
        self.what = what
        self.path = path
        self.reply = reply  # (kind, payload) -> None; raises SFTPDecodeError for a bad reply
        self.fail = fail  # (exception) -> None
        self.timeout = timeout
        self.deadline = 0.0
        self.close_late = False  # an OPEN: a HANDLE that comes after the deadline is closed

    def describe(self) -> str:
        return f"SFTP {self.what}" + (f" {self.path!r}" if self.path is not None else "")


class SFTPChannel(ClientChannel):
    """The ``sftp`` subsystem channel: its stdout goes to the engine's C receiver, never to a
    buffer; stderr is logged and dropped (a window held by unread stderr would stall replies)."""

    engine: SFTPEngine | None = None
    _session: ClientSession

    def _stage_wanted(self) -> bool:
        return False

    def _c_data(self, data: Any, length: int, is_stderr: bool) -> int:
        if is_stderr and length and not self._closed:
            log.debug("SFTP server stderr: %r", channel_api.copy_data(data, min(length, 200)))
            return length
        return super()._c_data(data, length, is_stderr)

    def _drain_stage(self, inside_libssh: bool = False) -> None:
        if self.engine is not None and not self._closed:
            self.engine._receive()

    def _flush(self) -> None:
        super()._flush()
        engine = self.engine
        if engine is not None and engine._uploads and not self._out and not self._closed:
            engine._pump_uploads()  # the window or libssh's buffer has room again

    def _on_eof(self) -> None:
        super()._on_eof()
        if self.engine is not None:
            self.engine._lost(SFTPError(SFTPStatus.CONNECTION_LOST,
                                        "the server ended the SFTP session"))

    def _free(self, session_gone: bool) -> None:
        if self._closed:
            return
        self._session._staged.discard(self)
        super()._free(session_gone)
        if self.engine is not None:
            self.engine._channel_gone()


def start_engine(session: ClientSession, timeout: float | None = DEFAULT_TIMEOUT
                 ) -> Future[SFTPEngine]:
    """Open an SFTP session on ``session`` (any thread): the future's result is its
    :class:`SFTPEngine`, once the server's VERSION (and limits) came. ``timeout`` bounds the
    whole start and is the engine's default request timeout (None: no deadlines)."""
    return session.start_task(_start_gen(session, timeout), "starting SFTP", timeout).future


def _start_gen(session: ClientSession, timeout: float | None) -> TaskGen:
    channel: SFTPChannel = yield from open_session_gen(
        session, setup_requests(None, subsystem="sftp"), channel_class=SFTPChannel)
    engine = SFTPEngine(session, channel, timeout)
    try:
        yield engine._versioned
        if "limits@openssh.com" in engine.extensions:
            f = engine._call(FXP.EXTENDED, codec.extended_payload("limits@openssh.com"),
                             "limits", None, _parse_limits, timeout)
            engine._set_limits((yield lambda: f.result() if f.done() else AGAIN))
    except BaseException:
        engine.close()
        raise
    return engine


def transfer_many(session: ClientSession, pairs: Iterable[tuple[Any, Any]], upload: bool,
                  in_flight: int = MANY_FILES, timeout: float | None = None) -> Future[int]:
    """Move (local, remote) pairs up, or (remote, local) pairs down, on an SFTP session of their
    own, closed at the end (any thread): the future gives the bytes moved, or the first error
    once every file has had its turn. ``timeout``: each request's (None: the default)."""
    pairs = list(pairs)
    t = DEFAULT_TIMEOUT if timeout is None else timeout

    def gen() -> TaskGen:
        engine = yield from _start_gen(session, t)
        try:
            f = (engine.put_many if upload else engine.get_many)(pairs, in_flight=in_flight,
                                                                 timeout=t)
            return (yield lambda: f.result() if f.done() else AGAIN)
        finally:
            engine.close()
    return session.start_task(gen(), "SFTP transfers", None).future


def _parse_limits(kind: int, payload: Any) -> SFTPLimits:
    return SFTPLimits(*codec.parse_limits(_expect(kind, payload, FXP.EXTENDED_REPLY, "limits",
                                                  None)))


class SFTPEngine:
    """One SFTP session on its own channel, driven by the loop; start it with
    :func:`start_engine`. Every operation may be called from any thread, returns a
    :class:`~concurrent.futures.Future` and takes ``timeout``: seconds for its reply (the
    engine's default when omitted; None: no deadline). Paths are ``str`` (or bytes, or
    path-like) and go on the wire as UTF-8; handles are the server's ``bytes``."""

    def __init__(self, session: ClientSession, channel: SFTPChannel, timeout: float | None):
        self._session = session
        self._loop = session._loop
        self._channel = channel
        #: the default request timeout
        self.timeout = timeout
        self._rx = sftp_api.new_receiver(codec.MAX_PACKET + 1024)
        self._pending: dict[int, _Request] = {}
        self._by_timeout: dict[float, OrderedDict[int, _Request]] = {}
        self._timer: Any = None
        self._timer_at: float | None = None
        # the C receiver's bulk downloads (into files, or into memory), by number
        self._bulks: dict[int, _Download | _ReadInto] = {}
        self._uploads: dict[int, _Upload] = {}  # its bulk uploads, by number
        self._pumping = False
        self._held: list[bytes | bytearray] = []
        self._late: set[int] = set()  # timed-out OPENs whose HANDLE is closed when it comes
        self._error: BaseException | None = None  # why the engine ended
        self.version = 0
        self.extensions: dict[str, bytes] = {}
        self.limits = SFTPLimits(codec.MAX_PACKET, CHUNK, CHUNK, 0)
        self.read_chunk = self.write_chunk = CHUNK
        self._is_openssh = bool(client_api.openssh_version(session._s))
        with self._loop.lock:
            if not channel._add_c_callbacks(sftp_api.receiver_callbacks(self._rx), self._rx):
                raise ClosedError("the SFTP channel closed")
            channel.engine = self
            session._staged.add(channel)
            channel.write(codec.init_packet())

    # -- state ------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The session ended (closed, or failed: :attr:`error` says why)."""
        return self._error is not None

    @property
    def error(self) -> BaseException | None:
        """Why the session ended (None while it runs)."""
        return self._error

    @property
    def session(self) -> ClientSession:
        """The client session whose channel carries this SFTP session."""
        return self._session

    def _versioned(self) -> Any:
        """A poller: the server's VERSION arrived."""
        if self.version:
            return True
        if self._error is not None:
            raise self._error
        return AGAIN

    def _set_limits(self, limits: SFTPLimits) -> None:
        self.limits = limits
        packet = limits.max_packet_length or codec.MAX_PACKET
        # what the server may send: its packets, but never more than 16 MiB held at once
        self._rx.max_packet = max(codec.MAX_PACKET + 1024, min(packet + 1024, 16 << 20))
        room = self._rx.max_packet - 1024  # a READ's reply must fit a packet we take
        self.read_chunk = int(min(max(limits.max_read_length or CHUNK, 4096), room, 1 << 20))
        self.write_chunk = int(min(max(limits.max_write_length or CHUNK, 4096),
                                   max(packet - 1024, 4096), 1 << 20))

    def _check(self) -> None:
        if self._error is not None:
            if isinstance(self._error, ClosedError):
                raise ClosedError("the SFTP session is closed")
            raise self._error

    # -- sending ----------------------------------------------------------------------------------

    def _t(self, timeout: Any) -> float | None:
        return resolve(timeout, self.timeout)

    def _track(self, req: _Request) -> int:
        """Give ``req`` an id and a deadline (loop lock held); its id."""
        rx = self._rx  # ids come from the receiver, which takes some for its bulk READs
        rid: int = rx.next_id
        rx.next_id = (rid + 1) & 0xFFFFFFFF
        req.rid = rid
        self._pending[rid] = req
        if req.timeout is not None:
            req.deadline = self._loop.time() + req.timeout
            group = self._by_timeout.get(req.timeout)
            if group is None:
                group = self._by_timeout[req.timeout] = OrderedDict()
            group[rid] = req
            if self._timer_at is None or req.deadline < self._timer_at:
                self._arm(req.deadline)
        return rid

    def _send(self, kind: int, payload: bytes, req: _Request) -> int:
        """Queue a request (loop lock held; :meth:`_flush` sends what is queued); its id."""
        rid = self._track(req)
        self._held.append(codec.request(kind, rid, payload))
        return rid

    def _send_packet(self, packet: bytes | bytearray) -> None:
        """Send a whole packet built by the caller (a WRITE), after what is queued."""
        self._flush()
        self._channel.write(packet)

    def _queue_packet(self, packet: bytes | bytearray) -> None:
        """Queue a whole packet built by the caller (a file's last WRITE) behind what is
        queued: it goes out with the requests queued after it (the CLOSE) in one channel
        write, one SSH packet for a small file instead of two."""
        self._held.append(packet)

    def _flush(self) -> None:
        held = self._held
        rx = self._rx
        if rx.send_len:  # READs the receiver's bulk downloads call for
            held.append(sftp_api.take_requests(rx))
        if held:
            self._held = []
            self._channel.write(held[0] if len(held) == 1 else b"".join(held))
        if self._uploads:
            self._pump_uploads()

    def _pump_uploads(self) -> None:
        """Let C write the bulk uploads' next WRITEs, when nothing else waits for the channel
        (loop lock held)."""
        ch, rx = self._channel, self._rx
        if self._pumping or ch._out or ch.closed or self._error is not None:
            return
        self._pumping = True
        try:
            session = self._session
            rc = sftp_api.up_pump(rx, ch._ch, session.output_high_water
                                  if HAS.pending_output else 0)
            if rx.rest_len:  # the end of a WRITE cut short goes first
                ch.write(sftp_api.take_rest(rx))
            if rx.send_len:  # READs of bulk downloads that replies read meanwhile called for
                ch.write(sftp_api.take_requests(rx))
            if rc == 2:
                session._wait_output(ch)
            session._wrote()
        finally:
            self._pumping = False
        if rc < 0:
            err = error_from(self._session._s, "writing to the SFTP channel")
            self._end(SFTPError(SFTPStatus.FAILURE, str(err)))
        elif rx.out_len:  # an upload ended (its file could not be read)
            self._session.kick()

    def _forget(self, rid: int) -> _Request | None:
        req = self._pending.pop(rid, None)
        if req is not None and req.timeout is not None:
            group = self._by_timeout.get(req.timeout)
            if group is not None:
                group.pop(rid, None)
        return req

    def _abandon(self, rids: Iterable[int]) -> None:
        """Stop waiting for these requests: their replies are dropped when they come."""
        for rid in rids:
            self._forget(rid)
            sftp_api.forget(self._rx, rid)

    def _call(self, kind: int, payload: bytes, what: str, path: str | None,
              parse: Callable[[int, Any], _T], timeout: Timeout) -> Future[_T]:
        """Send one request; the future gets ``parse(kind, payload)`` of its reply."""
        f: Future[_T] = _future()

        def reply(k: int, p: Any) -> None:
            try:
                value = parse(k, p)
            except SFTPDecodeError:
                raise
            except BaseException as exc:  # noqa: BLE001 - the request's outcome
                _settle(f, exc=exc)
            else:
                _settle(f, value)

        req = _Request(what, path, reply, lambda exc: _settle(f, exc=exc), self._t(timeout))
        req.close_late = kind in (FXP.OPEN, FXP.OPENDIR)
        with self._loop.lock:
            rid = None
            try:
                self._check()
                rid = self._send(kind, payload, req)
                self._flush()
            except BaseException as exc:  # noqa: BLE001 - the request's outcome
                if rid is not None:
                    self._forget(rid)
                _settle(f, exc=exc)
        return f

    # -- deadlines --------------------------------------------------------------------------------

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._on_deadline)

    def _on_deadline(self) -> None:
        with self._loop.lock:
            self._timer = self._timer_at = None
            now = self._loop.time()
            expired: list[_Request] = []
            for group in self._by_timeout.values():
                for req in group.values():  # in the order sent: deadlines ascend
                    if req.deadline > now:
                        break
                    expired.append(req)
            for req in expired:
                self._abandon([req.rid])
                if req.close_late:
                    self._late.add(req.rid)
                self._fail_request(req, SSHTimeoutError(
                    f"{req.describe()} timed out after {req.timeout:g} s: no reply"))
            self._flush()
            heads = [next(iter(g.values())).deadline for g in self._by_timeout.values() if g]
            for t in [t for t, g in self._by_timeout.items() if not g]:
                del self._by_timeout[t]
            if heads and self._error is None:
                self._arm(min(heads))

    def _postpone(self, watch: _Request | None, now: float) -> None:
        """A bulk's watch request (its deadline) was answered for now: ``timeout`` from ``now``."""
        if watch is not None and watch.timeout is not None:
            watch.deadline = now + watch.timeout
            group = self._by_timeout.get(watch.timeout)
            if group is not None and watch.rid in group:
                group.move_to_end(watch.rid)  # deadlines stay in ascending order

    def _fail_request(self, req: _Request, exc: BaseException) -> None:
        try:
            req.fail(exc)
        except Exception:
            log.exception("failing %s", req.describe())

    # -- receiving (loop lock held, after libssh's poll) ------------------------------------------

    def _receive(self) -> None:
        rx = self._rx
        # writing the requests the replies call for can make libssh read more replies (its
        # write flushes with a poll): those are taken in this pass too, as nothing else would
        # wake the loop for bytes no longer in the socket
        for _ in range(_RECEIVE_ROUNDS):
            n = rx.out_len
            if n:
                data = sftp_api.take_replies(rx)
                try:
                    self._dispatch(data)
                except SFTPDecodeError as exc:
                    self._malformed(None, exc)
                except Exception as exc:  # noqa: BLE001 - never into the session's pass
                    log.exception("SFTP reply processing")
                    self._end(exc if isinstance(exc, SSHError) else SFTPError(
                        SFTPStatus.FAILURE, f"SFTP reply processing failed: {exc!r}"))
            if rx.broken and self._error is None:
                if rx.broken == 1:
                    self._malformed(None, SFTPDecodeError(
                        f"a packet length of {rx.bad_length} (at most {rx.max_packet} is "
                        "taken)"))
                elif rx.broken == 3:
                    self._malformed(None, SFTPDecodeError(
                        f"a packet of type {rx.bad_length}, which no reply has"))
                else:
                    self._end(SFTPError(SFTPStatus.FAILURE,
                                        "out of memory receiving SFTP replies"))
            if self._error is not None:
                return
            if self._bulks or self._uploads:
                self._tick_bulks()
                if self._bulks:
                    self._session.note_bulk_input()
            self._flush()
            if not rx.out_len and not rx.send_len:
                break
        else:
            self._session.kick()  # still more: another pass, after the loop's other work

    def _tick_bulks(self) -> None:
        """Push back the deadline of each bulk download that had replies, and report its
        progress (every _BULK_REPORT_EVERY bytes or more)."""
        now = self._loop.time()
        running: list[_Download | _ReadInto | _Upload] = [*self._bulks.values(),
                                                          *self._uploads.values()]
        for t in running:
            try:
                t.tick(now)
            except Exception as exc:  # noqa: BLE001 - that transfer's outcome (its progress)
                t.fail(exc)

    def _dispatch(self, data: bytes) -> None:
        view = memoryview(data)
        pos, end = 0, len(data)
        pending = self._pending
        while pos < end and self._error is None:
            length, kind = _HEAD.unpack_from(data, pos)
            stop = pos + 4 + length
            if kind == FXP.VERSION:
                self._on_version(view[pos + 5:stop])
                pos = stop
                continue
            if kind == _BULK_READ or kind == _BULK_DONE:
                self._on_bulk(kind, data, pos + 5)
                pos = stop
                continue
            if kind == _UP_WRITE or kind == _UP_DONE:
                self._on_upload(kind, data, pos + 5)
                pos = stop
                continue
            if length < 5:
                raise SFTPDecodeError(f"a {_kind_name(kind)} reply without a request id")
            (rid,) = _U32.unpack_from(data, pos + 5)
            payload = view[pos + 9:stop]
            pos = stop
            req = pending.pop(rid, None)
            if req is None:
                self._orphan(rid, kind, payload)
                continue
            if req.timeout is not None:
                group = self._by_timeout.get(req.timeout)
                if group is not None:
                    group.pop(rid, None)
            try:
                req.reply(kind, payload)
            except SFTPDecodeError as exc:
                self._malformed(req, exc)
                return
            except Exception as exc:  # noqa: BLE001 - that request's outcome
                self._fail_request(req, exc)

    def _on_bulk(self, kind: int, data: bytes, at: int) -> None:
        """A record of the receiver about a bulk download (see csrc/pylibssh_sftp_client.h)."""
        if kind == _BULK_DONE:
            (bulk,) = _U32.unpack_from(data, at)
            t = self._bulks.get(bulk)
            if t is not None:
                done = t.bulk_done
                t._guard(lambda k, p: done())(kind, None)
            return
        rid, bulk, offset, length, written, count, err = _BULK_READ_RECORD.unpack_from(data, at)
        t = self._bulks.get(bulk)
        if t is not None:
            t.adopt(rid, offset, length, written, count, err)

    def _on_upload(self, kind: int, data: bytes, at: int) -> None:
        """A record of the receiver about a bulk upload (see csrc/pylibssh_sftp_client.h)."""
        if kind == _UP_DONE:
            (up,) = _U32.unpack_from(data, at)
            t = self._uploads.get(up)
            if t is not None:
                done = t.up_done
                t._guard(lambda k, p: done())(kind, None)
            return
        rid, up, offset, length = _UP_WRITE_RECORD.unpack_from(data, at)
        t = self._uploads.get(up)
        if t is not None:
            t.adopt(rid, offset, length)

    def _on_version(self, payload: Any) -> None:
        if self.version:
            raise SFTPDecodeError("a second VERSION")
        version, extensions = codec.parse_version(payload)
        if version < 3:
            raise SFTPDecodeError(f"the server speaks SFTP version {version}; 3 is needed")
        self.extensions = extensions
        self.version = version

    def _orphan(self, rid: int, kind: int, payload: Any) -> None:
        """A reply nobody waits for: its request timed out or was given up."""
        if rid in self._late:
            self._late.discard(rid)
            if kind == FXP.HANDLE:  # an OPEN that came too late: release its handle
                handle = codec.parse_handle(payload)
                self._send(FXP.CLOSE, codec.string(handle),
                           _Request("close", None, lambda k, p: None, lambda e: None, None))

    def _malformed(self, req: _Request | None, exc: SFTPDecodeError) -> None:
        where = f" to {req.describe()}" if req is not None else ""
        error = SFTPError(SFTPStatus.BAD_MESSAGE,
                          f"the server sent a malformed SFTP reply{where} ({exc}); "
                          "the SFTP session is closed")
        if req is not None:
            self._fail_request(req, error)
        self._end(error)

    # -- ending -----------------------------------------------------------------------------------

    def _end(self, exc: BaseException) -> None:
        """Fail every request with ``exc`` and close the channel (loop lock held)."""
        if self._error is not None:
            return
        self._error = exc
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        self._held.clear()
        pending, self._pending = self._pending, {}
        self._by_timeout.clear()
        for req in pending.values():
            self._fail_request(req, exc)
        if not self._channel.closed:
            self._channel.close()

    def _lost(self, exc: BaseException) -> None:
        self._end(exc)

    def _channel_gone(self) -> None:
        session_error = self._session._error
        self._end(session_error if session_error is not None else SFTPError(
            SFTPStatus.CONNECTION_LOST, "the SFTP channel closed"))
        sftp_api.free_receiver(self._rx)

    def close(self) -> None:
        """End the session: requests still waiting fail with ClosedError, and the channel
        closes after what was sent. Idempotent; any thread."""
        with self._loop.lock:
            self._end(ClosedError("the SFTP session is closed"))

    # -- requests: paths ---------------------------------------------------------------------------

    def stat(self, path: str, timeout: Timeout = DEFAULT) -> Future[SFTPAttributes]:
        """Attributes of ``path`` (symbolic links followed): :class:`SFTPAttributes`."""
        p = _path(path)
        return self._call(FXP.STAT, codec.string(p), "stat", p, _attrs_of("stat", p), timeout)

    def lstat(self, path: str, timeout: Timeout = DEFAULT) -> Future[SFTPAttributes]:
        """Attributes of ``path`` itself."""
        p = _path(path)
        return self._call(FXP.LSTAT, codec.string(p), "lstat", p, _attrs_of("lstat", p),
                          timeout)

    def setstat(self, path: str, attrs: SFTPAttributes, timeout: Timeout = DEFAULT) -> Future[None]:
        """Set what ``attrs`` carries (size, uid+gid, permissions, atime+mtime) on ``path``."""
        p = _path(path)
        return self._call(FXP.SETSTAT, codec.string(p) + _attrs_bytes(attrs), "setstat", p,
                          _ok_of("setstat", p), timeout)

    def lsetstat(self, path: str, attrs: SFTPAttributes,
                 timeout: Timeout = DEFAULT) -> Future[None]:
        """``lsetstat@openssh.com``: :meth:`setstat` on a symbolic link itself."""
        p = _path(path)
        return self._extended("lsetstat@openssh.com", codec.string(p) + _attrs_bytes(attrs),
                              "lsetstat", p, _ok_of("lsetstat", p), timeout)

    def remove(self, path: str, timeout: Timeout = DEFAULT) -> Future[None]:
        """Remove the file ``path``: None (an SFTPError such as ``FileNotFoundError``
        otherwise)."""
        p = _path(path)
        return self._call(FXP.REMOVE, codec.string(p), "remove", p, _ok_of("remove", p),
                          timeout)

    def mkdir(self, path: str, mode: int = 0o777, timeout: Timeout = DEFAULT) -> Future[None]:
        """Create the directory ``path`` with permissions ``mode`` (default 0o777, less the
        server's umask): None (``FileExistsError`` when it exists)."""
        p = _path(path)
        return self._call(FXP.MKDIR, codec.string(p) + codec.attrs_bytes(
            SFTPAttributes(permissions=mode)), "mkdir", p, _ok_of("mkdir", p), timeout)

    def rmdir(self, path: str, timeout: Timeout = DEFAULT) -> Future[None]:
        """Remove the empty directory ``path``: None (an SFTPError otherwise)."""
        p = _path(path)
        return self._call(FXP.RMDIR, codec.string(p), "rmdir", p, _ok_of("rmdir", p), timeout)

    def realpath(self, path: str = ".", timeout: Timeout = DEFAULT) -> Future[str]:
        """The canonical absolute path: ``str``."""
        p = _path(path)
        return self._call(FXP.REALPATH, codec.string(p), "realpath", p,
                          _name_of("realpath", p), timeout)

    def readlink(self, path: str, timeout: Timeout = DEFAULT) -> Future[str]:
        """The target of the symbolic link ``path``: ``str``."""
        p = _path(path)
        return self._call(FXP.READLINK, codec.string(p), "readlink", p,
                          _name_of("readlink", p), timeout)

    def symlink(self, target: str, link: str, timeout: Timeout = DEFAULT) -> Future[None]:
        """Create ``link`` pointing to ``target``. OpenSSH takes the two in the reverse of the
        draft's order (its PROTOCOL file, 4.1): sent in OpenSSH's order to OpenSSH, in the
        draft's to other servers, as libssh does."""
        t, ln = _path(target), _path(link)
        fields = (codec.string(t) + codec.string(ln) if self._is_openssh
                  else codec.string(ln) + codec.string(t))
        return self._call(FXP.SYMLINK, fields, "symlink", ln, _ok_of("symlink", ln), timeout)

    def rename(self, old: str, new: str, timeout: Timeout = DEFAULT) -> Future[None]:
        """Rename: ``posix-rename@openssh.com`` when the server offers it (an existing ``new``
        is replaced atomically), plain v3 RENAME otherwise (which refuses to replace)."""
        o, n = _path(old), _path(new)
        if "posix-rename@openssh.com" in self.extensions:
            return self.posix_rename(o, n, timeout)
        return self._call(FXP.RENAME, codec.string(o) + codec.string(n), "rename", o,
                          _ok_of("rename", o), timeout)

    def posix_rename(self, old: str, new: str, timeout: Timeout = DEFAULT) -> Future[None]:
        """``posix-rename@openssh.com``: rename, replacing ``new`` atomically."""
        o, n = _path(old), _path(new)
        return self._extended("posix-rename@openssh.com", codec.string(o) + codec.string(n),
                              "rename", o, _ok_of("rename", o), timeout)

    def hardlink(self, existing: str, new: str, timeout: Timeout = DEFAULT) -> Future[None]:
        """``hardlink@openssh.com``."""
        o, n = _path(existing), _path(new)
        return self._extended("hardlink@openssh.com", codec.string(o) + codec.string(n),
                              "hardlink", o, _ok_of("hardlink", o), timeout)

    def statvfs(self, path: str = ".", timeout: Timeout = DEFAULT) -> Future[StatVFS]:
        """``statvfs@openssh.com``: :class:`StatVFS`."""
        p = _path(path)
        return self._extended("statvfs@openssh.com", codec.string(p), "statvfs", p,
                              _statvfs_of("statvfs", p), timeout)

    def expand_path(self, path: str, timeout: Timeout = DEFAULT) -> Future[str]:
        """``expand-path@openssh.com``: ``~`` and ``~user`` expanded, made absolute."""
        p = _path(path)
        return self._extended("expand-path@openssh.com", codec.string(p), "expand-path", p,
                              _name_of("expand-path", p), timeout)

    def home_directory(self, user: str = "", timeout: Timeout = DEFAULT) -> Future[str]:
        """The ``home-directory`` extension: ``user``'s home (the login user's for "")."""
        return self._extended("home-directory", codec.string(user), "home-directory", None,
                              _name_of("home-directory", None), timeout)

    def _extended(self, name: str, fields: bytes, what: str, path: str | None,
                  parse: Callable[[int, Any], _T], timeout: Timeout) -> Future[_T]:
        return self._call(FXP.EXTENDED, codec.extended_payload(name, fields), what, path, parse,
                          timeout)

    # -- requests: handles -------------------------------------------------------------------------

    def open(self, path: str, pflags: int, attrs: SFTPAttributes | None = None,
             timeout: Timeout = DEFAULT) -> Future[bytes]:
        """Open ``path`` with SFTP open flags (:class:`~pylibssh.sftp.OpenFlags`): its handle."""
        p = _path(path)
        return self._call(FXP.OPEN, codec.open_payload(p, pflags, attrs), "open", p,
                          _handle_of("open", p), timeout)

    def close_handle(self, handle: bytes, name: str | None = None,
                     timeout: Timeout = DEFAULT) -> Future[None]:
        """CLOSE a file or directory handle (``name``: the path, for error messages)."""
        return self._call(FXP.CLOSE, codec.string(handle), "close", name, _ok_of("close", name),
                          timeout)

    def read(self, handle: bytes, offset: int, length: int, name: str | None = None,
             timeout: Timeout = DEFAULT) -> Future[bytes]:
        """Up to ``length`` bytes at ``offset``: ``bytes`` (``b""`` at the end of the file)."""
        return self._call(FXP.READ, codec.read_payload(handle, offset, length), "read", name,
                          _data_of(name), timeout)

    def read_into(self, handle: bytes, offset: int, buffer: Any, name: str | None = None,
                  in_flight: int = IN_FLIGHT, timeout: Timeout = DEFAULT) -> Future[int]:
        """Read the bytes at ``offset`` of an open file into the writable bytes-like ``buffer``
        (a ``bytearray``...), as many as it holds: the number read, fewer only where the file
        ends. A range longer than one READ is a bulk read: the C receiver keeps ``in_flight``
        READs of :attr:`read_chunk` going and copies each DATA into ``buffer`` inside libssh's
        poll, so Python runs at the start and the end only. A short answer is asked again for
        what it left out; an end of file ends the range there. The range's deadline
        (``timeout``) is pushed back by every reply: a server that stops answering fails it
        with :class:`~pylibssh.errors.SSHTimeoutError`. ``buffer`` is held (a ``bytearray``
        cannot be resized) until the future is done; the caller leaves it alone until then.
        Cancelling the future (``cancel()``) stops the read: its READs in flight are answered
        and dropped, and ``buffer`` is no longer written once ``cancel()`` returns. Raises
        TypeError (in the future) for a read-only buffer."""
        f: Future[int] = Future()
        try:
            target = sftp_api.memory_target(buffer)
        except (TypeError, BufferError) as exc:
            f.set_exception(TypeError(f"read_into needs a writable buffer ({exc})"))
            return f
        _ReadInto(self, f, handle, offset, len(target), target, None, name, in_flight,
                  self._t(timeout)).begin()
        return f

    def read_bytes(self, handle: bytes, offset: int, length: int, name: str | None = None,
                   in_flight: int = IN_FLIGHT, timeout: Timeout = DEFAULT) -> Future[bytes]:
        """The ``length`` bytes at ``offset`` of an open file as one ``bytes`` (fewer only where
        the file ends): :meth:`read_into`'s read (bulk, short answers asked again, one deadline,
        ``cancel()``), the receiver writing the DATA straight into the ``bytes`` object the
        future gets, so the data is copied once. ``length`` bytes are set aside up front (the
        caller bounds ``length`` by the file's size when it may lie far beyond it)."""
        f: Future[bytes] = Future()
        if length <= 0:
            f.set_result(b"")
            return f
        result, target = sftp_api.new_bytes(length)
        _ReadInto(self, f, handle, offset, length, target, result, name, in_flight,
                  self._t(timeout)).begin()
        return f

    def write(self, handle: bytes, offset: int, data: bytes | bytearray | memoryview,
              name: str | None = None, timeout: Timeout = DEFAULT) -> Future[None]:
        """Write ``data`` at ``offset`` (the caller keeps it unchanged until the future is done;
        at most :attr:`write_chunk` bytes is what every server takes)."""
        f = _future()
        req = _Request("write", name, lambda k, p: _settle(f, *_outcome(_ok, k, p, "write", name)),
                       lambda exc: _settle(f, exc=exc), self._t(timeout))
        view = memoryview(data).cast("B")
        with self._loop.lock:
            rid = None
            try:
                self._check()
                rid = self._track(req)
                self._send_packet(codec.write_head(rid, handle, offset, len(view)) + view)
            except BaseException as exc:  # noqa: BLE001 - the request's outcome
                if rid is not None:
                    self._forget(rid)
                _settle(f, exc=exc)
        return f

    def fstat(self, handle: bytes, name: str | None = None,
              timeout: Timeout = DEFAULT) -> Future[SFTPAttributes]:
        """Attributes of an open file: :class:`SFTPAttributes` (``name``: the path, for
        error messages)."""
        return self._call(FXP.FSTAT, codec.string(handle), "fstat", name,
                          _attrs_of("fstat", name), timeout)

    def fsetstat(self, handle: bytes, attrs: SFTPAttributes, name: str | None = None,
                 timeout: Timeout = DEFAULT) -> Future[None]:
        """Set what ``attrs`` carries on an open file: None."""
        return self._call(FXP.FSETSTAT, codec.string(handle) + _attrs_bytes(attrs), "fsetstat",
                          name, _ok_of("fsetstat", name), timeout)

    def fsync(self, handle: bytes, name: str | None = None,
              timeout: Timeout = DEFAULT) -> Future[None]:
        """``fsync@openssh.com``: the server flushes the file to its disk."""
        return self._extended("fsync@openssh.com", codec.string(handle), "fsync", name,
                              _ok_of("fsync", name), timeout)

    def fstatvfs(self, handle: bytes, name: str | None = None,
                 timeout: Timeout = DEFAULT) -> Future[StatVFS]:
        """``fstatvfs@openssh.com``: :class:`StatVFS` of the file system holding an open
        file."""
        return self._extended("fstatvfs@openssh.com", codec.string(handle), "fstatvfs", name,
                              _statvfs_of("fstatvfs", name), timeout)

    def copy_data(self, read_handle: bytes, read_offset: int, length: int,
                  write_handle: bytes, write_offset: int,
                  timeout: Timeout = DEFAULT) -> Future[None]:
        """The ``copy-data`` extension: the server copies ``length`` bytes (0: to the end) from
        one open file to another. Servers that do not offer it answer OP_UNSUPPORTED."""
        fields = (codec.string(read_handle) + struct.pack(">QQ", read_offset, length)
                  + codec.string(write_handle) + struct.pack(">Q", write_offset))
        return self._extended("copy-data", fields, "copy-data", None, _ok_of("copy-data", None),
                              timeout)

    def opendir(self, path: str, timeout: Timeout = DEFAULT) -> Future[bytes]:
        """Open the directory ``path`` for :meth:`readdir`: its handle (``bytes``; close it
        with :meth:`close_handle`)."""
        p = _path(path)
        return self._call(FXP.OPENDIR, codec.string(p), "opendir", p, _handle_of("opendir", p),
                          timeout)

    def readdir(self, handle: bytes, name: str | None = None,
                timeout: Timeout = DEFAULT) -> Future[list[SFTPName]]:
        """The next entries of an open directory: a list of :class:`SFTPName` (empty at its
        end)."""
        def parse(kind: int, payload: Any) -> list[SFTPName]:
            if kind == FXP.STATUS and codec.parse_status(payload)[0] == SFTPStatus.EOF:
                return []
            names = codec.parse_names(_expect(kind, payload, FXP.NAME, "readdir", name))
            return [SFTPName(f, ln, a) for f, ln, a in names]
        return self._call(FXP.READDIR, codec.string(handle), "readdir", name, parse, timeout)

    def listdir(self, path: str = ".", timeout: Timeout = DEFAULT) -> Future[list[SFTPName]]:
        """Every entry of a directory (``.`` and ``..`` left out): OPENDIR, READDIR until its
        end, CLOSE."""
        p = _path(path)
        out = _future()
        entries: list[SFTPName] = []
        t = self._t(timeout)

        def opened(f: Future[bytes]) -> None:
            if f.exception() is not None:
                return _settle(out, exc=f.exception())
            handle = f.result()
            self.readdir(handle, p, t).add_done_callback(lambda r: page(handle, r))

        def page(handle: bytes, f: Future[list[SFTPName]]) -> None:
            exc = f.exception()
            if exc is None and f.result():
                entries.extend(e for e in f.result() if e.filename not in (".", ".."))
                self.readdir(handle, p, t).add_done_callback(lambda r: page(handle, r))
                return
            self.close_handle(handle, p, t).add_done_callback(
                lambda c: _settle(out, entries, exc or c.exception()))

        self.opendir(p, t).add_done_callback(opened)
        return out

    # -- transfers ---------------------------------------------------------------------------------

    def get(self, remote: str, local: str | os.PathLike[str], *, resume: bool = False,
            preserve: bool = False, progress: Progress | None = None,
            in_flight: int = IN_FLIGHT, timeout: Timeout = DEFAULT) -> Future[TransferResult]:
        """Download ``remote`` into the local file ``local`` (created or truncated; with
        ``resume``, continued after checking that its last 64 KiB match the remote file):
        :class:`TransferResult` with the bytes written and the remote attributes. The file's
        STAT goes with its OPEN; then ``in_flight`` READs stay in flight, their data written to
        ``local`` in C; the CLOSE goes with the last READ. ``preserve`` copies the mode and
        times; ``progress(done, total)`` is called on the loop's thread as data arrives (an
        exception it raises ends the transfer). A remote file that changes size meanwhile is an
        SFTPError."""
        f = _future()
        _Download(self, f, _path(remote), os.fspath(local), resume, preserve, progress,
                  in_flight, self._t(timeout)).begin()
        return f

    def put(self, local: str | os.PathLike[str], remote: str, *, resume: bool = False,
            preserve: bool = False, progress: Progress | None = None,
            in_flight: int = IN_FLIGHT, permissions: int | None = None,
            stat_after: bool = False, timeout: Timeout = DEFAULT) -> Future[TransferResult]:
        """Upload the local file ``local`` as ``remote`` (created with ``permissions``, by
        default the local file's, or truncated; with ``resume``, continued after checking the
        last 64 KiB): :class:`TransferResult`. WRITEs stay ``in_flight``, then the CLOSE (and
        with ``stat_after`` a STAT, whose attributes the result carries) goes with the last
        one. ``preserve`` sets the remote mode and times; ``progress`` as for :meth:`get`."""
        f = _future()
        _Upload(self, f, os.fspath(local), _path(remote), resume, preserve, progress, in_flight,
                permissions, stat_after, self._t(timeout)).begin()
        return f

    def get_many(self, pairs: Iterable[tuple[Any, Any]], *, in_flight: int = MANY_FILES,
                 timeout: Timeout = DEFAULT) -> Future[int]:
        """Download (remote, local) pairs, ``in_flight`` files at once: the bytes written, or
        the first error once every file has had its turn."""
        return _Many(self, [(_path(r), os.fspath(lo)) for r, lo in pairs], False, in_flight,
                     self._t(timeout)).future

    def put_many(self, pairs: Iterable[tuple[Any, Any]], *, in_flight: int = MANY_FILES,
                 timeout: Timeout = DEFAULT) -> Future[int]:
        """Upload (local, remote) pairs, ``in_flight`` files at once: the bytes sent, or the
        first error once every file has had its turn."""
        return _Many(self, [(os.fspath(lo), _path(r)) for lo, r in pairs], True, in_flight,
                     self._t(timeout)).future

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"v{self.version}"
        return f"<SFTPEngine {state}, {len(self._pending)} requests waiting>"


# -- reply parsers ----------------------------------------------------------------------------------

def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Read into ``view`` at ``offset``: bytes read (``preadv`` where the platform has it)."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)
    view[:len(data)] = data
    return len(data)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _ignore(kind: int, payload: Any) -> None:
    pass


def _outcome(fn: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    try:
        return fn(*args), None
    except SFTPDecodeError:
        raise
    except BaseException as exc:  # noqa: BLE001 - handed to the future
        return None, exc


def _attrs_bytes(attrs: SFTPAttributes | dict[str, Any]) -> bytes:
    a = SFTPAttributes.from_dict(attrs) if not isinstance(attrs, SFTPAttributes) else attrs
    if (a.uid is None) != (a.gid is None):
        raise ValueError("uid and gid are set together in SFTP v3")
    if (a.atime is None) != (a.mtime is None):
        raise ValueError("atime and mtime are set together in SFTP v3")
    return codec.attrs_bytes(a)


def _attrs_of(what: str, path: str | None) -> Callable[[int, Any], SFTPAttributes]:
    return lambda kind, payload: codec.Reader(_expect(kind, payload, FXP.ATTRS, what,
                                                      path)).attrs()


def _ok_of(what: str, path: str | None) -> Callable[[int, Any], None]:
    return lambda kind, payload: _ok(kind, payload, what, path)


def _name_of(what: str, path: str | None) -> Callable[[int, Any], str]:
    return lambda kind, payload: codec.parse_name1(_expect(kind, payload, FXP.NAME, what, path))


def _handle_of(what: str, path: str | None) -> Callable[[int, Any], bytes]:
    return lambda kind, payload: codec.parse_handle(_expect(kind, payload, FXP.HANDLE, what,
                                                            path))


def _statvfs_of(what: str, path: str | None) -> Callable[[int, Any], StatVFS]:
    return lambda kind, payload: StatVFS(*codec.parse_statvfs(
        _expect(kind, payload, FXP.EXTENDED_REPLY, what, path)))


def _data_of(name: str | None) -> Callable[[int, Any], bytes]:
    def parse(kind: int, payload: Any) -> bytes:
        if kind == FXP.STATUS and codec.parse_status(payload)[0] == SFTPStatus.EOF:
            return b""
        return bytes(codec.parse_data(_expect(kind, payload, FXP.DATA, "read", name)))
    return parse


# -- one file each way ------------------------------------------------------------------------------

class _Transfer:
    """What downloads and uploads share: the engine, the future, the local descriptor, the
    remote handle, the requests in flight, and how a transfer ends."""

    def __init__(self, eng: SFTPEngine, future: Future[TransferResult], remote: str,
                 progress: Progress | None, in_flight: int, timeout: float | None):
        self.eng = eng
        self.future = future
        self.remote = remote
        self.progress = progress
        self.in_flight = max(1, in_flight)
        self.timeout = timeout
        self.fd = -1
        self.handle: bytes | None = None
        self.attrs: SFTPAttributes | None = None
        self.inflight: dict[int, tuple[int, int]] = {}  # rid -> (offset, length)
        self.close_sent = False
        self.closed = False  # the CLOSE was answered
        self.failed = False

    def request(self, what: str, reply: Callable[[int, Any], None]) -> _Request:
        req = _Request(what, self.remote, self._guard(reply), self.fail, self.timeout)
        req.close_late = what == "open"
        return req

    def _guard(self, fn: Callable[[int, Any], None]) -> Callable[[int, Any], None]:
        def reply(kind: int, payload: Any) -> None:
            if self.failed:
                if kind == FXP.HANDLE and self.handle is None:
                    self.handle = codec.parse_handle(payload)  # closed by the cleanup below
                    self._close_quietly()
                return
            try:
                fn(kind, payload)
            except SFTPDecodeError:
                raise
            except BaseException as exc:  # noqa: BLE001 - the transfer's outcome
                self.fail(exc)
        return reply

    #: set by each kind of transfer: the offset it resumes at, and whether the resume check waits
    start: int
    verifying: bool

    def _check_resume(self) -> bool:
        """When resuming, read the remote bytes just before ``start`` (up to _RESUME_CHECK) for
        ``_on_verify`` to compare with the local file's; False when there is nothing to resume."""
        if not self.start:
            return False
        assert self.handle is not None
        n = min(self.start, _RESUME_CHECK)
        self.verifying = True
        self.eng._send(FXP.READ, codec.read_payload(self.handle, self.start - n, n),
                       self.request("read", lambda k, p: self._on_verify(k, p, n)))
        return True

    def _on_verify(self, kind: int, payload: Any, n: int) -> None:
        raise NotImplementedError

    def send_close(self) -> None:
        if self.handle is not None and not self.close_sent:
            self.close_sent = True
            self.eng._send(FXP.CLOSE, codec.string(self.handle),
                           self.request("close", self._on_close))

    def _on_close(self, kind: int, payload: Any) -> None:
        _ok(kind, payload, "close", self.remote)
        self.closed = True
        self.check_done()

    def _close_quietly(self) -> None:
        if self.handle is not None and not self.close_sent:
            self.close_sent = True
            self.eng._send(FXP.CLOSE, codec.string(self.handle),
                           _Request("close", self.remote, lambda k, p: None, lambda e: None,
                                    self.timeout))

    def report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def fail(self, exc: BaseException) -> None:
        if self.failed or self.future.done():
            return
        self.failed = True
        self.eng._abandon(list(self.inflight))
        self.inflight.clear()
        self.release_local(ok=False)
        if self.eng._error is None:
            self._close_quietly()
        _settle(self.future, exc=exc)

    def release_local(self, ok: bool) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            sftp_api.forget_fd(self.eng._rx, fd)
            os.close(fd)

    def check_done(self) -> None:
        raise NotImplementedError


class _Download(_Transfer):
    def __init__(self, eng: SFTPEngine, future: Future[TransferResult], remote: str, local: str,
                 resume: bool, preserve: bool, progress: Progress | None, in_flight: int,
                 timeout: float | None):
        super().__init__(eng, future, remote, progress, in_flight, timeout)
        self.local = local
        self.resume = resume
        self.preserve = preserve
        self.chunk = eng.read_chunk
        self.start = 0
        self.next = 0  # the next offset to ask for
        self.total: int | None = None
        self.eof_at: int | None = None
        self.contig = 0  # bytes [0, contig) are in the local file
        self.ahead: dict[int, int] = {}  # ranges done past contig: offset -> end
        self.verifying = False
        self.created = False  # the local file did not exist before
        self.started = False  # the remote file opened: the local one is the download's
        # the bulk download the C receiver runs for [bulk_begin, ...), if any (one per file)
        self.bulk: int | None = None
        self.bulk_used = False
        self.bulk_begin = 0
        self.handed: list[tuple[int, int]] = []  # its READs whose replies Python took over
        self.watch: _Request | None = None  # its deadline: pushed back by every reply
        self.replies_seen = 0
        self.reported = 0  # what the last progress call of the bulk said
        # DATA that came before the local file was ready: (offset, length asked, bytes)
        self.early: list[tuple[int, int, bytes]] | None = None
        self.to_python: set[int] = set()  # READs whose DATA comes to Python (see _read)

    def begin(self, flush: bool = True) -> None:
        """Send STAT and OPEN, then make the local file ready while they travel (on the
        caller's thread unless that is the loop's)."""
        eng = self.eng
        with eng._loop.lock:
            try:
                eng._check()
                p = codec.string(self.remote)
                eng._send(FXP.STAT, p, self.request("stat", self._on_stat))
                eng._send(FXP.OPEN, codec.open_payload(self.remote, OpenFlags.READ),
                          self.request("open", self._on_open))
                if flush:
                    eng._flush()
            except BaseException as exc:  # noqa: BLE001 - the transfer's outcome
                self.fail(exc)
                return
            if not eng._loop.in_loop_thread():
                opened = None
            else:
                try:
                    opened = self._open_local()
                except OSError as exc:
                    self.fail(exc)
                    return
                self._local_ready(*opened)
                return
        try:
            opened = self._open_local()
        except OSError as exc:
            with eng._loop.lock:
                self.fail(exc)
            return
        with eng._loop.lock:
            self._local_ready(*opened)

    def _open_local(self) -> tuple[int, bool]:
        """The local file, and whether it was created here. An existing one is truncated only
        once the remote file has opened: a download that cannot start leaves it as it was."""
        flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
        if self.resume:
            return os.open(self.local, flags | os.O_CREAT, 0o644), False
        try:
            return os.open(self.local, flags | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            return os.open(self.local, flags), False

    def _local_ready(self, fd: int, created: bool) -> None:
        if self.failed:
            os.close(fd)
            if created:
                _unlink_quietly(self.local)
            return
        self.fd, self.created = fd, created
        if self.early is not None:
            self._guarded(self._write_early)
        elif self.handle is not None and self.attrs is not None:
            self._guarded(self._go)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - the transfer's outcome
            self.fail(exc)
        if self.eng._error is None:
            self.eng._flush()

    def _on_stat(self, kind: int, payload: Any) -> None:
        self.attrs = codec.Reader(_expect(kind, payload, FXP.ATTRS, "stat", self.remote)).attrs()
        if self.attrs.is_dir:
            raise sftp_error(SFTPStatus.FAILURE, "is a directory (use recursive=True)",
                             self.remote)
        if self.handle is not None:
            self._go_or_read_early()

    def _on_open(self, kind: int, payload: Any) -> None:
        self.handle = codec.parse_handle(_expect(kind, payload, FXP.HANDLE, "open",
                                                 self.remote))
        if self.attrs is not None:
            self._go_or_read_early()

    def _go_or_read_early(self) -> None:
        """The remote file is open and its size known. A small file whose local file is
        still being made (a slow file system, on the caller's thread) is read meanwhile: its
        READs and the CLOSE go now and the DATA waits in memory (``early``) for the file."""
        if self.fd >= 0:
            self._go()
            return
        total = self.attrs.size if self.attrs is not None else None
        if self.resume or total is None or total > self.in_flight * self.chunk:
            return  # (a resume needs the local size first; a large file is a bulk download)
        self.early = []
        self.total = total
        self.started = True
        self._pump()

    def _write_early(self) -> None:
        """The local file is ready: write the DATA that came before it, in order of arrival."""
        early, self.early = self.early, None
        assert early is not None
        if not self.created:
            os.ftruncate(self.fd, 0)
        for offset, length, data in early:
            self._write_data(offset, length, data)
        self.check_done()

    def _write_data(self, offset: int, length: int, data: bytes | memoryview) -> None:
        """A DATA reply that came to Python (the READ was sent before the local file was
        ready): into the file, or held until it is."""
        if len(data) > length:
            raise SFTPDecodeError(f"{len(data)} bytes of DATA for a READ of {length}")
        if self.early is not None:
            self.early.append((offset, length, bytes(data)))
            return
        done = 0
        while done < len(data):
            done += os.pwrite(self.fd, data[done:], offset + done)
        self._got(offset, length, len(data))

    def _go(self) -> None:
        attrs = self.attrs
        assert attrs is not None
        self.total = attrs.size
        self.started = True
        if self.resume:
            self.start = os.fstat(self.fd).st_size
            if self.total is not None and self.start > self.total:
                raise SFTPError(SFTPStatus.FAILURE,
                                f"cannot resume: the local file ({self.start} bytes) is larger "
                                f"than the remote one ({self.total} bytes)", self.local)
        elif not self.created:
            os.ftruncate(self.fd, 0)
        self.next = self.contig = self.start
        if not self._check_resume():
            self._pump()

    def _on_verify(self, kind: int, payload: Any, n: int) -> None:
        self.verifying = False
        theirs = b"" if kind == FXP.STATUS and codec.parse_status(payload)[0] == \
            SFTPStatus.EOF else bytes(codec.parse_data(_expect(kind, payload, FXP.DATA, "read",
                                                               self.remote)))
        if os.pread(self.fd, n, self.start - n) != theirs:
            raise SFTPError(SFTPStatus.FAILURE,
                            "cannot resume: the partial file does not match the remote file in "
                            f"its last {n} bytes", self.local)
        self._pump()

    def _read(self, offset: int, length: int) -> None:
        eng = self.eng
        assert self.handle is not None
        rid = eng._send(FXP.READ, codec.read_payload(self.handle, offset, length),
                        self.request("read", lambda k, p: self._on_read(k, p, rid)))
        self.inflight[rid] = (offset, length)
        if self.fd < 0:
            self.to_python.add(rid)  # (the local file is not ready: _write_data)
        elif sftp_api.expect_read(eng._rx, rid, self.fd, offset, length) != 0:
            raise MemoryError("registering a READ")

    def _pump(self) -> None:
        """Keep ``in_flight`` READs going; the one at the size (which sees the end) goes with
        the CLOSE. A file larger than that window is read by the C receiver (a bulk download)
        up to its size first."""
        if self.bulk is not None:
            return
        total, chunk = self.total, self.chunk
        if (total is not None and not self.bulk_used and not self.inflight
                and self.next == self.contig and total - self.next > self.in_flight * chunk
                and self.handle is not None and len(self.handle) <= 256):
            self._bulk_begin(total)
            return
        while len(self.inflight) < self.in_flight and self.eof_at is None \
                and not self.close_sent:
            if total is not None and self.next >= total:
                self._read(self.next, chunk)  # expected: EOF
                self.next += chunk
                self.send_close()
                return
            n = chunk if total is None else min(chunk, total - self.next)
            self._read(self.next, n)
            self.next += n

    def _bulk_begin(self, end: int) -> None:
        eng = self.eng
        assert self.handle is not None
        bulk = sftp_api.bulk_start(eng._rx, self.fd, self.handle, self.next, end, self.chunk,
                                   self.in_flight)
        if bulk < 0:
            raise MemoryError("starting a bulk download")
        self.bulk, self.bulk_used, self.bulk_begin = bulk, True, self.next
        eng._bulks[bulk] = self
        self.watch = self.request("read", _ignore)
        eng._track(self.watch)
        self.reported = self.next

    def tick(self, now: float) -> None:
        """After a pass of the loop: a reply pushes the bulk's deadline back; progress."""
        if self.bulk is None:  # ended in this pass (another transfer's progress closed the engine)
            return
        b = self.eng._rx.bulks[self.bulk]
        if b.replies == self.replies_seen:
            return
        self.replies_seen = b.replies
        self.eng._postpone(self.watch, now)
        if self.progress is not None:
            done = self._bulk_contig()
            if done - self.reported >= _BULK_REPORT_EVERY:
                self.reported = done
                self.report(done, self.total or 0)

    def _bulk_contig(self) -> int:
        """The end of what is in the file from the bulk's start on: its lowest READ still in
        flight or taken over by Python (all lower ones are written)."""
        eng, bulk = self.eng, self.bulk
        assert bulk is not None  # only called while the bulk runs
        b = eng._rx.bulks[bulk]
        lo = sftp_api.bulk_done_to(eng._rx, bulk)
        for offset, _ in self.handed:
            lo = min(lo, offset)
        contig: int = max(self.contig, min(lo, b.next))
        return contig

    def adopt(self, rid: int, offset: int, length: int, written: int, count: int,
              err: int) -> None:
        """A READ of the bulk whose reply Python takes over: the record itself (``written``),
        or the packet that follows it."""
        self.inflight[rid] = (offset, length)
        self.handed.append((offset, length))
        reply = self._guard(lambda k, p: self._on_read(k, p, rid))
        if written:
            reply(_WRITTEN_KIND, _WRITTEN.pack(count, err))
        else:
            req = self.request("read", reply)
            req.rid = rid
            self.eng._pending[rid] = req  # no deadline: its reply is next in this buffer

    def bulk_done(self) -> None:
        """The bulk has no READ in flight: every one not taken over is in the file."""
        b = self.eng._rx.bulks[self.bulk]
        end = b.next
        pos = self.bulk_begin
        for offset, length in sorted(self.handed):
            if offset > pos:
                self._mark(pos, offset)
            pos = max(pos, offset + length)
        if pos < end:
            self._mark(pos, end)
        self._bulk_stop()
        self.next = end
        self.report(self.contig, self.total if self.total is not None else self.contig)
        self._pump()
        self.check_done()

    def _bulk_stop(self) -> None:
        if self.bulk is None:
            return
        eng = self.eng
        eng._bulks.pop(self.bulk, None)
        sftp_api.bulk_end(eng._rx, self.bulk)
        self.bulk = None
        if self.watch is not None:
            eng._forget(self.watch.rid)
            self.watch = None

    def _mark(self, offset: int, end: int) -> None:
        """Bytes [offset, end) are in the file."""
        if offset == self.contig:
            self.contig = end
            while self.contig in self.ahead:
                self.contig = self.ahead.pop(self.contig)
        else:
            self.ahead[offset] = end

    def _on_read(self, kind: int, payload: Any, rid: int) -> None:
        offset, length = self.inflight.pop(rid)
        to_python = rid in self.to_python
        if to_python:
            self.to_python.discard(rid)
        if kind == _WRITTEN_KIND:
            count, err = _WRITTEN.unpack_from(payload)
            if err:
                raise OSError(err, f"writing {self.local!r}: {os.strerror(err)}")
            self._got(offset, length, count)
        elif kind == FXP.DATA:
            if not to_python:
                raise SFTPDecodeError(f"{len(payload) - 4} bytes of DATA for a READ of {length}")
            self._write_data(offset, length, codec.parse_data(payload))
        else:
            err = _status_error(_expect(kind, payload, FXP.STATUS, "read", self.remote),
                                "read", self.remote)
            if err is not None and err.status != SFTPStatus.EOF:
                raise err
            if self.eof_at is None or offset < self.eof_at:
                self.eof_at = offset
        if not self.failed:
            self._pump()
            self.check_done()

    def _got(self, offset: int, length: int, count: int) -> None:
        if not count:
            raise SFTPDecodeError("an empty DATA reply")
        if self.total is not None and offset >= self.total and count:
            raise SFTPError(SFTPStatus.FAILURE,
                            "the remote file changed size during the download (it had "
                            f"{self.total} bytes when opened)", self.remote)
        if count:
            self._mark(offset, offset + count)
            if self.bulk is None:  # a bulk's progress is what its receiver wrote in order
                self.report(self.contig, self.total if self.total is not None else self.contig)
        if count < length and not self.close_sent:
            # a short read: ask for the rest (an end of file answers it if that was all)
            self._read(offset + count, length - count)

    def check_done(self) -> None:
        if self.failed or self.inflight or self.verifying or self.eof_at is None \
                or self.bulk is not None or self.fd < 0:
            return
        if not self.close_sent:
            self.send_close()
            return
        if not self.closed:
            return
        size = self.eof_at
        if self.contig < size or (self.total is not None and size != self.total):
            raise SFTPError(SFTPStatus.FAILURE,
                            f"download incomplete: {min(self.contig, size)} of "
                            f"{self.total if self.total is not None else size} bytes",
                            self.remote)
        os.ftruncate(self.fd, size)
        self.release_local(ok=True)
        attrs = self.attrs
        if self.preserve and attrs is not None:
            if attrs.permissions is not None:
                os.chmod(self.local, attrs.permissions & 0o7777)
            if attrs.mtime is not None:
                os.utime(self.local, (attrs.atime or attrs.mtime, attrs.mtime))
        _settle(self.future, TransferResult(size - self.start, attrs))

    def release_local(self, ok: bool) -> None:
        if self.bulk is not None:
            if self.fd >= 0:
                self.contig = self._bulk_contig()
            self._bulk_stop()
        if self.fd >= 0 and not ok:
            fd = self.fd
            sftp_api.forget_fd(self.eng._rx, fd)
            if self.started:
                try:  # keep what arrived in order: a resumed download continues from there
                    os.ftruncate(fd, max(self.contig, self.start))
                except OSError:
                    pass
            super().release_local(ok)
            if self.created and not self.started:
                _unlink_quietly(self.local)
            return
        super().release_local(ok)


class _ReadInto:
    """:meth:`SFTPEngine.read_into` and :meth:`SFTPEngine.read_bytes`: ``length`` bytes of an
    open file from ``offset`` into memory (``target``, a C view of it). A range of more than one
    READ starts as a bulk of the C receiver; what the bulk does not deliver whole (a short or
    failed reply stops it, and the rest of the range is left to Python) is read here with READs
    of Python's own, answered as DATA packets and copied in. The future gets the number of bytes
    read, or with ``result`` (the object ``target`` views) the bytes themselves. Everything but
    :meth:`begin` and the cancel callback runs on the loop's thread with its lock held."""

    def __init__(self, eng: SFTPEngine, future: Future[Any], handle: bytes, offset: int,
                 length: int, target: Any, result: bytes | bytearray | None, name: str | None,
                 in_flight: int, timeout: float | None):
        self.eng = eng
        self.future: Future[Any] | None = future
        self.handle = handle
        self.name = name
        self.target: Any = target  # where the bytes go, held until the read is over
        self.result = result
        self.in_flight = max(1, in_flight)
        self.timeout = timeout
        self.base = self.next = self.contig = offset
        self.end = self.eof_at = offset + length
        self.bulk: int | None = None
        self.watch: _Request | None = None  # the bulk's deadline: pushed back by every reply
        self.replies_seen = 0
        self.handed: list[tuple[int, int]] = []  # bulk READs whose replies Python took over
        self.inflight: dict[int, tuple[int, int]] = {}  # Python's READs: rid -> (offset, length)
        self.retry: list[tuple[int, int]] = []  # what short answers left out
        self.ahead: dict[int, int] = {}  # ranges in memory past contig: offset -> end
        self.finished = False

    def begin(self) -> None:
        eng = self.eng
        # the future stays pending (a running one cannot be cancelled): a cancel stops the
        # read, from the cancelling thread
        assert self.future is not None
        self.future.add_done_callback(self._maybe_cancelled)
        with eng._loop.lock:
            try:
                eng._check()
                if self.end - self.base > eng.read_chunk and len(self.handle) <= 256:
                    self._bulk_begin()
                self._pump()
                eng._flush()
            except BaseException as exc:  # noqa: BLE001 - the read's outcome
                self.fail(exc)

    def _maybe_cancelled(self, f: Future[Any]) -> None:
        if f.cancelled():
            with self.eng._loop.lock:
                self.fail(None)

    def _bulk_begin(self) -> None:
        eng = self.eng
        bulk = sftp_api.bulk_start_mem(eng._rx, self.target, self.handle, self.base, self.end,
                                       eng.read_chunk, self.in_flight)
        if bulk < 0:
            raise MemoryError("starting a bulk read")
        self.bulk = bulk
        self.next = self.end  # the bulk asks for all of it (what it leaves out is told)
        eng._bulks[bulk] = self
        self.watch = _Request("read", self.name, _ignore, self.fail, self.timeout)
        eng._track(self.watch)

    def _guard(self, fn: Callable[[int, Any], None]) -> Callable[[int, Any], None]:
        def reply(kind: int, payload: Any) -> None:
            if self.finished:
                return
            try:
                fn(kind, payload)
            except SFTPDecodeError:
                raise
            except BaseException as exc:  # noqa: BLE001 - the read's outcome
                self.fail(exc)
        return reply

    def tick(self, now: float) -> None:
        """After a pass of the loop: a reply pushes the bulk's deadline back."""
        if self.bulk is None:
            return
        b = self.eng._rx.bulks[self.bulk]
        if b.replies != self.replies_seen:
            self.replies_seen = b.replies
            self.eng._postpone(self.watch, now)

    def adopt(self, rid: int, offset: int, length: int, written: int, count: int,
              err: int) -> None:
        """A READ of the bulk whose reply Python takes over: the record itself (``written``:
        ``count`` bytes of it are in the buffer), or the packet that follows it."""
        if self.finished:
            return
        self.handed.append((offset, length))
        if written:
            reply = self._guard(lambda k, p: self._on_read(k, p, offset, length))
            reply(_WRITTEN_KIND, OSError(err, os.strerror(err)) if err else count)
        else:
            reply = self._guard(lambda k, p: self._on_read(k, p, offset, length, rid))
            req = _Request("read", self.name, reply, self.fail, None)
            req.rid = rid
            self.inflight[rid] = (offset, length)
            self.eng._pending[rid] = req  # no deadline: its reply is next in this buffer

    def bulk_done(self) -> None:
        """The bulk has no READ in flight: every one not taken over is in the buffer."""
        if self.bulk is None:
            return
        b = self.eng._rx.bulks[self.bulk]
        sent_to, pos = b.next, self.base
        for offset, length in sorted(self.handed):
            if offset > pos:
                self._mark(pos, offset)
            pos = max(pos, offset + length)
        if pos < sent_to:
            self._mark(pos, sent_to)
        self._bulk_stop()
        self.next = sent_to  # a bulk stopped early leaves the rest to Python's READs
        self._pump()

    def _bulk_stop(self) -> None:
        eng = self.eng
        if self.bulk is not None:
            eng._bulks.pop(self.bulk, None)
            sftp_api.bulk_end(eng._rx, self.bulk)  # from here on C writes nothing into it
            self.bulk = None
        if self.watch is not None:
            eng._forget(self.watch.rid)
            self.watch = None

    def _let_go(self) -> None:
        """The read is over: nothing holds the caller's buffer any more."""
        if self.target is not None:
            target, self.target = self.target, None
            sftp_api.release_target(target)

    def _mark(self, offset: int, end: int) -> None:
        """Bytes [offset, end) are in the buffer."""
        if offset == self.contig:
            self.contig = end
            while self.contig in self.ahead:
                self.contig = self.ahead.pop(self.contig)
        elif end > offset:
            self.ahead[offset] = end

    def _read(self, offset: int, length: int) -> None:
        eng = self.eng
        req = _Request("read", self.name, _ignore, self.fail, self.timeout)
        rid = eng._send(FXP.READ, codec.read_payload(self.handle, offset, length), req)
        req.reply = self._guard(lambda k, p: self._on_read(k, p, offset, length, rid))
        self.inflight[rid] = (offset, length)

    def _pump(self) -> None:
        """Python's READs: what short answers left out, then the rest of the range
        (``in_flight`` at once); the outcome once nothing is left."""
        if self.bulk is not None or self.finished:
            return
        chunk = self.eng.read_chunk
        while len(self.inflight) < self.in_flight:
            if self.retry:
                offset, length = self.retry.pop()
            elif self.next < self.eof_at:
                offset, length = self.next, min(chunk, self.eof_at - self.next)
                self.next += length
            else:
                break
            self._read(offset, length)
        if not self.inflight:
            self._finish()

    def _on_read(self, kind: int, payload: Any, offset: int, length: int,
                 rid: int | None = None) -> None:
        if rid is not None:
            self.inflight.pop(rid, None)
        if kind == _WRITTEN_KIND:  # a bulk READ's DATA, copied in by the receiver
            if isinstance(payload, BaseException):
                raise payload
            count = payload
        elif kind == FXP.DATA:
            data = codec.parse_data(payload)
            count = len(data)
            if count > length:
                raise SFTPDecodeError(f"{count} bytes of DATA for a READ of {length}")
            sftp_api.write_at(self.target, offset - self.base, data)
        else:
            err = _status_error(_expect(kind, payload, FXP.STATUS, "read", self.name), "read",
                                self.name)
            if err is None:
                raise SFTPDecodeError("STATUS OK where DATA was due")
            if err.status != SFTPStatus.EOF:
                raise err
            self._eof(offset)
            self._pump()
            return
        if count == 0:
            raise SFTPDecodeError("an empty DATA reply")
        self._mark(offset, offset + count)
        if count < length and offset + count < self.eof_at:
            self.retry.append((offset + count, length - count))  # a short answer: the rest
        self._pump()

    def _eof(self, offset: int) -> None:
        if offset < self.eof_at:
            self.eof_at = offset
            self.retry = [r for r in self.retry if r[0] < offset]

    def _finish(self) -> None:
        if self.contig < self.eof_at:  # every READ below the end answered: cannot happen
            raise SFTPError(SFTPStatus.FAILURE,
                            f"range read incomplete: {self.contig - self.base} of "
                            f"{self.eof_at - self.base} bytes", self.name)
        self.finished = True
        self._let_go()
        n, result = self.eof_at - self.base, self.result
        if result is not None:
            self.result = None
            if n != len(result) or not isinstance(result, bytes):
                with memoryview(result) as view:
                    result = bytes(view[:n])
        self._settle(n if result is None else result, None)

    def _settle(self, result: Any, exc: BaseException | None) -> None:
        # the future's cancel callback holds this object: letting go of the future breaks the
        # cycle, so the result is freed as soon as the caller drops it (a large range's memory
        # is reused at once instead of waiting for the garbage collector)
        future, self.future = self.future, None
        if future is None:
            return
        try:
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(result)
        except InvalidStateError:  # cancelled meanwhile
            pass

    def fail(self, exc: BaseException | None) -> None:
        """End the read with ``exc`` (None: it was cancelled); READs in flight are dropped
        when they come."""
        if self.finished:
            return
        self.finished = True
        self._bulk_stop()
        self.eng._abandon(list(self.inflight))
        self.inflight.clear()
        self._let_go()
        self.result = None
        if exc is not None:
            self._settle(None, exc)
        else:
            self.future = None


class _Upload(_Transfer):
    def __init__(self, eng: SFTPEngine, future: Future[TransferResult], local: str, remote: str,
                 resume: bool, preserve: bool, progress: Progress | None, in_flight: int,
                 permissions: int | None, stat_after: bool, timeout: float | None):
        super().__init__(eng, future, remote, progress, in_flight, timeout)
        self.local = local
        self.resume = resume
        self.preserve = preserve
        self.permissions = permissions
        self.stat_after = stat_after
        self.stat_done = not stat_after
        self.chunk = eng.write_chunk
        self.start = 0
        self.next = 0
        self.total = 0
        self.acked = 0
        self.st: os.stat_result | None = None
        self.verifying = False
        # the bulk upload the engine's C side runs for [up_begin, total), if any (one per file)
        self.up: int | None = None
        self.up_begin = 0
        self.watch: _Request | None = None  # its deadline: pushed back by every reply
        self.replies_seen = 0
        self.reported = 0  # what the last progress call of the bulk said

    def begin(self, flush: bool = True) -> None:
        eng = self.eng
        try:  # before the lock: a slow file system does not hold the loop
            self.fd = os.open(self.local, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            self.st = os.fstat(self.fd)
        except OSError as exc:
            with eng._loop.lock:
                self.fail(exc)
            return
        with eng._loop.lock:
            try:
                eng._check()
                self.total = self.st.st_size
                if self.resume:
                    eng._send(FXP.STAT, codec.string(self.remote),
                              self.request("stat", self._on_remote_stat))
                else:
                    self._open(OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC)
                if flush:
                    eng._flush()
            except BaseException as exc:  # noqa: BLE001 - the transfer's outcome
                self.fail(exc)

    def _open(self, pflags: int) -> None:
        assert self.st is not None
        mode = self.permissions if self.permissions is not None else self.st.st_mode & 0o777
        self.eng._send(FXP.OPEN, codec.open_payload(self.remote, pflags,
                                                    SFTPAttributes(permissions=mode)),
                       self.request("open", self._on_open))

    def _on_remote_stat(self, kind: int, payload: Any) -> None:
        if kind == FXP.STATUS:
            err = _status_error(payload, "stat", self.remote)
            if not isinstance(err, FileNotFoundError):
                raise err if err is not None else SFTPDecodeError("STATUS OK to a STAT")
            self._open(OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC)
            return
        attrs = codec.Reader(_expect(kind, payload, FXP.ATTRS, "stat", self.remote)).attrs()
        self.start = attrs.size or 0
        if self.start > self.total:
            raise SFTPError(SFTPStatus.FAILURE,
                            f"cannot resume: the remote file ({self.start} bytes) is larger "
                            f"than the local one ({self.total} bytes)", self.remote)
        self._open(OpenFlags.READ | OpenFlags.WRITE)

    def _on_open(self, kind: int, payload: Any) -> None:
        self.handle = codec.parse_handle(_expect(kind, payload, FXP.HANDLE, "open",
                                                 self.remote))
        self.next = self.start
        if not self._check_resume():
            self._pump()

    def _on_verify(self, kind: int, payload: Any, n: int) -> None:
        self.verifying = False
        theirs = bytes(codec.parse_data(_expect(kind, payload, FXP.DATA, "read", self.remote)))
        if os.pread(self.fd, n, self.start - n) != theirs:
            raise SFTPError(SFTPStatus.FAILURE,
                            "cannot resume: the partial file does not match the remote file in "
                            f"its last {n} bytes", self.local)
        self._pump()

    def _pump(self) -> None:
        """Keep ``in_flight`` WRITEs going; the CLOSE (after a resume's truncation and
        preserve's attributes) follows the last one at once. A file larger than that window is
        written by the engine's C side (a bulk upload) first."""
        eng, handle = self.eng, self.handle
        assert handle is not None
        if self.up is not None:
            return
        if (self.next == self.start and not self.inflight and len(handle) <= 256
                and self.total - self.next > self.in_flight * self.chunk):
            self._up_begin()
            return
        while len(self.inflight) < self.in_flight and self.next < self.total:
            n = min(self.chunk, self.total - self.next)
            req = _Request("write", self.remote, _ignore, self.fail, self.timeout)
            rid = eng._track(req)
            req.reply = self._guard(functools.partial(self._on_write, rid=rid))
            head = codec.write_head(rid, handle, self.next, n)
            buf = bytearray(len(head) + n)
            buf[:len(head)] = head
            got = _pread_into(self.fd, memoryview(buf)[len(head):], self.next)
            self.inflight[rid] = (self.next, n)
            if got != n:
                raise OSError(errno.EIO, f"{self.local!r} changed size during the upload")
            if self.next + n < self.total:
                eng._send_packet(buf)
            else:
                eng._queue_packet(buf)  # with the CLOSE (and STAT) queued next
            self.next += n
        if self.next >= self.total and not self.close_sent:
            self._finish_requests()

    def _up_begin(self) -> None:
        eng = self.eng
        assert self.handle is not None
        up = sftp_api.up_start(eng._rx, self.fd, self.handle, self.next, self.total, self.chunk,
                               self.in_flight)
        if up < 0:
            raise MemoryError("starting a bulk upload")
        self.up, self.up_begin = up, self.next
        eng._uploads[up] = self
        self.watch = self.request("write", _ignore)
        eng._track(self.watch)
        self.reported = self.next

    def tick(self, now: float) -> None:
        """After a pass of the loop: a reply pushes the bulk's deadline back; progress."""
        if self.up is None:
            return
        u = self.eng._rx.ups[self.up]
        if u.replies == self.replies_seen:
            return
        self.replies_seen = u.replies
        self.eng._postpone(self.watch, now)
        if self.progress is not None:
            done = self.start + self.acked + u.acked
            if done - self.reported >= _BULK_REPORT_EVERY:
                self.reported = done
                self.report(done, self.total)

    def adopt(self, rid: int, offset: int, length: int) -> None:
        """A WRITE of the bulk whose reply (not STATUS OK) is the packet that follows."""
        self.inflight[rid] = (offset, length)
        req = _Request("write", self.remote, self._guard(
            functools.partial(self._on_write, rid=rid)), self.fail, self.timeout)
        req.rid = rid
        self.eng._pending[rid] = req  # no deadline: its reply is next in this buffer

    def up_done(self) -> None:
        """The bulk has no WRITE in flight: every one not taken over was answered OK."""
        assert self.up is not None
        u = self.eng._rx.ups[self.up]
        err, acked, end = u.err, u.acked, u.next
        self._up_stop()
        self.acked += acked
        if err:
            raise OSError(err, f"{self.local!r} changed size during the upload" if
                          err == errno.EIO else f"reading {self.local!r}: {os.strerror(err)}")
        if self.inflight:  # a reply that stopped the bulk: it decides
            return
        self.next = end
        self.report(self.start + self.acked, self.total)
        self._pump()
        self.check_done()

    def _up_stop(self) -> None:
        if self.up is None:
            return
        eng = self.eng
        eng._uploads.pop(self.up, None)
        sftp_api.up_end(eng._rx, self.up)
        self.up = None
        if self.watch is not None:
            eng._forget(self.watch.rid)
            self.watch = None

    def release_local(self, ok: bool) -> None:
        self._up_stop()
        super().release_local(ok)

    def _finish_requests(self) -> None:
        eng, handle, st = self.eng, self.handle, self.st
        assert handle is not None and st is not None
        h = codec.string(handle)
        if self.resume:
            eng._send(FXP.FSETSTAT, h + codec.attrs_bytes(SFTPAttributes(size=self.total)),
                      self.request("truncate", self._on_ok("truncate")))
        if self.preserve:
            attrs = SFTPAttributes(permissions=st.st_mode & 0o7777, atime=int(st.st_atime),
                                   mtime=int(st.st_mtime))
            eng._send(FXP.FSETSTAT, h + codec.attrs_bytes(attrs),
                      self.request("setstat", self._on_ok("setstat")))
        self.send_close()
        if self.stat_after:
            eng._send(FXP.STAT, codec.string(self.remote), self.request("stat", self._on_stat))

    def _on_ok(self, what: str) -> Callable[[int, Any], None]:
        return lambda kind, payload: _ok(kind, payload, what, self.remote)

    def _on_stat(self, kind: int, payload: Any) -> None:
        self.attrs = codec.Reader(_expect(kind, payload, FXP.ATTRS, "stat", self.remote)).attrs()
        self.stat_done = True
        self.check_done()

    def _on_write(self, kind: int, payload: Any, *, rid: int) -> None:
        _, n = self.inflight.pop(rid)
        _ok(kind, payload, "write", self.remote)
        self.acked += n
        self.report(self.start + self.acked, self.total)
        self._pump()
        self.check_done()

    def check_done(self) -> None:
        if self.failed or self.inflight or not self.closed or not self.stat_done \
                or self.up is not None:
            return
        self.release_local(ok=True)
        _settle(self.future, TransferResult(self.total - self.start, self.attrs))


class _Many:
    """get_many / put_many: up to ``in_flight`` transfers at once, each with a few requests
    in flight; the future gets the bytes moved, or the first error once all have ended."""

    def __init__(self, eng: SFTPEngine, pairs: Sequence[tuple[str, str]], upload: bool,
                 in_flight: int, timeout: float | None):
        self.eng = eng
        self.future = _future()
        self.queue = deque(pairs)
        self.upload = upload
        self.in_flight = max(1, in_flight)
        self.timeout = timeout
        self.active = 0
        self.total = 0
        self.errors: list[BaseException] = []
        self._starting = False
        with eng._loop.lock:
            self._start_more()

    def _start_more(self) -> None:
        if self._starting:
            return
        self._starting = True
        eng = self.eng
        try:
            while self.queue and self.active < self.in_flight:
                a, b = self.queue.popleft()
                self.active += 1
                f = _future()
                if self.upload:
                    _Upload(eng, f, a, b, False, False, None, MANY_FILE_IN_FLIGHT, None, False,
                            self.timeout).begin(flush=False)
                else:
                    _Download(eng, f, a, b, False, False, None, MANY_FILE_IN_FLIGHT,
                              self.timeout).begin(flush=False)
                f.add_done_callback(self._one_done)
        finally:
            self._starting = False
            if eng._error is None:
                eng._flush()
        if not self.active and not self.queue:
            if self.errors:
                _settle(self.future, exc=self.errors[0])
            else:
                _settle(self.future, self.total)

    def _one_done(self, f: Future[TransferResult]) -> None:
        self.active -= 1
        exc = f.exception()
        if exc is not None:
            self.errors.append(exc)
        else:
            self.total += f.result().transferred
        self._start_more()
