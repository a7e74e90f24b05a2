"""The SFTP server's calls into C: libssh's ``sftp_session`` on a server channel, its client
messages, and pylibssh's fast path (csrc/pylibssh_sftp.c): the packet counter that tells how
many complete requests libssh holds, and the direct file handles whose reads and writes C
answers without Python.

Callers hold the session, the counter, the direct table and each message as opaque
:data:`~pylibssh._binding.CData`. Per request the pump takes the head of the counter, pulls the
message and frees it after the reply: those are libssh's functions themselves or a field read."""

from __future__ import annotations

import socket
from typing import Callable, Mapping, NamedTuple

from . import NULL, CData, ffi, lib
from .constants import PYLIBSSH_SFTP_DIRECT_ERRNOS, PYLIBSSH_SFTP_KNOWN

__all__ = [
    "DirectResult",
    "all_taken",
    "attributes",
    "bad_length",
    "client_message_free",
    "client_message_type",
    "client_version",
    "counter_callbacks",
    "direct_add",
    "direct_count",
    "direct_remove",
    "get_client_message",
    "last_taken",
    "message_flags",
    "message_handle",
    "message_id",
    "message_payload",
    "new_counter",
    "new_direct",
    "next_request",
    "read_request",
    "serve_direct",
    "server_free",
    "server_new",
    "set_version",
    "take",
    "write_request",
]

# -- the sftp session --------------------------------------------------------------------------


def server_new(session: CData, channel: CData) -> CData:
    """A server ``sftp_session`` on ``channel`` (free it with :func:`server_free` before the
    channel). Raises MemoryError when libssh cannot allocate it."""
    sftp = lib.sftp_server_new(session, channel)
    if sftp == NULL:
        raise MemoryError("sftp_server_new failed")
    return sftp


#: free a server ``sftp_session`` (its messages first)
server_free: Callable[[CData], None] = lib.sftp_server_free


def client_version(sftp: CData) -> int:
    """The protocol version the client's INIT asked for (a uint32 libssh keeps in an int)."""
    version: int = sftp.client_version & 0xFFFFFFFF
    return version


def set_version(sftp: CData, version: int) -> None:
    """The protocol version agreed with the client, for libssh's own parsing of requests."""
    sftp.version = version


# -- counting complete requests ----------------------------------------------------------------


def new_counter() -> CData:
    """A packet counter (freed with its last reference): register :func:`counter_callbacks` on
    the channel before other callbacks, and keep the counter alive while they are registered."""
    counter = ffi.new("struct pylibssh_sftp_counter *")
    lib.pylibssh_sftp_counter_init(counter)
    return counter


#: the counter's channel callback struct (the same pointer each time, to register and remove)
counter_callbacks: Callable[[CData], CData] = lib.pylibssh_sftp_counter_callbacks


def next_request(counter: CData) -> tuple[int | None, int | None] | None:
    """The type and request id of the next complete request not taken yet ((None, None) when
    the counter did not record them), None when every complete request was taken."""
    i: int = counter.taken
    if i >= counter.complete:
        return None
    if i < PYLIBSSH_SFTP_KNOWN:
        return counter.types[i], counter.ids[i]
    return None, None


def take(counter: CData) -> None:
    """Count the next request as taken (before pulling it with :func:`get_client_message`)."""
    counter.taken += 1


def last_taken(counter: CData) -> tuple[int | None, int | None]:
    """The type and request id of the request taken last ((None, None) when not recorded)."""
    i: int = counter.taken - 1
    if 0 <= i < PYLIBSSH_SFTP_KNOWN:
        return counter.types[i], counter.ids[i]
    return None, None


def all_taken(counter: CData) -> bool:
    """Whether every complete request in libssh's buffer was taken."""
    return bool(counter.taken >= counter.complete)


def bad_length(counter: CData) -> bool:
    """Whether the packet after the complete ones has an invalid length (the client broke the
    protocol: nothing after it can be read)."""
    return bool(counter.bad)


# -- client messages ---------------------------------------------------------------------------

#: the next request from libssh's buffer (NULL when it cannot be parsed); call it only for a
#: request the counter reports complete, so that it never blocks
get_client_message: Callable[[CData], CData] = lib.sftp_get_client_message
#: a client message's SSH_FXP_* type
client_message_type: Callable[[CData], int] = lib.sftp_client_message_get_type
#: free a client message, exactly once
client_message_free: Callable[[CData], None] = lib.sftp_client_message_free


def message_id(msg: CData) -> int:
    """The request id (libssh keeps it in network byte order)."""
    return socket.ntohl(msg.id)


def _string(s: CData) -> bytes | None:
    if s == NULL:
        return None
    data: bytes = ffi.buffer(lib.ssh_string_data(s), lib.ssh_string_len(s))[:]
    return data


def message_handle(msg: CData) -> bytes | None:
    """The handle a request names (None when it has none)."""
    return _string(msg.handle)


def read_request(msg: CData) -> tuple[bytes | None, int, int]:
    """A READ's handle, offset and length."""
    return _string(msg.handle), msg.offset, msg.len


def write_request(msg: CData) -> tuple[bytes | None, int, bytes | None]:
    """A WRITE's handle, offset and data."""
    return _string(msg.handle), msg.offset, _string(msg.data)


def message_flags(msg: CData) -> int:
    """An OPEN's SSH_FXF_* flags."""
    flags: int = msg.flags
    return flags


def attributes(msg: CData) -> tuple[int, int, int, int, int, int, int] | None:
    """The attributes libssh parsed from a request (open, mkdir, setstat, fsetstat), as
    ``(flags, size, uid, gid, permissions, atime, mtime)``; the SSH_FILEXFER_ATTR_* ``flags``
    say which are set. None when the request has none."""
    a = msg.attr
    if a == NULL:
        return None
    return a.flags, a.size, a.uid, a.gid, a.permissions, a.atime, a.mtime


def message_payload(msg: CData) -> bytes:
    """A request's payload as it came on the wire (the request id onwards)."""
    buf = lib.pylibssh_sftp_message_packet(msg)
    payload: bytes = ffi.buffer(lib.ssh_buffer_get(buf), lib.ssh_buffer_get_len(buf))[:]
    return payload


# -- direct file handles -----------------------------------------------------------------------


def new_direct(errno_status: Mapping[int, int]) -> CData:
    """An empty table of direct file handles (freed with its last reference); ``errno_status``
    maps an errno to the SFTP status C answers a failed read or write with."""
    d = ffi.new("struct pylibssh_sftp_direct *")
    lib.pylibssh_sftp_direct_init(d)
    for err, status in errno_status.items():
        if 0 <= err < PYLIBSSH_SFTP_DIRECT_ERRNOS:
            d.errno_status[err] = status
    return d


def direct_add(direct: CData, handle: bytes, fd: int, writable: bool) -> None:
    """Let C serve ``handle``'s reads (and writes, if ``writable``) on ``fd``, and its close."""
    lib.pylibssh_sftp_direct_add(direct, handle, len(handle), fd, int(writable))


def direct_remove(direct: CData, handle: bytes) -> None:
    """Stop serving ``handle`` in C (before Python closes its descriptor)."""
    lib.pylibssh_sftp_direct_remove(direct, handle, len(handle))


def direct_count(direct: CData) -> int:
    """How many handles C serves."""
    count: int = direct.count
    return count


class DirectResult(NamedTuple):
    """What one :func:`serve_direct` call did."""

    #: negative when a reply could not be written (the session's error says why)
    rc: int
    #: reply bytes written to libssh
    written: int
    #: requests answered
    served: int
    #: handles C closed (the backend forgets them)
    closed: list[bytes]
    #: reply bytes libssh held back (a key re-exchange): the caller queues them, in order
    queued: bytes
    #: the next packet could not be parsed (it was taken)
    unparsable: bool
    #: a request pulled and not served in C: the caller answers it (and frees it)
    handoff: CData | None


def serve_direct(sftp: CData, channel: CData, counter: CData, direct: CData, max_read: int,
                 budget: int) -> DirectResult:
    """Answer the reads, writes and closes of direct handles at the head of the counted requests,
    writing at most about ``budget`` reply bytes, reads of at most ``max_read`` bytes."""
    rc: int = lib.pylibssh_sftp_serve_direct(sftp, channel, counter, direct, max_read, budget)
    d = direct
    closed = [ffi.buffer(d.closed[i], 8)[:] for i in range(d.nclosed)]
    queued = ffi.buffer(d.buf, d.queued)[:] if d.queued else b""
    handoff = None
    if d.handoff != NULL:
        handoff, d.handoff = d.handoff, NULL
    return DirectResult(rc, d.bytes, d.served, closed, queued, bool(d.unparsable), handoff)
