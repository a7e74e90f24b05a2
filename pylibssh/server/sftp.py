"""The SFTP subsystem of a server channel: node-libssh's ``sftp:*`` messages and their replies.

``message.sftp_accept()`` on a ``subsystem`` request for ``sftp`` switches the channel to SFTP.
From then on every client request is emitted on the channel as ``sftp:<type>`` (``open``,
``close``, ``read``, ``write``, ``lstat``, ``fstat``, ``setstat``, ``fsetstat``, ``opendir``,
``readdir``, ``remove``, ``mkdir``, ``rmdir``, ``realpath``, ``stat``, ``rename``, ``readlink``,
``symlink`` and OpenSSH's extensions ``posix-rename``, ``statvfs``, ``fstatvfs``, ``hardlink``,
``fsync``, ``lsetstat``, ``limits``, ``expand-path``; any other extension as ``extended``), then
as ``sftpmessage``, with an :class:`SFTPMessage` that takes one ``reply_*``.

Attach the listeners in the ``subsystem`` listener, right after ``sftp_accept()``: the client's
INIT is answered after that listener returns, and the VERSION reply offers exactly the extensions
that have a listener then (``limits`` always: without a listener it gets default limits).
A request without a listener is answered "operation unsupported".

How requests are read without ever blocking the loop (see csrc/pylibssh_sftp.c): a C data
callback counts the complete SFTP packets libssh holds for the channel and consumes nothing; after
each poll :meth:`SFTPServer._pump` pulls exactly that many with ``sftp_get_client_message``, but
only while less than a budget (1 MiB) of replies waits for the client. Replies are built here and
queued on the channel, which sends what the client's window allows (libssh's ``sftp_reply_*``
write directly and lose the reply on a short write, which happens during a key re-exchange, for
one: OpenSSH rekeys after about 1 GiB). Requests not pulled stay in libssh's buffer
and are not acknowledged by the SSH window, so a client that floods requests or does not read the
replies is held back instead of growing the server's memory. At most ``max_outstanding`` requests
wait for a (possibly asynchronous) reply at any time.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .._binding import NULL, CData
from .._binding import session as _session
from .._binding import sftp_server as _c
from .._binding.constants import (SSH_CLOSED, SSH_CLOSED_ERROR, SSH_FXE_STATVFS_ST_NOSUID,
                                  SSH_FXE_STATVFS_ST_RDONLY, SSH_WRITE_PENDING)
from ..errors import (ERRNO_TO_SFTP_STATUS, AlreadyRepliedError, ChannelError, ClosedError,
                      error_from, sftp_status_for)
from ..sftp import OpenFlags, SFTPAttributes, SFTPStatus, status_code, status_for_version
from ..sftp.codec import (FXP, MAX_NAMES_BYTES, MAX_PACKET, MAX_READ, PROTOCOL_VERSION, Attr,
                          Reader, attrs_bytes, name_payload, packet, reply, status_payload,
                          string)

if TYPE_CHECKING:
    from .channel import ServerChannel

__all__ = ["SFTPServer", "SFTPMessage", "REQUEST_TYPES", "EXTENSIONS"]

log = logging.getLogger("pylibssh.server.sftp")

# request types -> node-libssh's names
REQUEST_TYPES: dict[int, str] = {
    kind: kind.name.lower() for kind in FXP if FXP.OPEN <= kind <= FXP.SYMLINK}
REQUEST_TYPES[FXP.EXTENDED] = "extended"

# OpenSSH's extensions: wire name -> (event name, version advertised in SSH_FXP_VERSION)
EXTENSIONS = {
    "posix-rename@openssh.com": ("posix-rename", "1"),
    "statvfs@openssh.com": ("statvfs", "2"),
    "fstatvfs@openssh.com": ("fstatvfs", "2"),
    "hardlink@openssh.com": ("hardlink", "1"),
    "fsync@openssh.com": ("fsync", "1"),
    "lsetstat@openssh.com": ("lsetstat", "1"),
    "limits@openssh.com": ("limits", "1"),
    "expand-path@openssh.com": ("expand-path", "1"),
}

#: the channel events of SFTP requests (``sftp:<name>``)
SFTP_EVENTS = frozenset({*REQUEST_TYPES.values(), *(name for name, _ in EXTENSIONS.values())})

#: reply bytes that may wait for the client (in the channel's queue, or libssh's output buffer)
#: before no more requests are taken
_OUTPUT_BUDGET = 1 << 20
#: seconds of requests served for one channel in one pass of the loop: the rest waits for the next
#: pass, after the other connections' events (a client can queue its whole window of requests)
_SLICE = 0.005

# what csrc serves for the local backend's registered handles
_DIRECT_TYPES = (FXP.READ, FXP.WRITE, FXP.CLOSE)


def _py_attrs(c_msg: CData) -> SFTPAttributes | None:
    raw = _c.attributes(c_msg)
    if raw is None:
        return None
    f, size, uid, gid, permissions, atime, mtime = raw
    return SFTPAttributes(
        size=size if f & Attr.SIZE else None,
        uid=uid if f & Attr.UIDGID else None,
        gid=gid if f & Attr.UIDGID else None,
        permissions=permissions if f & Attr.PERMISSIONS else None,
        atime=atime if f & Attr.ACMODTIME else None,
        mtime=mtime if f & Attr.ACMODTIME else None,
    )



class SFTPMessage:
    """One SFTP request. ``type`` is node-libssh's name (``"open"``, ``"read"``, ...,
    ``"posix-rename"``); ``id`` the request id.

    Fields (``None`` when the request has none): ``filename`` (the path), ``newpath`` (the second
    path: rename, posix-rename, hardlink, and symlink, where OpenSSH's order makes ``filename``
    the link's target and ``newpath`` the link), ``handle`` (bytes), ``offset``, ``length``
    (read), ``data`` (bytes written), ``flags`` (open's SSH_FXF_* bits; ``open_flags`` the
    :class:`~pylibssh.sftp.OpenFlags`), ``attrs`` (:class:`~pylibssh.sftp.SFTPAttributes` of
    open, mkdir, setstat, fsetstat, lsetstat), ``extension`` (the wire name of an extended
    request) and ``payload`` (an unknown extension's raw request data).

    Every ``reply_*`` may be called once, at any later time and from any thread; a second reply
    raises :class:`~pylibssh.AlreadyRepliedError`, a reply after the channel closed
    :class:`~pylibssh.ClosedError`.
    """

    filename: str | None = None
    newpath: str | None = None
    handle: bytes | None = None
    offset: int | None = None
    length: int | None = None
    data: bytes | None = None
    flags: int | None = None
    attrs: SFTPAttributes | None = None
    extension: str | None = None
    payload: bytes | None = None

    def __init__(self, server: SFTPServer, c_msg: CData, kind: int):
        self._server = server
        self._msg = c_msg
        self._replied = False
        self.id = _c.message_id(c_msg)
        self.type = REQUEST_TYPES.get(kind, "extended")
        if kind == FXP.READ:
            self.handle, self.offset, self.length = _c.read_request(c_msg)
        elif kind == FXP.WRITE:
            self.handle, self.offset, self.data = _c.write_request(c_msg)
        elif kind in (FXP.CLOSE, FXP.READDIR, FXP.FSTAT):
            self.handle = _c.message_handle(c_msg)
        elif kind == FXP.FSETSTAT:
            self.handle = _c.message_handle(c_msg)
            self.attrs = _py_attrs(c_msg)
        elif kind in (FXP.RENAME, FXP.SYMLINK):
            r = Reader(_c.message_payload(c_msg), 4)
            self.filename, self.newpath = r.path(), r.path()
        elif kind == FXP.OPEN:
            self.filename = Reader(_c.message_payload(c_msg), 4).path()
            self.flags = _c.message_flags(c_msg)
            self.attrs = _py_attrs(c_msg)
        elif kind in (FXP.MKDIR, FXP.SETSTAT):
            self.filename = Reader(_c.message_payload(c_msg), 4).path()
            self.attrs = _py_attrs(c_msg)
        elif kind == FXP.EXTENDED:
            self._parse_extended(c_msg)
        else:  # stat, lstat, opendir, remove, rmdir, realpath, readlink
            # from the request itself: libssh's copy is a C string, cut at a NUL byte
            self.filename = Reader(_c.message_payload(c_msg), 4).path()

    def _parse_extended(self, c_msg: CData) -> None:
        raw = _c.message_payload(c_msg)
        r = Reader(raw, 4)  # after the request id
        self.extension = r.string().decode("utf-8", "replace")
        known = EXTENSIONS.get(self.extension)
        if known is None:
            self.payload = raw[r.pos:]
            return
        self.type = known[0]
        if self.type in ("posix-rename", "hardlink"):
            self.filename, self.newpath = r.path(), r.path()
        elif self.type in ("statvfs", "expand-path"):
            self.filename = r.path()
        elif self.type in ("fstatvfs", "fsync"):
            self.handle = r.string()
        elif self.type == "lsetstat":
            self.filename = r.path()
            self.attrs = r.attrs()

    @property
    def open_flags(self) -> OpenFlags | None:
        """For an ``open`` request, its SSH_FXF flags as :class:`~pylibssh.sftp.OpenFlags` (READ,
        WRITE, APPEND, CREAT, TRUNC, EXCL); None for other requests.
        :func:`~pylibssh.sftp.open_flags_to_os` turns them into ``os.open`` flags."""
        return None if self.flags is None else OpenFlags(self.flags & int(
            OpenFlags.READ | OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT
            | OpenFlags.TRUNC | OpenFlags.EXCL))

    @property
    def replied(self) -> bool:
        """True once the request has had its reply (a second reply raises
        :class:`~pylibssh.errors.AlreadyRepliedError`)."""
        return self._replied

    @property
    def channel(self) -> ServerChannel:
        """The :class:`~pylibssh.server.ServerChannel` the SFTP session runs on."""
        return self._server.channel

    # -- replies ---------------------------------------------------------------------------------

    def _reply(self, kind: int, body: bytes | list[bytes | memoryview]) -> None:
        """Send one reply packet: ``body`` follows the request id."""
        with self._server._loop.lock:
            if self._replied:
                raise AlreadyRepliedError(f"this sftp:{self.type} request was already answered")
            if self._msg == NULL or self._server._closed:
                raise ClosedError("the SFTP channel of this request is closed")
            self._replied = True
            parts = body if isinstance(body, list) else [body]
            size = 5 + sum(len(p) for p in parts)
            self._server._send(self, b"".join(
                [struct.pack(">IBI", size, kind, self.id), *parts]))  # no copy of a DATA body

    def reply_status(self, status: int | str = "ok", message: str | None = None) -> None:
        """Answer with a status: node-libssh's names (``"ok"``, ``"eof"``, ``"nosuchfile"``,
        ``"permissiondenied"``, ``"failure"``, ``"badmessage"``, ``"opunsupported"``, ...), an
        :class:`~pylibssh.sftp.SFTPStatus` or its code. An unknown name raises ValueError.
        Codes a version-3 client does not know (``"fileexists"``, ``"invalidhandle"``, ...) are
        sent as the closest version-3 code (:func:`~pylibssh.sftp.status_for_version`); the
        default message still names the original status."""
        code = status_code(status)
        text = (message if message is not None else code.name.replace("_", " ").capitalize())
        wire = status_for_version(int(code), self._server.version)
        self._reply(FXP.STATUS, status_payload(wire, text))

    def reply_error(self, exc: BaseException) -> None:
        """Answer with the status matching an exception (an OSError's errno, an SFTPError's
        status; FAILURE otherwise)."""
        status = sftp_status_for(exc)
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.reply_status(status, text or None)

    def reply_handle(self, handle: bytes | str) -> None:
        """Answer an open/opendir with a handle (at most 256 bytes) the client will send back."""
        raw = handle.encode("utf-8", "surrogateescape") if isinstance(handle, str) else bytes(
            handle)
        if len(raw) > 256:
            raise ValueError("an SFTP handle is at most 256 bytes")
        self._reply(FXP.HANDLE, string(raw))

    def reply_data(self, data: bytes | bytearray | memoryview, length: int | None = None) -> None:
        """Answer a read with ``data`` (its first ``length`` bytes). Empty data is EOF, as is
        a read past the end: reply ``reply_status("eof")`` or ``reply_data(b"")``. Replies are
        capped at 255 KiB (a shorter read is legal SFTP; clients ask again)."""
        view = memoryview(data).cast("B")
        if length is not None:
            view = view[:length]
        if len(view) == 0:
            self.reply_status(SFTPStatus.EOF)
            return
        view = view[:MAX_READ]
        self._reply(FXP.DATA, [struct.pack(">I", len(view)), view])

    def reply_attr(self, attrs: SFTPAttributes | Mapping[str, Any]) -> None:
        """Answer stat/lstat/fstat with attributes (an SFTPAttributes or node-libssh's dict)."""
        self._reply(FXP.ATTRS, attrs_bytes(attrs))

    reply_attrs = reply_attr

    def reply_name(self, name: str, attrs: SFTPAttributes | Mapping[str, Any] | None = None
                   ) -> None:
        """Answer realpath/readlink/expand-path with one name."""
        self._reply(FXP.NAME, name_payload([(name, name, attrs)]))

    def reply_names(self, names: Iterable[Any]) -> None:
        """Answer a readdir with entries: dicts ``{"filename", "longname", "attrs"}``
        (node-libssh's shape) or ``(filename, longname, attrs)`` tuples. An empty list answers
        EOF (the end of the directory). The entries must fit one packet (about 60 KiB)."""
        parts = []
        for entry in names:
            if isinstance(entry, Mapping):
                filename = entry["filename"]
                longname = entry.get("longname") or filename
                attrs = entry.get("attrs")
            else:
                filename, longname, attrs = entry
            parts.append(string(filename) + string(longname or filename) + attrs_bytes(attrs))
        if not parts:
            self.reply_status(SFTPStatus.EOF)
            return
        total = sum(len(p) for p in parts)
        if total > MAX_NAMES_BYTES:
            raise ValueError(f"{len(parts)} names ({total} bytes) do not fit one SFTP packet; "
                             "send them over several readdir replies")
        self._reply(FXP.NAME, [struct.pack(">I", len(parts)), *parts])

    def reply_statvfs(self, st: os.statvfs_result | Mapping[str, int]) -> None:
        """Answer statvfs/fstatvfs (an ``os.statvfs_result`` or a dict with its ``f_*`` keys)."""
        get = st.get if isinstance(st, Mapping) else (lambda k, d=0: getattr(st, k, d))
        flag = 0
        raw_flag = int(get("f_flag", 0))
        if raw_flag & os.ST_RDONLY:
            flag |= SSH_FXE_STATVFS_ST_RDONLY
        if raw_flag & os.ST_NOSUID:
            flag |= SSH_FXE_STATVFS_ST_NOSUID
        values = [int(get(k, 0)) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree",
                                             "f_bavail", "f_files", "f_ffree", "f_favail",
                                             "f_fsid")]
        values += [flag, int(get("f_namemax", 255))]
        self.reply_extended(struct.pack(">11Q", *(v & (2**64 - 1) for v in values)))

    def reply_limits(self, max_packet_length: int = MAX_PACKET, max_read_length: int = MAX_READ,
                     max_write_length: int = MAX_READ, max_open_handles: int = 0) -> None:
        """Answer ``limits@openssh.com``."""
        self.reply_extended(struct.pack(">4Q", max_packet_length, max_read_length,
                                        max_write_length, max_open_handles))

    def reply_extended(self, data: bytes) -> None:
        """An SSH_FXP_EXTENDED_REPLY carrying ``data`` (for extensions)."""
        self._reply(FXP.EXTENDED_REPLY, bytes(data))

    def _discard(self) -> None:
        if self._msg != NULL:
            _c.client_message_free(self._msg)
            self._msg = NULL

    def __repr__(self) -> str:
        detail = self.filename if self.filename is not None else (
            self.handle.hex() if self.handle is not None else "")
        return f"<SFTPMessage {self.type} #{self.id} {detail}{' replied' if self._replied else ''}>"


class SFTPServer:
    """The SFTP side of one channel (created by ``ChannelRequestMessage.sftp_accept``).
    Owns the libssh ``sftp_session`` and the messages waiting for replies."""

    #: requests pulled and not yet answered, at most (more wait in the SSH window)
    max_outstanding = 128

    def __init__(self, channel: ServerChannel):
        self.channel = channel
        self._session = channel._session
        self._loop = channel._loop
        self._counter = channel._sftp_counter
        self._sftp = _c.server_new(self._session._s, channel._ch)
        self._closed = False
        self._unflushed = 0  # reply bytes written since libssh's output was last seen flushed
        self._initialized = False
        self._client_eof = False
        self._finishing = False
        self._outstanding: set[SFTPMessage] = set()
        self.client_version: int | None = None
        #: the protocol version agreed in INIT (3 until then: the status codes it allows)
        self.version = 3
        self.extensions: list[str] = []  # offered in SSH_FXP_VERSION
        self.requests = 0  # served so far (statistics, tests)
        self._direct: CData = None  # the local backend's file handles served in C (_direct_add)
        self._direct_closed: Callable[[bytes], None] = lambda handle: None

    # -- pulling requests ------------------------------------------------------------------------

    def _room(self) -> bool:
        """May another request be taken? Only while the replies already queued for the client
        stay under a budget, and libssh's own output (written beyond the client's window
        accounting, e.g. a client that gives window but does not read its socket) went out."""
        if self.channel.buffered >= _OUTPUT_BUDGET:
            return False
        if self._unflushed < _OUTPUT_BUDGET:
            return True
        if _session.get_poll_flags(self._session._s) & SSH_WRITE_PENDING:
            return False
        self._unflushed = 0
        return True

    # -- direct file handles (the local backend) ---------------------------------------------

    def _direct_add(self, handle: bytes, fd: int, writable: bool,
                    closed: Callable[[bytes], None]) -> None:
        """Let C answer reads, writes (if ``writable``) and the close of ``handle`` on ``fd``
        while only the backend listens: ``sftp:read``, ``sftp:write`` and ``sftp:close`` then do
        not reach Python, and ``closed(handle)`` tells the backend that C closed ``fd``. The
        backend must call :meth:`_direct_remove` before it closes ``fd`` itself."""
        if self._direct is None:
            self._direct = _c.new_direct({err: status_for_version(status, self.version)
                                          for err, status in ERRNO_TO_SFTP_STATUS.items()})
        self._direct_closed = closed
        _c.direct_add(self._direct, handle, fd, writable)

    def _direct_remove(self, handle: bytes) -> None:
        if self._direct is not None:
            _c.direct_remove(self._direct, handle)

    def _direct_usable(self) -> bool:
        """Only while the backend is the sole listener (an application that also listens, or
        logs every ``sftpmessage``, sees every request), and no reply waits for the window."""
        ch = self.channel
        return (_c.direct_count(self._direct) > 0 and not ch._out
                and ch.listener_count("sftp:read") == 1 and ch.listener_count("sftp:write") == 1
                and ch.listener_count("sftp:close") == 1 and ch.listener_count("sftpmessage") == 0)

    def _serve_direct(self) -> bool:
        """Serve the reads and writes at the head of the queue in C. False when it served
        nothing and pulled nothing (no window for a whole reply): Python takes the request."""
        done = _c.serve_direct(self._sftp, self.channel._ch, self._counter, self._direct,
                               MAX_READ, _OUTPUT_BUDGET - self._unflushed)
        self._unflushed += done.written
        self.requests += done.served
        for handle in done.closed:  # before anything else reaches the backend
            self._direct_closed(handle)
        if done.queued:  # libssh held the reply back (a key re-exchange): the queue sends it later
            self._write_raw(done.queued)
        if done.rc < 0:
            err = error_from(self._session._s, "SFTP reply", ChannelError)
            log.debug("%r: %s", self.channel, err)
            self._finish()
            return True
        if done.unparsable:
            self._unparsable(*_c.last_taken(self._counter))
            return True
        if done.handoff is not None:
            self._handle(done.handoff)
            return True
        return done.served > 0

    def _held_back(self) -> bool:
        """Do complete requests wait in libssh's buffer (for room to reply)?"""
        return not _c.all_taken(self._counter)

    def _pump(self) -> None:
        """Send replies that waited for the window, then pull and dispatch the requests that are
        complete in libssh's buffer while replies fit. Runs on the loop thread, lock held."""
        if self._closed:
            return
        if self.channel.buffered:
            self.channel._flush()  # replies queued during a key re-exchange or a full window
        c = self._counter
        until = time.monotonic() + _SLICE
        while not self._closed:
            head = _c.next_request(c)
            if (head is None or len(self._outstanding) >= self.max_outstanding
                    or not self._room()):
                break
            if time.monotonic() > until:
                self._session.kick()  # the rest in the next pass, after the other connections
                return
            kind, rid = head
            if (kind in _DIRECT_TYPES and self._direct is not None and self._direct_usable()
                    and self._serve_direct()):
                continue
            _c.take(c)
            c_msg = _c.get_client_message(self._sftp)
            if c_msg == NULL:
                self._unparsable(kind, rid)
                continue
            self._handle(c_msg)
        if self._closed:
            return
        if _c.bad_length(c) and _c.all_taken(c):
            log.warning("%r: invalid SFTP packet length; ending the subsystem", self.channel)
            self._finish()
        elif self._client_eof and _c.all_taken(c) and not self._outstanding:
            self._finish()

    def _unparsable(self, kind: int | None, rid: int | None) -> None:
        if _session.get_status(self._session._s) & (SSH_CLOSED | SSH_CLOSED_ERROR):
            return
        if kind is None or kind == FXP.INIT:
            log.warning("%r: unreadable SFTP packet; ending the subsystem", self.channel)
            self._finish()
            return
        known = kind in REQUEST_TYPES
        status = SFTPStatus.BAD_MESSAGE if known else SFTPStatus.OP_UNSUPPORTED
        text = "Malformed request" if known else "Unknown request type"
        log.info("%r: SFTP request type %d id %d %s", self.channel, kind, rid,
                 "malformed" if known else "unknown")
        self._write_raw(reply(FXP.STATUS, rid or 0, status_payload(status, text)))

    def _handle(self, c_msg: CData) -> None:
        kind = _c.client_message_type(c_msg)
        if kind == FXP.INIT:
            _c.client_message_free(c_msg)
            self._on_init()
            return
        if not self._initialized:
            # a request before INIT: answer it, the protocol version is not known yet
            self._reply_raw_status(c_msg, SFTPStatus.BAD_MESSAGE, "SSH_FXP_INIT expected first")
            return
        try:
            msg = SFTPMessage(self, c_msg, kind)
        except Exception as exc:  # a malformed extension payload
            log.info("%r: malformed SFTP request: %s", self.channel, exc)
            self._reply_raw_status(c_msg, SFTPStatus.BAD_MESSAGE, str(exc))
            return
        self.requests += 1
        self._outstanding.add(msg)
        self._dispatch(msg)

    def _reply_raw_status(self, c_msg: CData, status: int, text: str) -> None:
        rid = _c.message_id(c_msg)
        _c.client_message_free(c_msg)
        self._write_raw(reply(FXP.STATUS, rid, status_payload(status, text)))

    def _on_init(self) -> None:
        if self._initialized:
            log.info("%r: duplicate SSH_FXP_INIT ignored", self.channel)
            return
        client = _c.client_version(self._sftp)
        self.client_version = client
        version = min(client, PROTOCOL_VERSION)
        self.version = version
        payload = struct.pack(">I", version)
        # offer the extensions the application listens for (clients then fall back to the
        # plain requests: rename for posix-rename, ...); limits is always answered
        self.extensions = [name for name, (event, _v) in EXTENSIONS.items()
                           if event == "limits" or self.channel.listener_count("sftp:" + event)]
        for name in self.extensions:
            payload += string(name) + string(EXTENSIONS[name][1])
        self._write_raw(packet(FXP.VERSION, payload))
        _c.set_version(self._sftp, version)
        self._initialized = True
        log.debug("%r: SFTP version %d (client %d)", self.channel, version, client)

    def _dispatch(self, msg: SFTPMessage) -> None:
        channel = self.channel
        event = "sftp:" + msg.type
        listeners = channel.listeners(event)
        try:
            for fn in listeners:
                fn(msg)
            if channel.listener_count("sftpmessage"):
                channel.emit("sftpmessage", msg)
        except Exception as exc:
            if not msg._replied and not self._closed:
                if isinstance(exc, OSError):
                    log.debug("%r: %s -> %s", channel, msg, exc)
                else:
                    log.exception("an %r listener raised; the request fails", event)
                try:
                    msg.reply_error(exc)
                except Exception:
                    log.debug("replying to %r failed", msg, exc_info=True)
            else:
                log.exception("an %r listener raised after replying", event)
            return
        if not listeners and not msg._replied and not self._closed:
            if msg.type == "limits":  # offered in every VERSION: clients rely on the answer
                msg.reply_limits()
                return
            msg.reply_status(SFTPStatus.OP_UNSUPPORTED,
                             f"{msg.extension or msg.type} is not supported")

    # -- sending replies -------------------------------------------------------------------------

    def _send(self, msg: SFTPMessage, packet: bytes) -> None:
        self._outstanding.discard(msg)
        msg._discard()
        self._write_raw(packet)  # Channel.write kicks the session: more may be taken now

    def _write_raw(self, packet: bytes) -> None:
        """Queue a packet on the channel: what the client's window (or a key re-exchange) does
        not let through now is sent later, in order."""
        if self.channel.closed or self._finishing:
            return
        self._unflushed += len(packet)
        self.channel.write(packet)

    # -- ending ----------------------------------------------------------------------------------

    def _on_client_eof(self) -> None:
        """The client sent EOF: finish once every pulled request is answered."""
        self._client_eof = True
        self._pump()

    def _finish(self) -> None:
        """End the subsystem: exit status 0, EOF and close, after what was already written."""
        if self._finishing or self._closed:
            return
        self._finishing = True
        ch = self.channel
        try:
            ch.send_exit_status(0)
            ch.send_eof()
            ch.close()
        except Exception:
            log.debug("closing %r", ch, exc_info=True)

    def _free(self) -> None:
        """Free every outstanding message, then the sftp session (before the channel)."""
        if self._closed:
            return
        self._closed = True
        for msg in list(self._outstanding):
            msg._discard()
        self._outstanding.clear()
        if self._sftp != NULL:
            _c.server_free(self._sftp)
            self._sftp = NULL

    @property
    def outstanding(self) -> int:
        """Requests pulled and not answered yet."""
        return len(self._outstanding)

    def __repr__(self) -> str:
        return f"<SFTPServer on {self.channel!r} outstanding={len(self._outstanding)}>"

