"""The process's limit on open descriptors (RLIMIT_NOFILE), which bounds its connections: each
costs one descriptor (a child process's pipes, a forward's socket, an SFTP file cost more).

Most systems start processes with a soft limit of 1024 and a far higher hard limit (the soft
limit stays low for programs that still use ``select()``, which cannot take descriptors past
1024; pylibssh never does). A server raises its soft limit to the hard limit once, when it is
created (:func:`raise_open_files_limit`), and says so when the limit refuses a connection
(:func:`exhausted_message`).
"""

from __future__ import annotations

import errno
import logging

try:
    import resource
except ImportError:  # not POSIX
    resource = None  # type: ignore[assignment]

__all__ = ["raise_open_files_limit", "open_files_limit", "exhausted_message"]

log = logging.getLogger("pylibssh.server")

_raised = False


def open_files_limit() -> int | None:
    """The soft RLIMIT_NOFILE now (None: unlimited, or no such limit on this system)."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_open_files_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (once per process; later calls only
    return it). Returns the soft limit in force afterwards (None: unlimited or unknown). A
    limit that cannot be raised (macOS caps it at ``OPEN_MAX``) is left as it is and logged
    at DEBUG; this never raises."""
    global _raised
    if resource is None or _raised:
        return open_files_limit()
    _raised = True
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard or soft == resource.RLIM_INFINITY:
        return open_files_limit()
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        log.debug("could not raise RLIMIT_NOFILE from %d to %d: %s", soft, hard, exc)
    else:
        log.debug("RLIMIT_NOFILE raised from %d to %s", soft, hard)
    return open_files_limit()


def exhausted_message(exc: OSError) -> str | None:
    """What to log when ``accept()`` failed for want of descriptors (None for other errors):
    which limit stopped the connection."""
    if exc.errno == errno.EMFILE:
        limit = open_files_limit()
        return (f"new connections wait: this process uses all the descriptors RLIMIT_NOFILE "
                f"allows ({limit if limit is not None else 'unlimited'}); raise the hard limit "
                "(ulimit -Hn, systemd's LimitNOFILE=) to serve more connections at once")
    if exc.errno == errno.ENFILE:
        return ("new connections wait: the system's table of open files is full "
                "(fs.file-max)")
    return None

