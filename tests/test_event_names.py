"""A listener for an event an emitter never emits is refused at once with the names it emits,
instead of waiting forever to be called."""

from __future__ import annotations

import pytest

import pylibssh
from pylibssh.events import EventEmitter
from pylibssh.server.channel import ServerChannel
from pylibssh.server.session import ServerSession


def test_a_misspelt_server_event_is_refused_with_the_known_names(make_server):
    server = make_server().server
    with pytest.raises(ValueError) as info:
        server.on("conection", lambda session: None)
    text = str(info.value)
    assert "'conection'" in text and "connection" in text and "ready" in text
    with pytest.raises(ValueError):
        @server.on("connected")
        def never(session):  # pragma: no cover - refused before it could be registered
            pass
    with pytest.raises(ValueError):
        server.once("closed", lambda: None)
    assert server.listener_count("conection") == 0
    server.on("connection", lambda session: None)  # the real names still work
    assert server.listener_count("connection") == 1


def test_every_documented_session_and_channel_event_is_accepted():
    assert {"auth", "session", "channel", "tcpip", "openssh.streamlocal", "request", "error",
            "close"} <= ServerSession.events
    assert {"data", "end", "close", "error", "drain", "pty", "shell", "exec", "env", "subsystem",
            "windowchange", "x11", "signal", "auth-agent", "sftpmessage", "sftp:open",
            "sftp:read", "sftp:write", "sftp:close", "sftp:posix-rename", "sftp:limits",
            "sftp:extended"} <= ServerChannel.events
    assert "sftp:opne" not in ServerChannel.events
    assert isinstance(pylibssh.Server.events, frozenset)


def test_a_plain_emitter_takes_any_name():
    em = EventEmitter()
    calls = []
    em.on("anything at all", calls.append)
    em.emit("anything at all", 1)
    assert calls == [1]
