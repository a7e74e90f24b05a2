"""A complete SFTP backend serving one local directory, confined to it.

::

    fs = LocalFilesystem("/srv/files", read_only=False)

    @channel.on("subsystem")
    def on_subsystem(message):
        if message.subsystem == "sftp":
            message.sftp_accept()
            fs.attach(channel)

Confinement: the client sees the directory as ``/``. Every path is resolved here, component by
component, with chroot semantics: ``..`` stops at the root, absolute paths start at the root, and
symbolic links (whatever their target text says, relative or absolute, created by the client or
not) are followed *inside* the root, never outside it. The resolved path contains no symbolic
link, and files are opened with ``O_NOFOLLOW``. Requests of all sessions of a loop run one at a
time on the loop thread, so a client cannot swap a path component between its resolution and its
use; a local process that rewrites the tree concurrently is outside this model.

Reads and writes go straight to the file at the request's offset (``pread``/``pwrite``); a write
is in the file when its status is sent, so an upload is complete when its close is acknowledged,
and ``fsync@openssh.com`` syncs it to stable storage. Only regular files are opened (a FIFO's or
a device's ``open`` may block the loop, or do something). Directories are read as the client
asks, in pages of at most 100 entries, in the file system's order (as sshd does).

Bounds: a path is at most :data:`MAX_PATH` bytes and :data:`MAX_COMPONENTS` components walked; a
connection holds at most ``max_handles`` open handles over all its channels, and all connections
together at most what :func:`~pylibssh.server.descriptors.handle_budget` leaves of the process's
descriptors. Beyond, requests get a FAILURE status that says so.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import struct
import threading
import weakref
from typing import TYPE_CHECKING, Any, cast

from .descriptors import handle_budget
from ..sftp.codec import MAX_READ
from ..sftp import OpenFlags, SFTPAttributes, long_name, open_flags_to_os

if TYPE_CHECKING:
    from .channel import ServerChannel
    from .sftp import SFTPMessage

__all__ = ["LocalFilesystem", "LocalSFTPSession"]

log = logging.getLogger("pylibssh.server.sftp")

_MAX_SYMLINKS = 40
#: the longest client path, in bytes (Linux's PATH_MAX)
MAX_PATH = 4096
#: the components walked to resolve one path, those of symbolic links' targets included: enough
#: for any real tree, and a bound on the work one request costs
MAX_COMPONENTS = 1024
# a directory (or a component) held for resolution only: no read, no follow
_O_WALK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_PAGE = 100  # directory entries per readdir reply (OpenSSH's sftp-server sends 100)
#: the most open handles per connection (``max_handles``' default, also capped by the process)
MAX_HANDLES = 256
_WRITE_FLAGS = OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT | OpenFlags.TRUNC


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, os.strerror(code), what or None)


# descriptors held by the handles of every LocalFilesystem of the process
_held_lock = threading.Lock()
_held = 0


class LocalFilesystem:
    """Serves ``root`` over SFTP. ``read_only`` refuses every change (permission denied).
    ``numeric_ids`` writes uid/gid numbers instead of names in long names. ``max_handles``
    (default: :data:`MAX_HANDLES`, and at most a quarter of the process's
    :func:`~pylibssh.server.descriptors.handle_budget`) caps the files and directories one
    connection keeps open, all its SFTP channels together. One instance may serve any number of
    channels (:meth:`attach`). Raises NotADirectoryError when ``root`` is not a directory."""

    def __init__(self, root: str | os.PathLike[str], read_only: bool = False,
                 numeric_ids: bool = False, max_handles: int | None = None):
        real = os.path.realpath(os.fspath(root))
        if not os.path.isdir(real):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", os.fspath(root))
        self.root = real
        self.read_only = read_only
        self.numeric_ids = numeric_ids
        self._max_handles = max_handles
        self._per_connection: dict[Any, int] = {}  # connection -> its open handles
        # where every resolution starts (held for the instance's life, not reopened per path)
        self._root_fd = os.open(real, _O_WALK | os.O_DIRECTORY)
        weakref.finalize(self, os.close, self._root_fd)

    @property
    def max_handles(self) -> int:
        """The open handles one connection may hold now."""
        if self._max_handles is not None:
            return self._max_handles
        return max(1, min(MAX_HANDLES, handle_budget() // 4))

    def _acquire(self, connection: Any, descriptors: int) -> None:
        """Count one more handle of ``connection`` holding ``descriptors``; OSError(EMFILE)
        when the connection or the process has no room for it."""
        global _held
        limit = self.max_handles
        if self._per_connection.get(connection, 0) >= limit:
            raise OSError(errno.EMFILE, "too many open handles (at most %d per connection)"
                          % limit)
        with _held_lock:
            if _held + descriptors > handle_budget():
                raise OSError(errno.EMFILE, "too many open handles on this server")
            _held += descriptors
        self._per_connection[connection] = self._per_connection.get(connection, 0) + 1

    def _release(self, connection: Any, descriptors: int) -> None:
        global _held
        with _held_lock:
            _held -= descriptors
        left = self._per_connection.get(connection, 0) - 1
        if left > 0:
            self._per_connection[connection] = left
        else:
            self._per_connection.pop(connection, None)

    def attach(self, channel: ServerChannel) -> LocalSFTPSession:
        """Answer every SFTP request of ``channel`` (after ``message.sftp_accept()``)."""
        return LocalSFTPSession(self, channel)

    # -- path resolution (chroot semantics) --------------------------------------------------

    def resolve(self, path: str, follow: bool = True) -> tuple[str, str]:
        """A client path -> (the real path, the virtual path). Symbolic links are followed
        inside the root (the last component only when ``follow``); missing components are kept
        as they are (the operation then fails or creates them).

        Each component is looked up in the directory reached so far (held open, ``dir_fd``), so
        the cost is linear in the components walked. A path longer than :data:`MAX_PATH` bytes,
        or one that takes more than :data:`MAX_COMPONENTS` components to walk, raises
        ``OSError(ENAMETOOLONG)``; more than 40 symbolic links ``OSError(ELOOP)``; a component
        under a file ``OSError(ENOENT)``."""
        done, _st = self._walk(path, follow)
        return os.path.join(self.root, *done), "/" + "/".join(done)

    def _walk(self, path: str, follow: bool) -> tuple[list[str], os.stat_result | None]:
        """:meth:`resolve`'s components under the root, and the last one's ``lstat`` when it
        was looked at (it exists and ``follow``)."""
        if len(path) > MAX_PATH or len(path.encode("utf-8", "surrogateescape")) > MAX_PATH:
            raise OSError(errno.ENAMETOOLONG, "File name too long (over %d bytes)" % MAX_PATH,
                          path[:64])
        todo = [c for c in path.split("/") if c not in ("", ".")]
        todo.reverse()
        done: list[str] = []
        # done[:opened] are directories, the last of them open as ``fd``; the components after
        # them do not exist (or the first of them is a file: nothing can be under it)
        opened = 0
        under_file = False
        walked = links = 0
        st = None
        root = fd = self._root_fd
        try:
            while todo:
                comp = todo.pop()
                st = None
                walked += 1
                if walked > MAX_COMPONENTS:
                    raise OSError(errno.ENAMETOOLONG, "File name too long (over %d components "
                                  "walked)" % MAX_COMPONENTS, path[:64])
                if comp == "..":
                    if len(done) > opened:
                        done.pop()
                        under_file = under_file and len(done) > opened
                    elif done:  # the parent of a directory reached by name, not by a link
                        parent = os.open("..", _O_WALK | os.O_DIRECTORY, dir_fd=fd)
                        os.close(fd)  # never the root: done[:opened] is not empty
                        fd = parent
                        done.pop()
                        opened -= 1
                    continue  # ".." of the root is the root
                if len(done) > opened:  # under a missing component: nothing to look up
                    if under_file:
                        raise _err(errno.ENOENT, path)
                    done.append(comp)
                    continue
                if not todo and not follow:
                    done.append(comp)
                    break
                try:
                    st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    done.append(comp)
                    continue
                if stat.S_ISLNK(st.st_mode):
                    links += 1
                    if links > _MAX_SYMLINKS:
                        raise _err(errno.ELOOP, path)
                    target = os.readlink(comp, dir_fd=fd)
                    if target.startswith("/"):
                        if fd != root:
                            os.close(fd)
                        fd = root
                        done = []
                        opened = 0
                    todo.extend(reversed([c for c in target.split("/") if c not in ("", ".")]))
                    st = None
                    continue
                done.append(comp)
                if not todo:
                    break
                if not stat.S_ISDIR(st.st_mode):
                    under_file = True  # only ".." may follow
                elif todo[-1] == "..":
                    todo.pop()  # a directory's ".." is where we are
                    done.pop()
                    st = None
                else:
                    child = os.open(comp, _O_WALK | os.O_DIRECTORY, dir_fd=fd)
                    if fd != root:
                        os.close(fd)
                    fd = child
                    opened += 1
        finally:
            if fd != root:
                os.close(fd)
        return done, st

    def real(self, path: str, follow: bool = True) -> str:
        """The real path of client path ``path`` (see :meth:`resolve`, whose errors it raises);
        symbolic links in the last component followed only when ``follow`` (default True)."""
        return self.resolve(path, follow)[0]

    def attrs_of(self, st: os.stat_result) -> SFTPAttributes:
        """The SFTP attributes sent for an :func:`os.stat` result (a subclass may change what
        clients see, e.g. hide owners)."""
        return SFTPAttributes.from_stat(st)

    def long_name(self, name: str, st: os.stat_result) -> str:
        """The ``ls -l`` line READDIR sends for ``name`` (numeric owners when the backend's
        ``numeric_ids`` is set)."""
        return long_name(name, SFTPAttributes.from_stat(st), nlink=st.st_nlink,
                         numeric=self.numeric_ids)


class _File:
    __slots__ = ("fd", "path")
    descriptors = 1

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path

    def close(self) -> None:
        os.close(self.fd)


class _Dir:
    """An open directory, read a page at a time: the handle holds the directory's descriptor
    (entries are looked at through it) and ``scandir``'s own."""

    __slots__ = ("fd", "entries", "head", "is_root")
    descriptors = 2

    def __init__(self, fd: int, is_root: bool):
        self.entries = os.scandir(fd)
        self.fd = fd
        self.head = [".", ".."]
        self.is_root = is_root

    def next_name(self) -> str | None:
        if self.head:
            return self.head.pop(0)
        entry = next(self.entries, None)
        return None if entry is None else entry.name

    def lstat(self, name: str) -> os.stat_result:
        if name == "." or (name == ".." and self.is_root):  # the root's ".." is itself
            return os.stat(self.fd)
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def close(self) -> None:
        self.entries.close()
        os.close(self.fd)


def _regular(st: os.stat_result, path: str) -> None:
    """Only regular files are opened: a FIFO's open waits for a writer, a device's may do
    anything."""
    if stat.S_ISDIR(st.st_mode):
        raise _err(errno.EISDIR, path)
    if not stat.S_ISREG(st.st_mode):
        raise PermissionError(errno.EPERM, "not a regular file", path)


class LocalSFTPSession:
    """The backend's state for one channel: its open handles (closed with the channel)."""

    def __init__(self, fs: LocalFilesystem, channel: ServerChannel):
        self.fs = fs
        self.channel = channel
        self.handles: dict[bytes, _File | _Dir] = {}
        self._next = 0
        self._connection = channel.session
        for event, fn in self._handlers().items():
            channel.on("sftp:" + event, fn)
        channel.on("close", self.close_all)

    def _handlers(self) -> dict[str, Any]:
        return {
            "open": self.open, "close": self.close, "read": self.read, "write": self.write,
            "lstat": self.lstat, "stat": self.stat, "fstat": self.fstat,
            "setstat": self.setstat, "fsetstat": self.fsetstat, "lsetstat": self.lsetstat,
            "opendir": self.opendir, "readdir": self.readdir, "remove": self.remove,
            "mkdir": self.mkdir, "rmdir": self.rmdir, "realpath": self.realpath,
            "rename": self.rename, "posix-rename": self.posix_rename,
            "readlink": self.readlink, "symlink": self.symlink, "hardlink": self.hardlink,
            "statvfs": self.statvfs, "fstatvfs": self.fstatvfs, "fsync": self.fsync,
            "limits": self.limits, "expand-path": self.expand_path,
        }

    # -- helpers -------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.fs.read_only:
            raise PermissionError(errno.EACCES, "the server is read-only")

    def _new_handle(self, opener: Any, descriptors: int) -> bytes:
        """Open a handle's object (``opener()``, a _File or a _Dir) if the connection and the
        process have room for it, and name it."""
        self.fs._acquire(self._connection, descriptors)
        try:
            obj = opener()
        except BaseException:
            self.fs._release(self._connection, descriptors)
            raise
        self._next += 1
        handle = struct.pack(">Q", self._next)
        self.handles[handle] = obj
        return handle

    def _file(self, msg: SFTPMessage) -> _File:
        obj = self.handles.get(msg.handle or b"")
        if not isinstance(obj, _File):
            raise _err(errno.EBADF, "invalid handle")
        return obj

    def _forget(self, handle: bytes, obj: _File | _Dir) -> None:
        if isinstance(obj, _File) and self.channel.sftp is not None:
            self.channel.sftp._direct_remove(handle)  # before the fd number can be reused
        self.fs._release(self._connection, obj.descriptors)
        obj.close()

    def _closed_directly(self, handle: bytes) -> None:
        if self.handles.pop(handle, None) is not None:  # C closed its fd and answered the CLOSE
            self.fs._release(self._connection, _File.descriptors)

    def close_all(self) -> None:
        """Close every handle this channel still holds (run when the channel closes); errors closing
        one are ignored."""
        for handle, obj in self.handles.items():
            try:
                self._forget(handle, obj)
            except OSError:
                pass
        self.handles.clear()

    # -- files ---------------------------------------------------------------------------------

    def open(self, msg: SFTPMessage) -> None:
        """``sftp:open``: open a regular file (created with the request's permissions, default 0o666
        less the umask) and reply with its handle. Refuses what is not a regular file, and
        handles beyond the connection's or the process's cap. Its errors (an :class:`OSError`)
        become the matching status reply. Refused with PERMISSION_DENIED when the backend is
        read-only for a write open."""
        pflags = msg.flags or 0
        if pflags & _WRITE_FLAGS:
            self._writable()
        path = msg.filename or ""
        done, st = self.fs._walk(path, True)
        real = os.path.join(self.fs.root, *done)
        if st is not None:  # exists (else created by the open, or refused by it)
            _regular(st, path)
        mode = 0o666
        if msg.attrs is not None and msg.attrs.permissions is not None:
            mode = msg.attrs.permissions & 0o7777
        # O_NONBLOCK: should the file have been replaced by a FIFO since, open does not wait
        flags = (open_flags_to_os(pflags) | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
                 | os.O_NONBLOCK)

        def opener() -> _File:
            fd = os.open(real, flags, mode)
            try:
                _regular(os.fstat(fd), path)
                fcntl.fcntl(fd, fcntl.F_SETFL, flags & os.O_APPEND)  # O_NONBLOCK off
            except BaseException:
                os.close(fd)
                raise
            return _File(fd, real)

        handle = self._new_handle(opener, _File.descriptors)
        fd = self.handles[handle].fd
        if self.channel.sftp is not None:  # reads and writes then stay in C
            self.channel.sftp._direct_add(handle, fd, bool(pflags & _WRITE_FLAGS),
                                          self._closed_directly)
        msg.reply_handle(handle)

    def close(self, msg: SFTPMessage) -> None:
        """``sftp:close``: close a file or directory handle. Its errors (an :class:`OSError`) become
        the matching status reply."""
        handle = msg.handle or b""
        obj = self.handles.pop(handle, None)
        if obj is None:
            raise _err(errno.EBADF, "invalid handle")
        self._forget(handle, obj)
        msg.reply_status("ok")

    def read(self, msg: SFTPMessage) -> None:
        """``sftp:read``: read up to the request's length (at most 255 KiB) at its offset; an empty
        reply is EOF. Its errors (an :class:`OSError`) become the matching status reply."""
        f = self._file(msg)
        data = os.pread(f.fd, min(msg.length or 0, MAX_READ), msg.offset or 0)
        msg.reply_data(data)  # empty: EOF

    def write(self, msg: SFTPMessage) -> None:
        """``sftp:write``: write the data at the request's offset; the status is sent once it is all
        in the file. Its errors (an :class:`OSError`) become the matching status reply."""
        f = self._file(msg)
        view = memoryview(msg.data or b"")
        offset = msg.offset or 0
        while view:
            n = os.pwrite(f.fd, view, offset)
            view = view[n:]
            offset += n
        msg.reply_status("ok")

    def fsync(self, msg: SFTPMessage) -> None:
        """``sftp:fsync`` (``fsync@openssh.com``): sync an open file to stable storage. Its errors
        (an :class:`OSError`) become the matching status reply."""
        os.fsync(self._file(msg).fd)
        msg.reply_status("ok")

    # -- attributes ----------------------------------------------------------------------------

    def stat(self, msg: SFTPMessage) -> None:
        """``sftp:stat``: the attributes of a path, symbolic links followed (inside the root). Its
        errors (an :class:`OSError`) become the matching status reply."""
        msg.reply_attr(self.fs.attrs_of(os.stat(self.fs.real(msg.filename or ""),
                                                follow_symlinks=False)))

    def lstat(self, msg: SFTPMessage) -> None:
        """``sftp:lstat``: the attributes of a path, the last component not followed. Its errors (an
        :class:`OSError`) become the matching status reply."""
        msg.reply_attr(self.fs.attrs_of(os.lstat(self.fs.real(msg.filename or "",
                                                              follow=False))))

    def fstat(self, msg: SFTPMessage) -> None:
        """``sftp:fstat``: the attributes of an open file. Its errors (an :class:`OSError`) become
        the matching status reply."""
        msg.reply_attr(self.fs.attrs_of(os.fstat(self._file(msg).fd)))

    def _apply(self, target: Any, attrs: SFTPAttributes | None, follow: bool = True) -> None:
        """Apply attributes to a path (str) or a file descriptor (int)."""
        self._writable()
        if attrs is None:
            return
        if attrs.size is not None:
            if isinstance(target, str) and not follow and os.path.islink(target):
                raise _err(errno.EINVAL, "cannot truncate a symbolic link")
            os.truncate(target, attrs.size)
        if attrs.permissions is not None:
            if isinstance(target, int):
                os.fchmod(target, attrs.permissions & 0o7777)
            elif follow or not os.path.islink(target):
                os.chmod(target, attrs.permissions & 0o7777)
            else:
                raise _err(errno.EOPNOTSUPP, "cannot chmod a symbolic link on this system")
        if attrs.uid is not None or attrs.gid is not None:
            uid = -1 if attrs.uid is None else attrs.uid
            gid = -1 if attrs.gid is None else attrs.gid
            if isinstance(target, int):
                os.fchown(target, uid, gid)
            else:
                os.chown(target, uid, gid, follow_symlinks=follow)
        if attrs.atime is not None or attrs.mtime is not None:
            atime = attrs.atime if attrs.atime is not None else attrs.mtime
            mtime = attrs.mtime if attrs.mtime is not None else attrs.atime
            times = cast("tuple[int, int]", (atime, mtime))  # one is given, and stands for both
            if isinstance(target, int):
                os.utime(target, times)
            else:
                os.utime(target, times, follow_symlinks=follow)

    def setstat(self, msg: SFTPMessage) -> None:
        """``sftp:setstat``: change a path's size, permissions, owner or times (those the request
        carries). Its errors (an :class:`OSError`) become the matching status reply. Refused with
        PERMISSION_DENIED when the backend is read-only."""
        self._apply(self.fs.real(msg.filename or ""), msg.attrs)
        msg.reply_status("ok")

    def lsetstat(self, msg: SFTPMessage) -> None:
        """``sftp:lsetstat`` (``lsetstat@openssh.com``): as :meth:`setstat` without following a
        final symbolic link. Its errors (an :class:`OSError`) become the matching status reply.
        Refused with PERMISSION_DENIED when the backend is read-only."""
        self._apply(self.fs.real(msg.filename or "", follow=False), msg.attrs, follow=False)
        msg.reply_status("ok")

    def fsetstat(self, msg: SFTPMessage) -> None:
        """``sftp:fsetstat``: as :meth:`setstat` on an open file. Its errors (an :class:`OSError`)
        become the matching status reply. Refused with PERMISSION_DENIED when the backend is
        read-only."""
        self._apply(self._file(msg).fd, msg.attrs)
        msg.reply_status("ok")

    # -- directories ---------------------------------------------------------------------------

    def opendir(self, msg: SFTPMessage) -> None:
        """``sftp:opendir``: open a directory for reading and reply with its handle (the cap on
        handles applies). Its errors (an :class:`OSError`) become the matching status reply."""
        real, virtual = self.fs.resolve(msg.filename or "")

        def opener() -> _Dir:
            # O_NONBLOCK: a FIFO's open would wait (O_DIRECTORY refuses it first anyway)
            fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                         | os.O_NONBLOCK)
            try:
                return _Dir(fd, virtual == "/")
            except BaseException:
                os.close(fd)
                raise

        msg.reply_handle(self._new_handle(opener, _Dir.descriptors))

    def readdir(self, msg: SFTPMessage) -> None:
        """``sftp:readdir``: the next page of entries (at most 100, or about 40 KiB), with ``ls -l``
        long names; an empty page is EOF. Its errors (an :class:`OSError`) become the matching
        status reply."""
        obj = self.handles.get(msg.handle or b"")
        if not isinstance(obj, _Dir):
            raise _err(errno.EBADF, "invalid handle")
        names = []
        size = 0
        while True:
            name = obj.next_name()
            if name is None:
                break
            try:
                st = obj.lstat(name)
            except OSError:
                continue  # removed meanwhile
            entry = (name, self.fs.long_name(name, st), self.fs.attrs_of(st))
            names.append(entry)
            size += len(name.encode("utf-8", "surrogateescape")) * 2 + 100
            if len(names) >= _PAGE or size > 40 * 1024:
                break
        msg.reply_names(names)  # empty: EOF

    def mkdir(self, msg: SFTPMessage) -> None:
        """``sftp:mkdir``: create a directory with the request's permissions (default 0o777 less the
        umask). Its errors (an :class:`OSError`) become the matching status reply. Refused with
        PERMISSION_DENIED when the backend is read-only."""
        self._writable()
        mode = 0o777
        if msg.attrs is not None and msg.attrs.permissions is not None:
            mode = msg.attrs.permissions & 0o7777
        os.mkdir(self.fs.real(msg.filename or "", follow=False), mode)
        msg.reply_status("ok")

    def rmdir(self, msg: SFTPMessage) -> None:
        """``sftp:rmdir``: remove an empty directory (never the root). Its errors (an
        :class:`OSError`) become the matching status reply. Refused with PERMISSION_DENIED when
        the backend is read-only."""
        self._writable()
        real, virtual = self.fs.resolve(msg.filename or "", follow=False)
        if virtual == "/":
            raise PermissionError(errno.EACCES, "the root cannot be removed")
        os.rmdir(real)
        msg.reply_status("ok")

    def remove(self, msg: SFTPMessage) -> None:
        """``sftp:remove``: remove a file or a symbolic link (a directory is refused). Its errors
        (an :class:`OSError`) become the matching status reply. Refused with PERMISSION_DENIED
        when the backend is read-only."""
        self._writable()
        real = self.fs.real(msg.filename or "", follow=False)
        if stat.S_ISDIR(os.lstat(real).st_mode):
            raise _err(errno.EISDIR, msg.filename or "")
        os.unlink(real)
        msg.reply_status("ok")

    # -- names ---------------------------------------------------------------------------------

    def realpath(self, msg: SFTPMessage) -> None:
        """``sftp:realpath``: the canonical client path (inside the root) of a path, ``.`` being the
        root. Its errors (an :class:`OSError`) become the matching status reply."""
        real, virtual = self.fs.resolve(msg.filename or ".")
        try:
            attrs = self.fs.attrs_of(os.stat(real, follow_symlinks=False))
        except OSError:
            attrs = None
        msg.reply_name(virtual, attrs)

    def expand_path(self, msg: SFTPMessage) -> None:
        """``sftp:expand-path`` (``expand-path@openssh.com``): as :meth:`realpath`, ``~`` and ``~/``
        being the root (another user's ``~name`` does not exist). Its errors (an
        :class:`OSError`) become the matching status reply."""
        path = msg.filename or "."
        if path == "~" or path.startswith("~/"):
            path = "/" + path[2:]  # the served directory is the client's home
        elif path.startswith("~"):
            raise _err(errno.ENOENT, path)  # other users' homes do not exist here
        real, virtual = self.fs.resolve(path)
        msg.reply_name(virtual, None)

    def readlink(self, msg: SFTPMessage) -> None:
        """``sftp:readlink``: a symbolic link's target, as stored. Its errors (an :class:`OSError`)
        become the matching status reply."""
        target = os.readlink(self.fs.real(msg.filename or "", follow=False))
        msg.reply_name(target, None)

    def symlink(self, msg: SFTPMessage) -> None:
        """``sftp:symlink``: create a symbolic link (OpenSSH's argument order: ``filename`` is the
        target, stored as given, ``newpath`` the link); a link is always followed inside the
        root. Its errors (an :class:`OSError`) become the matching status reply. Refused with
        PERMISSION_DENIED when the backend is read-only."""
        # OpenSSH's order: filename is the link's target (stored as given: it is interpreted
        # inside the root when followed), newpath the link to create
        self._writable()
        os.symlink(msg.filename or "", self.fs.real(msg.newpath or "", follow=False))
        msg.reply_status("ok")

    def hardlink(self, msg: SFTPMessage) -> None:
        """``sftp:hardlink`` (``hardlink@openssh.com``): create a hard link ``newpath`` to
        ``filename``. Its errors (an :class:`OSError`) become the matching status reply. Refused
        with PERMISSION_DENIED when the backend is read-only."""
        self._writable()
        os.link(self.fs.real(msg.filename or "", follow=False),
                self.fs.real(msg.newpath or "", follow=False), follow_symlinks=False)
        msg.reply_status("ok")

    def rename(self, msg: SFTPMessage) -> None:
        """``sftp:rename``: rename, refusing to replace an existing target (FILE_ALREADY_EXISTS,
        sent to a version-3 client as FAILURE). Its errors (an :class:`OSError`) become the
        matching status reply. Refused with PERMISSION_DENIED when the backend is read-only."""
        # SSH_FXP_RENAME must not replace an existing target (draft-02)
        self._writable()
        old = self.fs.real(msg.filename or "", follow=False)
        new = self.fs.real(msg.newpath or "", follow=False)
        if os.path.lexists(new):
            raise _err(errno.EEXIST, msg.newpath or "")
        os.rename(old, new)
        msg.reply_status("ok")

    def posix_rename(self, msg: SFTPMessage) -> None:
        """``sftp:posix-rename`` (``posix-rename@openssh.com``): rename, replacing an existing
        target. Its errors (an :class:`OSError`) become the matching status reply. Refused with
        PERMISSION_DENIED when the backend is read-only."""
        self._writable()
        os.rename(self.fs.real(msg.filename or "", follow=False),
                  self.fs.real(msg.newpath or "", follow=False))
        msg.reply_status("ok")

    # -- file systems --------------------------------------------------------------------------

    def statvfs(self, msg: SFTPMessage) -> None:
        """``sftp:statvfs`` (``statvfs@openssh.com``): the file system's figures for a path. Its
        errors (an :class:`OSError`) become the matching status reply."""
        msg.reply_statvfs(os.statvfs(self.fs.real(msg.filename or "")))

    def fstatvfs(self, msg: SFTPMessage) -> None:
        """``sftp:fstatvfs`` (``fstatvfs@openssh.com``): the file system's figures for an open file.
        Its errors (an :class:`OSError`) become the matching status reply."""
        msg.reply_statvfs(os.fstatvfs(self._file(msg).fd))

    def limits(self, msg: SFTPMessage) -> None:
        """``sftp:limits`` (``limits@openssh.com``): the packet, read and write lengths this server
        takes, and its cap on open handles."""
        msg.reply_limits(max_open_handles=self.fs.max_handles)



