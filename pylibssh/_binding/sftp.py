"""The SFTP client's C receiver (csrc/pylibssh_sftp_client.c): a channel callback that frames
the server's replies during libssh's poll, writes READ replies of registered downloads straight
into their files, and runs bulk downloads (it asks for the next READs itself) and bulk uploads
(it reads the file and writes the WRITEs to the channel itself, and takes their replies).

The engine (``pylibssh.client.sftp_engine``) holds the receiver as an opaque
:data:`~pylibssh._binding.CData` whose fields it reads per pass (``out_len``, ``send_len``,
``bulks[n]``). The calls made per request or per pass are the C functions themselves.
"""

from __future__ import annotations

from typing import Any, Callable

from . import CData, ffi, lib


def new_receiver(max_packet: int) -> CData:
    """A receiver for replies of up to ``max_packet`` bytes, freed with its last reference (or
    earlier with :func:`free_receiver`). Raises MemoryError when its buffers cannot be had."""
    rx = ffi.gc(ffi.new("struct pylibssh_sftp_rx *"), lib.pylibssh_sftp_rx_free)
    if lib.pylibssh_sftp_rx_init(rx, max_packet) != 0:
        raise MemoryError("the SFTP receiver")
    return rx


#: the receiver's channel callback struct (register it on the SFTP channel, kept with it)
receiver_callbacks: Callable[[CData], CData] = lib.pylibssh_sftp_rx_callbacks
#: free the receiver's buffers and files (again later: nothing)
free_receiver: Callable[[CData], None] = lib.pylibssh_sftp_rx_free


def take_replies(rx: CData) -> bytes:
    """The framed replies (and records) the receiver holds for Python, which it forgets."""
    data: bytes = ffi.buffer(rx.out, rx.out_len)[:]
    lib.pylibssh_sftp_rx_taken(rx)
    return data


def take_requests(rx: CData) -> bytes:
    """The READs the receiver's bulk downloads call for, to be sent; it forgets them."""
    data: bytes = ffi.buffer(rx.send, rx.send_len)[:]
    lib.pylibssh_sftp_rx_sent(rx)
    return data


#: register a READ (id, file descriptor, offset, length) whose reply the receiver writes into
#: the file itself: 0, or -1 when it cannot hold more
expect_read: Callable[[CData, int, int, int, int], int] = lib.pylibssh_sftp_rx_expect
#: drop what the receiver knows of a request id (its reply is dropped when it comes): 0 when
#: it knew it
forget: Callable[[CData, int], int] = lib.pylibssh_sftp_rx_forget
#: drop the READs registered for a file descriptor (before it is closed)
forget_fd: Callable[[CData, int], None] = lib.pylibssh_sftp_rx_forget_fd


def bulk_start(rx: CData, fd: int, handle: bytes, start: int, end: int, chunk: int,
               in_flight: int) -> int:
    """Start a bulk download of ``handle`` from ``start`` to ``end`` into ``fd``, ``in_flight``
    READs of ``chunk`` bytes at a time: its number (an index of ``rx.bulks``), negative when no
    more can run."""
    bulk: int = lib.pylibssh_sftp_rx_bulk_start(rx, fd, handle, len(handle), start, end, chunk,
                                                in_flight)
    return bulk


def memory_target(buffer: Any) -> CData:
    """A C view of the writable bytes-like ``buffer`` for :func:`bulk_start_mem`. While the view
    lives the buffer is locked (a ``bytearray`` cannot be resized); :func:`release_target`
    unlocks it. Raises TypeError for a read-only buffer."""
    target: CData = ffi.from_buffer("char[]", buffer, require_writable=True)
    return target


def new_bytes(length: int) -> tuple[bytes | bytearray, CData]:
    """A new object of ``length`` bytes to be the result of a read, and a C view to fill it
    through (:func:`bulk_start_mem`, :func:`write_at`). For 2 bytes or more it is a ``bytes``:
    Python code never changes one, and this one is filled the way C code fills the ``bytes`` it
    is about to return, before anyone else can see it (the read holds the only reference and
    gives it out once complete, after its bulk ended); its pages are the allocator's fresh
    zeroed ones, touched only as the data arrives, so the data is copied once. Shorter (``b""``
    and one-byte objects may be shared): a ``bytearray``, which the reader turns into bytes."""
    data: bytes | bytearray = bytes(length) if length >= 2 else bytearray(length)
    return data, ffi.from_buffer("char[]", data)


def write_at(target: CData, at: int, data: Any) -> None:
    """Copy the bytes-like ``data`` into ``target`` at ``at`` (the caller checked the room)."""
    ffi.memmove(target + at, data, len(data))


#: unlock a buffer taken by :func:`memory_target` or :func:`new_bytes` (once nothing writes
#: into it)
release_target: Callable[[CData], None] = ffi.release


def bulk_start_mem(rx: CData, target: CData, handle: bytes, start: int, end: int, chunk: int,
                   in_flight: int) -> int:
    """Start a bulk download of ``handle`` from ``start`` to ``end`` into memory: the bytes at
    ``start`` go to ``target[0]`` (a :func:`memory_target` of at least ``end - start`` bytes,
    kept until :func:`bulk_end`), ``in_flight`` READs of ``chunk`` bytes at a time. Its number,
    negative when no more can run."""
    if len(target) < end - start:
        raise ValueError("the buffer is shorter than the range")
    bulk: int = lib.pylibssh_sftp_rx_bulk_start_mem(rx, target, handle, len(handle), start, end,
                                                    chunk, in_flight)
    return bulk


#: the offset below which every READ of the bulk is written
bulk_done_to: Callable[[CData, int], int] = lib.pylibssh_sftp_rx_bulk_done_to
#: end a bulk download (its READs still in flight are dropped when they come)
bulk_end: Callable[[CData, int], None] = lib.pylibssh_sftp_rx_bulk_end


def up_start(rx: CData, fd: int, handle: bytes, start: int, end: int, chunk: int,
             in_flight: int) -> int:
    """Start a bulk upload of ``fd`` from ``start`` to ``end`` into the remote ``handle``,
    ``in_flight`` WRITEs of ``chunk`` bytes at a time, sent by :func:`up_pump`: its number (an
    index of ``rx.ups``), negative when out of memory."""
    up: int = lib.pylibssh_sftp_rx_up_start(rx, fd, handle, len(handle), start, end, chunk,
                                            in_flight)
    return up


#: end a bulk upload (replies to its WRITEs still in flight go to Python, as orphans)
up_end: Callable[[CData, int], None] = lib.pylibssh_sftp_rx_up_end
#: the bulk uploads' next WRITEs written to the channel (receiver, ``ssh_channel``, libssh's
#: output bound or 0): 0 all in flight, 1 the window is used up, 2 libssh's buffer is full,
#: -1 the channel failed. Only with nothing else queued for the channel; queue
#: :func:`take_rest` at once after it.
up_pump: Callable[[CData, CData, int], int] = lib.pylibssh_sftp_rx_up_pump


def take_rest(rx: CData) -> bytes:
    """The end of a WRITE the channel's window cut short, to be queued before anything else; the
    receiver forgets it."""
    data: bytes = ffi.buffer(rx.rest, rx.rest_len)[:]
    lib.pylibssh_sftp_rx_rest_taken(rx)
    return data
