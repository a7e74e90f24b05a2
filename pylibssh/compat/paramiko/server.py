"""paramiko.server: ``ServerInterface``, ``InteractiveQuery``, ``SubsystemHandler``, and the glue
that runs them on pylibssh's server (:mod:`pylibssh.server`).

``Transport(sock).start_server(server=...)`` hands the socket to a :class:`pylibssh.server.Server`
(``accept_socket``) on the transport's loop, whose thread plays paramiko's transport thread: the
``ServerInterface`` callbacks run there, driven by the session's messages:

* ``auth`` messages -> ``check_auth_none`` / ``check_auth_password`` / ``check_auth_publickey``
  (twice for a key, as in paramiko: for the client's unsigned offer, answered ``pk_ok`` unless
  it returns AUTH_FAILED, then for the signed request, which pylibssh verified first) /
  ``check_auth_interactive`` and ``check_auth_interactive_response`` (an ``InteractiveQuery``
  sends prompts). Failures and partial successes list ``get_allowed_auths(username)``.
* session-channel opens (the session's ``session`` event) -> ``check_channel_request``, and
  ``direct-tcpip`` opens (``tcpip``) -> ``check_channel_direct_tcpip_request``; accepted
  channels wait for :meth:`Transport.accept`.
* channel requests -> ``check_channel_pty_request``, ``..._shell_...``, ``..._exec_...``,
  ``..._env_...``, ``..._window_change_...``, ``..._subsystem_...`` (by default: the handler
  registered with ``set_subsystem_handler``), ``..._x11_...``.
* ``tcpip-forward`` / ``cancel-tcpip-forward`` -> ``check_port_forward_request`` /
  ``cancel_port_forward_request``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading

from ..._binding import messages as _m
from ..._binding.constants import SSH_ERROR, SSH_OK
from ...server.channel import ServerChannel
from ...server.forwarding import ForwardChannel, OutgoingChannel, forwarded_tcpip_opener
from ...server.messages import method_bit
from .channel import Channel, _Chan, channel_exception
from .message import Message
from .common import (
    AUTH_FAILED,
    AUTH_PARTIALLY_SUCCESSFUL,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from .pkey import key_from_pylibssh
from .ssh_exception import SSHException

__all__ = ["ServerInterface", "SubsystemHandler", "InteractiveQuery"]

_log = logging.getLogger("paramiko.transport")


class ServerInterface:
    """paramiko's server-side policy interface, with paramiko's documented defaults (refuse)."""

    def check_channel_request(self, kind, chanid):
        """May the client open a channel of ``kind`` (``session``)? Return OPEN_SUCCEEDED or an
        OPEN_FAILED_* reason. The default refuses (administratively prohibited)."""
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def get_allowed_auths(self, username):
        """The methods offered to ``username``, comma-separated (default ``password``)."""
        return "password"

    def check_auth_none(self, username):
        """Let ``username`` in without credentials? AUTH_SUCCESSFUL, AUTH_PARTIALLY_SUCCESSFUL or
        AUTH_FAILED. The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def check_auth_password(self, username, password):
        """Is ``password`` right for ``username``? The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def check_auth_publickey(self, username, key):
        """May ``key`` log ``username`` in? Called for the client's probe and for its signed
        request; only a request whose signature was verified logs in, so answering for the key
        alone is safe. The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def check_auth_interactive(self, username, submethods):
        """Start keyboard-interactive for ``username``: return an :class:`InteractiveQuery` (its
        prompts go to the client) or AUTH_FAILED. The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def check_auth_interactive_response(self, responses):
        """Judge the answers to the last query (a list of str): AUTH_SUCCESSFUL, AUTH_FAILED, or
        another :class:`InteractiveQuery`. The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def check_auth_gssapi_with_mic(self, username, gss_authenticated=AUTH_FAILED,
                                   cc_file=None):
        """GSSAPI is not supported: never called by this layer. The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def check_auth_gssapi_keyex(self, username, gss_authenticated=AUTH_FAILED, cc_file=None):
        """GSSAPI is not supported: never called by this layer. The default returns AUTH_FAILED."""
        return AUTH_FAILED

    def enable_auth_gssapi(self):
        """False: GSSAPI is not supported."""
        return False

    def check_port_forward_request(self, address, port):
        """May the client have the server listen on ``address``:``port`` (``ssh -R``)? Return the
        port bound (for port 0) or False. The default refuses."""
        return False

    def cancel_port_forward_request(self, address, port):
        """The client cancels a forward it asked for earlier."""
        pass

    def check_global_request(self, kind, msg):
        """Another global request ``kind``: return True/False (or a tuple of values for the reply).
        The default refuses."""
        return False

    def check_channel_pty_request(self, channel, term, width, height, pixelwidth,
                                  pixelheight, modes):
        """May the client have a pseudo-terminal (``term``, size, ``modes`` as sent)? The default
        refuses."""
        return False

    def check_channel_shell_request(self, channel):
        """May the client start a shell on ``channel``? Serve it on another thread after accepting.
        The default refuses."""
        return False

    def check_channel_exec_request(self, channel, command):
        """May the client run ``command`` (bytes) on ``channel``? Serve it on another thread after
        accepting. The default refuses."""
        return False

    def check_channel_subsystem_request(self, channel, name):
        """Start the handler registered with ``Transport.set_subsystem_handler`` for ``name``
        (a :class:`SubsystemHandler` thread); False when there is none."""
        transport = channel.get_transport()
        handler_class, args, kwargs = transport._get_subsystem_handler(name)
        if handler_class is None:
            return False
        handler = handler_class(channel, name, self, *args, **kwargs)
        handler.start()
        return True

    def check_channel_window_change_request(self, channel, width, height, pixelwidth,
                                            pixelheight):
        """The client's terminal has a new size: return True to accept. The default refuses."""
        return False

    def check_channel_x11_request(self, channel, single_connection, auth_protocol,
                                  auth_cookie, screen_number):
        """May the client have X11 forwarding on ``channel``? The default refuses."""
        return False

    def check_channel_forward_agent_request(self, channel):
        """May the client have agent forwarding on ``channel``? The default refuses."""
        return False

    def check_channel_direct_tcpip_request(self, chanid, origin, destination):
        """May the client open a connection from ``origin`` to ``destination`` (``(host, port)``
        pairs, ``ssh -L``)? Return OPEN_SUCCEEDED or an OPEN_FAILED_* reason. The default refuses
        (administratively prohibited)."""
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_env_request(self, channel, name, value):
        """May the client set ``name`` to ``value`` (bytes) for its command? The default refuses."""
        return False

    def get_banner(self):
        """A banner and its language tag to show the client before authentication, or ``(None,
        None)`` (the default: none)."""
        return (None, None)


class InteractiveQuery:
    """A keyboard-interactive query: a name, instructions and prompts (text, echo)."""

    def __init__(self, name="", instructions="", *prompts):
        self.name = name
        self.instructions = instructions
        self.prompts = []
        for x in prompts:
            if isinstance(x, str):
                self.add_prompt(x)
            else:
                self.add_prompt(x[0], x[1])

    def add_prompt(self, prompt, echo=True):
        """Add a prompt; ``echo`` (default True) says whether the client shows the answer as it is
        typed."""
        self.prompts.append((prompt, echo))


class SubsystemHandler(threading.Thread):
    """paramiko's base for subsystem handlers (``SFTPServer``): a thread that runs
    :meth:`start_subsystem` and is made by ``check_channel_subsystem_request``."""

    def __init__(self, channel, name, server):
        threading.Thread.__init__(self, target=self._run)
        self.__channel = channel
        self.__transport = channel.get_transport()
        self.__name = name
        self.__server = server

    def get_server(self):
        """The :class:`ServerInterface` of the transport the subsystem runs on."""
        return self.__server

    def _run(self):
        try:
            self.start_subsystem(self.__name, self.__transport, self.__channel)
        except Exception:
            _log.exception("the %r subsystem handler raised", self.__name)
        try:
            self.finish_subsystem()
        except Exception:
            pass

    def start_subsystem(self, name, transport, channel):
        """Serve the subsystem ``name`` on ``channel`` (runs on the handler's thread); subclasses
        implement it. Returning ends the subsystem."""
        pass

    def finish_subsystem(self):
        """Called once the subsystem has ended: closes the channel."""
        self.__channel.close()


# -- the glue: pylibssh's server session -> ServerInterface -----------------------------------

_ids = itertools.count()


class _ServerChan(_Chan, ServerChannel):
    """A session channel on pylibssh's server with the compat Channel's buffering (what
    ``recv`` reads) and ``select`` pipe; ``compat`` is its :class:`Channel`."""

    compat: Channel | None = None
    subsystem_request = None  # the subsystem request being checked (SFTPServer takes it)


class _ForwardBase(ForwardChannel):
    """A ``direct-tcpip`` ForwardChannel with the constructor the compat chain calls."""

    def __init__(self, session, c_channel):
        super().__init__(session, c_channel, "direct-tcpip", {})


class _DirectChan(_Chan, _ForwardBase):
    """A ``direct-tcpip`` channel the client opened, buffered like the session channels."""

    compat: Channel | None = None


def _accept_direct(msg):
    """``ChannelOpenMessage.accept()`` with the channel made a :class:`_DirectChan`."""
    with msg._loop.lock:
        if not msg._begin_reply():
            return None
        c_channel = _m.open_accept(msg._msg)
        if c_channel is None:
            msg._sent(SSH_ERROR, "accept")
            return None
        ch = _DirectChan(msg.session, c_channel)
        ch.info = msg.info
        msg._sent(SSH_OK, "accept")
        return ch


class _OutBase(OutgoingChannel):
    """An OutgoingChannel with the constructor the compat chain calls (the arguments of the
    open were stored on the channel first)."""

    def __init__(self, session, _c_channel):
        kind, info, callback = self._opening
        super().__init__(session, kind, info, callback)


class _OutChan(_Chan, _OutBase):
    """A channel this server opens to the client (``forwarded-tcpip``), buffered like the
    others; writes wait until the client confirmed it."""

    compat: Channel | None = None

    def __init__(self, session, kind, info, callback):
        self._opening = (kind, info, callback)
        super().__init__(session, None)


def _method_names(text):
    """``get_allowed_auths``' comma-separated text -> the names pylibssh knows (None: none)."""
    names = [n.strip() for n in str(text or "").split(",") if n.strip()]
    known = [n for n in names if method_bit(n)]
    return known or None


def _bytes(text):
    return b"" if text is None else os.fsencode(text)


class ServerTransport:
    """Server mode of a compat :class:`~.transport.Transport`: the pylibssh server session and
    the mapping of its messages onto the ``ServerInterface``. Everything here runs on the
    transport's loop thread, except where noted."""

    def __init__(self, transport, server_object):
        self.transport = transport
        self.server_object = server_object
        self.session = None
        self.kex_done = False
        self.accepted = []  # channels waiting for Transport.accept
        self.banner_sent = False
        self.authenticated = False  # set before the success reply is sent

    # -- setting up (caller's thread, then the loop) ---------------------------------------------

    def attach(self, session, event):
        """Listen to ``session``'s events (authentication, channels, global requests) and answer
        them through the transport's :class:`ServerInterface`; ``event`` is set once the session
        is authenticated or gone."""
        self.session = session

        def on_connection(s):
            if s is not session:
                return
            self.kex_done = True
            s.channel_class = _ServerChan
            s.on("auth", self._on_auth)
            s.on("session", self._on_session_open)
            s.on("tcpip", self._on_direct_tcpip)
            s.on("request", self._on_global_request)
            self.transport._kex_finished(s)
            if event is not None:
                event.set()

        def on_close():
            self.transport.active = False
            if event is not None:
                event.set()
            # as paramiko's transport thread, the loop's ends with the connection
            session.loop.call_soon(self.transport._server_ended)

        session.server.on("connection", on_connection)
        session.on("close", on_close)

    # -- authentication ------------------------------------------------------------------------

    def _on_auth(self, msg):
        si = self.server_object
        if not self.banner_sent:  # paramiko sends get_banner()'s text as auth begins
            self.banner_sent = True
            banner = (si.get_banner() or (None, None))[0]
            if banner:
                msg.session.send_banner(banner)
        user = msg.auth_user or ""
        kind = msg.subtype
        self.transport._username = user  # paramiko: the user of the latest request
        if kind == "none":
            result = si.check_auth_none(user)
        elif kind == "password":
            result = si.check_auth_password(user, msg.auth_password or "")
        elif kind == "publickey":
            if msg.public_key is None or msg.signature_state not in ("none", "valid"):
                result = AUTH_FAILED  # paramiko: "invalid signature"
            else:
                result = si.check_auth_publickey(user, key_from_pylibssh(msg.public_key))
                if msg.is_probe and result != AUTH_FAILED:
                    msg.reply_auth_success()  # pk_ok: the client signs and asks again
                    return
        elif kind == "interactive":
            if msg.kbdint_response:
                result = si.check_auth_interactive_response(list(msg.answers or ()))
            else:
                result = si.check_auth_interactive(user, "")
            if isinstance(result, InteractiveQuery):
                msg.reply_interactive([(p, bool(e)) for p, e in result.prompts],
                                      result.name or "", result.instructions or "")
                return
        else:
            result = si.check_auth_none(user)
        methods = _method_names(si.get_allowed_auths(user))
        method = {"interactive": "keyboard-interactive"}.get(kind, kind)
        if result == AUTH_SUCCESSFUL:
            # set before the reply goes: the client may look at our state as soon as it has it
            self.authenticated = True
            self.transport._log(logging.INFO, f"Auth granted ({method}).")
            msg.reply_auth_success()
        elif result == AUTH_PARTIALLY_SUCCESSFUL:
            self.transport._log(logging.INFO, f"Auth granted ({method}); more needed.")
            msg.reply_partial(methods=methods)
        else:
            self.transport._log(logging.INFO, f"Auth rejected ({method}).")
            msg.reply_default(methods=methods)

    # -- channels ------------------------------------------------------------------------------

    def _on_session_open(self, msg):
        chanid = next(_ids)
        reason = self.server_object.check_channel_request("session", chanid)
        if reason != OPEN_SUCCEEDED:
            msg.reject(int(reason) if reason else OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)
            return
        ch = msg.accept()
        channel = self._register(chanid, ch)
        for event in ("pty", "shell", "exec", "env", "subsystem", "windowchange", "x11"):
            ch.on(event, self._request_handler(channel, event))
        self.accepted.append(channel)

    def _on_direct_tcpip(self, msg):
        chanid = next(_ids)
        origin = (msg.src_ip, msg.src_port)
        reason = self.server_object.check_channel_direct_tcpip_request(
            chanid, origin, (msg.dest_ip, msg.dest_port))
        if reason != OPEN_SUCCEEDED:
            msg.reject(int(reason) if reason else OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)
            return
        ch = _accept_direct(msg)
        if ch is None:
            return
        self.accepted.append(self._register(chanid, ch))

    def open_forwarded(self, src_addr, dest_addr, timeout):
        """Caller's thread: open a ``forwarded-tcpip`` channel to the client for a connection
        from ``src_addr`` to the forwarded ``dest_addr``; the compat Channel once confirmed."""
        session = self.session
        loop = session.loop
        outcome = []
        with loop.lock:
            if session.closed or not session.authenticated:
                raise SSHException("SSH session not active")
            info = {"bound_addr": dest_addr[0], "bound_port": dest_addr[1],
                    "remote_addr": src_addr[0], "remote_port": src_addr[1]}
            ch = _OutChan(session, "forwarded-tcpip", info, lambda err, _ch: outcome.append(err))
            ch._start(forwarded_tcpip_opener(str(dest_addr[0]), int(dest_addr[1]),
                                             str(src_addr[0]), int(src_addr[1])))
        loop.wakeup()
        if not loop.wait_for(lambda: bool(outcome) or session.closed, timeout):
            with loop.lock:
                ch.close()
            raise SSHException("Timeout opening channel.")
        if not outcome or outcome[0] is not None:
            raise channel_exception(outcome[0]) if outcome and outcome[0] else \
                SSHException("SSH session not active")
        return self._register(next(_ids), ch)

    def _register(self, chanid, ch):
        channel = Channel(chanid, self.transport, ch)
        ch.compat = channel
        self.transport._channels[chanid] = channel
        return channel

    def _request_handler(self, channel, event):
        si = self.server_object

        def check(msg):
            if event == "pty":
                ok = si.check_channel_pty_request(
                    channel, _bytes(msg.term), msg.cols, msg.rows, msg.pixel_width,
                    msg.pixel_height, msg.modes_raw or b"")
            elif event == "shell":
                ok = si.check_channel_shell_request(channel)
            elif event == "exec":
                ok = si.check_channel_exec_request(channel, _bytes(msg.exec_command))
            elif event == "env":
                ok = si.check_channel_env_request(channel, _bytes(msg.env_name),
                                                  _bytes(msg.env_value))
            elif event == "windowchange":
                ok = si.check_channel_window_change_request(
                    channel, msg.cols, msg.rows, msg.pixel_width, msg.pixel_height)
            elif event == "x11":
                ok = si.check_channel_x11_request(
                    channel, msg.x11_single_connection, msg.x11_auth_protocol,
                    _bytes(msg.x11_auth_cookie), msg.x11_screen_number)
            else:  # subsystem: an SFTPServer made by the check takes the request over
                ch = channel._chan
                ch.subsystem_request = msg
                try:
                    ok = si.check_channel_subsystem_request(channel, msg.subsystem)
                finally:
                    ch.subsystem_request = None
            if msg.replied:
                return
            if ok:
                msg.reply_success()
            else:
                msg.reply_default()

        return check

    # -- global requests -----------------------------------------------------------------------

    def _on_global_request(self, msg):
        si = self.server_object
        if msg.name == "tcpip-forward":
            port = si.check_port_forward_request(msg.bind_addr, msg.bind_port)
            if port is False or port is None:
                msg.reject()
            else:
                msg.accept(int(port) if not isinstance(port, bool) else msg.bind_port)
        elif msg.name == "cancel-tcpip-forward":
            si.cancel_port_forward_request(msg.bind_addr, msg.bind_port)
            msg.accept()
        elif msg.data is not None:
            # paramiko hands the interface a Message positioned at the request's fields; a
            # tuple answer is encoded into the reply, any other true value accepts
            answer = si.check_global_request(msg.name, Message(msg.data))
            if not answer:
                msg.reject()
            elif isinstance(answer, (tuple, list)):
                reply = Message()
                reply.add(*answer)
                msg.accept(data=reply.asbytes())
            else:
                msg.accept(data=b"")
        else:
            msg.reject()
