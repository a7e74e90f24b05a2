"""Many small files at once: a minimal SFTP v3 engine that pipelines *across* files.

libssh's ``sftp_open``/``sftp_close`` wait for their replies, so a loop over files pays several
round trips per file however fast the transfer itself is. For batches, this module speaks the
few requests it needs (OPEN, READ, WRITE, CLOSE) itself on a separate ``sftp`` subsystem channel,
as a loop task that never blocks: up to ``in_flight`` files are open at once, a file's WRITEs and
CLOSE go out without waiting for the HANDLE's successors, and replies are matched by request id.
Used by :meth:`SFTPClient.put_many` / :meth:`SFTPClient.get_many`, and, without blocking (many
hosts from one loop), by :meth:`Client.sftp_put_many_async` / :meth:`Client.sftp_get_many_async`.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Sequence
from typing import Any

from .._binding import lib
from ..errors import SFTPError, sftp_error
from ._task import AGAIN, Task, TaskGen
from .process import ClientChannel, open_session_gen, setup_requests
from .session import ClientSession

FXP_INIT, FXP_VERSION = 1, 2
FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE = 3, 4, 5, 6
FXP_STATUS, FXP_HANDLE, FXP_DATA = 101, 102, 103
FXF_READ, FXF_WRITE, FXF_CREAT, FXF_TRUNC = 1, 2, 8, 16
ATTR_PERMISSIONS = 4
FX_OK, FX_EOF = 0, 1
CHUNK = 32768  # every SFTP server takes 32 KiB reads and writes


def _string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


class _Engine:
    def __init__(self, channel: ClientChannel):
        self.channel = channel
        self.next_id = 0
        self.rest = b""  # the start of a packet not complete yet
        self.held: list[bytes] = []

    def send(self, kind: int, payload: bytes, with_id: bool = True, hold: bool = False) -> int:
        """Send a request (``hold``: keep it in :attr:`held` for :meth:`flush`, so that
        requests sent together go in one channel write); its id."""
        rid = self.next_id
        self.next_id += 1
        body = (struct.pack(">BI", kind, rid) if with_id else struct.pack(">B", kind)) + payload
        packet = struct.pack(">I", len(body)) + body
        if hold:
            self.held.append(packet)
        else:
            self.channel.write(packet)
        return rid

    def flush(self) -> None:
        if self.held:
            data, self.held = b"".join(self.held), []
            self.channel.write(data)

    def packets(self) -> Any:
        """A poller: the complete packets received so far, as (type, id, payload)."""
        new = self.channel._take(False, -1)
        buf = self.rest + new if self.rest else new
        out = []
        pos = 0
        while len(buf) - pos >= 5:
            (length,) = struct.unpack_from(">I", buf, pos)
            if len(buf) - pos - 4 < length:
                break
            kind = buf[pos + 4]
            body = buf[pos + 5:pos + 4 + length]
            pos += 4 + length
            if kind == FXP_VERSION:
                out.append((kind, -1, body))
            else:
                (rid,) = struct.unpack_from(">I", body)
                out.append((kind, rid, body[4:]))
        self.rest = buf[pos:]
        if out:
            return out
        if self.channel.finished or self.channel.eof_received:
            raise SFTPError(lib.SSH_FX_CONNECTION_LOST, "the SFTP channel closed")
        return AGAIN


def _status(payload: bytes) -> tuple[int, str]:
    (code,) = struct.unpack_from(">I", payload)
    msg = ""
    if len(payload) >= 8:
        (n,) = struct.unpack_from(">I", payload, 4)
        msg = payload[8:8 + n].decode("utf-8", "replace")
    return code, msg


def _handle(payload: bytes) -> bytes:
    (n,) = struct.unpack_from(">I", payload)
    return payload[4:4 + n]


class _File:
    __slots__ = ("local", "remote", "data", "handle", "offset", "pending", "parts", "error",
                 "closing", "mode")

    def __init__(self, local: str, remote: str):
        self.local, self.remote = local, remote
        self.data = b""
        self.handle = b""
        self.offset = 0
        self.pending = 0
        self.parts: list[bytes] = []
        self.error: BaseException | None = None
        self.closing = False
        self.mode = 0o644


def start_batch(session: ClientSession, pairs: Sequence[tuple[Any, Any]], upload: bool,
                in_flight: int, timeout: float | None) -> Task:
    """Start moving ``pairs`` as the callers take them, (local, remote) up and (remote, local)
    down: the task's future gives the bytes moved, or the first error once every file has had
    its turn."""
    pairs = [(os.fspath(a), os.fspath(b)) if upload else (os.fspath(b), os.fspath(a))
             for a, b in pairs]

    def gen() -> TaskGen:
        total, errors = yield from batch_gen(session, pairs, upload, in_flight)
        if errors:
            raise errors[0]
        return total
    return session.start_task(gen(), "SFTP batch", timeout)


def batch_gen(session: ClientSession, pairs: Sequence[tuple[str, str]], upload: bool,
              in_flight: int) -> TaskGen:
    """Transfer (local, remote) pairs; returns (bytes, [errors])."""
    channel: ClientChannel = yield from open_session_gen(
        session, setup_requests(None, subsystem="sftp"), collect=True)
    eng = _Engine(channel)
    try:
        eng.send(FXP_INIT, struct.pack(">I", 3), with_id=False)
        eng.next_id = 0
        packets = yield eng.packets
        if packets[0][0] != FXP_VERSION:
            raise SFTPError(lib.SSH_FX_BAD_MESSAGE, "no SFTP version reply")
        queue = deque(pairs)
        waiting: dict[int, tuple[str, _File]] = {}
        active = 0
        total = 0
        errors: list[BaseException] = []

        def finish(f: _File) -> None:
            nonlocal active, total
            active -= 1
            if f.error is not None:
                errors.append(f.error)
            elif not upload:
                data = b"".join(f.parts)
                with open(f.local, "wb") as out:
                    out.write(data)
                total += len(data)
            else:
                total += len(f.data)

        def close(f: _File) -> None:
            f.closing = True
            waiting[eng.send(FXP_CLOSE, _string(f.handle))] = ("close", f)

        while queue or waiting:
            while queue and active < in_flight:
                local, remote = queue.popleft()
                f = _File(os.fspath(local), remote)
                if upload:
                    with open(f.local, "rb") as src:
                        f.data = src.read()
                        f.mode = os.fstat(src.fileno()).st_mode & 0o777
                    flags = FXF_WRITE | FXF_CREAT | FXF_TRUNC
                    attrs = struct.pack(">II", ATTR_PERMISSIONS, f.mode)
                else:
                    flags, attrs = FXF_READ, struct.pack(">I", 0)
                rid = eng.send(FXP_OPEN, _string(remote.encode()) + struct.pack(">I", flags)
                               + attrs)
                waiting[rid] = ("open", f)
                active += 1
            for kind, rid, payload in (yield eng.packets):
                what, f = waiting.pop(rid)
                if what == "open":
                    if kind != FXP_HANDLE:
                        code, msg = _status(payload)
                        f.error = sftp_error(code, f"open: {msg}", f.remote)
                        finish(f)
                        continue
                    f.handle = _handle(payload)
                    if upload:
                        h = _string(f.handle)
                        for off in range(0, len(f.data), CHUNK):
                            piece = f.data[off:off + CHUNK]
                            rid2 = eng.send(FXP_WRITE, h + struct.pack(">Q", off) + _string(piece))
                            waiting[rid2] = ("write", f)
                            f.pending += 1
                        close(f)
                    else:
                        waiting[eng.send(FXP_READ, _string(f.handle) + struct.pack(
                            ">QI", 0, CHUNK))] = ("read", f)
                elif what == "write":
                    code, msg = _status(payload)
                    if code != FX_OK and f.error is None:
                        f.error = sftp_error(code, f"write: {msg}", f.remote)
                elif what == "read":
                    if kind == FXP_DATA:
                        (n,) = struct.unpack_from(">I", payload)
                        f.parts.append(payload[4:4 + n])
                        f.offset += n
                        waiting[eng.send(FXP_READ, _string(f.handle) + struct.pack(
                            ">QI", f.offset, CHUNK))] = ("read", f)
                    else:
                        code, msg = _status(payload)
                        if code != FX_EOF:
                            f.error = sftp_error(code, f"read: {msg}", f.remote)
                        close(f)
                else:  # close
                    code, msg = _status(payload)
                    if code != FX_OK and f.error is None:
                        f.error = sftp_error(code, f"close: {msg}", f.remote)
                    finish(f)
        return total, errors
    finally:
        channel.close()


# -- one file at a time, its round trips overlapped ------------------------------------------------

FXP_STAT, FXP_ATTRS = 17, 105
SMALL_FILE = 1 << 20  # files up to this size go through FileEngine (32 requests at once)


def _attrs(payload: bytes) -> Any:
    """A :class:`~pylibssh.sftp.SFTPAttributes` from an ATTRS reply's payload."""
    from ..sftp import SFTPAttributes

    (flags,) = struct.unpack_from(">I", payload)
    pos = 4
    values: dict[str, Any] = {}
    if flags & 1:
        (values["size"],) = struct.unpack_from(">Q", payload, pos)
        pos += 8
    if flags & 2:
        values["uid"], values["gid"] = struct.unpack_from(">II", payload, pos)
        pos += 8
    if flags & 4:
        (values["permissions"],) = struct.unpack_from(">I", payload, pos)
        pos += 4
    if flags & 8:
        values["atime"], values["mtime"] = struct.unpack_from(">II", payload, pos)
    return SFTPAttributes(**values)


class FileEngine:
    """Single-file downloads and uploads whose requests go out together, on a second ``sftp``
    channel kept open between calls: a download sends OPEN and STAT at once, then every READ
    the size asks for and the CLOSE at once (two round trips, where libssh's synchronous
    open/stat/close take four or more); an upload sends OPEN, then its WRITEs, the CLOSE and a
    STAT at once. Meant for files up to :data:`SMALL_FILE` bytes; :meth:`get_gen` hands larger
    ones back to the caller. Calls may overlap: replies are matched by request id.
    """

    def __init__(self, session: ClientSession):
        self.session = session
        self._eng: _Engine | None = None
        self._opening = False
        self._replies: dict[int, tuple[int, bytes]] = {}
        self._ignored: set[int] = set()  # requests whose replies nobody waits for

    def _ready_gen(self) -> TaskGen:
        """The engine, its channel opened and SFTP initialized on first use."""
        while self._eng is None or self._eng.channel.closed:
            if self._eng is not None:  # the channel went: a new one
                self._eng, self._replies, self._ignored = None, {}, set()
            if self._opening:  # another call is opening it
                yield lambda: AGAIN if self._opening else True
                continue
            self._opening = True
            try:
                channel: ClientChannel = yield from open_session_gen(
                    self.session, setup_requests(None, subsystem="sftp"), collect=True)
                eng = _Engine(channel)
                eng.send(FXP_INIT, struct.pack(">I", 3), with_id=False)
                eng.next_id = 0
                packets = yield eng.packets
                if packets[0][0] != FXP_VERSION:
                    channel.close()
                    raise SFTPError(lib.SSH_FX_BAD_MESSAGE, "no SFTP version reply")
                self._eng = eng
            finally:
                self._opening = False
        return self._eng

    def _collect(self, eng: _Engine, rids: list[int]) -> Any:
        """A poller: the replies to ``rids`` once all came, {rid: (type, payload)}."""
        def poll() -> Any:
            if eng.channel._bufs[0] or eng.rest:
                got = eng.packets()
                if got is not AGAIN:
                    for kind, rid, payload in got:
                        if rid in self._ignored:
                            self._ignored.discard(rid)
                        else:
                            self._replies[rid] = (kind, payload)
            if all(r in self._replies for r in rids):
                return {r: self._replies.pop(r) for r in rids}
            if eng.channel.finished or eng.channel.eof_received:
                raise SFTPError(lib.SSH_FX_CONNECTION_LOST, "the SFTP channel closed")
            return AGAIN
        return poll

    def get_gen(self, remote: str, limit: int = SMALL_FILE) -> TaskGen:
        """Download ``remote``: its bytes, or None when it is larger than ``limit`` (or changed
        size while read): the caller then takes libssh's path."""
        eng = yield from self._ready_gen()
        path = _string(remote.encode())
        r_open = eng.send(FXP_OPEN, path + struct.pack(">II", FXF_READ, 0), hold=True)
        r_stat = eng.send(FXP_STAT, path, hold=True)
        eng.flush()
        got = yield self._collect(eng, [r_open, r_stat])
        kind, payload = got[r_open]
        if kind != FXP_HANDLE:
            code, msg = _status(payload)
            raise sftp_error(code, f"open: {msg}", remote)
        handle = _string(_handle(payload))
        kind, payload = got[r_stat]
        size = _attrs(payload).size if kind == FXP_ATTRS else None
        if size is None or size > limit:
            self._ignored.add(eng.send(FXP_CLOSE, handle))
            return None
        offsets = list(range(0, size, CHUNK))
        reads = [eng.send(FXP_READ, handle + struct.pack(">QI", off, min(CHUNK, size - off)),
                          hold=True) for off in offsets]
        r_close = eng.send(FXP_CLOSE, handle, hold=True)
        eng.flush()
        got = yield self._collect(eng, reads + [r_close])
        parts = []
        changed = False
        for off, rid in zip(offsets, reads):
            kind, payload = got[rid]
            if kind == FXP_DATA:
                (n,) = struct.unpack_from(">I", payload)
                if n != min(CHUNK, size - off):
                    changed = True  # a short read: the file changed under us
                parts.append(payload[4:4 + n])
            else:
                code, msg = _status(payload)
                if code != FX_EOF:
                    raise sftp_error(code, f"read: {msg}", remote)
                changed = True
        code, msg = _status(got[r_close][1])
        if code != FX_OK:
            raise sftp_error(code, f"close: {msg}", remote)
        return None if changed else b"".join(parts)

    def put_gen(self, data: bytes, remote: str, mode: int) -> TaskGen:
        """Upload ``data`` as ``remote`` (created with ``mode``, truncated); the remote
        attributes after the CLOSE."""
        eng = yield from self._ready_gen()
        path = _string(remote.encode())
        r_open = eng.send(FXP_OPEN, path + struct.pack(">III", FXF_WRITE | FXF_CREAT | FXF_TRUNC,
                                                       ATTR_PERMISSIONS, mode))
        got = yield self._collect(eng, [r_open])
        kind, payload = got[r_open]
        if kind != FXP_HANDLE:
            code, msg = _status(payload)
            raise sftp_error(code, f"open: {msg}", remote)
        handle = _string(_handle(payload))
        writes = [eng.send(FXP_WRITE, handle + struct.pack(">Q", off)
                           + _string(data[off:off + CHUNK]), hold=True)
                  for off in range(0, len(data), CHUNK)]
        r_close = eng.send(FXP_CLOSE, handle, hold=True)
        r_stat = eng.send(FXP_STAT, path, hold=True)
        eng.flush()
        got = yield self._collect(eng, writes + [r_close, r_stat])
        for rid, what in [(w, "write") for w in writes] + [(r_close, "close")]:
            code, msg = _status(got[rid][1])
            if code != FX_OK:
                raise sftp_error(code, f"{what}: {msg}", remote)
        kind, payload = got[r_stat]
        if kind != FXP_ATTRS:
            code, msg = _status(payload)
            raise sftp_error(code, f"stat: {msg}", remote)
        return _attrs(payload)

    def close(self) -> None:
        """Close the channel (under the loop's lock)."""
        if self._eng is not None:
            self._eng.channel.close()
            self._eng = None
