"""paramiko.sftp_server: ``SFTPServer``, the subsystem handler that serves SFTP through an
:class:`~.sftp_si.SFTPServerInterface`.

Register it with ``transport.set_subsystem_handler("sftp", SFTPServer, MySFTPInterface)``. The
requests are not read from the channel by this thread as in paramiko: the subsystem request is
accepted with pylibssh's SFTP server (``message.sftp_accept()``, :mod:`pylibssh.server.sftp`),
whose ``sftpmessage`` events call the interface on the transport's loop thread, one request at a
time; the handler thread only waits for the channel to close and then ends the session
(``session_ended``, open handles closed). Directory listings are sent 16 names per reply.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading

from .server import SubsystemHandler
from .sftp import (
    SFTP_BAD_MESSAGE,
    SFTP_DESC,
    SFTP_EOF,
    SFTP_FAILURE,
    SFTP_FLAG_APPEND,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_READ,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    SFTP_NO_SUCH_FILE,
    SFTP_OP_UNSUPPORTED,
    SFTP_PERMISSION_DENIED,
    BaseSFTP,
)
from .sftp_attr import SFTPAttributes
from .sftp_handle import SFTPHandle
from .sftp_si import SFTPServerInterface
from .ssh_exception import SSHException

__all__ = ["SFTPServer"]

_log = logging.getLogger("paramiko.transport.sftp")


def _offered(msg):
    """Listener for an extension SFTPServer answers in ``sftpmessage``."""


class SFTPServer(BaseSFTP, SubsystemHandler):
    """Serves SFTP on a channel through ``sftp_si`` (an :class:`SFTPServerInterface` subclass,
    made with ``(server, *args, **kwargs)``)."""

    def __init__(self, channel, name, server, sftp_si=SFTPServerInterface, *args, **kwargs):
        BaseSFTP.__init__(self)
        SubsystemHandler.__init__(self, channel, name, server)
        self.logger = _log
        self.ultra_debug = False
        self.next_handle = 1
        self.file_table = {}
        self.folder_table = {}
        self.server = sftp_si(server, *args, **kwargs)
        self.sock = channel
        self._sftp_started = False
        self._sftp_lock = threading.Lock()
        self._sftp_done = threading.Event()
        ch = getattr(channel, "_chan", None)
        request = getattr(ch, "subsystem_request", None)
        if request is None or request.replied:
            raise SSHException("SFTPServer runs from check_channel_subsystem_request (register "
                               "it with Transport.set_subsystem_handler)")
        request.sftp_accept()  # pylibssh's SFTP server reads the requests from now on
        ch.on("sftpmessage", self._on_request)
        # a listener makes pylibssh's server offer posix-rename@openssh.com in its VERSION (so
        # libssh's clients use it); the request itself is answered by _on_request
        ch.on("sftp:posix-rename", _offered)
        ch.on("close", self._sftp_done.set)

    # -- the subsystem thread ------------------------------------------------------------------

    def _ensure_started(self):
        with self._sftp_lock:
            if self._sftp_started:
                return
            self._sftp_started = True
        self.server.session_started()

    def start_subsystem(self, name, transport, channel):
        """Start the SFTP session (``session_started``) and wait, on the handler's thread, until the
        channel or the transport closes; the requests are answered on the transport's loop
        thread."""
        self._ensure_started()
        while not self._sftp_done.wait(0.5):
            if channel.closed or not transport.is_active():
                break

    def finish_subsystem(self):
        """End the SFTP session: ``session_ended``, close the channel and every open handle."""
        self.server.session_ended()
        super().finish_subsystem()
        for f in list(self.file_table.values()) + list(self.folder_table.values()):
            f.close()
        self.file_table = {}
        self.folder_table = {}

    # -- paramiko's static helpers -------------------------------------------------------------

    @staticmethod
    def convert_errno(e):
        """An errno -> the SFTP status paramiko reports for it."""
        if e == errno.EACCES:
            return SFTP_PERMISSION_DENIED
        if e in (errno.ENOENT, errno.ENOTDIR):
            return SFTP_NO_SUCH_FILE
        return SFTP_FAILURE

    @staticmethod
    def set_file_attr(filename, attr):
        """Apply ``attr`` (an SFTPAttributes, its ``_flags`` saying what is set) to a local
        file: mode, owner, times, size."""
        if sys.platform != "win32":
            if attr._flags & attr.FLAG_PERMISSIONS:
                os.chmod(filename, attr.st_mode)
            if attr._flags & attr.FLAG_UIDGID:
                os.chown(filename, attr.st_uid, attr.st_gid)
        if attr._flags & attr.FLAG_AMTIME:
            os.utime(filename, (attr.st_atime, attr.st_mtime))
        if attr._flags & attr.FLAG_SIZE:
            with open(filename, "w+") as f:
                f.truncate(attr.st_size)

    # -- requests (the transport's loop thread) ------------------------------------------------

    def _on_request(self, msg):
        self._ensure_started()
        handler = getattr(self, "_do_" + msg.type.replace("-", "_"), None)
        try:
            if handler is None:
                self._status(msg, SFTP_OP_UNSUPPORTED)
            else:
                handler(msg)
        except Exception:
            _log.debug("exception in SFTP server processing", exc_info=True)
            if not msg.replied:
                self._status(msg, SFTP_FAILURE)

    @staticmethod
    def _status(msg, code, text=None):
        code = int(code)
        if text is None:
            text = SFTP_DESC[code] if 0 <= code < len(SFTP_DESC) else "Unknown"
        msg.reply_status(code, text)

    @staticmethod
    def _convert_pflags(pflags):
        """SFTP open flags -> ``os.open`` flags."""
        if (pflags & SFTP_FLAG_READ) and (pflags & SFTP_FLAG_WRITE):
            flags = os.O_RDWR
        elif pflags & SFTP_FLAG_WRITE:
            flags = os.O_WRONLY
        else:
            flags = os.O_RDONLY
        if pflags & SFTP_FLAG_APPEND:
            flags |= os.O_APPEND
        if pflags & SFTP_FLAG_CREATE:
            flags |= os.O_CREAT
        if pflags & SFTP_FLAG_TRUNC:
            flags |= os.O_TRUNC
        if pflags & SFTP_FLAG_EXCL:
            flags |= os.O_EXCL
        return flags

    def _send_handle_response(self, msg, handle, folder=False):
        if not isinstance(handle, SFTPHandle):
            self._status(msg, handle)  # an error code
            return
        name = b"hx%d" % self.next_handle
        self.next_handle += 1
        handle._set_name(name)
        (self.folder_table if folder else self.file_table)[name] = handle
        msg.reply_handle(name)

    def _file(self, msg):
        handle = self.file_table.get(msg.handle)
        if handle is None:
            self._status(msg, SFTP_BAD_MESSAGE, "Invalid handle")
        return handle

    def _reply_attrs(self, msg, resp):
        if isinstance(resp, SFTPAttributes):
            msg.reply_attr(resp._to_native())
        else:
            self._status(msg, resp)

    def _do_open(self, msg):
        attr = SFTPAttributes._from_native(msg.attrs)
        self._send_handle_response(
            msg, self.server.open(msg.filename, self._convert_pflags(msg.flags or 0), attr))

    def _do_close(self, msg):
        if msg.handle in self.folder_table:
            del self.folder_table[msg.handle]
        elif msg.handle in self.file_table:
            self.file_table.pop(msg.handle).close()
        else:
            self._status(msg, SFTP_BAD_MESSAGE, "Invalid handle")
            return
        self._status(msg, 0)

    def _do_read(self, msg):
        handle = self._file(msg)
        if handle is None:
            return
        data = handle.read(msg.offset, msg.length)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(data, (bytes, bytearray, memoryview)):
            if len(data) == 0:
                self._status(msg, SFTP_EOF)
            else:
                msg.reply_data(data)
        else:
            self._status(msg, data)

    def _do_write(self, msg):
        handle = self._file(msg)
        if handle is not None:
            self._status(msg, handle.write(msg.offset, msg.data))

    def _do_remove(self, msg):
        self._status(msg, self.server.remove(msg.filename))

    def _do_rename(self, msg):
        self._status(msg, self.server.rename(msg.filename, msg.newpath))

    def _do_posix_rename(self, msg):
        self._status(msg, self.server.posix_rename(msg.filename, msg.newpath))

    def _do_mkdir(self, msg):
        attr = SFTPAttributes._from_native(msg.attrs)
        self._status(msg, self.server.mkdir(msg.filename, attr))

    def _do_rmdir(self, msg):
        self._status(msg, self.server.rmdir(msg.filename))

    def _do_opendir(self, msg):
        resp = self.server.list_folder(msg.filename)
        if isinstance(resp, list):
            folder = SFTPHandle()
            folder._set_files(resp)
            self._send_handle_response(msg, folder, True)
        else:
            self._status(msg, resp)

    def _do_readdir(self, msg):
        folder = self.folder_table.get(msg.handle)
        if folder is None:
            self._status(msg, SFTP_BAD_MESSAGE, "Invalid handle")
            return
        page = folder._get_next_files()
        if not page:
            self._status(msg, SFTP_EOF)
            return
        msg.reply_names([(a.filename, str(a), a._to_native()) for a in page])

    def _do_stat(self, msg):
        self._reply_attrs(msg, self.server.stat(msg.filename))

    def _do_lstat(self, msg):
        self._reply_attrs(msg, self.server.lstat(msg.filename))

    def _do_fstat(self, msg):
        handle = self._file(msg)
        if handle is not None:
            self._reply_attrs(msg, handle.stat())

    def _do_setstat(self, msg):
        attr = SFTPAttributes._from_native(msg.attrs)
        self._status(msg, self.server.chattr(msg.filename, attr))

    def _do_fsetstat(self, msg):
        handle = self._file(msg)
        if handle is not None:
            self._status(msg, handle.chattr(SFTPAttributes._from_native(msg.attrs)))

    def _do_readlink(self, msg):
        resp = self.server.readlink(msg.filename)
        if isinstance(resp, bytes):
            resp = resp.decode("utf-8", "surrogateescape")
        if isinstance(resp, str):
            msg.reply_name(resp)
        else:
            self._status(msg, resp)

    def _do_symlink(self, msg):
        # OpenSSH's order (which paramiko follows): the target first, then the link's path
        self._status(msg, self.server.symlink(msg.filename, msg.newpath))

    def _do_realpath(self, msg):
        msg.reply_name(self.server.canonicalize(msg.filename or "."))

    def _do_limits(self, msg):
        msg.reply_limits()
