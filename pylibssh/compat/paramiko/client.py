"""paramiko.SSHClient and the missing-host-key policies.

The connection steps follow paramiko's documented order: TCP connect to each address in turn
(:class:`NoValidConnectionsError` when all are refused), key exchange preferring the host-key type
already known for the host, the host-key check against the system and loaded known_hosts
(the policy decides about unknown hosts), then authentication trying the given key, key files,
the agent, default keys in ``~/.ssh`` and the password.
"""

from __future__ import annotations

import errno
import getpass
import inspect
import logging
import os
import socket
import warnings
from binascii import hexlify

from .hostkeys import HostKeys
from .pkey import PKey
from .ssh_exception import BadHostKeyException, NoValidConnectionsError, SSHException
from .transport import Transport

__all__ = ["SSHClient", "MissingHostKeyPolicy", "AutoAddPolicy", "RejectPolicy",
           "WarningPolicy"]

SSH_PORT = 22


class MissingHostKeyPolicy:
    """Decides what happens when the server's host key is not known: subclass and override
    :meth:`missing_host_key` (raise to refuse, return to accept)."""

    def missing_host_key(self, client, hostname, key):
        """Called for a server key that is not in the host keys: return to accept it, raise to
        refuse (the connection then fails with that exception)."""
        pass


class AutoAddPolicy(MissingHostKeyPolicy):
    """Add the new host key to the client's HostKeys (and save it when a host keys file was
    loaded)."""

    def missing_host_key(self, client, hostname, key):
        """Accept the key and add it to the client's host keys (saved to the file given to
        ``load_host_keys``)."""
        client._host_keys.add(hostname, key.get_name(), key)
        if client._host_keys_filename is not None:
            client.save_host_keys(client._host_keys_filename)


class RejectPolicy(MissingHostKeyPolicy):
    """Refuse unknown hosts (the default)."""

    def missing_host_key(self, client, hostname, key):
        """Refuse the key: raises :class:`~pylibssh.compat.paramiko.ssh_exception.SSHException`."""
        raise SSHException(f"Server {hostname!r} not found in known_hosts")


class WarningPolicy(MissingHostKeyPolicy):
    """Accept unknown hosts with a Python warning."""

    def missing_host_key(self, client, hostname, key):
        """Accept the key for this connection, with a warning on the ``paramiko.client`` logger."""
        warnings.warn("Unknown {} host key for {}: {}".format(
            key.get_name(), hostname, hexlify(key.get_fingerprint())))


# known_hosts stores "ssh-rsa"; the negotiated host-key algorithms are the SHA-2 signatures
_HOSTKEY_ALGS = {"ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256"]}


class SSHClient:
    """A high-level SSH session: connect, run commands, open shells and SFTP."""

    def __init__(self):
        self._system_host_keys = HostKeys()
        self._host_keys = HostKeys()
        self._host_keys_filename = None
        self._log_channel = None
        self._policy = RejectPolicy()
        self._transport = None
        self._agent = None

    # -- host keys ------------------------------------------------------------------------------

    def load_system_host_keys(self, filename=None):
        """Read known_hosts ``filename`` (default ``~/.ssh/known_hosts``, missing allowed) as system
        keys, which are never saved."""
        if filename is None:
            filename = os.path.expanduser("~/.ssh/known_hosts")
            try:
                self._system_host_keys.load(filename)
            except OSError:
                pass
            return
        self._system_host_keys.load(filename)

    def load_host_keys(self, filename):
        """Read known_hosts ``filename``; new keys are saved to it by :class:`AutoAddPolicy`. Raises
        :class:`OSError` when it cannot be read."""
        self._host_keys_filename = filename
        self._host_keys.load(filename)

    def save_host_keys(self, filename):
        """Write the client's host keys to ``filename``."""
        # the file may have changed on disk: merge what it holds now
        if os.path.exists(filename) and filename == self._host_keys_filename:
            self._host_keys.load(filename)
        with open(filename, "w") as f:
            for hostname, keys in self._host_keys.items():
                for keytype, key in keys.items():
                    f.write(f"{hostname} {keytype} {key.get_base64()}\n")

    def get_host_keys(self):
        """The client's own :class:`~pylibssh.compat.paramiko.hostkeys.HostKeys` (what
        ``load_host_keys`` read and new keys added)."""
        return self._host_keys

    def set_log_channel(self, name):
        """Log to the logger ``name`` (default ``paramiko.transport``) from the next connection."""
        self._log_channel = name

    def set_missing_host_key_policy(self, policy):
        """The :class:`MissingHostKeyPolicy` (a class or an instance) for unknown server keys; the
        default is :class:`RejectPolicy`."""
        if inspect.isclass(policy):
            policy = policy()
        self._policy = policy

    # -- connecting -----------------------------------------------------------------------------

    def _families_and_addresses(self, hostname, port):
        guess = True
        addrinfos = socket.getaddrinfo(hostname, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        for (family, socktype, proto, canonname, sockaddr) in addrinfos:
            if socktype == socket.SOCK_STREAM:
                yield family, sockaddr
                guess = False
        if guess:
            for family, _, _, _, sockaddr in addrinfos:
                yield family, sockaddr

    def connect(self, hostname, port=SSH_PORT, username=None, password=None, pkey=None,
                key_filename=None, timeout=None, allow_agent=True, look_for_keys=True,
                compress=False, sock=None, gss_auth=False, gss_kex=False, gss_deleg_creds=True,
                gss_host=None, banner_timeout=None, auth_timeout=None, channel_timeout=None,
                gss_trust_dns=True, passphrase=None, disabled_algorithms=None,
                transport_factory=None, auth_strategy=None):
        """Connect and authenticate (see paramiko's documentation for every argument)."""
        if not sock:
            errors = {}
            to_try = list(self._families_and_addresses(hostname, port))
            for af, addr in to_try:
                try:
                    sock = socket.socket(af, socket.SOCK_STREAM)
                    if timeout is not None:
                        try:
                            sock.settimeout(timeout)
                        except Exception:
                            pass
                    sock.connect(addr)
                    break
                except OSError as e:
                    sock.close()
                    sock = None
                    if e.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH):
                        if addr is to_try[-1][1]:
                            raise
                    errors[addr] = e
            if len(errors) == len(to_try):
                raise NoValidConnectionsError(errors)

        factory = transport_factory or Transport
        t = self._transport = factory(sock, disabled_algorithms=disabled_algorithms)
        t.use_compression(compress=compress)
        if banner_timeout is not None:
            t.banner_timeout = banner_timeout
        if auth_timeout is not None:
            t.auth_timeout = auth_timeout
        if channel_timeout is not None:
            t.channel_timeout = channel_timeout
        t.hostname = hostname

        server_hostkey_name = hostname if port == SSH_PORT else f"[{hostname}]:{port}"
        our_server_keys = self._system_host_keys.get(server_hostkey_name)
        if our_server_keys is None:
            our_server_keys = self._host_keys.get(server_hostkey_name)
        if our_server_keys is not None:
            # negotiate the host-key type we already know, as paramiko (and OpenSSH) do
            keytype = list(our_server_keys.keys())[0]
            first = _HOSTKEY_ALGS.get(keytype, [keytype])
            sec = t.get_security_options()
            sec.key_types = first + [x for x in sec.key_types if x not in first]

        t.start_client(timeout=timeout)
        server_key = t.get_remote_server_key()
        our_key = None
        if our_server_keys is not None:
            our_key = our_server_keys.get(server_key.get_name())
        if our_key is None:
            self._policy.missing_host_key(self, server_hostkey_name, server_key)
            our_key = server_key
        if server_key != our_key:
            raise BadHostKeyException(hostname, server_key, our_key)

        if username is None:
            username = getpass.getuser()
        if key_filename is None:
            key_filenames = []
        elif isinstance(key_filename, (str, os.PathLike)):
            key_filenames = [os.fspath(key_filename)]
        else:
            key_filenames = list(key_filename)

        if auth_strategy is not None:
            return auth_strategy.authenticate(transport=t)
        self._auth(username, password, pkey, key_filenames, allow_agent, look_for_keys,
                   passphrase)

    def _key_from_filepath(self, filename, password):
        """The key at ``filename`` (or, for a ``-cert.pub`` path, beside it), with the
        certificate beside it loaded when there is one, as paramiko's SSHClient does."""
        cert_suffix = "-cert.pub"
        if filename.endswith(cert_suffix):
            key_path, cert_path = filename[: -len(cert_suffix)], filename
        else:
            key_path, cert_path = filename, filename + cert_suffix
        key = PKey.from_private_key_file(key_path, password)
        self._log(logging.DEBUG, f"Trying discovered key {hexlify(key.get_fingerprint())} in "
                                 f"{key_path}")
        if os.path.isfile(cert_path):
            key.load_certificate(cert_path)
            self._log(logging.DEBUG, f"Adding public certificate {cert_path}")
        return key

    def _auth(self, username, password, pkey, key_filenames, allow_agent, look_for_keys,
              passphrase):
        """paramiko's order: the key given, key files, agent keys, ``~/.ssh`` keys, then the
        password; a partial success that asks for a password or keyboard-interactive goes on
        with the password (or prompts on the terminal). The last failure is raised."""
        t = self._transport
        saved_exception = None
        two_factor = set()
        two_factor_types = {"keyboard-interactive", "password"}
        if passphrase is None and password is not None:
            passphrase = password

        def with_key(load) -> bool:
            """Try one key; True when done (authenticated, or the server wants a 2nd factor
            and the other keys are not to be tried)."""
            nonlocal saved_exception, two_factor
            try:
                allowed = set(t.auth_publickey(username, load()))
            except (SSHException, OSError) as e:
                saved_exception = e
                return False
            two_factor = allowed & two_factor_types
            return True

        if pkey is not None:
            self._log(logging.DEBUG, f"Trying SSH key {hexlify(pkey.get_fingerprint())}")
            if with_key(lambda: pkey) and not two_factor:
                return
        if not two_factor:
            for filename in key_filenames:
                if with_key(lambda f=filename: self._key_from_filepath(f, passphrase)):
                    if not two_factor:
                        return
                    break
        if not two_factor and allow_agent:
            from .agent import Agent

            if self._agent is None:
                self._agent = Agent()
            for key in self._agent.get_keys():
                self._log(logging.DEBUG,
                          f"Trying SSH agent key {hexlify(key.get_fingerprint())}")
                if with_key(lambda k=key: k):
                    if not two_factor:
                        return
                    break
        if not two_factor and look_for_keys:
            keyfiles = []
            for name in ("rsa", "ecdsa", "ed25519"):
                for directory in (".ssh", "ssh"):
                    path = os.path.expanduser(f"~/{directory}/id_{name}")
                    if os.path.isfile(path):
                        keyfiles.append(path)
                        if os.path.isfile(path + "-cert.pub"):
                            keyfiles.append(path + "-cert.pub")
            for filename in keyfiles:
                if with_key(lambda f=filename: self._key_from_filepath(f, passphrase)):
                    if not two_factor:
                        return
                    break
        if password is not None:
            try:
                t.auth_password(username, password)
                return
            except SSHException as e:
                saved_exception = e
        elif two_factor:
            try:
                t.auth_interactive_dumb(username)
                return
            except SSHException as e:
                saved_exception = e
        if saved_exception is not None:
            raise saved_exception
        raise SSHException("No authentication methods available")

    def _log(self, level, msg):
        logger = logging.getLogger(self._log_channel or "paramiko.transport")
        logger.log(level, msg)

    # -- using the connection -------------------------------------------------------------------

    def close(self):
        """Close the transport and its channels (idempotent)."""
        if self._transport is None:
            return
        self._transport.close()
        self._transport = None
        if self._agent is not None:
            self._agent.close()
            self._agent = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def exec_command(self, command, bufsize=-1, timeout=None, get_pty=False, environment=None):
        """Run ``command``; its (stdin, stdout, stderr) as file objects."""
        chan = self._transport.open_session(timeout=timeout)
        if get_pty:
            chan.get_pty()
        chan.settimeout(timeout)
        if environment:
            chan.update_environment(environment)
        chan.exec_command(command)
        stdin = chan.makefile_stdin("wb", bufsize)
        stdout = chan.makefile("r", bufsize)
        stderr = chan.makefile_stderr("r", bufsize)
        return stdin, stdout, stderr

    def invoke_shell(self, term="vt100", width=80, height=24, width_pixels=0, height_pixels=0,
                     environment=None):
        """Open a channel with a pseudo-terminal (``term``, default ``vt100``, 80x24 characters) and
        a shell; returns the channel."""
        chan = self._transport.open_session()
        chan.get_pty(term, width, height, width_pixels, height_pixels)
        if environment:
            chan.update_environment(environment)
        chan.invoke_shell()
        return chan

    def open_sftp(self):
        """Open an :class:`~pylibssh.compat.paramiko.sftp_client.SFTPClient` on the connection."""
        return self._transport.open_sftp_client()

    def get_transport(self):
        """The :class:`~pylibssh.compat.paramiko.transport.Transport` once connected, else None."""
        return self._transport
