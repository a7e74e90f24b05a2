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

    def send(self, kind: int, payload: bytes, with_id: bool = True) -> int:
        rid = self.next_id
        self.next_id += 1
        body = (struct.pack(">BI", kind, rid) if with_id else struct.pack(">B", kind)) + payload
        self.channel.write(struct.pack(">I", len(body)) + body)
        return rid

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
