"""paramiko.SFTPAttributes: a file's attributes as the SFTP server reports them."""

from __future__ import annotations

import stat
import time

__all__ = ["SFTPAttributes"]


class SFTPAttributes:
    """``st_size``, ``st_uid``, ``st_gid``, ``st_mode``, ``st_atime``, ``st_mtime`` (None when
    the server did not send them), plus ``filename`` and ``longname`` from directory listings."""

    FLAG_SIZE = 1
    FLAG_UIDGID = 2
    FLAG_PERMISSIONS = 4
    FLAG_AMTIME = 8
    FLAG_EXTENDED = 0x80000000

    def __init__(self):
        self._flags = 0
        self.st_size = None
        self.st_uid = None
        self.st_gid = None
        self.st_mode = None
        self.st_atime = None
        self.st_mtime = None
        self.attr = {}

    @classmethod
    def from_stat(cls, obj, filename=None):
        """Create an SFTPAttributes from an ``os.stat`` result (and a file name)."""
        attr = cls()
        attr.st_size = obj.st_size
        attr.st_uid = obj.st_uid
        attr.st_gid = obj.st_gid
        attr.st_mode = obj.st_mode
        attr.st_atime = obj.st_atime
        attr.st_mtime = obj.st_mtime
        if filename is not None:
            attr.filename = filename
        attr._flags = attr._present()
        return attr

    def _present(self):
        """The FLAG_* bits of the fields that are set (what paramiko sends)."""
        flags = 0
        if self.st_size is not None:
            flags |= self.FLAG_SIZE
        if self.st_uid is not None and self.st_gid is not None:
            flags |= self.FLAG_UIDGID
        if self.st_mode is not None:
            flags |= self.FLAG_PERMISSIONS
        if self.st_atime is not None and self.st_mtime is not None:
            flags |= self.FLAG_AMTIME
        return flags

    @classmethod
    def _from_native(cls, a, filename=None, longname=None):
        """From pylibssh's :class:`pylibssh.sftp.SFTPAttributes` (None: an empty one)."""
        out = cls()
        if a is not None:
            out.st_size, out.st_uid, out.st_gid = a.size, a.uid, a.gid
            out.st_mode, out.st_atime, out.st_mtime = a.permissions, a.atime, a.mtime
            out._flags = out._present()
        if filename is not None:
            out.filename = filename
        if longname is not None:
            out.longname = longname
        return out

    def _to_native(self):
        """pylibssh's :class:`pylibssh.sftp.SFTPAttributes` with the fields paramiko sends."""
        from ...sftp import SFTPAttributes as Native

        uidgid = self.st_uid is not None and self.st_gid is not None
        amtime = self.st_atime is not None and self.st_mtime is not None
        return Native(size=None if self.st_size is None else int(self.st_size),
                      uid=int(self.st_uid) if uidgid else None,
                      gid=int(self.st_gid) if uidgid else None,
                      permissions=None if self.st_mode is None else int(self.st_mode),
                      atime=int(self.st_atime) if amtime else None,
                      mtime=int(self.st_mtime) if amtime else None)

    def __repr__(self):
        return "<SFTPAttributes: {}>".format(self._debug_str())

    def _debug_str(self):
        out = "[ "
        if self.st_size is not None:
            out += "size={} ".format(self.st_size)
        if (self.st_uid is not None) and (self.st_gid is not None):
            out += "uid={} gid={} ".format(self.st_uid, self.st_gid)
        if self.st_mode is not None:
            out += "mode=" + oct(self.st_mode) + " "
        if (self.st_atime is not None) and (self.st_mtime is not None):
            out += "atime={} mtime={} ".format(self.st_atime, self.st_mtime)
        for k, v in self.attr.items():
            out += '"{}"={!r} '.format(str(k), v)
        return out + "]"

    def __str__(self):
        """An ``ls -l`` style line (numeric owner and group), as paramiko formats it."""
        if self.st_mode is not None:
            ks = stat.filemode(self.st_mode)
        else:
            ks = "?---------"
        if (self.st_mtime is None) or (self.st_mtime == 0xFFFFFFFF):
            datestr = "(unknown date)"
        else:
            tm = time.localtime(self.st_mtime)
            if abs(time.time() - self.st_mtime) > 15_552_000:  # six months
                datestr = time.strftime("%d %b %Y", tm)
            else:
                datestr = time.strftime("%d %b %H:%M", tm)
        filename = getattr(self, "filename", "?")
        uid = self.st_uid if self.st_uid is not None else 0
        gid = self.st_gid if self.st_gid is not None else 0
        size = self.st_size if self.st_size is not None else 0
        return "%s   1 %-8d %-8d %8d %-12s %s" % (ks, uid, gid, size, datestr, filename)

    def asbytes(self):
        """``str(self)`` (an ``ls -l`` style line) as UTF-8 bytes, as paramiko."""
        return str(self).encode()
