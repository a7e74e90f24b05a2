"""pylibssh on asyncio: the same engine as the blocking client and server, driven by the running
asyncio loop (the default loop or uvloop) with no thread of its own.

``async with pylibssh.asyncio.connect(host, ...) as conn`` gives an
:class:`SSHClientConnection` (``run``, ``create_process``, ``start_sftp_client``, forwarding);
``await pylibssh.asyncio.create_server(...)`` an :class:`SSHServer` whose listeners may be
``async def``. Names follow asyncssh's where the idea is the same.
"""

from __future__ import annotations

from ..client.process import ProcessError, RunResult
from ..errors import ChannelOpenError, RequestDeniedError, SFTPError, SSHError, SSHTimeoutError
from ._loop import AsyncioLoop, engine_loop
from .connection import SSHClientConnection, connect
from .process import SSHClientProcess, SSHReader, SSHWriter
from .server import SSHServer, create_server
from .sftp import SFTPClient, SFTPClientFile

__all__ = [
    "connect", "SSHClientConnection", "create_server", "SSHServer", "SSHClientProcess", "SSHReader", "SSHWriter",
    "SFTPClient", "SFTPClientFile", "RunResult", "ProcessError", "SSHError", "SSHTimeoutError", "ChannelOpenError",
    "RequestDeniedError", "SFTPError", "AsyncioLoop", "engine_loop",
]
