"""paramiko.auth_strategy: pluggable authentication sources (used by fabric's
``OpenSSHAuthStrategy``), driving this layer's Transport.auth_* methods."""

from __future__ import annotations

from collections import namedtuple

from .ssh_exception import AuthenticationException
from .util import get_logger

__all__ = ["AuthSource", "NoneAuth", "Password", "PrivateKey", "InMemoryPrivateKey",
           "OnDiskPrivateKey", "SourceResult", "AuthResult", "AuthFailure", "AuthStrategy"]


class AuthSource:
    """One way of authenticating; subclasses implement :meth:`authenticate`."""

    def __init__(self, username):
        self.username = username

    def _repr(self, **kwargs):
        pairs = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"{type(self).__name__}({pairs})"

    def __repr__(self):
        return self._repr()

    def authenticate(self, transport):
        """Try this source on ``transport`` for its user; returns the server's list of methods that
        may continue (paramiko's ``auth_*`` result). Subclasses implement it."""
        raise NotImplementedError


class NoneAuth(AuthSource):
    """The ``none`` method: asks the server what it allows, or logs in where nothing is needed."""

    def authenticate(self, transport):
        """Try ``none`` (``Transport.auth_none``)."""
        return transport.auth_none(self.username)


class Password(AuthSource):
    """Password authentication; ``password_getter`` is called when the password is needed."""

    def __init__(self, username, password_getter):
        super().__init__(username=username)
        self.password_getter = password_getter

    def __repr__(self):
        return self._repr(user=self.username)

    def authenticate(self, transport):
        """Try the password the source's getter returns (``Transport.auth_password``)."""
        return transport.auth_password(self.username, self.password_getter())


class PrivateKey(AuthSource):
    """A source that authenticates with a private key (``Transport.auth_publickey``); subclasses say
    where the key comes from."""

    def authenticate(self, transport):
        """Try the key (``Transport.auth_publickey``)."""
        return transport.auth_publickey(self.username, self.pkey)


class InMemoryPrivateKey(PrivateKey):
    """A private key given as a :class:`~pylibssh.compat.paramiko.pkey.PKey` object."""

    def __init__(self, username, pkey):
        super().__init__(username=username)
        self.pkey = pkey

    def __repr__(self):
        from .agent import AgentKey

        rep = super()._repr(pkey=self.pkey)
        if isinstance(self.pkey, AgentKey):
            rep += " [agent]"
        return rep


class OnDiskPrivateKey(PrivateKey):
    """A private key loaded from a file (with the ssh_config or the caller as its origin)."""

    def __init__(self, username, source, path, pkey):
        super().__init__(username=username)
        self.source = source
        if source not in ("ssh-config", "python-config", "implicit-home"):
            raise ValueError("source argument must be one of: "
                             "('ssh-config', 'python-config', 'implicit-home')")
        self.path = path
        self.pkey = pkey

    def __repr__(self):
        return self._repr(key=self.pkey, source=self.source, path=str(self.path))


SourceResult = namedtuple("SourceResult", ["source", "result"])


class AuthResult(list):
    """The outcome of each source an :class:`AuthStrategy` tried."""

    def __init__(self, strategy, *args, **kwargs):
        self.strategy = strategy
        super().__init__(*args, **kwargs)

    def __str__(self):
        return "\n".join(f"{x.source} -> {x.result or 'success'}" for x in self)


class AuthFailure(AuthenticationException):
    """Every source of an AuthStrategy failed; ``result`` says how."""

    def __init__(self, result):
        AuthenticationException.__init__(self)
        self.result = result

    def __str__(self):
        return "\n" + str(self.result)


class AuthStrategy:
    """Yields :class:`AuthSource` objects (``get_sources``) to try in order."""

    def __init__(self, ssh_config):
        self.ssh_config = ssh_config
        self.log = get_logger(__name__.replace("pylibssh.compat.", ""))

    def get_sources(self):
        """The sources to try, in order (subclasses yield them); the base class has none."""
        raise NotImplementedError

    def authenticate(self, transport):
        """Try each source of :meth:`get_sources` on ``transport`` until one logs in; returns the
        :class:`AuthResult`, or raises :class:`AuthFailure` listing every attempt when none did."""
        succeeded = False
        overall_result = AuthResult(strategy=self)
        for source in self.get_sources():
            self.log.debug(f"Trying {source}")
            try:
                # a partial success returns the methods still needed, and ends the strategy
                # as a success (as in paramiko)
                result = source.authenticate(transport)
                succeeded = True
            except Exception as e:
                result = e
                self.log.info(f"Authentication via {source} failed with "
                              f"{e.__class__.__name__}")
            overall_result.append(SourceResult(source, result))
            if succeeded:
                break
        if not succeeded:
            raise AuthFailure(result=overall_result)
        return overall_result
