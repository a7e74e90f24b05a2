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
        """Called once the client's SFTP session starts (before its first request)."""
        pass

    def session_ended(self):
        """Called once the session has ended (the channel closed)."""
        pass

    def open(self, path, flags, attr):
        """Open ``path`` with the ``os.open`` ``flags`` and the attributes ``attr`` of a new file;
        return an :class:`~pylibssh.compat.paramiko.sftp_handle.SFTPHandle` or a status code. The
        default answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def list_folder(self, path):
        """The entries of directory ``path`` as a list of ``SFTPAttributes`` with ``filename`` set,
        or a status code. The default answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def stat(self, path):
        """The attributes of ``path`` (links followed), or a status code. The default answers
        SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def lstat(self, path):
        """The attributes of ``path`` itself (a link is not followed), or a status code. The default
        answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def remove(self, path):
        """Remove the file ``path``; return a status code. The default answers SFTP_OP_UNSUPPORTED.
        """
        return SFTP_OP_UNSUPPORTED

    def rename(self, oldpath, newpath):
        """Rename ``oldpath`` to ``newpath``, not replacing an existing file; return a status code.
        The default answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def posix_rename(self, oldpath, newpath):
        """Rename ``oldpath`` to ``newpath``, replacing an existing file (``posix-
        rename@openssh.com``); return a status code. The default answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def mkdir(self, path, attr):
        """Create directory ``path`` with the attributes ``attr``; return a status code. The default
        answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def rmdir(self, path):
        """Remove the directory ``path``; return a status code. The default answers
        SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def chattr(self, path, attr):
        """Change the attributes of ``path`` to those set in ``attr``; return a status code. The
        default answers SFTP_OP_UNSUPPORTED."""
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
        """The target of the symbolic link ``path``, or a status code. The default answers
        SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED

    def symlink(self, target_path, path):
        """Create a symbolic link ``path`` pointing to ``target_path``; return a status code. The
        default answers SFTP_OP_UNSUPPORTED."""
        return SFTP_OP_UNSUPPORTED
