"""libssh's channel calls (``ssh_channel_*``): callers hold a channel as an opaque
:data:`~pylibssh._binding.CData` and go through these functions."""

from __future__ import annotations

from . import NULL, CData, ffi, lib
from .constants import SSH_OK

# -- used by the server


def new(session: CData) -> CData | None:
    """A new channel on ``session``, not open yet; None when libssh cannot create one (the
    session's error says why)."""
    channel = lib.ssh_channel_new(session)
    return None if channel == NULL else channel


def free(channel: CData) -> None:
    """Free the channel (libssh sends CLOSE first if it is still open). Call it once."""
    lib.ssh_channel_free(channel)


def set_callbacks(channel: CData, callbacks: CData) -> bool:
    """Register a callback struct on the channel, before those already there; False when libssh
    refuses it."""
    return bool(lib.ssh_set_channel_callbacks(channel, callbacks) == SSH_OK)


def add_callbacks(channel: CData, callbacks: CData) -> bool:
    """Register a callback struct on the channel, after those already there (libssh keeps the
    pointer: the caller keeps the struct alive until the channel is freed); False when libssh
    refuses it."""
    return bool(lib.ssh_add_channel_callbacks(channel, callbacks) == SSH_OK)


def remove_callbacks(channel: CData, callbacks: CData) -> None:
    """Unregister a callback struct (nothing when it is not registered)."""
    lib.ssh_remove_channel_callbacks(channel, callbacks)


def address(channel: CData) -> int:
    """The channel's address: a key for it that stays unique while it lives."""
    return int(ffi.cast("uintptr_t", channel))


def drop_data_callback(callbacks: CData) -> None:
    """Stop a callback struct's data callback (the other callbacks stay)."""
    callbacks.channel_data_function = NULL
