"""C->Python trampolines for libssh's channel callbacks (declared in cdef/python_callbacks.h),
the callback structs that point at them, and the socket sink (a channel data callback in C that
writes to a socket: csrc/pylibssh_glue.c).

libssh calls these from inside its packet processing. They must not call back into libssh (a
write would re-enter the callbacks) nor free anything, and no exception may unwind into C. So each
one hands the event to its Python owner's ``_c_*`` method, which only records it; the owning
session dispatches recorded events once libssh has returned (see
``pylibssh._session.LoopSession``).

An exception raised inside one (pygit2's pattern) is stored on the channel, which the session
closes with it once libssh has returned (``pylibssh._channel.Channel._fail``: ``error`` is
emitted, and whoever waits on the channel raises that exception); the data callback then
reports the bytes taken,
so libssh neither keeps them nor holds the window shut in the meantime.

``userdata`` is an ``ffi.new_handle(owner)`` that the owner keeps alive for as long as its
callback struct is registered.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, cast

from . import CData, ffi, lib

if TYPE_CHECKING:
    from .._channel import Channel

log = logging.getLogger("pylibssh")


def _owner(userdata: CData) -> Channel:
    # cffi gives Any; a local to say Channel would cost a few ns on every callback
    return ffi.from_handle(userdata)  # type: ignore[no-any-return]


def _fail(userdata: CData, what: str) -> None:
    """The callback ``what`` raised (the exception being handled): give it to its channel."""
    exc = cast(BaseException, sys.exc_info()[1])  # called in an except block: never None
    try:
        _owner(userdata)._c_failed(exc)
        log.debug("libssh %s callback raised %r: the channel closes with it", what, exc)
    except BaseException:
        log.exception("internal error in libssh %s callback", what)


@ffi.def_extern()
def pylibssh_channel_data_cb(
    session: CData, channel: CData, data: CData, length: int, is_stderr: int, userdata: CData,
) -> int:
    try:
        owner = _owner(userdata)
        if owner.error is not None:
            # failed, closing once libssh returns: what the same poll still brings is dropped
            return length
        return owner._c_data(data, length, bool(is_stderr))
    except BaseException:
        _fail(userdata, "channel data")
        return length


@ffi.def_extern()
def pylibssh_channel_eof_cb(session: CData, channel: CData, userdata: CData) -> None:
    try:
        _owner(userdata)._c_eof()
    except BaseException:
        _fail(userdata, "channel eof")


@ffi.def_extern()
def pylibssh_channel_close_cb(session: CData, channel: CData, userdata: CData) -> None:
    try:
        _owner(userdata)._c_close()
    except BaseException:
        _fail(userdata, "channel close")


@ffi.def_extern()
def pylibssh_channel_signal_cb(
    session: CData, channel: CData, signal: CData, userdata: CData,
) -> None:
    try:
        _owner(userdata)._c_signal(ffi.string(signal).decode("ascii", "replace"))
    except BaseException:
        _fail(userdata, "channel signal")


@ffi.def_extern()
def pylibssh_channel_exit_status_cb(
    session: CData, channel: CData, status: int, userdata: CData,
) -> None:
    try:
        _owner(userdata)._c_exit_status(status)
    except BaseException:
        _fail(userdata, "channel exit-status")


@ffi.def_extern()
def pylibssh_channel_exit_signal_cb(
    session: CData, channel: CData, signal: CData, core: int, errmsg: CData, lang: CData,
    userdata: CData,
) -> None:
    try:
        _owner(userdata)._c_exit_signal(
            ffi.string(signal).decode("ascii", "replace") if signal else "",
            bool(core),
            ffi.string(errmsg).decode("utf-8", "replace") if errmsg else "",
            ffi.string(lang).decode("ascii", "replace") if lang else "",
        )
    except BaseException:
        _fail(userdata, "channel exit-signal")


@ffi.def_extern()
def pylibssh_channel_write_wontblock_cb(
    session: CData, channel: CData, nbytes: int, userdata: CData,
) -> int:
    try:
        _owner(userdata)._c_write_wontblock(nbytes)
    except BaseException:
        _fail(userdata, "channel write-wontblock")
    return 0


@ffi.def_extern()
def pylibssh_channel_open_resp_cb(
    session: CData, channel: CData, is_success: int, userdata: CData,
) -> None:
    try:
        _owner(userdata)._c_open_response(bool(is_success))
    except BaseException:
        _fail(userdata, "channel open-response")


@ffi.def_extern()
def pylibssh_channel_auth_agent_req_cb(session: CData, channel: CData, userdata: CData) -> None:
    try:
        _owner(userdata)._c_auth_agent_req()
    except BaseException:
        _fail(userdata, "channel auth-agent-req")


def new_channel_callbacks(owner: Channel) -> tuple[CData, CData]:
    """A filled ``ssh_channel_callbacks_struct`` for ``owner`` and the handle it must keep."""
    handle = ffi.new_handle(owner)
    cb = ffi.new("struct ssh_channel_callbacks_struct *")
    lib.pylibssh_init_channel_callbacks(cb)
    cb.userdata = handle
    cb.channel_data_function = lib.pylibssh_channel_data_cb
    cb.channel_eof_function = lib.pylibssh_channel_eof_cb
    cb.channel_close_function = lib.pylibssh_channel_close_cb
    cb.channel_signal_function = lib.pylibssh_channel_signal_cb
    cb.channel_exit_status_function = lib.pylibssh_channel_exit_status_cb
    cb.channel_exit_signal_function = lib.pylibssh_channel_exit_signal_cb
    cb.channel_write_wontblock_function = lib.pylibssh_channel_write_wontblock_cb
    cb.channel_open_response_function = lib.pylibssh_channel_open_resp_cb
    return cb, handle


def new_agent_request_callbacks(handle: CData) -> CData:
    """A second callback struct, for a channel that accepts agent forwarding: libssh answers
    ``auth-agent-req@openssh.com`` with success exactly when such a callback is registered."""
    cb = ffi.new("struct ssh_channel_callbacks_struct *")
    lib.pylibssh_init_channel_callbacks(cb)
    cb.userdata = handle
    cb.channel_auth_agent_req_function = lib.pylibssh_channel_auth_agent_req_cb
    return cb


# -- the socket sink (pylibssh/bridge.py) ------------------------------------------------------

@ffi.def_extern()
def pylibssh_sink_dirty_cb(userdata: CData) -> None:
    """C callback: the socket sink has bytes for its owner (an exception closes the owner's
    channel with it)."""
    try:
        ffi.from_handle(userdata)._c_sink_dirty()
    except BaseException as exc:  # (never into libssh) the owner's channel closes with it
        try:
            ffi.from_handle(userdata).channel._c_failed(exc)
        except BaseException:
            log.exception("internal error in the socket sink's callback")


def new_socket_sink(fd: int, size: int, owner: Any) -> tuple[CData, CData, Any]:
    """A socket sink writing to ``fd`` through a buffer of ``size`` bytes; ``owner``'s
    ``_c_sink_dirty()`` is called (inside libssh: record only) when the buffer stops being
    empty. Returns the sink (its fields ``len``, ``bytes``, ``blocked`` are read and set
    directly), its channel callback struct (register it with the channel's own) and what keeps
    its memory alive, which the caller holds until :func:`sink_detach`."""
    sink = ffi.new("struct pylibssh_sock_sink *")
    buf = ffi.new("char[]", size)
    handle = ffi.new_handle(owner)
    lib.pylibssh_sock_sink_init(sink, fd, buf, size, lib.pylibssh_sink_dirty_cb, handle)
    return sink, lib.pylibssh_sock_sink_callbacks(sink), (sink, buf, handle)


def sink_attach(sink: CData, own_callbacks: CData) -> None:
    """Make the sink the channel's data callback, handing what it cannot take to the channel's
    own struct ``own_callbacks``."""
    lib.pylibssh_sock_sink_attach(sink, own_callbacks)


def sink_detach(sink: CData) -> None:
    """Give the channel's own data callback back and drop the sink's buffer (before its
    callbacks are unregistered)."""
    lib.pylibssh_sock_sink_detach(sink)


def sink_flush(sink: CData) -> int:
    """Write the sink's buffer to its socket: 0 when all went out, else the bytes left (the
    socket is full). Raises OSError (the socket's errno) when the write failed."""
    left: int = lib.pylibssh_sock_sink_flush(sink)
    if left < 0:
        err: int = ffi.errno
        raise OSError(err, os.strerror(err))
    return left
