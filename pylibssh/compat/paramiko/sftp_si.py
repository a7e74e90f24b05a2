"""paramiko.sftp_si: ``SFTPServerInterface``, what an SFTP server built with
:class:`~.sftp_server.SFTPServer` implements (paramiko's defaults: everything unsupported)."""

from __future__ import annotations

import os
import sys

from .sftp import SFTP_OP_UNSUPPORTED

__all__ = ["SFTPServerInterface"]


class SFTPServerInterface:
    """One instance per SFTP session. Methods return an :class:`~.sftp_handle.SFTPHandle`,
    :class:`~.sftp_attr.SFTPAttributes`, a list of them, a path, or an SFTP status code
    (``SFTP_OK``, ``SFTP_NO_SUCH_FILE``...; ``SFTPServer.convert_errno`` maps an errno)."""

    def __init__(self, server, *args, **kwargs):
        super().__init__()

    def session_started(self):
        pass

    def session_ended(self):
        pass

    def open(self, path, flags, attr):
        return SFTP_OP_UNSUPPORTED

    def list_folder(self, path):
        return SFTP_OP_UNSUPPORTED

    def stat(self, path):
        return SFTP_OP_UNSUPPORTED

    def lstat(self, path):
        return SFTP_OP_UNSUPPORTED

    def remove(self, path):
        return SFTP_OP_UNSUPPORTED

    def rename(self, oldpath, newpath):
        return SFTP_OP_UNSUPPORTED

    def posix_rename(self, oldpath, newpath):
        return SFTP_OP_UNSUPPORTED

    def mkdir(self, path, attr):
        return SFTP_OP_UNSUPPORTED

    def rmdir(self, path):
        return SFTP_OP_UNSUPPORTED

    def chattr(self, path, attr):
        return SFTP_OP_UNSUPPORTED

    def canonicalize(self, path):
        """The absolute, normalized form of ``path`` (relative paths start at ``/``)."""
        if os.path.isabs(path):
            out = os.path.normpath(path)
        else:
            out = os.path.normpath("/" + path)
        if sys.platform == "win32":
            out = out.replace("\\", "/")
        return out

    def readlink(self, path):
        return SFTP_OP_UNSUPPORTED

    def symlink(self, target_path, path):
        return SFTP_OP_UNSUPPORTED
