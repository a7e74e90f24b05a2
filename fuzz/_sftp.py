"""What the two SFTP harnesses share: pylibssh's SFTP server with the local backend on a live
connection (fuzz/_live.py), one ``sftp`` subsystem channel per input, and the checks on what
comes back.

Per input: the served directory is laid out anew (so every input starts from the same files and
handles are numbered from 1), a channel is opened, ``prologue + input`` is sent as the client's
byte stream, then EOF, and everything the server sends until it closes the channel is read
(with a deadline: an input after which the server does not end the subsystem is a hang). The
reply stream must then be well-formed SFTP version 3 (the server's encoding), answer the
input's complete requests in order, one reply each, of a type that fits the request (a request
lost or answered twice is a failure), and nothing outside the served directory may change.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
from typing import Any

from pylibssh.errors import ChannelError
from pylibssh.server.sftp_local import LocalFilesystem

from ._live import TIMEOUT, LiveSession

__all__ = ["SFTPHarness", "MalformedReply", "check_replies", "requests_in", "packet", "sstr", "INIT"]

FXP_INIT, FXP_VERSION = 1, 2
FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE = 3, 4, 5, 6
FXP_LSTAT, FXP_FSTAT, FXP_OPENDIR, FXP_READDIR = 7, 8, 11, 12
FXP_REALPATH, FXP_STAT, FXP_READLINK, FXP_EXTENDED = 16, 17, 19, 200
FXP_STATUS, FXP_HANDLE, FXP_DATA, FXP_NAME, FXP_ATTRS = 101, 102, 103, 104, 105
FXP_EXTENDED_REPLY = 201

# the replies each request may get besides STATUS
_REPLIES = {
    FXP_OPEN: {FXP_HANDLE}, FXP_OPENDIR: {FXP_HANDLE}, FXP_READ: {FXP_DATA},
    FXP_LSTAT: {FXP_ATTRS}, FXP_FSTAT: {FXP_ATTRS}, FXP_STAT: {FXP_ATTRS},
    FXP_READDIR: {FXP_NAME}, FXP_REALPATH: {FXP_NAME}, FXP_READLINK: {FXP_NAME},
    FXP_EXTENDED: {FXP_EXTENDED_REPLY, FXP_NAME},
}


def sstr(data: bytes | str) -> bytes:
    """An SSH string: a 32-bit length, then the bytes."""
    raw = data.encode() if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


def packet(kind: int, payload: bytes) -> bytes:
    """An SFTP packet: length, type, payload."""
    return struct.pack(">IB", len(payload) + 1, kind) + payload


INIT = packet(FXP_INIT, struct.pack(">I", 3))


class MalformedReply(AssertionError):
    """The server's replies broke the protocol (an encoding fault, a lost or extra reply)."""


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedReply(f"reply truncated at {self.pos} (+{n}) of {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def string(self) -> bytes:
        return self.take(self.u32())

    def attrs(self) -> None:
        flags = self.u32()
        if flags & ~0x8000000F:
            raise MalformedReply(f"ATTRS flags {flags:#x} carry bits version 3 does not define")
        self.take((8 if flags & 1 else 0) + (8 if flags & 2 else 0) + (4 if flags & 4 else 0)
                  + (8 if flags & 8 else 0))
        if flags & 0x80000000:
            for _ in range(self.u32()):
                self.string()
                self.string()

    def end(self, what: str) -> None:
        if self.pos != len(self.data):
            raise MalformedReply(f"{len(self.data) - self.pos} bytes after the end of {what}")


def requests_in(stream: bytes) -> list[tuple[int, int]]:
    """(type, id) of the complete packets at the start of ``stream``, until the framing breaks;
    the id is 0 for a packet too short to hold one (the server answers those with id 0)."""
    out, pos = [], 0
    while len(stream) - pos >= 4:
        size = struct.unpack_from(">I", stream, pos)[0]
        if size == 0 or size > len(stream) - pos - 4:
            break
        body = stream[pos + 4:pos + 4 + size]
        out.append((body[0], struct.unpack(">I", body[1:5])[0] if size >= 5 else 0))
        pos += 4 + size
    return out


def check_replies(sent: bytes, replies: bytes) -> None:
    """Raise :class:`MalformedReply` unless ``replies`` is the server's well-formed answer to
    ``sent``: VERSION first, then one reply per complete request (a second INIT gets none) in
    the order of the requests. The server may end the subsystem early on a packet it cannot
    read (its documented answer to broken framing): then the replies stop, in order, there."""
    packets = []
    r = _Reader(replies)
    while r.pos < len(replies):
        body = r.take(r.u32())
        if not body:
            raise MalformedReply("an empty reply packet")
        packets.append(body)
    if not packets:
        raise MalformedReply("no VERSION reply")
    version = _Reader(packets[0])
    if version.take(1)[0] != FXP_VERSION or version.u32() != 3:
        raise MalformedReply(f"the first reply is not VERSION 3: {packets[0][:16]!r}")
    while version.pos < len(version.data):
        version.string()
        version.string()
    expected = [(t, i) for t, i in requests_in(sent)[1:] if t != FXP_INIT]
    answers = packets[1:]
    if len(answers) > len(expected):
        raise MalformedReply(f"{len(answers)} replies to {len(expected)} requests")
    for (kind, rid), body in zip(expected, answers):
        p = _Reader(body)
        rtype, got = p.take(1)[0], p.u32()
        if got != rid:
            raise MalformedReply(f"request type {kind} id {rid} answered with id {got} "
                                 f"(type {rtype}): lost, reordered or extra")
        if rtype != FXP_STATUS and rtype not in _REPLIES.get(kind, ()):
            raise MalformedReply(f"request type {kind} answered with type {rtype}")
        if rtype == FXP_STATUS:
            p.u32()
            p.string()
            p.string()
        elif rtype == FXP_HANDLE:
            if len(p.string()) > 256:
                raise MalformedReply("a handle longer than 256 bytes")
        elif rtype == FXP_DATA:
            p.string()
        elif rtype == FXP_ATTRS:
            p.attrs()
        elif rtype == FXP_NAME:
            for _ in range(p.u32()):
                p.string()
                p.string()
                p.attrs()
        else:  # EXTENDED_REPLY: the extension's own data
            p.pos = len(body)
        p.end(f"reply type {rtype}")


def _lay_out(root: str) -> None:
    """The served directory every input starts from: files, a subdirectory, symbolic links
    (one inside, one pointing outside the root, which the backend must keep inside)."""
    os.makedirs(os.path.join(root, "dir", "sub"))
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(b"hello, sftp\n" * 100)
    with open(os.path.join(root, "dir", "b.bin"), "wb") as f:
        f.write(bytes(range(256)) * 64)
    os.symlink("a.txt", os.path.join(root, "link"))
    os.symlink("../outside/secret", os.path.join(root, "escape"))


def _snapshot(path: str, skip: str) -> list[tuple[str, int, int, int]]:
    """What is under ``path`` except ``skip`` (names, modes, sizes, times)."""
    out = []
    for base, dirs, files in os.walk(path):
        if base == path:
            dirs[:] = [d for d in dirs if d != skip]
        for name in dirs + files:
            full = os.path.join(base, name)
            st = os.lstat(full)
            out.append((os.path.relpath(full, path), st.st_mode, st.st_size, st.st_mtime_ns))
    return sorted(out)


def _rmtree(path: str) -> None:
    """Remove a tree whatever modes the input gave its files (setstat can take every bit away,
    which only matters when not running as root)."""
    def fix(func: Any, p: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(p), stat.S_IRWXU)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, stat.S_IRWXU)
        func(p)
    os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(path, onerror=fix)


class SFTPHarness:
    """The SFTP server on a live connection; :meth:`run` serves one input."""

    def __init__(self, prologue: bytes = b""):
        self.prologue = prologue
        self.base = tempfile.mkdtemp(prefix="pylibssh-fuzz-sftp-")
        self.root = os.path.join(self.base, "root")
        outside = os.path.join(self.base, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "secret"), "wb") as f:
            f.write(b"not for SFTP clients\n")
        os.makedirs(self.root)
        self.outside = _snapshot(self.base, "root")
        self.fs = LocalFilesystem(self.root)

        def on_channel(channel: Any) -> None:
            @channel.on("subsystem")
            def _subsystem(msg: Any) -> None:
                if msg.subsystem != "sftp":
                    msg.reply_default()
                    return
                msg.sftp_accept()
                self.fs.attach(channel)

        self.live = LiveSession(on_channel)

    def run(self, data: bytes) -> bytes:
        """Serve ``data`` on a fresh channel; the server's reply stream."""
        _rmtree(self.root)
        os.makedirs(self.root)
        _lay_out(self.root)
        sent = INIT + self.prologue + data
        proc = self.live.client.subsystem("sftp", timeout=TIMEOUT)
        try:
            try:
                proc.write(sent, timeout=TIMEOUT)
                proc.close_stdin()
            except ChannelError:
                pass  # the server ended the subsystem first (broken framing): see what it sent
            out, _err = proc.read_until_eof(timeout=TIMEOUT)
        finally:
            proc.close()
        check_replies(sent, out)
        if _snapshot(self.base, "root") != self.outside:
            raise AssertionError("a request changed a file outside the served directory")
        return out
