"""libssh's log callback and verbosity. libssh logs through one callback per thread (libssh
0.12 keeps the callback and the level per thread); the callback here hands each message to the
sink :mod:`pylibssh._log` sets, which routes it into Python's ``logging``."""

from __future__ import annotations

from typing import Callable

from . import CData, ffi, lib


def _nothing_wanted(priority: int) -> bool:
    return False


def _drop(priority: int, message: str) -> None:
    pass


_wants: Callable[[int], bool] = _nothing_wanted
_emit: Callable[[int, str], None] = _drop


def set_sink(wants: Callable[[int], bool], emit: Callable[[int, str], None]) -> None:
    """Where libssh's messages go: ``emit(priority, message)`` for each one that
    ``wants(priority)`` keeps (the message is only decoded for those). Neither may raise: what
    they raise is dropped, never unwound into libssh."""
    global _wants, _emit
    _wants, _emit = wants, emit


@ffi.def_extern()
def pylibssh_log_cb(priority: int, function: CData, buffer: CData, userdata: CData) -> None:
    # never let anything unwind into libssh
    try:
        if _wants(priority):
            _emit(priority, ffi.string(buffer).decode("utf-8", "replace"))
    except Exception:  # pragma: no cover - logging itself failed
        pass


def install_callback() -> None:
    """Make this thread's libssh log through the sink (see :func:`set_sink`)."""
    lib.ssh_set_log_callback(lib.pylibssh_log_cb)


def get_level() -> int:
    """This thread's libssh verbosity (SSH_LOG_*)."""
    level: int = lib.ssh_get_log_level()
    return level


def set_level(level: int) -> None:
    """Set this thread's libssh verbosity (SSH_LOG_*)."""
    lib.ssh_set_log_level(level)
