"""The SSH client: ``pylibssh.connect(host, ...)`` / :class:`Client`.

A :class:`Client` is one authenticated connection. Its blocking methods (``run``, ``exec``,
``shell``, ``sftp``...) take timeouts and wait with ``loop.wait_for``; by default each client has
a private :class:`~pylibssh.loop.Loop` that the calling thread drives while it waits, so clients
used from different threads run in parallel (cffi drops the GIL in libssh). Pass ``loop=`` to
put many clients on one loop and use the ``*_async`` methods (futures) to talk to many hosts from
one thread.
"""

from __future__ import annotations

import errno
import getpass
import logging
import os
import select
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._binding.client import set_option
from .._channel import Channel
from ..errors import HostNotFoundError, SSHConnectionError, SSHConnectionRefusedError
from ..algorithms import Algorithms
from ..keys import Key
from ..loop import Loop, reap_unclosed
from ..timeouts import DEFAULT, Timeout, resolve
from ._task import AGAIN, Task, TaskGen, wait
from .channels import DIRECT_TCPIP, open_channel_gen
from .auth import Credentials, KbdintCallback, KeySource, authenticate
from .forward import _bridge
from .forwarding import ForwardingMixin
from .hostkeys import HostKeyPolicy, normalize_policy, verify_host_key
from .process import (
    Process,
    RunResult,
    command_line,
    open_process,
    open_session_gen,
    run_gen,
    setup_requests,
)
from . import prepared
from .session import ClientSession

if TYPE_CHECKING:
    import pylibssh.client.sftp  # (by its full name: the API reference has three SFTPClients)

    from .forward import _Forward

__all__ = ["Client", "ConnectOptions", "connect", "connect_async"]

log = logging.getLogger("pylibssh.client")

DEFAULT_TIMEOUT = 30.0


@dataclass
class ConnectOptions:
    """Everything :func:`connect` accepts (also what ssh_config resolves to)."""

    host: str
    port: int | None = None
    user: str | None = None
    password: str | None = None
    keys: list[KeySource] = field(default_factory=list)
    passphrase: str | bytes | None = None
    agent: bool = True
    look_for_keys: bool = True
    kbdint: KbdintCallback | None = None
    auth_methods: Sequence[str] | None = None
    known_hosts: str | None = "~/.ssh/known_hosts"
    global_known_hosts: str | None = "/etc/ssh/ssh_known_hosts"
    host_key_policy: HostKeyPolicy = "strict"
    host_key_alias: str | None = None
    ciphers: str | Sequence[str] | None = None
    kex: str | Sequence[str] | None = None
    host_key_algorithms: str | Sequence[str] | None = None
    macs: str | Sequence[str] | None = None
    compression: bool = False
    timeout: float | None = DEFAULT_TIMEOUT      # connect + authenticate
    op_timeout: float | None = None              # default for later calls (None: none)
    keepalive_interval: float = 0.0
    keepalive_count_max: int = 3
    sock: Any = None                             # a connected socket, or a Channel
    proxy_command: str | None = None
    proxy_jump: str | Sequence[str] | None = None
    config: str | None = "~/.ssh/config"         # ssh_config file; None: none
    rekey_data: int | None = None


#: the cipher order when none is asked for, on CPUs with AES instructions (as Go's x/crypto/ssh
#: orders them there): libssh's AES-GCM runs on those through OpenSSL and beats its
#: ChaCha20-Poly1305, which sets up a cipher and a MAC key per packet
AES_FIRST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                     "chacha20-poly1305@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr")
_aes_hw: bool | None = None


def cpu_has_aes() -> bool:
    """Whether the CPU has AES instructions (x86 AES-NI, the ARMv8 crypto extension)."""
    global _aes_hw
    if _aes_hw is None:
        try:
            with open("/proc/cpuinfo") as f:
                _aes_hw = any(line.startswith(("flags", "Features")) and " aes" in line
                              for line in f)
        except OSError:  # not Linux: macOS on arm64 always has them; elsewhere keep libssh's
            import platform
            _aes_hw = platform.machine() in ("arm64", "aarch64")
    return _aes_hw


def _alg_list(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _option_values(o: ConnectOptions) -> list[tuple[str, Any]]:
    """The libssh options of a connection with ``o`` ((name, value) pairs of ``set_option``),
    the rekey limit aside (see :mod:`.prepared`)."""
    user_file = os.path.expanduser(o.known_hosts) if o.known_hosts else "/dev/null"
    glob = os.path.expanduser(o.global_known_hosts or "")
    values: list[tuple[str, Any]] = [
        ("host", o.host_key_alias or o.host),
        ("port", o.port or 22),
        ("user", o.user),
        ("nodelay", 1),
        ("knownhosts", user_file),
        # libssh always reads a global file and warns about a missing one: without one,
        # /dev/null, which it reads as no file without a warning (patch 0023); not the user's
        # file again, which a long known_hosts would cost a second parse per connection
        ("global_knownhosts", glob if glob and os.path.exists(glob) else "/dev/null"),
    ]
    ciphers = o.ciphers or (AES_FIRST_CIPHERS if cpu_has_aes() else None)
    if ciphers:
        values += [("ciphers_c_s", _alg_list(ciphers)), ("ciphers_s_c", _alg_list(ciphers))]
    if o.macs:
        values += [("hmac_c_s", _alg_list(o.macs)), ("hmac_s_c", _alg_list(o.macs))]
    if o.kex:
        values.append(("key_exchange", _alg_list(o.kex)))
    if o.host_key_algorithms:
        values.append(("hostkeys", _alg_list(o.host_key_algorithms)))
    values.append(("compression", "yes" if o.compression else "no"))
    return values


def _resolve(host: str, port: int
             ) -> Sequence[tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostNotFoundError(f"cannot resolve {host!r}: {exc.strerror}") from None


def _writable_now(fd: int) -> bool:
    """Whether ``fd`` is writable (a nonblocking connect has ended), without waiting. poll, not
    select: select() cannot take descriptors past FD_SETSIZE (1024), which a process serving
    many connections has."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return bool(poller.poll(0))


def _tcp_connect_gen(session: ClientSession, host: str, port: int) -> TaskGen:
    """A nonblocking TCP connect to each address of ``host`` in turn; the connected socket."""
    last: Exception | None = None
    for family, type_, proto, _, addr in _resolve(host, port):
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            last = OSError(err, os.strerror(err))
            continue
        fd = sock.fileno()
        if err != 0 and not _writable_now(fd):
            # (on loopback the connect has usually ended already: no writer to add and remove)
            loop = session._loop

            def writable(fd: int = fd) -> Any:
                return True if _writable_now(fd) else AGAIN

            loop.add_writer(fd, session._poke_tasks)  # (the connect's end pokes this task)
            try:
                yield writable
            except BaseException:
                loop.remove_fd(fd)
                sock.close()
                raise
            loop.remove_fd(fd)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            return sock
        sock.close()
        last = OSError(err, os.strerror(err))
    if isinstance(last, OSError) and last.errno == errno.ECONNREFUSED:
        raise SSHConnectionRefusedError(f"connection to {host} port {port} refused")
    raise SSHConnectionError(f"cannot connect to {host} port {port}: {last}")


class _ProxyCommand:
    """``ProxyCommand``: the command's stdin/stdout are the session's socket."""

    def __init__(self, command: str, host: str, port: int, user: str):
        command = (command.replace("%h", host).replace("%p", str(port))
                   .replace("%r", user).replace("%%", "%"))
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(command, shell=True, stdin=theirs.fileno(),
                                     stdout=theirs.fileno(), start_new_session=True)
        theirs.close()
        self.sock = ours

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(2)


class Client(ForwardingMixin):
    """An authenticated SSH connection. Create with :func:`connect` (blocking) or
    :func:`connect_async` (a future, for many connections from one thread).

    Close it (``close()``, or ``with``). One collected without ``close()`` says so with a
    ``ResourceWarning`` and its connection, forwards and own loop are freed by its loop (see
    :meth:`Loop._reap <pylibssh.loop.Loop._reap>`), as asyncio frees a transport."""

    def __init__(self, session: ClientSession, options: ConnectOptions, own_loop: bool,
                 helpers: list[Any]):
        self._session = session
        self._loop: Loop = session._loop
        self.options = options
        self._own_loop = own_loop
        self._helpers = helpers  # proxies and jump clients that live as long as this one
        self.timeout = options.op_timeout
        self._forwards: list[_Forward] = []  # listeners and remote forwards (forwarding.py)
        self._close_called = False
        # their collection is this client's: its warning names them
        session._owned = True
        if own_loop:
            self._loop._owned = True

    # -- running commands -------------------------------------------------------------------------

    def _t(self, timeout: Timeout) -> float | None:
        return resolve(timeout, self.timeout)

    def run_async(self, command: str | list[str], *, input: bytes | str | None = None,
                  env: Mapping[str, str] | None = None, pty: bool = False,
                  timeout: float | None = None) -> Future[RunResult]:
        """Start ``command``; the future's result is a :class:`RunResult`."""
        cmd = command_line(command)
        data = input.encode() if isinstance(input, str) else input
        return self._session.start_task(run_gen(self._session, cmd, data, env, pty),
                                        f"running {cmd!r}", timeout).future

    def run(self, command: str | list[str], *, input: bytes | str | None = None,
            env: Mapping[str, str] | None = None, pty: bool = False, timeout: Timeout = DEFAULT,
            check: bool = False) -> RunResult:
        """Run ``command`` to completion: its stdout, stderr, exit status and exit signal.
        Output of any size is collected without deadlock."""
        t = self._t(timeout)
        future = self.run_async(command, input=input, env=env, pty=pty, timeout=t)
        result: RunResult = wait(self._loop, future, None if t is None else t + 5,
                                 f"running {command!r}")
        return result.check() if check else result

    def exec(self, command: str | list[str], *, env: Mapping[str, str] | None = None,
             pty: bool = False, term: str = "xterm", cols: int = 80, rows: int = 24,
             timeout: Timeout = DEFAULT) -> Process:
        """Start ``command`` and return a streaming :class:`Process`."""
        cmd = command_line(command)
        gen = open_session_gen(self._session, setup_requests(
            cmd, env=env, pty=pty, term=term, cols=cols, rows=rows))
        return open_process(self._session, gen, cmd, self._t(timeout))

    def shell(self, *, term: str = "xterm", cols: int = 80, rows: int = 24,
              env: Mapping[str, str] | None = None, pty: bool = True,
              timeout: Timeout = DEFAULT) -> Process:
        """An interactive shell, on a pseudo-terminal unless ``pty=False``."""
        gen = open_session_gen(self._session, setup_requests(
            None, env=env, pty=pty, term=term, cols=cols, rows=rows, shell=True))
        return open_process(self._session, gen, None, self._t(timeout))

    def subsystem(self, name: str, *, timeout: Timeout = DEFAULT) -> Process:
        """Start a subsystem ("sftp", "netconf"...) and return its :class:`Process`."""
        gen = open_session_gen(self._session, setup_requests(None, subsystem=name))
        return open_process(self._session, gen, None, self._t(timeout))

    def sftp(self, timeout: Timeout = DEFAULT) -> pylibssh.client.sftp.SFTPClient:
        """An :class:`~pylibssh.client.sftp.SFTPClient` on this connection."""
        from .sftp import SFTPClient  # (on first use: most programs never import it)
        return SFTPClient(self, self._t(timeout))

    # the same machinery as SFTPClient.put_many/get_many, on an SFTP session of their own that
    # closes when they end: one thread moves files to and from many hosts on one loop, as
    # run_async runs commands
    def sftp_put_many_async(self, pairs: Sequence[tuple[Any, Any]], *, in_flight: int = 64,
                            timeout: float | None = None) -> Future[int]:
        """Upload (local, remote) ``pairs`` like :meth:`SFTPClient.put_many
        <pylibssh.client.sftp.SFTPClient.put_many>`, without blocking: the future's result is
        the bytes sent, or the first error once every file has had its turn. ``timeout``:
        seconds each request may wait for its reply (None: the SFTP default, 60 s)."""
        from .sftp_engine import transfer_many
        return transfer_many(self._session, pairs, True, in_flight, timeout)

    def sftp_get_many_async(self, pairs: Sequence[tuple[Any, Any]], *, in_flight: int = 64,
                            timeout: float | None = None) -> Future[int]:
        """Download (remote, local) ``pairs``; like :meth:`sftp_put_many_async`."""
        from .sftp_engine import transfer_many
        return transfer_many(self._session, pairs, False, in_flight, timeout)

    def open_channel_to(self, host: str, port: int, timeout: Timeout = DEFAULT) -> Channel:
        """A direct-tcpip channel from the server to ``host:port`` (what ProxyJump uses). It is
        returned paused, so nothing is lost before a listener is attached: call ``resume()``.
        Raises :class:`~pylibssh.errors.SSHError` when the server refuses."""
        return _open_channel_to(self, host, port, timeout)

    # -- state ------------------------------------------------------------------------------------

    @property
    def session(self) -> ClientSession:
        """The engine session under this client."""
        return self._session

    @property
    def loop(self) -> Loop:
        """The loop that drives the connection."""
        return self._loop

    @property
    def host_key(self) -> Key | None:
        """The server's host key (None when it was not received)."""
        return self._session.host_key

    @property
    def algorithms(self) -> Algorithms | None:
        """The algorithms negotiated with the server (key exchange, host key, and cipher, MAC
        and compression each way): a :class:`~pylibssh.algorithms.Algorithms`, None once
        closed."""
        return self._session.algorithms

    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self._session.closed

    @property
    def is_active(self) -> bool:
        """Whether the connection is open (``not closed``, as paramiko names it)."""
        return not self._session.closed

    def close(self) -> None:
        """Disconnect (idempotent)."""
        self._close_called = True
        self._close_forwards()
        session = self._session
        session.close()
        if self._own_loop and not self._loop.closed:
            # let the lingering close finish (the server answers the DISCONNECT with FIN)
            if not self._loop.running:
                self._loop.run_until(lambda: not self._loop._fds, 2.0)
            elif not self._loop.in_loop_thread():
                self._loop.wait_for(lambda: not self._loop._fds, 2.0)  # forwarding's thread
            self._loop.close()
        for helper in self._helpers:
            helper.close()
        self._helpers = []

    def __del__(self) -> None:
        if not getattr(self, "_close_called", True):
            self._close_called = True
            reap_unclosed(self, self._loop, self._collected)

    def _collected(self) -> None:
        """Free what a client collected without close() holds (its loop's reaper runs it, with
        the loop's lock held): forwards, the connection (no DISCONNECT: nothing waits for a
        lingering close), helpers, and its own loop."""
        try:
            self._close_forwards()
        finally:
            self._session._teardown(send_disconnect=False)
            for helper in self._helpers:
                try:
                    if isinstance(helper, Client):  # a jump host's connection: ours to free
                        helper._close_called = True
                        helper._collected()
                    else:
                        helper.close()
                except Exception:
                    log.exception("freeing %r", helper)
            self._helpers = []
            if self._own_loop:
                self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        o = self.options
        state = "closed" if self.closed else "open"
        return f"<pylibssh.Client {o.user}@{o.host}:{o.port} {state}>"


def _finish_options(o: ConnectOptions) -> ConnectOptions:
    # a copy of the caller's options, its key list too (dataclasses.replace, which calls
    # __init__ with every field, cost five times as much per connection)
    copied = object.__new__(type(o))
    copied.__dict__.update(o.__dict__)
    o = copied
    o.keys = list(o.keys)
    if o.config:
        from .config import apply_config
        o = apply_config(o)
    if o.port is None:
        o.port = 22
    if o.user is None:
        o.user = getpass.getuser()
    o.host_key_policy = normalize_policy(o.host_key_policy)
    return o


def _connect_gen(session: ClientSession, o: ConnectOptions, helpers: list[Any]) -> TaskGen:
    sock = o.sock
    if isinstance(sock, Channel):
        # the session's socket is one end of a socketpair whose other end the shared bridge
        # pumps to the channel (opened paused: the server's banner waits for it)
        ours, theirs = socket.socketpair()
        bridge = _bridge(sock, ours)
        helpers.append(_Closer(bridge.close))
        sock = theirs
    elif sock is None and o.proxy_command:
        proxy = _ProxyCommand(o.proxy_command, o.host, o.port or 22, o.user or "")
        helpers.append(proxy)
        sock = proxy.sock
    elif sock is None:
        sock = yield from _tcp_connect_gen(session, o.host, o.port or 22)
    else:
        sock = socket.socket(fileno=os.dup(sock.fileno()))

    def after() -> TaskGen:
        session.host_key = verify_host_key(
            session._s, o.host_key_alias or o.host, o.port or 22, o.host_key_policy,
            os.path.expanduser(o.known_hosts) if o.known_hosts else None,
            os.path.expanduser(o.global_known_hosts) if o.global_known_hosts else None)
        creds = Credentials(o.password, o.keys, o.passphrase, o.agent, o.look_for_keys,
                            o.kbdint, o.auth_methods)
        assert o.user is not None  # (_finish_options set it)
        yield from authenticate(session, o.user, creds)
        if o.keepalive_interval:
            session.start_keepalive(o.keepalive_interval, o.keepalive_count_max)
        return session

    try:
        result = yield from session.connect_gen(sock, after)
    except BaseException:
        for helper in helpers:
            helper.close()
        raise
    return result


class _Closer:
    def __init__(self, fn: Callable[[], Any]):
        self.close = fn


def _begin(given: ConnectOptions, o: ConnectOptions, loop: Loop | None, future: Any = None
           ) -> tuple[Task, ConnectOptions, ClientSession, list[Any], bool]:
    """Start connecting with ``o`` (the caller's ``given`` options through
    :func:`_finish_options`) on ``loop`` (None: a loop of its own): the connecting task (its
    result is the session; it completes ``future`` when one is given, see :class:`Task`), the
    options it uses, the session, the helpers (proxies, jump connections) and whether the loop
    is the client's own."""
    helpers: list[Any] = []
    if o.proxy_jump and o.sock is None and not o.proxy_command:
        jump_client, channel = _open_jump(given, o, loop)
        helpers.append(jump_client)
        o = replace(o, sock=channel)
        loop = jump_client._loop  # the jump connection's channel lives on that loop
    own = loop is None
    the_loop = loop or Loop("pylibssh-client")
    try:
        session = ClientSession(the_loop, prepared.new_session(_option_values(o)))
        if o.rekey_data:
            try:
                with the_loop.lock:
                    set_option(session._s, "rekey_data", o.rekey_data)
            except BaseException:
                session.close()
                raise
    except BaseException:
        if own:
            the_loop.close()
        raise
    task = session.start_task(_connect_gen(session, o, helpers),
                              f"connecting to {o.host}:{o.port}", o.timeout, future)
    return task, o, session, helpers, own


def _start(options: ConnectOptions, loop: Loop | None
           ) -> tuple[Future[Client], ClientSession, list[Any], bool]:
    task, o, session, helpers, own = _begin(options, _finish_options(options), loop)
    the_loop = session._loop
    outer: Future[Client] = Future()

    def done(f: Future[Any]) -> None:
        if f.exception() is not None:
            if own and not the_loop.running:
                pass  # closed by the waiter
            outer.set_exception(f.exception())
        else:
            outer.set_result(Client(session, o, own, helpers))

    task.future.add_done_callback(done)
    return outer, session, helpers, own


def jump_hops(given: ConnectOptions, proxy_jump: str | Sequence[str] | None
              ) -> list[ConnectOptions]:
    """The options of each ProxyJump hop (``[user@]host[:port]``, ``[v6]:port``; a comma list or
    a sequence; ``none`` skipped; None: no hop), in order: the caller's ``given`` options with
    the hop's host, port and user, and nothing that belongs to the target (its proxy, socket,
    password, host key alias)."""
    hops = proxy_jump.split(",") if isinstance(proxy_jump, str) else proxy_jump or ()
    out = []
    for hop in (h.strip() for h in hops):
        if not hop or hop.lower() == "none":
            continue
        user, _, hostport = hop.rpartition("@")
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else None
        elif hostport.count(":") == 1:
            host, p = hostport.split(":")
            port = int(p)
        out.append(replace(given, host=host, port=port, user=user or None, proxy_jump=None,
                           proxy_command=None, sock=None, password=None, host_key_alias=None))
    return out


def _open_jump(given: ConnectOptions, o: ConnectOptions, loop: Loop | None
               ) -> tuple[Client, Channel]:
    """Connect through the ProxyJump hosts (``[user@]host[:port]`` comma list), returning the
    last jump client and a direct-tcpip channel from it to the target. Each hop gets the
    caller's own options (not the target's config), with its own ssh_config entry applied."""
    client: Client | None = None
    for hop_opts in jump_hops(given, o.proxy_jump):
        hop_opts = _finish_options(hop_opts)
        hop_opts.proxy_jump = None  # the chain is driven from here, hop by hop
        if client is not None:
            hop_opts.sock = client.open_channel_to(hop_opts.host, hop_opts.port or 22)
            hop_client = connect(options=hop_opts, loop=client._loop)
            hop_client._helpers.append(client)
            client = hop_client
        else:
            client = connect(options=hop_opts, loop=loop)
    assert client is not None
    return client, client.open_channel_to(o.host, o.port or 22)


def _open_channel_to(self: Client, host: str, port: int, timeout: Timeout = DEFAULT) -> Channel:
    """A direct-tcpip channel from the server to ``host:port`` (what ProxyJump uses). It is
    returned paused, so nothing is lost before a listener is attached: call ``resume()``."""
    session = self._session
    t = self._t(timeout) or DEFAULT_TIMEOUT
    task = session.start_task(
        open_channel_gen(session, DIRECT_TCPIP, (host, port), paused=True),
        f"channel to {host}:{port}", t)
    channel: Channel = wait(self._loop, task.future, t + 5, "opening the channel")
    return channel


def connect(host: str | None = None, port: int | None = None, user: str | None = None, *,
            options: ConnectOptions | None = None, loop: Loop | None = None,
            **kwargs: Any) -> Client:
    """Connect, verify the host key and authenticate; a :class:`Client` or an exception
    (:class:`HostNotFoundError`, :class:`SSHConnectionRefusedError`, :class:`SSHTimeoutError`,
    :class:`HostKeyError` subclasses, :class:`AuthenticationError`...)."""
    if options is None:
        if host is None:
            raise TypeError("connect() needs a host")
        options = ConnectOptions(host, port, user, **kwargs)
    future, session, helpers, own = _start(options, loop)
    t = options.timeout
    try:
        return wait(session._loop, future, None if t is None else t + 5,
                    f"connecting to {options.host}")
    except BaseException:
        session.close()
        for helper in helpers:
            helper.close()
        if own and not session._loop.closed:
            if not session._loop.running:
                session._loop.run_until(lambda: not session._loop._fds, 1.0)
            session._loop.close()
        raise


def connect_async(host: str, port: int | None = None, user: str | None = None, *,
                  loop: Loop, **kwargs: Any) -> Future[Client]:
    """Start connecting on ``loop`` (which the caller runs, e.g. ``loop.run_until``); the
    future's result is a :class:`Client`."""
    options = ConnectOptions(host, port, user, **kwargs)
    future, _, _, _ = _start(options, loop)
    return future

