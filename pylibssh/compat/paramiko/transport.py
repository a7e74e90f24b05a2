"""paramiko.Transport over a pylibssh :class:`ClientSession`, or in server mode
(:meth:`Transport.start_server`) over a :class:`~pylibssh.server.ServerSession` of a
:class:`~pylibssh.server.Server` made for the transport (the glue is in ``server.py``).

Like paramiko's Transport, each one has a thread: here it runs the session's pylibssh
:class:`~pylibssh.loop.Loop`, so channels make progress (and ``select`` on ``Channel.fileno()``
works) while the application does something else. Blocking calls wait on the loop's condition.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading

from ..._binding import client as client_api
from ..._binding import session as session_api
from ..._binding.constants import SSH_AUTH_PARTIAL, SSH_AUTH_SUCCESS
from ...client.auth import _auth_poller, _kbdint, method_names
from ...client.hostkeys import server_key
from ...client.session import ClientSession, set_option
from ...errors import (
    AuthenticationError,
    ChannelOpenError,
    RequestDeniedError,
    SSHError,
    SSHTimeoutError,
)
from ...loop import Loop
from .channel import Channel, _Chan, channel_exception, open_channel_gen
from ._signer import Signer
from .message import Message
from .pkey import PKey, key_from_pylibssh
from .util import get_logger
from .ssh_exception import (
    AuthenticationException,
    BadAuthenticationType,
    SSHException,
)

__all__ = ["Transport", "SecurityOptions", "ServiceRequestingTransport"]

# what libssh 0.12 offers (MACs and host keys in libssh's order of preference; ciphers and key
# exchange as paramiko orders them); disabled_algorithms is subtracted
_ALGORITHMS = {
    # paramiko's order (AES, 128 bits first), its GCM variants (which paramiko lacks, libssh's
    # fastest) ahead of CTR, and ChaCha20-Poly1305 (which paramiko has not either) after them
    "ciphers": ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr",
                "aes256-ctr", "chacha20-poly1305@openssh.com", "aes128-cbc", "aes192-cbc",
                "aes256-cbc"],
    "macs": ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
             "hmac-sha1-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"],
    # paramiko's key exchanges in paramiko's order: sntrup761 (libssh's first choice when it
    # lacks ML-KEM) is left out, as paramiko has it not
    "kex": ["mlkem768x25519-sha256", "curve25519-sha256",
            "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
            "ecdh-sha2-nistp521", "diffie-hellman-group18-sha512",
            "diffie-hellman-group16-sha512", "diffie-hellman-group-exchange-sha256",
            "diffie-hellman-group14-sha256"],
    "keys": ["ssh-ed25519", "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"],
    "compression": ["none", "zlib@openssh.com", "zlib"],
}

_ids = itertools.count()
_empty_file = None


def _libssh_version() -> str:
    return client_api.libssh_version()


def _no_host_keys_file():
    """An empty known_hosts file for libssh (which orders host-key algorithms by what it finds
    there; this layer checks host keys itself, through HostKeys)."""
    global _empty_file
    if _empty_file is None:
        import atexit
        import tempfile

        fd, _empty_file = tempfile.mkstemp(prefix="pylibssh-compat-", suffix=".known_hosts")
        os.close(fd)
        atexit.register(os.unlink, _empty_file)
    return _empty_file


def _socket_fd(sock) -> int | None:
    """``sock``'s descriptor when it is a real socket (a pipe or nothing: None)."""
    try:
        fd = sock.fileno()
    except (AttributeError, OSError, ValueError, NotImplementedError):
        return None
    if not isinstance(fd, int) or fd < 0:
        return None
    try:
        socket.socket(fileno=os.dup(fd)).detach()
    except OSError:
        return None
    return fd


class _SocketPump:
    """Copies between an object with paramiko's socket methods (``send``, ``recv``,
    ``settimeout``, ``close``) and one end of a socketpair; :attr:`theirs` is the end libssh
    gets. One thread per direction; the object's ``recv`` waits at most 0.1 s at a time (as
    paramiko's packetizer sets it) so :meth:`close` ends the reader."""

    def __init__(self, sock):
        self.sock = sock
        self.ours, self.theirs = socket.socketpair()
        self._stop = threading.Event()
        try:
            sock.settimeout(0.1)
        except (AttributeError, OSError):
            pass
        self._threads = [threading.Thread(target=f, daemon=True, name=f"paramiko-pump-{n}")
                         for n, f in (("in", self._inbound), ("out", self._outbound))]
        for t in self._threads:
            t.start()

    def _inbound(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (OSError, EOFError, SSHException):
                data = b""
            try:
                if not data:
                    self.ours.shutdown(socket.SHUT_WR)
                    return
                self.ours.sendall(data)
            except OSError:
                return

    def _outbound(self):
        while True:
            try:
                data = self.ours.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._stop.set()
                return
            view = memoryview(data)
            while len(view):
                try:
                    n = self.sock.send(view)
                except socket.timeout:
                    continue
                except (OSError, EOFError, SSHException):
                    self._stop.set()
                    return
                if not n:
                    self._stop.set()
                    return
                view = view[n:]

    def close(self):
        self._stop.set()
        try:
            self.ours.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(2)
        self.ours.close()


class SecurityOptions:
    """The algorithms this transport may negotiate, in order of preference: ``ciphers``,
    ``digests``, ``kex``, ``key_types``, ``compression``. Each is a tuple; setting one (a tuple
    or list, before the key exchange) raises TypeError for another type and ValueError for a
    name libssh does not know, as paramiko."""

    def __init__(self, transport):
        self._transport = transport

    def __repr__(self):
        return f"<paramiko.SecurityOptions for {self._transport!r}>"

    def _get(self, kind):
        return tuple(self._transport._algorithms(kind))

    def _set(self, kind, value):
        if isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, tuple):
            raise TypeError("expected tuple or list")
        known = _ALGORITHMS[kind] + _EXTRA.get(kind, [])
        unknown = [n for n in value if n not in known]
        if unknown:
            raise ValueError(f"unknown {_WHAT[kind]}: {', '.join(map(str, unknown))}")
        self._transport._preferred[kind] = list(value)

    _SETTING = (" in order of preference; set a tuple or list (before the key exchange) to"
                " choose. Raises TypeError for another type, ValueError naming unknown ones.")
    ciphers = property(lambda s: s._get("ciphers"), lambda s, v: s._set("ciphers", v),
                       doc="The ciphers" + _SETTING)
    digests = property(lambda s: s._get("macs"), lambda s, v: s._set("macs", v),
                       doc="The MACs" + _SETTING)
    kex = property(lambda s: s._get("kex"), lambda s, v: s._set("kex", v),
                   doc="The key-exchange methods" + _SETTING)
    key_types = property(lambda s: s._get("keys"), lambda s, v: s._set("keys", v),
                         doc="The host-key types" + _SETTING)
    compression = property(lambda s: s._get("compression"),
                           lambda s, v: s._set("compression", v),
                           doc="The compression methods" + _SETTING)


_WHAT = {"ciphers": "cipher", "macs": "digest", "kex": "key exchange", "keys": "key type",
         "compression": "compression"}
# names libssh knows that are not offered by default
_EXTRA = {"kex": ["sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
                  "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1",
                  "diffie-hellman-group-exchange-sha1"],
          "keys": ["ssh-rsa", "rsa-sha2-256-cert-v01@openssh.com",
                   "rsa-sha2-512-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com",
                   "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                   "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                   "ecdsa-sha2-nistp521-cert-v01@openssh.com"]}


def _connect_socket(hostname, port, timeout=None):
    reason = "No suitable address family"
    for family, type_, proto, _, addr in socket.getaddrinfo(hostname, port, socket.AF_UNSPEC,
                                                            socket.SOCK_STREAM):
        sock = socket.socket(family, type_, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
            return sock
        except OSError as e:
            reason = str(e)
            sock.close()
    raise SSHException(f"Unable to connect to {hostname}: {reason}")


def _python_signed(key) -> bool:
    """Whether ``key``'s signatures must come from its own ``sign_ssh_data`` (no private key
    libssh holds, a subclass that overrides signing, or a certificate to offer)."""
    if getattr(key, "public_blob", None) is not None:
        return True
    lkey = getattr(key, "_lkey", None)
    if lkey is None or not lkey.is_private:
        return True
    return type(key).sign_ssh_data is not PKey.sign_ssh_data


class Transport:
    """An SSH transport (one connection) on an existing socket or to ``(host, port)``."""

    # paramiko's class attributes (code builds disabled_algorithms from them): libssh's lists
    _preferred_ciphers = tuple(_ALGORITHMS["ciphers"])
    _preferred_macs = tuple(_ALGORITHMS["macs"])
    _preferred_keys = tuple(_ALGORITHMS["keys"])
    _preferred_pubkeys = tuple(_ALGORITHMS["keys"])
    _preferred_kex = tuple(_ALGORITHMS["kex"])
    _preferred_compression = ("none",)

    def __init__(self, sock, default_window_size=None, default_max_packet_size=None,
                 gss_kex=False, gss_deleg_creds=True, disabled_algorithms=None,
                 server_sig_algs=True, strict_kex=True, packetizer_class=None):
        self.hostname = None
        self.server_key_dict = {}
        if isinstance(sock, str):
            host, _, port = sock.partition(":")
            sock = (host, int(port or 22))
        if isinstance(sock, tuple):
            self.hostname, port = sock[0], sock[1]
            sock = _connect_socket(self.hostname, port)
        self.sock = sock
        self.disabled_algorithms = disabled_algorithms or {}
        self._preferred: dict[str, list[str]] = {}
        self._compress = False
        self._loop = Loop("paramiko-transport")
        self._session = ClientSession(self._loop)
        self._channels: dict[int, Channel] = {}
        self._accepted: list[Channel] = []
        self._forward_handlers: dict[int, object] = {}
        self._incoming_handler = False
        self._server_key = None
        self._username = None
        self._closed = False
        self._active = False
        self.server_mode = False
        self.local_version = f"SSH-2.0-libssh_{_libssh_version()}"
        self.remote_version = ""
        # the algorithms in use, as libssh negotiated them (paramiko's attributes)
        self.local_cipher = self.remote_cipher = ""
        self.local_mac = self.remote_mac = None
        self.host_key_type = None
        self.log_name = "paramiko.transport"
        self.logger = get_logger(self.log_name)
        self.banner_timeout = 15
        self.auth_timeout = 30
        self.channel_timeout = 60 * 60
        self.handshake_timeout = 15
        self.lock = threading.Lock()
        self._helpers = []
        self._server = None  # server mode: a pylibssh Server holding the host keys
        self._server_mode = None  # server mode: the ServerInterface glue (server.py)
        self._subsystem_table = {}
        self.server_object = None

    def __repr__(self):
        state = "active" if self.is_active() else "unconnected"
        return f"<paramiko.Transport at {hex(id(self))} ({state}) (pylibssh)>"

    def _log(self, level, msg):
        if isinstance(msg, list):
            for m in msg:
                self.logger.log(level, m)
        else:
            self.logger.log(level, msg)

    def _negotiated(self, server_side=False):
        """Loop thread or under the lock: read the algorithms libssh negotiated and log them as
        paramiko does."""
        s = self._session._s
        ins, outs = session_api.cipher_in(s), session_api.cipher_out(s)
        self.local_cipher, self.remote_cipher = outs or "", ins or ""
        self.local_mac, self.remote_mac = session_api.hmac_out(s), session_api.hmac_in(s)
        self.host_key_type = session_api.hostkey_algorithm(s)
        if self.host_key_type is None and self._server_key is not None:
            self.host_key_type = self._server_key.get_name()
        kex = session_api.kex_algorithm(s)
        banner = (client_api.client_banner(s) if not server_side
                  else client_api.server_banner(s))
        if banner:
            self.local_version = banner
        compression = "zlib@openssh.com" if self._compress else "none"

        def agreed(which, local, remote):
            return f"{which}: {local}" if local == remote else \
                f"{which}: local={local}, remote={remote}"

        self._log(logging.DEBUG, [
            f"Remote version/idstring: {self.remote_version}",
            "=== Key exchange agreements ===",
            f"Kex: {kex}",
            f"HostKey: {self.host_key_type}",
            agreed("Cipher", self.local_cipher, self.remote_cipher),
            agreed("MAC", self.local_mac, self.remote_mac),
            agreed("Compression", compression, compression),
            "=== End of kex handshake ==="])

    @property
    def active(self):
        """True while the connection is up (settable, as paramiko's attribute)."""
        return self._active and not self._session.closed

    @active.setter
    def active(self, value):
        self._active = value

    # -- algorithms -----------------------------------------------------------------------------

    def _algorithms(self, kind):
        default = _ALGORITHMS[kind]
        if kind == "compression":
            default = ["zlib@openssh.com", "zlib", "none"] if self._compress else ["none"]
        allowed = self._preferred.get(kind, default)
        disabled = set(self.disabled_algorithms.get(kind, ()))
        if kind == "keys":
            disabled |= set(self.disabled_algorithms.get("pubkeys", ()))
        return [a for a in allowed if a not in disabled]

    def get_security_options(self):
        """A :class:`SecurityOptions` to read or set the algorithms (before the key
        exchange)."""
        return SecurityOptions(self)

    def use_compression(self, compress=True):
        """Offer zlib compression first (as paramiko: "none" stays acceptable)."""
        self._compress = compress
        self._preferred.pop("compression", None)

    preferred_ciphers = property(lambda self: tuple(self._algorithms("ciphers")),
                                 doc="The ciphers offered, in order (less the disabled ones).")
    preferred_macs = property(lambda self: tuple(self._algorithms("macs")),
                              doc="The MACs offered, in order (less the disabled ones).")
    preferred_keys = property(lambda self: tuple(self._algorithms("keys")),
                              doc="The host-key types accepted, in order.")
    preferred_pubkeys = property(lambda self: tuple(self._algorithms("keys")),
                                 doc="The public-key types used to authenticate, in order.")
    preferred_kex = property(lambda self: tuple(self._algorithms("kex")),
                             doc="The key-exchange methods offered, in order.")
    preferred_compression = property(lambda self: tuple(self._algorithms("compression")),
                                     doc="The compression methods offered, in order.")

    # -- waiting --------------------------------------------------------------------------------

    def _run(self, gen, what, timeout):
        """Run a task on the session and wait for its result (pylibssh errors propagate)."""
        task = self._session.start_task(gen, what, timeout)
        self._loop.wakeup()
        if not self._loop.wait_for(task.future.done, None if timeout is None else timeout + 5):
            raise SSHTimeoutError(f"{what} timed out")
        return task.future.result()

    # -- connecting -----------------------------------------------------------------------------

    def _socket_for_libssh(self):
        sock = self.sock
        if hasattr(sock, "_pylibssh_socket"):
            return sock._pylibssh_socket()  # ProxyCommand: its socketpair end
        if isinstance(sock, socket.socket):
            return socket.socket(fileno=os.dup(sock.fileno()))
        if isinstance(sock, Channel):
            # a channel of another transport (fabric's gateway): pylibssh's bridge pumps it to
            # a socketpair on that transport's loop, starting with what it already buffered
            from ...bridge import Bridge

            ch = sock._chan
            ours, theirs = socket.socketpair()
            with ch._loop.lock:
                ch.set_mode("bridged", True)
                early = ch._take(False, -1)
                bridge = Bridge(ch, ours)
                if early:
                    bridge._on_data(early, False)
            ch._loop.wakeup()
            self._helpers.append(bridge)
            return theirs
        fd = _socket_fd(sock)
        if fd is not None:
            return socket.socket(fileno=os.dup(fd))
        # any object with send/recv (a ProxyCommand-like object, another library's channel, a
        # test double): pumped to a socketpair by two threads
        if not (hasattr(sock, "send") and hasattr(sock, "recv")):
            raise SSHException(f"cannot run SSH over {type(sock).__name__}: it has no "
                               "send/recv")
        pump = _SocketPump(sock)
        self._helpers.append(pump)
        return pump.theirs

    def start_client(self, event=None, timeout=None):
        """Negotiate the SSH transport (no authentication yet)."""
        if self.active:
            return
        s = self._session._s
        with self._loop.lock:
            if self.hostname:
                set_option(s, "host", self.hostname)
            set_option(s, "nodelay", 1)
            # host keys are checked here (HostKeys), not by libssh: files that do not exist
            set_option(s, "knownhosts", _no_host_keys_file())
            set_option(s, "global_knownhosts", _no_host_keys_file())
            set_option(s, "ciphers_c_s", ",".join(self._algorithms("ciphers")))
            set_option(s, "ciphers_s_c", ",".join(self._algorithms("ciphers")))
            set_option(s, "hmac_c_s", ",".join(self._algorithms("macs")))
            set_option(s, "hmac_s_c", ",".join(self._algorithms("macs")))
            set_option(s, "key_exchange", ",".join(self._algorithms("kex")))
            set_option(s, "hostkeys", ",".join(self._algorithms("keys")))
            compression = self._algorithms("compression")
            set_option(s, "compression_c_s", ",".join(compression))
            set_option(s, "compression_s_c", ",".join(compression))
        sock = self._socket_for_libssh()
        self._loop.start()
        self._log(logging.DEBUG, f"starting thread (client mode): {hex(id(self))}")
        self._log(logging.DEBUG, f"Local version/idstring: {self.local_version}")
        t = timeout if timeout is not None else max(self.banner_timeout or 0, 60)
        try:
            self._run(self._session.connect_gen(sock, None), "key exchange", t)
        except SSHTimeoutError as exc:
            self._log(logging.ERROR, f"Exception (client): Error reading SSH protocol banner"
                                     f" ({exc})")
            self.close()
            raise SSHException(f"Error reading SSH protocol banner: {exc}") from exc
        except SSHError as exc:
            self._log(logging.ERROR, f"Exception (client): {exc}")
            self.close()
            raise SSHException(str(exc)) from exc
        with self._loop.lock:
            self._server_key = key_from_pylibssh(server_key(self._session._s))
            self.remote_version = client_api.server_banner(self._session._s) or ""
            self._negotiated()
        version, _, client = self.remote_version[4:].partition("-")
        self._log(logging.INFO, f"Connected (version {version}, client {client})")
        self.active = True
        if event is not None:
            event.set()

    def connect(self, hostkey=None, username="", password=None, pkey=None, gss_host=None,
                gss_auth=False, gss_kex=False, gss_deleg_creds=True, gss_trust_dns=True):
        """Negotiate, check ``hostkey`` if given, and authenticate with a password or key."""
        self.start_client()
        if hostkey is not None:
            key = self.get_remote_server_key()
            if key.get_name() != hostkey.get_name() or key.asbytes() != hostkey.asbytes():
                raise SSHException("Bad host key from server")
        if pkey is not None or password is not None:
            if password is not None:
                self.auth_password(username, password)
            else:
                self.auth_publickey(username, pkey)

    def get_remote_server_key(self):
        """The server's host key (a ``PKey``). Raises ``SSHException`` before the key exchange or
        once closed."""
        if not self.active or self._server_key is None:
            raise SSHException("No existing session")
        return self._server_key

    # -- server mode (pylibssh.server; the glue is in server.py) ---------------------------------

    def add_server_key(self, key):
        """Add a host key (with its private half) for server mode; one per key type."""
        self.server_key_dict[key.get_name()] = key

    def get_server_key(self):
        """The first host key added (libssh does not say which type the client chose)."""
        return next(iter(self.server_key_dict.values()), None)

    @staticmethod
    def load_server_moduli(filename=None):
        """paramiko loads primes for group-exchange key exchange here; libssh's server reads
        its moduli itself (``/etc/ssh/moduli`` or its built-in groups), so this only says
        whether such a file exists."""
        names = ([filename] if filename else []) + ["/etc/ssh/moduli", "/usr/local/etc/moduli"]
        return any(os.path.isfile(n) for n in names)

    def set_subsystem_handler(self, name, handler, *args, **kwargs):
        """Register ``handler`` (a :class:`~.server.SubsystemHandler` subclass) for subsystem
        ``name``; the default ``check_channel_subsystem_request`` starts it."""
        with self.lock:
            self._subsystem_table[name] = (handler, args, kwargs)

    def _get_subsystem_handler(self, name):
        with self.lock:
            return self._subsystem_table.get(name, (None, [], {}))

    def start_server(self, event=None, server=None):
        """Negotiate as a server on the socket: the key exchange runs on this transport's
        thread; with ``event`` this returns at once and sets it when negotiation ends
        (``is_active()`` tells how), else it waits and raises SSHException on failure."""
        from ...server import Server
        from .server import ServerInterface, ServerTransport

        if self.active or self._server is not None:
            raise SSHException("the transport is already started")
        if server is None:
            server = ServerInterface()
        keys, seen = [], set()
        for key in self.server_key_dict.values():
            if id(key) not in seen:
                seen.add(id(key))
                keys.append(key._lkey)
        if not keys:
            raise SSHException("no host key: call add_server_key() before start_server()")
        self.server_mode = True
        self.server_object = server
        algorithms = {}
        if self.disabled_algorithms:
            algorithms = {"ciphers": self._algorithms("ciphers"),
                          "hmacs": self._algorithms("macs"),
                          "key_exchange": self._algorithms("kex")}
        self._session.close()  # the client session made in __init__ is not used
        # paramiko's limits: 10 failures, no minimum failure time, channels up to the
        # ServerInterface (check_channel_request), no grace time
        self._server = Server(host_keys=keys, loop=self._loop, max_auth_tries=10,
                              login_grace_time=None, max_startups=None, max_sessions=None,
                              max_forward_channels=None, auth_failure_delay=None,
                              auth_methods=["none", "password", "publickey",
                                            "keyboard-interactive"], **algorithms)
        self._server_mode = ServerTransport(self, server)
        sock = self._socket_for_libssh()
        try:
            peer = self.sock.getpeername()
        except (AttributeError, OSError):
            peer = None
        self._loop.start()
        self._log(logging.DEBUG, f"starting thread (server mode): {hex(id(self))}")
        with self._loop.lock:
            session = self._server.accept_socket(sock, peer)
            self._session = session
            self._server_mode.attach(session, event)
            self.active = True  # as paramiko: active while negotiating, until it fails
        if event is not None:
            return
        mode = self._server_mode
        self._loop.wait_for(lambda: mode.kex_done or session.closed,
                            max(self.handshake_timeout or 0, 60))
        if not mode.kex_done:  # (a client may also have come and gone since: not an error)
            self.close()
            raise SSHException("Negotiation failed.")

    def _server_ended(self):
        """Loop thread: the client is gone; free the server and end the loop's thread (calls
        made later drive the loop themselves; close() releases the rest)."""
        if self._server is not None:
            self._server.close()
        self._loop.stop()

    def _kex_finished(self, session):
        """Loop thread: the server session's key exchange is done."""
        self.remote_version = session.client_banner or ""
        self._negotiated(server_side=True)
        version, _, client = self.remote_version[4:].partition("-")
        self._log(logging.INFO, f"Connected (version {version}, client {client})")
        self.active = True

    # -- authentication -------------------------------------------------------------------------

    def _auth_step(self, username, method, fn, setup=None):
        """One authentication request: ``fn()`` the nonblocking libssh call (``setup()`` first,
        under the lock). Returns the methods still needed ([] when authenticated; the list after
        a partial success), raises BadAuthenticationType when the server does not allow
        ``method``, AuthenticationException when it refused, as paramiko."""
        if not self.active:
            raise SSHException("No existing session")
        if self._session.authenticated:
            return []
        self._username = username
        session = self._session
        s = session._s
        u = username.encode()

        def gen():
            if setup is not None:
                setup()
            rc = yield _auth_poller(session, fn)
            if rc == SSH_AUTH_SUCCESS:
                session.authenticated = True
            return rc, list(method_names(client_api.userauth_list(s, u)))

        try:
            rc, allowed = self._run(gen(), "authentication", self.auth_timeout)
        except SSHTimeoutError as exc:
            raise AuthenticationException("Authentication timeout.") from exc
        except AuthenticationError as exc:
            raise AuthenticationException(str(exc)) from exc
        except SSHError as exc:
            raise SSHException(str(exc)) from exc
        return self._auth_result(method, rc, allowed)

    def _auth_result(self, method, rc, allowed):
        if rc == SSH_AUTH_SUCCESS:
            self._log(logging.INFO, f"Authentication ({method}) successful!")
            return []
        if rc == SSH_AUTH_PARTIAL:
            self._log(logging.INFO, "Authentication continues...")
            self._log(logging.DEBUG, f"Methods: {allowed}")
            return allowed
        if method not in allowed:
            self._log(logging.DEBUG, [f"Authentication type ({method}) not permitted.",
                                      f"Allowed methods: {allowed}"])
            raise BadAuthenticationType("Bad authentication type", allowed)
        self._log(logging.INFO, f"Authentication ({method}) failed.")
        err = AuthenticationException("Authentication failed.")
        err.allowed_methods = tuple(allowed)
        raise err

    def auth_none(self, username):
        """Try the ``none`` method; the methods still needed (raises BadAuthenticationType
        listing the allowed ones when the server wants more, as servers do)."""
        u = username.encode()
        s = self._session._s
        return self._auth_step(username, "none", lambda: client_api.userauth_none(s, u))

    def auth_password(self, username, password, event=None, fallback=True):
        """Authenticate with a password; [] or (after a partial success) the methods still
        needed. With ``fallback``, a server that allows only keyboard-interactive gets the
        password as the answer to its one prompt, as paramiko does."""
        self._log(logging.DEBUG, "Attempting password auth...")
        u = username.encode()
        pw = password.encode() if isinstance(password, str) else bytes(password)
        s = self._session._s
        try:
            return self._auth_step(username, "password",
                                   lambda: client_api.userauth_password(s, u, pw))
        except BadAuthenticationType as e:
            if not fallback or "keyboard-interactive" not in e.allowed_types:
                raise

            def handler(title, instructions, fields):
                if len(fields) > 1:
                    raise SSHException("Fallback authentication failed.")
                return [] if not fields else [password]

            try:
                return self.auth_interactive(username, handler)
            except SSHException:
                raise e from None

    def auth_publickey(self, username, key, event=None):
        """Authenticate with ``key``; [] or (after a partial success) the methods still needed.
        libssh signs with keys it holds; a key whose signature is made in Python (an
        ``AgentKey``, a subclass overriding ``sign_ssh_data``) or that carries a certificate
        (``load_certificate``) signs through an in-process agent (:class:`._signer.Signer`)."""
        self._log(logging.DEBUG, "Attempting public-key auth...")
        u = username.encode()
        s = self._session._s
        if not _python_signed(key):
            lkey = key._lkey
            return self._auth_step(username, "publickey",
                                   lambda: client_api.userauth_publickey(s, u, lkey._key))
        signer = Signer(key)

        def setup():
            client_api.set_agent_socket(s, signer.fd)

        try:
            return self._auth_step(username, "publickey",
                                   lambda: client_api.userauth_agent(s, u), setup)
        finally:
            with self._loop.lock:
                if not self._session.closed:
                    client_api.set_agent_socket(s, -1)  # the fd is the signer's to close
            signer.close()

    def auth_interactive(self, username, handler, submethods=""):
        """keyboard-interactive: ``handler(title, instructions, [(prompt, echo)...])`` returns
        the answers, once per round; [] or the methods still needed."""
        session = self._session
        u = username.encode()
        if not self.active:
            raise SSHException("No existing session")
        if session.authenticated:
            return []
        self._username = username

        def gen():
            rc = yield from _kbdint(session, u, handler, None)
            if rc == SSH_AUTH_SUCCESS:
                session.authenticated = True
            return rc, list(method_names(client_api.userauth_list(session._s, u)))

        try:
            rc, allowed = self._run(gen(), "authentication", self.auth_timeout)
        except SSHTimeoutError as exc:
            raise AuthenticationException("Authentication timeout.") from exc
        except AuthenticationError as exc:
            raise AuthenticationException(str(exc)) from exc
        except SSHError as exc:
            raise SSHException(str(exc)) from exc
        return self._auth_result("keyboard-interactive", rc, allowed)

    def auth_interactive_dumb(self, username, handler=None, submethods=""):
        """Keyboard-interactive authentication answered on the terminal (prompts printed, answers
        read with ``input()``), or by ``handler(title, instructions, prompts)`` when given.
        Returns the methods that may continue; raises ``AuthenticationException`` on failure."""
        if not handler:
            def handler(title, instructions, prompt_list):
                answers = []
                if title:
                    print(title.strip())
                if instructions:
                    print(instructions.strip())
                for prompt, show_input in prompt_list:
                    print(prompt.strip(), end=" ")
                    answers.append(input())
                return answers
        return self.auth_interactive(username, handler, submethods)

    def is_authenticated(self):
        """Whether the session is authenticated (server mode: set before the success reply
        leaves, so the client never sees success first)."""
        if self._server_mode is not None:
            return self.is_active() and self._server_mode.authenticated
        return self.is_active() and self._session.authenticated

    def get_username(self):
        """The user name authenticated as (or being tried); None once the transport ended."""
        if not self.active:
            return None
        return self._username

    def get_banner(self):
        """None: libssh gives no access to the server's pre-authentication banner here."""
        return None

    # -- state ----------------------------------------------------------------------------------

    def is_active(self):
        """True while the connection is up."""
        return self.active

    def getpeername(self):
        """The address of the socket's peer (``('unknown', 0)`` when the socket object has none)."""
        gp = getattr(self.sock, "getpeername", None)
        if gp is None:
            return "unknown", 0
        return gp()

    def set_keepalive(self, interval):
        """Send a keepalive every ``interval`` seconds (0: none); as paramiko's, it never ends the
        connection. Not sent in server mode."""
        if self._server_mode is not None:
            return  # server mode: not sent (see docs/compat-paramiko.md)
        # paramiko's keepalive never drops the connection: a huge miss count
        self._session.start_keepalive(float(interval), 1 << 30) if interval else \
            self._session.start_keepalive(0, 0)
        self._loop.wakeup()

    def set_log_channel(self, name):
        """Log to the logger ``name`` (default ``paramiko.transport``); channels and SFTP log
        to names under it."""
        self.log_name = name
        self.logger = get_logger(name)

    def get_log_channel(self):
        """The logger name set with ``set_log_channel`` (default ``paramiko.transport``)."""
        return self.log_name

    def set_hexdump(self, hexdump):
        """Accepted and ignored: packets are not dumped (libssh's log at ``pylibssh._log.PACKET``
        level shows them)."""
        pass

    def get_hexdump(self):
        """False: packets are never dumped here."""
        return False

    def getName(self):
        """The name of the transport's thread (the loop's)."""
        return self._loop.name

    # -- channels -------------------------------------------------------------------------------

    def _register(self, ch):
        chanid = next(_ids)
        channel = Channel(chanid, self, ch)
        self._channels[chanid] = channel
        self._log(logging.DEBUG, f"Secsh channel {chanid} opened.")
        return channel

    def _forget(self, channel):
        self._channels.pop(channel.chanid, None)

    def open_session(self, window_size=None, max_packet_size=None, timeout=None):
        """Open a ``session`` channel (for exec, shell, subsystem). Raises ``ChannelException`` when
        the server refuses, ``SSHException`` on a timeout or a closed transport."""
        return self.open_channel("session", window_size=window_size,
                                 max_packet_size=max_packet_size, timeout=timeout)

    def open_channel(self, kind, dest_addr=None, src_addr=None, window_size=None,
                     max_packet_size=None, timeout=None):
        """Open a channel of ``kind`` (``session``, ``direct-tcpip`` to ``dest_addr`` from
        ``src_addr``; in server mode only ``forwarded-tcpip``), waiting at most ``timeout``
        (default the transport's ``channel_timeout``). Raises ``ChannelException`` with the
        server's reason, ``SSHException`` on a timeout or a closed transport."""
        if not self.is_active():
            raise SSHException("SSH session not active")
        t = timeout if timeout is not None else self.channel_timeout
        if self._server_mode is not None:
            if kind != "forwarded-tcpip":
                raise SSHException(f"opening {kind!r} channels in server mode is not supported "
                                   "by pylibssh.compat.paramiko")
            return self._server_mode.open_forwarded(src_addr, dest_addr, t)
        try:
            ch = self._run(open_channel_gen(self._session, kind, dest_addr, src_addr),
                           f"opening a {kind} channel", t)
        except ChannelOpenError as exc:
            raise channel_exception(exc) from exc
        except SSHTimeoutError as exc:
            raise SSHException("Timeout opening channel.") from exc
        except SSHError as exc:
            raise SSHException(str(exc)) from exc
        return self._register(ch)

    def open_forwarded_tcpip_channel(self, src_addr, dest_addr):
        """Server mode: a ``forwarded-tcpip`` channel to the client, for a connection from
        ``src_addr`` to ``dest_addr`` (an address the client asked to forward)."""
        return self.open_channel("forwarded-tcpip", dest_addr, src_addr)

    def open_sftp_client(self):
        """An :class:`~pylibssh.compat.paramiko.sftp_client.SFTPClient` on a new channel."""
        from .sftp_client import SFTPClient

        return SFTPClient.from_transport(self)

    def global_request(self, kind, data=None, wait=True):
        """Send the global request ``kind`` with ``data`` (a tuple of values, encoded as
        :meth:`Message.add` does). With ``wait``: a :class:`Message` when the server agreed
        (holding the reply's leading uint32, e.g. the port a ``tcpip-forward`` got, when it had
        one: libssh passes on no more of the reply), None when it refused; without, None at
        once. Raises SSHException when the transport is not active."""
        from ...client.forward import raw_global_request_gen

        if not self.is_active():
            raise SSHException("SSH session not active")
        m = Message()
        if data is not None:
            m.add(*data)
        self._log(logging.DEBUG, f'Sending global request "{kind}"')
        gen = raw_global_request_gen(self._session, kind, m.asbytes(), bool(wait),
                                     f"global request {kind!r}")
        try:
            port = self._run(gen, f"global request {kind!r}", 60 if wait else 10)
        except RequestDeniedError:
            self._log(logging.DEBUG, "Global request denied.")
            return None
        except SSHTimeoutError:
            return None
        except SSHError as exc:
            raise SSHException(str(exc)) from exc
        if not wait:
            return None
        self._log(logging.DEBUG, "Global request successful.")
        reply = Message()
        if port is not None and port >= 0:
            reply.add_int(port)
            reply.rewind()
        return reply

    # -- remote port forwarding -----------------------------------------------------------------

    def request_port_forward(self, address, port, handler=None):
        """Ask the server to listen on ``address:port`` (0: any port) and forward connections
        here; returns the bound port. Connections arrive through :meth:`accept`, or go to
        ``handler(channel, (origin_addr, origin_port), (server_addr, server_port))``."""
        if not self.is_active():
            raise SSHException("SSH session not active")
        if not self.is_authenticated():
            # servers ignore it before authentication; paramiko would wait for a reply
            raise SSHException("TCP forwarding request denied: not authenticated")
        s = self._session._s
        bound = client_api.new_bound_port()
        addr = address.encode()

        def gen():
            yield self._session.call(
                lambda: client_api.listen_forward(s, addr, int(port), bound),
                "tcpip-forward")
            result = bound[0] or port
            if handler is not None:  # (on the loop thread, before more of its packets)
                self._forward_handlers[result] = (address, handler)
            return result

        self._take_forwarded_channels()
        try:
            return self._run(gen(), "tcpip-forward", 30)
        except SSHError as exc:
            raise SSHException("TCP forwarding request denied") from exc

    def _dispatch_forward(self, channel, bound_port):
        """Loop thread: a forwarded connection goes to the handler registered for its port
        (on a thread of its own: a handler may use the channel at once), else to
        :meth:`accept`. Each channel goes to exactly one of them."""
        entry = self._forward_handlers.get(bound_port)
        if entry is None:
            self._accepted.append(channel)
            return
        address, handler = entry
        threading.Thread(target=handler, args=(channel, channel.origin_addr,
                                               (address, bound_port)),
                         daemon=True, name="paramiko-forward").start()

    def cancel_port_forward(self, address, port):
        """Ask the server to stop listening on ``address``:``port`` (``cancel-tcpip-forward``);
        failures are ignored, as paramiko."""
        if not self.is_active():
            return
        self._forward_handlers.pop(port, None)
        s = self._session._s
        addr = address.encode()

        def gen():
            rc = yield self._session.call(lambda: client_api.cancel_forward(s, addr, int(port)),
                                          "cancel-tcpip-forward")
            return rc

        try:
            self._run(gen(), "cancel-tcpip-forward", 30)
        except SSHError:
            pass

    def _take_forwarded_channels(self):
        """Where the client session dispatches the channels the server opens (its
        ``_incoming`` handlers), take forwarded-tcpip ones as they come; otherwise
        :meth:`_poll_forwarded` asks libssh for them."""
        incoming = getattr(self._session, "_incoming", None)
        if incoming is not None and not self._incoming_handler:
            self._incoming_handler = True
            with self._loop.lock:
                incoming.add_handler("forwarded-tcpip", self._on_forward_request)

    def _on_forward_request(self, request):
        # loop thread, lock held: accept into a channel of this layer's kind
        c = client_api.accept_channel_open(request._take())
        if c is None:
            return
        channel = self._register(_Chan(self._session, c))
        channel.origin_addr = (request.orig_host, request.orig_port)
        self._dispatch_forward(channel, request.dest_port)
        self._session.kick()

    def _poll_forwarded(self):
        """Under the loop lock: take one forwarded-tcpip channel libssh has queued."""
        if self._session.closed:
            return True
        if self._incoming_handler:
            return bool(self._accepted)
        accepted = client_api.accept_forward(self._session._s)
        if accepted is None:
            return False
        c, dest_port, origin, origin_port = accepted
        channel = self._register(_Chan(self._session, c))
        channel.origin_addr = (origin, origin_port)
        self._dispatch_forward(channel, dest_port)
        self._session.kick()
        return True

    def accept(self, timeout=None):
        """Server mode: the next channel the client opened (and ``check_channel_request``
        allowed), or None after ``timeout`` seconds (None: wait until the connection ends).
        Client mode: the next channel the server opened to us (a forwarded connection)."""
        mode = self._server_mode
        if mode is not None:
            queue = mode.accepted
            self._loop.wait_for(lambda: bool(queue) or self._session.closed, timeout)
            with self._loop.lock:
                return queue.pop(0) if queue else None
        if self._loop.wait_for(lambda: bool(self._accepted) or self._poll_forwarded()
                               or self._session.closed, timeout) and self._accepted:
            return self._accepted.pop(0)
        with self._loop.lock:
            if self._accepted:
                return self._accepted.pop(0)
        return None

    # -- closing --------------------------------------------------------------------------------

    def close(self):
        """Close the connection, its channels and the transport's thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.active = False
        self._session.close()
        loop = self._loop
        if not loop.closed:
            if loop.running:
                loop.wait_for(lambda: not loop._fds, 2.0)
            if self._server is not None:
                self._server.close()
            loop.close()
        for helper in self._helpers:
            try:
                helper.close()
            except Exception:
                pass
        try:
            self.sock.close()
        except Exception:
            pass

    def stop_thread(self):
        """End the transport's thread (and with it the connection), as paramiko's does."""
        self.close()

    def join(self, timeout=None):
        """Nothing to wait for: :meth:`close` has already stopped the transport's thread."""
        pass

    def is_alive(self):
        """As :meth:`is_active` (paramiko's Thread API)."""
        return self.is_active()

    def __del__(self):
        try:
            if not self._closed and not self._loop.closed:
                self.close()
        except Exception:
            pass


class ServiceRequestingTransport(Transport):
    """paramiko's variant that requests the ssh-userauth service explicitly (libssh always
    does): the same as :class:`Transport` here."""
