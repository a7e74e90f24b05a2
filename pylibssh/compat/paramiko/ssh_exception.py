"""paramiko's exceptions, with paramiko's names, hierarchy and attributes, each also a subclass
of the matching pylibssh error (so ``except pylibssh.errors.SSHError`` catches them too)."""

from __future__ import annotations

import socket

from ...errors import (
    AuthenticationError,
    ChannelOpenError,
    HostKeyChangedError,
    PassphraseRequiredError,
    ProtocolError,
    SSHConnectionError,
    SSHError,
)


class SSHException(SSHError):
    """Exception raised by failures in SSH2 protocol negotiation or logic errors."""

    def __init__(self, *args):
        Exception.__init__(self, *args)
        self.message = str(args[0]) if args else ""
        self.code = None


class AuthenticationException(SSHException, AuthenticationError):
    """Authentication failed for some reason."""

    allowed_methods: tuple = ()


class PasswordRequiredException(AuthenticationException, PassphraseRequiredError):
    """A password (passphrase) is needed to unlock a private key file."""


class BadAuthenticationType(AuthenticationException):
    """The server does not allow the attempted authentication type; ``allowed_types`` lists
    what it allows."""

    allowed_types: list = []

    def __init__(self, explanation, types):
        AuthenticationException.__init__(self, explanation, types)
        self.explanation = explanation
        self.allowed_types = types
        self.allowed_methods = tuple(types)

    def __str__(self):
        return f"{self.explanation}; allowed types: {self.allowed_types!r}"


class PartialAuthentication(AuthenticationException):
    """An internal exception thrown in the case of partial authentication."""

    def __init__(self, types):
        AuthenticationException.__init__(self, types)
        self.allowed_types = types

    def __str__(self):
        return f"Partial authentication; allowed types: {self.allowed_types!r}"


class UnableToAuthenticate(AuthenticationException):
    """paramiko's authentication error for a method that cannot be used (a subclass of
    ``AuthenticationException``)."""


class ChannelException(SSHException, ChannelOpenError):
    """The server refused to open a channel; ``code`` is the SSH reason code."""

    def __init__(self, code, text):
        SSHException.__init__(self, code, text)
        self.code = code
        self.reason = code
        self.text = text

    def __str__(self):
        return f"ChannelException({self.code!r}, {self.text!r})"


class BadHostKeyException(SSHException, HostKeyChangedError):
    """The host key given by the SSH server did not match what we were expecting."""

    def __init__(self, hostname, got_key, expected_key):
        SSHException.__init__(self, hostname, got_key, expected_key)
        self.hostname = hostname
        self.host = hostname
        self.key = got_key
        self.expected_key = expected_key
        self.known_key = expected_key

    def __str__(self):
        msg = "Host key for server '{}' does not match: got '{}', expected '{}'"
        return msg.format(self.hostname, self.key.get_base64(), self.expected_key.get_base64())


class IncompatiblePeer(SSHException, ProtocolError):
    """A disagreement arose regarding an algorithm required for key exchange."""


class ProxyCommandFailure(SSHException, SSHConnectionError):
    """The "ProxyCommand" found in the .ssh/config file returned an error."""

    def __init__(self, command, error):
        SSHException.__init__(self, command, error)
        self.command = command
        self.error = error

    def __str__(self):
        return f'ProxyCommand("{self.command}") returned nonzero exit status: {self.error}'


class NoValidConnectionsError(SSHConnectionError):
    """Multiple connection attempts were made and none succeeded. ``errors`` maps
    ``(address, port)`` to the exception each attempt raised. A ``socket.error`` (OSError)."""

    def __init__(self, errors):
        addrs = sorted(errors.keys())
        body = ", ".join([x[0] for x in addrs[:-1]])
        tail = addrs[-1][0]
        if body:
            msg = "Unable to connect to port {0} on {1} or {2}"
        else:
            msg = "Unable to connect to port {0} on {2}"
        msg = msg.format(addrs[0][1], body, tail)
        OSError.__init__(self, None, msg)
        self.message = msg
        self.code = None
        self.errors = errors

    def __reduce__(self):
        return (self.__class__, (self.errors,))


class CouldNotCanonicalize(SSHException):
    """``CanonicalizeHostname`` found no canonical name while ``CanonicalizeFallbackLocal`` is
    off."""


class ConfigParseError(SSHException):
    """An ssh_config file could not be parsed."""


class MessageOrderError(SSHException):
    """paramiko's error for an out-of-order protocol message (kept for imports; libssh enforces the
    order itself)."""


assert issubclass(NoValidConnectionsError, socket.error)
