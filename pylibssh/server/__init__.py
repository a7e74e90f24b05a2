"""The event-driven SSH server: node-libssh's API over a selector loop.

``create_server`` -> :class:`Server` (events ``ready``, ``connection``, ``close``) ->
:class:`ServerSession` (``auth``, ``channel``, ``session``, ``close``, ``error``) ->
:class:`ServerChannel` (``exec``, ``shell``, ``pty``, ``env``, ``windowchange``, ``subsystem``,
``signal``, ``data``, ``end``, ``close``). Requests arrive as messages with ``reply_*`` methods
(``messages.py``).
Forwarding: ``forwarding.py`` (the requests and the channels the server opens),
``forwarders.py`` (ready-made handlers that connect and listen), ``pylibssh.bridge`` (the copy
between a channel and a socket).
"""

from .channel import ServerChannel
from .forwarders import connect_handler, listen_handler
from .forwarding import ChannelOpenMessage, ForwardChannel, GlobalRequestMessage, OutgoingChannel
from .messages import AuthMessage, ChannelRequestMessage, Message, PtyInfo, decode_tty_modes
from .process import ChildProcess, spawn
from .server import Server, create_server
from .session import ServerSession, SessionOpenMessage
from .sftp import SFTPMessage, SFTPServer
from .sftp_local import LocalFilesystem

__all__ = [
    "create_server",
    "Server",
    "ServerSession",
    "SessionOpenMessage",
    "ServerChannel",
    "Message",
    "AuthMessage",
    "ChannelRequestMessage",
    "PtyInfo",
    "decode_tty_modes",
    "spawn",
    "ChildProcess",
    "ChannelOpenMessage",
    "GlobalRequestMessage",
    "ForwardChannel",
    "OutgoingChannel",
    "connect_handler",
    "listen_handler",
    "SFTPServer",
    "SFTPMessage",
    "LocalFilesystem",
]
