"""libssh's log output, routed into Python's ``logging`` (logger ``pylibssh.libssh``).

libssh logs through one process-wide callback. Its verbosity follows the effective level of the
``pylibssh`` logger: :func:`sync_verbosity` is called whenever a session or server is created, and
can be called after changing logging configuration. Levels map as

  libssh WARN  -> logging.WARNING      libssh DEBUG (packets) -> PACKET (7)
  libssh INFO  -> logging.DEBUG        libssh TRACE (functions) -> TRACE (5)
"""

from __future__ import annotations

import logging

from ._binding import ffi, lib

TRACE = 5
PACKET = 7
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(PACKET, "PACKET")

logger = logging.getLogger("pylibssh")
logger.addHandler(logging.NullHandler())  # a library never prints unless the app configures it
libssh_logger = logging.getLogger("pylibssh.libssh")

_TO_PYTHON = {
    lib.SSH_LOG_WARN: logging.WARNING,
    lib.SSH_LOG_INFO: logging.DEBUG,
    lib.SSH_LOG_DEBUG: PACKET,
    lib.SSH_LOG_TRACE: TRACE,
}


def verbosity_for(level: int) -> int:
    """The libssh verbosity that emits exactly what a Python logger at ``level`` would keep."""
    if level <= TRACE:
        return lib.SSH_LOG_TRACE
    if level <= PACKET:
        return lib.SSH_LOG_DEBUG
    if level <= logging.DEBUG:
        return lib.SSH_LOG_INFO
    if level <= logging.WARNING:
        return lib.SSH_LOG_WARN
    return lib.SSH_LOG_NONE


def sync_verbosity() -> int:
    """Set libssh's global verbosity from the ``pylibssh.libssh`` logger; returns it."""
    wanted = verbosity_for(libssh_logger.getEffectiveLevel())
    if lib.ssh_get_log_level() != wanted:
        lib.ssh_set_log_level(wanted)
    return wanted


@ffi.def_extern()
def pylibssh_log_cb(priority, function, buffer, userdata):
    # never let anything unwind into libssh
    try:
        level = _TO_PYTHON.get(priority, logging.DEBUG)
        if libssh_logger.isEnabledFor(level):
            message = ffi.string(buffer).decode("utf-8", "replace")
            libssh_logger.log(level, "%s", message)
    except Exception:  # pragma: no cover - logging itself failed
        pass


lib.ssh_set_log_callback(lib.pylibssh_log_cb)
sync_verbosity()
