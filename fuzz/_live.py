"""A live SSH connection inside the fuzzing process: a pylibssh server and a pylibssh client
joined by a socketpair, both on one :class:`~pylibssh.loop.Loop` that only the calling thread
drives (every blocking client call runs it). Harnesses whose parser sits behind a session (the
SFTP server, libssh's known_hosts checks) open it once and keep it across inputs: one key
exchange per process, not per input.
"""

from __future__ import annotations

import socket
from typing import Any, Callable

import pylibssh
from pylibssh.loop import Loop

__all__ = ["LiveSession", "TIMEOUT"]

#: seconds any one blocking call of a harness may take; past it the input counts as a hang
TIMEOUT = 20.0

_USER = "fuzz"
_PASSWORD = "fuzz-password"


class LiveSession:
    """A connected pair. ``on_channel(channel)`` is the server's listener for every channel the
    client opens; ``client`` is the blocking :class:`pylibssh.client.Client`."""

    def __init__(self, on_channel: Callable[[Any], None]):
        self.loop = Loop("fuzz")
        self.host_key = pylibssh.Key.generate("ed25519")
        self.server = pylibssh.create_server(host_keys=[self.host_key], loop=self.loop,
                                             auth_methods=["password"])

        def on_auth(msg: Any) -> None:
            if msg.subtype == "password" and msg.auth_user == _USER and \
                    msg.auth_password == _PASSWORD:
                msg.reply_auth_success()
            else:
                msg.reply_default()

        @self.server.on("connection")
        def _connection(session: Any) -> None:
            session.on("auth", on_auth)
            session.on("channel", on_channel)

        server_end, client_end = socket.socketpair()
        self.server.accept_socket(server_end, ("127.0.0.1", 0))
        self.client = pylibssh.connect(
            "fuzz", user=_USER, password=_PASSWORD, sock=client_end, loop=self.loop,
            known_hosts=None, global_known_hosts=None, host_key_policy="ignore", config=None,
            agent=False, look_for_keys=False, timeout=TIMEOUT, op_timeout=TIMEOUT)
