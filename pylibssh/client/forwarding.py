"""The forwarding methods of :class:`~pylibssh.client.Client` (names after asyncssh's).

Forwards run on the client's loop; a client with its own loop starts it in a background thread
at the first forward, and :meth:`Client.close` closes every forward first.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, cast

from ..errors import SSHError
from ..timeouts import DEFAULT, Timeout
from .agent_x11 import AgentForwarding, X11Forwarding
from .forward import (
    LocalForwarder,
    RemoteForwarder,
    open_tunnel,
    start_remote,
    start_remote_async,
)
from .incoming import ChannelOpenRequest
from .socks import SOCKSForwarder

if TYPE_CHECKING:
    import http.client

    import urllib3

    from .client import Client
    from .forward import _Forward

RequestHandler = Callable[[ChannelOpenRequest], Any]


class ForwardingMixin:
    """Port, socket, SOCKS, agent and X11 forwarding on a client connection (mixed into
    :class:`~pylibssh.client.Client` and nothing else)."""

    _forwards: list[_Forward]

    def _as_client(self) -> Client:
        # what the forwarders take; only Client mixes this class in
        return cast("Client", self)

    # -- tunnels ----------------------------------------------------------------------------------

    def open_tunnel(self, host: str, port: int, *, timeout: Timeout = DEFAULT) -> socket.socket:
        """A connected socket to ``host:port`` as seen from the server (``direct-tcpip``): a
        real socket (one end of a socketpair the loop pumps to the channel), so it can be given
        to anything that takes a socket, e.g. ``connect(..., sock=tunnel)`` to hop to a host
        only the server reaches. Raises :class:`~pylibssh.errors.ChannelOpenError` with the
        server's reason when it cannot connect."""
        client = self._as_client()
        return open_tunnel(client, (host, int(port)), client._t(timeout))

    def open_unix_tunnel(self, path: str, *, timeout: Timeout = DEFAULT) -> socket.socket:
        """Like :meth:`open_tunnel`, to a UNIX socket on the server
        (``direct-streamlocal@openssh.com``)."""
        client = self._as_client()
        return open_tunnel(client, path, client._t(timeout))

    # -- local forwarding ---------------------------------------------------------------------------

    def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str,
                           dest_port: int) -> LocalForwarder:
        """Listen on ``listen_host:listen_port`` (port 0: any free one, see ``.port``) and
        carry each connection to ``dest_host:dest_port`` from the server (``ssh -L``)."""
        client = self._as_client()
        return LocalForwarder(client, (listen_host, listen_port), (dest_host, int(dest_port)))

    def forward_local_port_to_path(self, listen_host: str, listen_port: int,
                                   dest_path: str) -> LocalForwarder:
        """Listen on a local port; connect each connection to the server's UNIX socket."""
        client = self._as_client()
        return LocalForwarder(client, (listen_host, listen_port), dest_path)

    def forward_local_path(self, listen_path: str, dest_path: str) -> LocalForwarder:
        """Listen on a local UNIX socket; connect to the server's UNIX socket ``dest_path``."""
        client = self._as_client()
        return LocalForwarder(client, listen_path, dest_path)

    def forward_local_path_to_port(self, listen_path: str, dest_host: str,
                                   dest_port: int) -> LocalForwarder:
        """Listen on a local UNIX socket; connect to ``dest_host:dest_port`` from the server."""
        client = self._as_client()
        return LocalForwarder(client, listen_path, (dest_host, int(dest_port)))

    def forward_socks(self, listen_host: str = "127.0.0.1", listen_port: int = 0
                      ) -> SOCKSForwarder:
        """A local SOCKS5/SOCKS4a proxy whose connections leave from the server (``ssh -D``)."""
        client = self._as_client()
        return SOCKSForwarder(client, (listen_host, listen_port))

    # -- remote forwarding --------------------------------------------------------------------------

    def forward_remote_port(self, listen_host: str, listen_port: int,
                            dest_host: str | None = None, dest_port: int | None = None, *,
                            handler: RequestHandler | None = None,
                            timeout: Timeout = DEFAULT) -> RemoteForwarder:
        """Ask the server to listen on ``listen_host:listen_port`` (``""``: all its addresses;
        port 0: the server picks one, see ``.port``). Each connection is carried to
        ``dest_host:dest_port`` on this side, or given to ``handler(request)``, which calls
        ``request.accept()`` (a paused Channel) or ``request.reject()``. Raises
        :class:`~pylibssh.errors.RequestDeniedError` when the server refuses (port in use,
        forwarding not allowed)."""
        client = self._as_client()
        if handler is None and dest_host is None:
            raise SSHError("forward_remote_port needs dest_host/dest_port or a handler")
        dest = None if dest_host is None else (dest_host, int(dest_port or 0))
        fwd = RemoteForwarder(client, (listen_host, int(listen_port)), dest, handler)
        return start_remote(client, fwd, client._t(timeout))

    def forward_remote_port_async(self, listen_host: str, listen_port: int,
                                  dest_host: str | None = None, dest_port: int | None = None,
                                  *, handler: RequestHandler | None = None,
                                  timeout: Timeout = DEFAULT) -> Future[RemoteForwarder]:
        """:meth:`forward_remote_port` without waiting (for many clients on one loop, or from a
        loop callback): a future whose result is the :class:`RemoteForwarder`."""
        client = self._as_client()
        if handler is None and dest_host is None:
            raise SSHError("forward_remote_port needs dest_host/dest_port or a handler")
        dest = None if dest_host is None else (dest_host, int(dest_port or 0))
        fwd = RemoteForwarder(client, (listen_host, int(listen_port)), dest, handler)
        return start_remote_async(client, fwd, client._t(timeout))

    def forward_remote_port_to_path(self, listen_host: str, listen_port: int, dest_path: str,
                                    *, timeout: Timeout = DEFAULT) -> RemoteForwarder:
        """Like :meth:`forward_remote_port`, carrying connections to a local UNIX socket."""
        client = self._as_client()
        fwd = RemoteForwarder(client, (listen_host, int(listen_port)), dest_path, None)
        return start_remote(client, fwd, client._t(timeout))

    def forward_remote_path(self, listen_path: str, dest_path: str | None = None, *,
                            handler: RequestHandler | None = None,
                            timeout: Timeout = DEFAULT) -> RemoteForwarder:
        """Ask the server to listen on its UNIX socket ``listen_path`` (``ssh -R
        /remote.sock:/local.sock``, ``streamlocal-forward@openssh.com``). Each connection is
        carried to the local UNIX socket ``dest_path``, or given to ``handler(request)`` (see
        :meth:`forward_remote_port`). Raises :class:`~pylibssh.errors.RequestDeniedError` when
        the server refuses (the path exists, forwarding not allowed)."""
        client = self._as_client()
        fwd = self._remote_path_forwarder(listen_path, dest_path, handler)
        return start_remote(client, fwd, client._t(timeout))

    def forward_remote_path_async(self, listen_path: str, dest_path: str | None = None, *,
                                  handler: RequestHandler | None = None,
                                  timeout: Timeout = DEFAULT) -> Future[RemoteForwarder]:
        """:meth:`forward_remote_path` without waiting: a future of the RemoteForwarder."""
        client = self._as_client()
        fwd = self._remote_path_forwarder(listen_path, dest_path, handler)
        return start_remote_async(client, fwd, client._t(timeout))

    def forward_remote_path_to_port(self, listen_path: str, dest_host: str, dest_port: int,
                                    *, timeout: Timeout = DEFAULT) -> RemoteForwarder:
        """Like :meth:`forward_remote_path`, carrying connections to ``dest_host:dest_port``
        on this side (``ssh -R /remote.sock:host:port``)."""
        client = self._as_client()
        fwd = self._remote_path_forwarder(listen_path, (dest_host, int(dest_port)), None)
        return start_remote(client, fwd, client._t(timeout))

    def _remote_path_forwarder(self, listen_path: str,
                               dest: str | tuple[str, int] | None,
                               handler: RequestHandler | None) -> RemoteForwarder:
        client = self._as_client()
        if handler is None and dest is None:
            raise SSHError("forward_remote_path needs dest_path or a handler")
        if not isinstance(listen_path, str) or not listen_path:
            raise SSHError(f"forward_remote_path needs a socket path, not {listen_path!r}")
        return RemoteForwarder(client, listen_path, dest, handler)

    # -- agent and X11 ------------------------------------------------------------------------------

    def forward_agent(self, path: str | None = None) -> AgentForwarding:
        """Forward the local ssh-agent (``path``, default ``$SSH_AUTH_SOCK``) to the commands
        and shells started from now on (``ssh -A``)."""
        client = self._as_client()
        path = path or os.environ.get("SSH_AUTH_SOCK")
        if not path:
            raise SSHError("agent forwarding needs an agent: SSH_AUTH_SOCK is not set")
        return AgentForwarding(client, path)

    def forward_x11(self, handler: RequestHandler | None = None, *, display: str | None = None,
                    auth_protocol: str | None = None, auth_cookie: str | None = None,
                    screen: int = 0, single_connection: bool = False) -> X11Forwarding:
        """Request X11 forwarding on the commands and shells started from now on (``ssh -X``).
        The server's ``x11`` channels go to ``handler(request)``, or are bridged to the local
        ``display`` (default ``$DISPLAY``, its cookie from ``xauth``)."""
        client = self._as_client()
        return X11Forwarding(client, handler, display, auth_protocol,
                             auth_cookie, screen, single_connection)

    # -- HTTP -----------------------------------------------------------------------------------

    def http_connection(self, host: str, port: int | None = None, *, https: bool = False,
                        **kwargs: Any) -> http.client.HTTPConnection:
        """An ``http.client`` (HTTPS)Connection to ``host`` through this connection."""
        client = self._as_client()
        from .http import HTTPConnection, HTTPSConnection
        cls = HTTPSConnection if https else HTTPConnection
        return cls(client, host, port, **kwargs)

    def http_pool_manager(self, **kwargs: Any) -> urllib3.PoolManager:
        """A ``urllib3.PoolManager`` whose requests go through this connection."""
        client = self._as_client()
        from .http import pool_manager
        return pool_manager(client, **kwargs)

    # -- closing --------------------------------------------------------------------------------

    def _close_forwards(self) -> None:
        for fwd in list(self._forwards):
            try:
                if isinstance(fwd, RemoteForwarder):
                    fwd.close(cancel=False)  # the disconnect ends it on the server
                else:
                    fwd.close()
            except SSHError:
                pass  # the connection is going anyway
        self._forwards = []
