"""libssh's log output, routed into Python's ``logging`` (logger ``pylibssh.libssh``).

libssh logs through one process-wide callback. Its verbosity follows the effective level of the
``pylibssh`` logger: :func:`sync_verbosity` is called whenever a session or server is created, and
can be called after changing logging configuration. Levels map as

  libssh WARN  -> logging.WARNING      libssh DEBUG (packets) -> PACKET (7)
  libssh INFO  -> logging.DEBUG        libssh TRACE (functions) -> TRACE (5)
"""

from __future__ import annotations

import logging
import threading

from ._binding import log as c_log
from ._binding.constants import (
    SSH_LOG_DEBUG, SSH_LOG_INFO, SSH_LOG_NONE, SSH_LOG_TRACE, SSH_LOG_WARN)

TRACE = 5
PACKET = 7
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(PACKET, "PACKET")

logger = logging.getLogger("pylibssh")
logger.addHandler(logging.NullHandler())  # a library never prints unless the app configures it
libssh_logger = logging.getLogger("pylibssh.libssh")

_TO_PYTHON = {
    SSH_LOG_WARN: logging.WARNING,
    SSH_LOG_INFO: logging.DEBUG,
    SSH_LOG_DEBUG: PACKET,
    SSH_LOG_TRACE: TRACE,
}


def verbosity_for(level: int) -> int:
    """The libssh verbosity that emits exactly what a Python logger at ``level`` would keep."""
    if level <= TRACE:
        return SSH_LOG_TRACE
    if level <= PACKET:
        return SSH_LOG_DEBUG
    if level <= logging.DEBUG:
        return SSH_LOG_INFO
    if level <= logging.WARNING:
        return SSH_LOG_WARN
    return SSH_LOG_NONE


# libssh 0.12 keeps its log callback and log level per thread (LIBSSH_THREAD in log.c): a
# thread that never installed the callback would print libssh's log on stderr. Every thread that
# drives libssh objects goes through ensure_thread() (sessions call it on each poll).
_thread = threading.local()


def sync_verbosity() -> int:
    """Set libssh's verbosity in this thread from the ``pylibssh.libssh`` logger, with this
    thread's log callback installed; returns the verbosity."""
    if not getattr(_thread, "installed", False):
        c_log.install_callback()
        _thread.installed = True
    wanted = verbosity_for(libssh_logger.getEffectiveLevel())
    if c_log.get_level() != wanted:
        c_log.set_level(wanted)
    return wanted


def ensure_thread() -> None:
    """Cheap check before driving libssh in a thread: install the callback (and verbosity) in a
    thread that has not done so yet."""
    if not getattr(_thread, "installed", False):
        sync_verbosity()


def _wanted(priority: int) -> bool:
    return libssh_logger.isEnabledFor(_TO_PYTHON.get(priority, logging.DEBUG))


def _emit(priority: int, message: str) -> None:
    libssh_logger.log(_TO_PYTHON.get(priority, logging.DEBUG), "%s", message)


c_log.set_sink(_wanted, _emit)
sync_verbosity()
