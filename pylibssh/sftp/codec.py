"""SFTP version 3 on the wire: packet types, attribute flags, and the encoders and decoders the
server and the clients share (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it).

A packet is ``uint32 length, byte type, payload``; every type but INIT and VERSION starts its
payload with a ``uint32`` request id. Strings are ``uint32 length`` + bytes; paths are UTF-8 on
the wire and decoded with ``surrogateescape`` so any byte survives a round trip.

The numbers are the protocol's own; tests/test_sftp_codec.py checks them against libssh's headers
and the C fast path (csrc/pylibssh_sftp.c), which compile the same values.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from typing import Any, Union

from .attributes import SFTPAttributes

__all__ = [
    "FXP", "Attr", "PROTOCOL_VERSION", "MAX_PACKET", "MAX_READ", "MAX_NAMES_BYTES",
    "Reader", "PacketSplitter", "SFTPDecodeError",
    "string", "attrs_bytes", "packet", "request", "reply",
    "status_payload", "handle_payload", "data_header", "name_payload", "names_payload",
    "parse_status", "parse_handle", "parse_names",
    "init_packet", "open_payload", "read_payload", "write_head", "extended_payload",
    "parse_version", "parse_data", "parse_name1", "parse_limits", "parse_statvfs",
    "STATUS_OK", "STATUS_EOF",
]

#: the version spoken (clients that ask for more are answered with this one)
PROTOCOL_VERSION = 3
#: the largest packet taken or sent, as OpenSSH's sftp-server (SFTP_MAX_MSG_LENGTH)
MAX_PACKET = 256 * 1024
#: the largest READ answered: the packet limit less room for the header (OpenSSH's value)
MAX_READ = MAX_PACKET - 1024
#: the largest NAME reply the server builds for one READDIR page
MAX_NAMES_BYTES = 60 * 1024
#: the status codes the transfer paths test for (the whole set: :class:`pylibssh.sftp.SFTPStatus`)
STATUS_OK = 0
STATUS_EOF = 1


class FXP(enum.IntEnum):
    """SSH_FXP_* packet types."""

    INIT = 1
    VERSION = 2
    OPEN = 3
    CLOSE = 4
    READ = 5
    WRITE = 6
    LSTAT = 7
    FSTAT = 8
    SETSTAT = 9
    FSETSTAT = 10
    OPENDIR = 11
    READDIR = 12
    REMOVE = 13
    MKDIR = 14
    RMDIR = 15
    REALPATH = 16
    STAT = 17
    RENAME = 18
    READLINK = 19
    SYMLINK = 20
    STATUS = 101
    HANDLE = 102
    DATA = 103
    NAME = 104
    ATTRS = 105
    EXTENDED = 200
    EXTENDED_REPLY = 201


class Attr(enum.IntFlag):
    """SSH_FILEXFER_ATTR_* flags: which fields an ATTRS structure carries."""

    SIZE = 0x1
    UIDGID = 0x2
    PERMISSIONS = 0x4
    ACMODTIME = 0x8
    EXTENDED = 0x80000000


class SFTPDecodeError(ValueError):
    """A packet or field that does not parse (truncated, or longer than allowed)."""


_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEAD = struct.Struct(">IB")       # length, type
_HEAD_ID = struct.Struct(">IBI")   # length, type, request id
_M32 = 0xFFFFFFFF

Bytes = Union[bytes, bytearray, memoryview]


# -- encoding ----------------------------------------------------------------------------------

def string(data: bytes | str) -> bytes:
    """An SSH string: ``uint32 length`` + bytes (text as UTF-8, surrogates as their bytes)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return _U32.pack(len(data)) + data


def attrs_bytes(attrs: SFTPAttributes | Mapping[str, Any] | None) -> bytes:
    """An ATTRS structure (an :class:`SFTPAttributes`, node-libssh's dict, or None: no fields).
    Only one of atime/mtime given sets both to it (the protocol carries them together)."""
    if attrs is None:
        return b"\0\0\0\0"
    a = attrs if isinstance(attrs, SFTPAttributes) else SFTPAttributes.from_dict(attrs)
    flags = 0
    out = []
    if a.size is not None:
        flags |= Attr.SIZE
        out.append(_U64.pack(a.size))
    if a.uid is not None or a.gid is not None:
        flags |= Attr.UIDGID
        out.append(struct.pack(">II", (a.uid or 0) & _M32, (a.gid or 0) & _M32))
    if a.permissions is not None:
        flags |= Attr.PERMISSIONS
        out.append(_U32.pack(a.permissions & _M32))
    if a.atime is not None or a.mtime is not None:
        flags |= Attr.ACMODTIME
        atime = a.atime if a.atime is not None else a.mtime
        mtime = a.mtime if a.mtime is not None else a.atime
        out.append(struct.pack(">II", int(atime) & _M32, int(mtime) & _M32))  # type: ignore[arg-type]
    return _U32.pack(flags) + b"".join(out)


def packet(kind: int, payload: Bytes) -> bytes:
    """A whole packet without request id (INIT, VERSION)."""
    return _HEAD.pack(len(payload) + 1, kind) + bytes(payload)


def request(kind: int, rid: int, payload: Bytes = b"") -> bytes:
    """A whole request or reply packet: type, request id, then ``payload``."""
    return _HEAD_ID.pack(len(payload) + 5, kind, rid & _M32) + bytes(payload)


reply = request  # a reply is framed exactly like a request


def status_payload(code: int, message: str | bytes = "", language: str | bytes = "") -> bytes:
    """A STATUS reply's payload after the id: code, message, language tag."""
    return _U32.pack(code & _M32) + string(message) + string(language)


def handle_payload(handle: bytes) -> bytes:
    """A HANDLE reply's fields (after the id): the handle as an SSH string."""
    return string(handle)


def data_header(rid: int, length: int) -> bytes:
    """The head of a DATA reply carrying ``length`` bytes: the data follows (no copy of it)."""
    return _HEAD_ID.pack(length + 9, FXP.DATA, rid & _M32) + _U32.pack(length)


def name_payload(entries: Iterable[tuple[str | bytes, str | bytes, Any]]) -> bytes:
    """A NAME reply's payload: ``(filename, longname, attrs)`` entries."""
    parts = [string(f) + string(ln) + attrs_bytes(a) for f, ln, a in entries]
    return _U32.pack(len(parts)) + b"".join(parts)


names_payload = name_payload


def init_packet(version: int = PROTOCOL_VERSION) -> bytes:
    """The client's INIT packet."""
    return packet(FXP.INIT, _U32.pack(version))


def open_payload(path: bytes | str, pflags: int, attrs: SFTPAttributes | None = None) -> bytes:
    """An OPEN request's payload after the id: path, SSH_FXF_* flags, attributes."""
    return string(path) + _U32.pack(pflags) + attrs_bytes(attrs)


def read_payload(handle: bytes, offset: int, length: int) -> bytes:
    """A READ request's payload after the id."""
    return string(handle) + struct.pack(">QI", offset, length)


def write_head(rid: int, handle: bytes, offset: int, length: int) -> bytes:
    """The head of a whole WRITE packet carrying ``length`` bytes: the data follows."""
    return (_HEAD_ID.pack(len(handle) + 21 + length, FXP.WRITE, rid & _M32) + string(handle)
            + struct.pack(">QI", offset, length))


def extended_payload(name: str, *fields: bytes) -> bytes:
    """An EXTENDED request's payload after the id: the extension's name, then its fields
    (encoded already)."""
    return string(name) + b"".join(fields)


# -- decoding ----------------------------------------------------------------------------------

class Reader:
    """Reads SFTP wire types from a payload, raising :class:`SFTPDecodeError` past its end."""

    __slots__ = ("data", "pos")

    def __init__(self, data: Bytes, pos: int = 0):
        self.data = data
        self.pos = pos

    def _need(self, n: int) -> int:
        start = self.pos
        if start + n > len(self.data):
            raise SFTPDecodeError("truncated SFTP packet")
        self.pos = start + n
        return start

    def u8(self) -> int:
        """The next byte."""
        return self.data[self._need(1)]

    def u32(self) -> int:
        """The next big-endian uint32."""
        # struct gives Any; a local to say int would cost a few ns on every field read
        return _U32.unpack_from(self.data, self._need(4))[0]  # type: ignore[no-any-return]

    def u64(self) -> int:
        """The next big-endian uint64."""
        return _U64.unpack_from(self.data, self._need(8))[0]  # type: ignore[no-any-return]

    def string(self) -> bytes:
        """The next SSH string's bytes (length-prefixed)."""
        n = self.u32()
        start = self._need(n)
        return bytes(self.data[start:start + n])

    def path(self) -> str:
        """A path: UTF-8, any other byte kept as a surrogate. A NUL byte cannot be part of a
        path (C would read a shorter one: another file): :class:`SFTPDecodeError`."""
        raw = self.string()
        if b"\0" in raw:
            raise SFTPDecodeError("a path contains a NUL byte")
        return raw.decode("utf-8", "surrogateescape")

    def text(self) -> str:
        """A message meant for people: UTF-8, undecodable bytes replaced."""
        return self.string().decode("utf-8", "replace")

    def attrs(self) -> SFTPAttributes:
        """The next ATTRS structure (its extended pairs are read and dropped)."""
        flags = self.u32()
        a = SFTPAttributes()
        if flags & Attr.SIZE:
            a.size = self.u64()
        if flags & Attr.UIDGID:
            a.uid, a.gid = self.u32(), self.u32()
        if flags & Attr.PERMISSIONS:
            a.permissions = self.u32()
        if flags & Attr.ACMODTIME:
            a.atime, a.mtime = self.u32(), self.u32()
        if flags & Attr.EXTENDED:
            for _ in range(self.u32()):
                self.string()
                self.string()
        return a

    def rest(self) -> bytes:
        """Every byte left, consumed."""
        data = bytes(self.data[self.pos:])
        self.pos = len(self.data)
        return data

    @property
    def remaining(self) -> int:
        """How many bytes are left to read."""
        return len(self.data) - self.pos


class PacketSplitter:
    """Cuts a byte stream into packets: feed bytes, take ``(type, payload)`` pairs whose payload
    still starts with the request id (where the type has one). A length over ``max_packet`` (or
    0) raises :class:`SFTPDecodeError`: the stream cannot be resynchronised after it."""

    __slots__ = ("_buf", "max_packet")

    def __init__(self, max_packet: int = MAX_PACKET + 1024):
        self._buf = bytearray()
        self.max_packet = max_packet

    def feed(self, data: Bytes) -> list[tuple[int, memoryview]]:
        """Add ``data``: the ``(type, payload)`` pairs now complete, in order (each payload a
        view of its own copy). A length out of range raises :class:`SFTPDecodeError`."""
        buf = self._buf
        buf += data
        out: list[tuple[int, memoryview]] = []
        pos = 0
        end = len(buf)
        while end - pos >= 5:
            (length,) = _U32.unpack_from(buf, pos)
            if length == 0 or length > self.max_packet:
                raise SFTPDecodeError(f"SFTP packet length {length} out of range")
            if end - pos - 4 < length:
                break
            out.append((buf[pos + 4], memoryview(bytes(buf[pos + 5:pos + 4 + length]))))
            pos += 4 + length
        if pos:
            del buf[:pos]
        return out

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete packet held."""
        return len(self._buf)


def parse_status(payload: Bytes) -> tuple[int, str]:
    """A STATUS payload (after the id) -> ``(code, message)``; servers may omit the message."""
    r = Reader(payload)
    code = r.u32()
    message = r.text() if r.remaining >= 4 else ""
    return code, message


def parse_handle(payload: Bytes) -> bytes:
    """A HANDLE reply's handle (the payload after the id)."""
    return Reader(payload).string()


def parse_version(payload: Bytes) -> tuple[int, dict[str, bytes]]:
    """A VERSION payload -> ``(version, {extension name: data})``."""
    r = Reader(payload)
    version = r.u32()
    extensions: dict[str, bytes] = {}
    while r.remaining:
        name = r.string().decode("utf-8", "replace")
        extensions[name] = r.string()
    return version, extensions


def parse_data(payload: Bytes) -> memoryview:
    """A DATA payload (after the id) -> its bytes, as a view of ``payload`` (no copy)."""
    view = memoryview(payload)
    r = Reader(view)
    n = r.u32()
    start = r._need(n)
    return view[start:start + n]


def parse_name1(payload: Bytes) -> str:
    """A NAME reply that answers with one path (REALPATH, READLINK, expand-path...) -> it."""
    names = parse_names(payload)
    if len(names) != 1:
        raise SFTPDecodeError(f"a NAME reply with {len(names)} entries where one was due")
    return names[0][0]


def parse_limits(payload: Bytes) -> tuple[int, int, int, int]:
    """A ``limits@openssh.com`` reply -> max packet, read and write lengths, open handles."""
    r = Reader(payload)
    return r.u64(), r.u64(), r.u64(), r.u64()


def parse_statvfs(payload: Bytes) -> tuple[int, ...]:
    """A ``statvfs@openssh.com`` reply -> its 11 fields, in ``struct statvfs``'s order."""
    r = Reader(payload)
    return tuple(r.u64() for _ in range(11))


def parse_names(payload: Bytes) -> list[tuple[str, str, SFTPAttributes]]:
    """A NAME payload (after the id) -> ``(filename, longname, attrs)`` entries."""
    r = Reader(payload)
    count = r.u32()
    if count > r.remaining // 12:  # each entry takes at least 12 bytes: refuse absurd counts
        raise SFTPDecodeError(f"NAME reply with {count} entries in {r.remaining} bytes")
    return [(r.path(), r.path(), r.attrs()) for _ in range(count)]
