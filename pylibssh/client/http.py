"""HTTP(S) through an SSH connection (what ssh2's ``HTTPAgent`` / ``HTTPSAgent`` do): each HTTP
connection is a tunnel (``direct-tcpip``) from the server to the web server, so names are
resolved and connections made on the server's side.

* :class:`HTTPConnection` / :class:`HTTPSConnection`: ``http.client`` connections whose
  ``connect()`` opens a tunnel (TLS, for HTTPS, runs end to end over it);
* :func:`pool_manager`: a ``urllib3.PoolManager`` whose connections are tunnels (keep-alive and
  pooling as usual); urllib3 is imported only when this is used.
"""

from __future__ import annotations

import http.client
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    import urllib3

    from .client import Client

    # to checkers the mixin is the connection it is mixed into
    _Connection = http.client.HTTPConnection
else:
    _Connection = object

__all__ = ["HTTPConnection", "HTTPSConnection", "pool_manager"]


class _Tunneled(_Connection):
    """``connect()`` opens a tunnel to the HTTP host (or to the proxy, with ``set_tunnel``)."""

    ssh_client: Client
    if TYPE_CHECKING:  # http.client's own state that connect() uses (typeshed leaves it out)
        _tunnel_host: str | None
        _context: ssl.SSLContext

        def _tunnel(self) -> None: ...

    def connect(self) -> None:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        sock = self.ssh_client.open_tunnel(self.host, self.port, timeout=timeout)
        if timeout is not None:
            sock.settimeout(timeout)
        self.sock = sock
        if self._tunnel_host:
            self._tunnel()
        if isinstance(self, http.client.HTTPSConnection):
            # what HTTPSConnection.connect does after its TCP connect: TLS, end to end
            server_hostname = self._tunnel_host or self.host
            self.sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname)


class HTTPConnection(_Tunneled, http.client.HTTPConnection):
    """``http.client.HTTPConnection(host, port)`` reached through ``client``."""

    def __init__(self, client: Client, host: str, port: int | None = None, **kwargs: Any):
        http.client.HTTPConnection.__init__(self, host, port, **kwargs)
        self.ssh_client = client


class HTTPSConnection(_Tunneled, http.client.HTTPSConnection):
    """``http.client.HTTPSConnection`` through ``client``: TLS runs over the tunnel, verified
    against ``host`` as usual (``context=`` as for http.client)."""

    def __init__(self, client: Client, host: str, port: int | None = None, **kwargs: Any):
        http.client.HTTPSConnection.__init__(self, host, port, **kwargs)
        self.ssh_client = client


def pool_manager(client: Client, **kwargs: Any) -> urllib3.PoolManager:
    """A ``urllib3.PoolManager`` whose HTTP and HTTPS connections are tunnels through
    ``client``. ``kwargs`` go to PoolManager (``retries``, ``timeout``, ``cert_reqs``...)."""
    import urllib3
    from urllib3.connection import HTTPConnection as U3HTTP
    from urllib3.connection import HTTPSConnection as U3HTTPS

    def new_conn(self: Any) -> Any:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        sock = client.open_tunnel(self._dns_host, self.port, timeout=timeout)
        if timeout is not None:
            sock.settimeout(timeout)
        return sock

    http_cls = type("SSHHTTPConnection", (U3HTTP,), {"_new_conn": new_conn})
    https_cls = type("SSHHTTPSConnection", (U3HTTPS,), {"_new_conn": new_conn})
    http_pool = type("SSHHTTPConnectionPool", (urllib3.HTTPConnectionPool,),
                     {"ConnectionCls": http_cls})
    https_pool = type("SSHHTTPSConnectionPool", (urllib3.HTTPSConnectionPool,),
                      {"ConnectionCls": https_cls})
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
    return manager
