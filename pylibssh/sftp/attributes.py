"""File attributes as SFTP (version 3) carries them, node-libssh's ``Stat`` mode builder, and
``ls -l``-style long names."""

from __future__ import annotations

import grp
import os
import pwd
import stat as _stat
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

__all__ = ["SFTPAttributes", "Stat", "long_name"]


class Stat(int):
    """node-libssh's mode builder: ``Stat('755').dir()`` == ``0o40755``, ``Stat('644').reg()``
    == ``0o100644``. A string is read as octal digits (node-libssh's ``Stat('755')``); an int is
    the mode itself (``Stat(0o644)``). The result is an int, usable wherever a mode is."""

    def __new__(cls, mode: int | str = 0) -> Stat:
        value = int(mode, 8) if isinstance(mode, str) else int(mode)
        if not 0 <= value <= 0o177777:
            raise ValueError(f"not a file mode: {mode!r}")
        return super().__new__(cls, value)

    def _with_type(self, kind: int) -> Stat:
        return Stat((int(self) & 0o7777) | kind)

    def reg(self) -> Stat:
        """This mode as a regular file's (``S_IFREG``), the permission bits kept."""
        return self._with_type(_stat.S_IFREG)

    def dir(self) -> Stat:
        """This mode as a directory's (``S_IFDIR``), the permission bits kept."""
        return self._with_type(_stat.S_IFDIR)

    def lnk(self) -> Stat:
        """This mode as a symbolic link's (``S_IFLNK``), the permission bits kept."""
        return self._with_type(_stat.S_IFLNK)

    def chr(self) -> Stat:
        """This mode as a character device's (``S_IFCHR``), the permission bits kept."""
        return self._with_type(_stat.S_IFCHR)

    def blk(self) -> Stat:
        """This mode as a block device's (``S_IFBLK``), the permission bits kept."""
        return self._with_type(_stat.S_IFBLK)

    def fifo(self) -> Stat:
        """This mode as a FIFO's (``S_IFIFO``), the permission bits kept."""
        return self._with_type(_stat.S_IFIFO)

    def sock(self) -> Stat:
        """This mode as a socket's (``S_IFSOCK``), the permission bits kept."""
        return self._with_type(_stat.S_IFSOCK)

    def __repr__(self) -> str:
        return f"Stat(0o{int(self):o})"


@dataclass
class SFTPAttributes:
    """The attributes of one file. ``None`` means "not sent". Keys are node-libssh's:
    ``permissions`` (the full ``st_mode``, type bits included), ``size``, ``uid``, ``gid``,
    ``atime``, ``mtime`` (seconds since the epoch)."""

    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    permissions: int | None = None
    atime: int | None = None
    mtime: int | None = None

    @classmethod
    def from_stat(cls, st: os.stat_result) -> SFTPAttributes:
        """The attributes of an :func:`os.stat` result: size, uid, gid, mode (``permissions``),
        atime and mtime (whole seconds)."""
        return cls(size=st.st_size, uid=st.st_uid, gid=st.st_gid, permissions=st.st_mode,
                   atime=int(st.st_atime), mtime=int(st.st_mtime))

    @classmethod
    def from_dict(cls, attrs: Mapping[str, Any] | SFTPAttributes | None) -> SFTPAttributes:
        """From node-libssh's dict (``{'permissions': ..., 'size': ...}``); unknown keys raise
        ValueError so that typos do not silently drop attributes. Times are seconds."""
        if attrs is None:
            return cls()
        if isinstance(attrs, SFTPAttributes):
            return attrs
        known = {f.name for f in fields(cls)}
        extra = set(attrs) - known
        if extra:
            raise ValueError(f"unknown SFTP attribute(s) {sorted(extra)}; known: {sorted(known)}")
        values = {k: (None if v is None else int(v)) for k, v in attrs.items()}
        return cls(**values)

    def to_dict(self) -> dict[str, int]:
        """The attributes that are set, as node-libssh's dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}

    @property
    def is_dir(self) -> bool:
        """True when ``permissions`` is known and says directory."""
        return self.permissions is not None and _stat.S_ISDIR(self.permissions)

    @property
    def is_file(self) -> bool:
        """True when ``permissions`` is known and says regular file."""
        return self.permissions is not None and _stat.S_ISREG(self.permissions)

    @property
    def is_symlink(self) -> bool:
        """True when ``permissions`` is known and says symbolic link."""
        return self.permissions is not None and _stat.S_ISLNK(self.permissions)


def _owner_name(uid: int | None, lookup: Callable[[int], tuple[Any, ...]],
                cache: dict[int, str]) -> str:
    if uid is None:
        return "?"
    if uid not in cache:
        try:
            name: str = lookup(uid)[0]
            cache[uid] = name
        except (KeyError, OverflowError):
            cache[uid] = str(uid)
    return cache[uid]


_users: dict[int, str] = {}
_groups: dict[int, str] = {}


def long_name(name: str, attrs: SFTPAttributes, nlink: int = 1, now: float | None = None,
              numeric: bool = False) -> str:
    """An ``ls -l`` line as OpenSSH's sftp-server writes it:
    ``-rw-r--r--    1 user     group        1234 Jan  2 15:04 name``."""
    mode = attrs.permissions or 0
    perms = _stat.filemode(mode) if attrs.permissions is not None else "?---------"
    if numeric:
        user = str(attrs.uid if attrs.uid is not None else "?")
        group = str(attrs.gid if attrs.gid is not None else "?")
    else:
        user = _owner_name(attrs.uid, pwd.getpwuid, _users)
        group = _owner_name(attrs.gid, grp.getgrgid, _groups)
    mtime = attrs.mtime or 0
    now = time.time() if now is None else now
    # like ls: the year for files older than six months (or in the future)
    if 0 <= now - mtime < 182 * 86400:
        when = time.strftime("%b %e %H:%M", time.localtime(mtime))
    else:
        when = time.strftime("%b %e  %Y", time.localtime(mtime))
    size = attrs.size if attrs.size is not None else 0
    return f"{perms} {nlink:4d} {user:<8} {group:<8} {size:8d} {when} {name}"
