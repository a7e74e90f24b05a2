"""paramiko.Agent / AgentKey: the keys of a running ssh-agent (``SSH_AUTH_SOCK``), spoken to
with the agent protocol (draft-miller-ssh-agent) directly."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import struct

from .message import Message
from .pkey import PKey, UnknownKeyType
from .ssh_exception import SSHException

log = logging.getLogger("paramiko.agent")

__all__ = ["Agent", "AgentKey", "AgentRequestHandler", "AgentSSH"]

SSH2_AGENTC_REQUEST_IDENTITIES = 11
SSH2_AGENT_IDENTITIES_ANSWER = 12
SSH2_AGENTC_SIGN_REQUEST = 13
SSH2_AGENT_SIGN_RESPONSE = 14
SSH_AGENT_RSA_SHA2_256 = 2
SSH_AGENT_RSA_SHA2_512 = 4


class AgentSSH:
    """paramiko's base of :class:`Agent`: the connection to an ssh-agent and the keys it lists."""

    def __init__(self):
        self._conn = None
        self._keys = ()

    def get_keys(self):
        """The agent's keys, as a tuple of :class:`AgentKey` (empty without an agent)."""
        return self._keys

    def _connect(self, conn):
        self._conn = conn
        ptype, result = self._send_message(bytes([SSH2_AGENTC_REQUEST_IDENTITIES]))
        if ptype != SSH2_AGENT_IDENTITIES_ANSWER:
            raise SSHException("could not get keys from ssh-agent")
        keys = []
        for _ in range(result.get_int()):
            blob = result.get_binary()
            comment = result.get_text()
            keys.append(AgentKey(self, blob, comment))
        self._keys = tuple(keys)

    def _close(self):
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._keys = ()

    def _send_message(self, msg):
        msg = bytes(msg)
        self._conn.sendall(struct.pack(">I", len(msg)) + msg)
        size = struct.unpack(">I", self._read_all(4))[0]
        data = self._read_all(size)
        return data[0], Message(data[1:])

    def _read_all(self, wanted):
        result = b""
        while len(result) < wanted:
            chunk = self._conn.recv(wanted - len(result))
            if not chunk:
                raise SSHException("lost ssh-agent")
            result += chunk
        return result


class Agent(AgentSSH):
    """A connection to the local ssh-agent; :meth:`get_keys` lists its keys (empty when no
    agent runs)."""

    def __init__(self):
        super().__init__()
        path = os.environ.get("SSH_AUTH_SOCK")
        if path:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.connect(path)
            except OSError:
                conn.close()
                return  # paramiko: no agent, no keys
            self._connect(conn)

    def close(self):
        """Close the connection to the agent."""
        self._close()


class AgentKey(PKey):
    """A key held by the agent: public operations through the key it wraps (``inner_key``,
    None for a key type this layer does not read), signatures by the agent."""

    def __init__(self, agent, blob, comment=""):
        self.public_blob = None
        self._crypto = None
        self.agent = agent
        self.blob = blob
        self.comment = comment
        self.name = Message(blob).get_text()
        self.inner_key = None
        try:
            self.inner_key = PKey.from_type_string(key_type=self.name, key_bytes=blob)
        except UnknownKeyType:
            log.debug("Unable to derive inner_key for agent key of type %r", self.name)
        self._lkey = self.inner_key._lkey if self.inner_key is not None else None

    def asbytes(self):
        return self.inner_key.asbytes() if self.inner_key is not None else self.blob

    def get_name(self):
        return self.name

    def get_bits(self):
        """The key's size in bits (0 when the type is unknown here)."""
        return self.inner_key.get_bits() if self.inner_key is not None else 0

    def get_base64(self):
        """The public key as the base64 blob of an ``authorized_keys`` line."""
        return base64.b64encode(self.asbytes()).decode()

    @property
    def fingerprint(self):
        digest = hashlib.sha256(self.asbytes()).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def algorithm_name(self):
        return self.inner_key.algorithm_name if self.inner_key is not None else \
            self.name.replace("ssh-", "").split("-")[0].upper()

    def can_sign(self):
        return True

    def sign_ssh_data(self, data, algorithm=None):
        """The agent's signature of ``data`` (``algorithm``: rsa-sha2-256/512 for RSA keys);
        raises SSHException when the agent refuses."""
        msg = Message()
        msg.add_byte(bytes([SSH2_AGENTC_SIGN_REQUEST]))
        msg.add_string(self.asbytes())
        msg.add_string(data)
        flags = {"rsa-sha2-256": SSH_AGENT_RSA_SHA2_256,
                 "rsa-sha2-512": SSH_AGENT_RSA_SHA2_512}.get(algorithm, 0)
        msg.add_int(flags)
        ptype, result = self.agent._send_message(msg.asbytes())
        if ptype != SSH2_AGENT_SIGN_RESPONSE:
            raise SSHException("key cannot be used for signing")
        return result.get_binary()


class AgentRequestHandler:
    """Agent forwarding is not supported by pylibssh.compat.paramiko."""

    def __init__(self, chanRemote):
        raise SSHException("agent forwarding is not supported by pylibssh.compat.paramiko")
