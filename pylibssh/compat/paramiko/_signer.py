"""Public-key authentication with a signature made in Python.

libssh signs with keys it holds, or through an ssh-agent (``ssh_userauth_agent``), which it may
be given as a connected socket (``ssh_set_agent_socket``). A :class:`Signer` is such an agent,
in this process: one end of a socketpair served by a thread that lists one identity (the key, or
its certificate) and answers sign requests with the key's ``sign_ssh_data``. So an ``AgentKey``,
a subclass that overrides ``sign_ssh_data`` (a hardware token, a remote signer) and a key with a
certificate (``load_certificate``) authenticate as paramiko lets them.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading

from .message import Message

__all__ = ["Signer"]

log = logging.getLogger("paramiko.transport")

_REQUEST_IDENTITIES = 11
_IDENTITIES_ANSWER = 12
_SIGN_REQUEST = 13
_SIGN_RESPONSE = 14
_FAILURE = 5
# sign-request flags (draft-miller-ssh-agent): RSA signatures with SHA-2
_RSA_SHA2 = {2: "rsa-sha2-256", 4: "rsa-sha2-512"}
_MAX_MESSAGE = 256 * 1024


class Signer:
    """An in-process agent holding ``pkey``: :attr:`fd` is the socket libssh talks to (owned
    by this object); :meth:`close` ends the thread and closes both ends. Signature errors are
    logged and answered with the agent's failure reply (the authentication then fails)."""

    def __init__(self, pkey):
        self.pkey = pkey
        blob = pkey.public_blob.key_blob if getattr(pkey, "public_blob", None) else None
        self.blob = blob or pkey.asbytes()
        self._ours, self._theirs = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="paramiko-signer")
        self._thread.start()

    @property
    def fd(self) -> int:
        return self._theirs.fileno()

    def close(self) -> None:
        try:
            self._ours.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._thread.join(5)
        self._ours.close()
        self._theirs.close()

    # -- the agent ---------------------------------------------------------------------------

    def _read(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self._ours.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self) -> None:
        try:
            while True:
                head = self._read(4)
                if head is None:
                    return
                size = struct.unpack(">I", head)[0]
                if size == 0 or size > _MAX_MESSAGE:
                    return
                body = self._read(size)
                if body is None:
                    return
                reply = self._answer(body[0], Message(body[1:]))
                self._ours.sendall(struct.pack(">I", len(reply)) + reply)
        except OSError:
            return

    def _answer(self, kind: int, msg: Message) -> bytes:
        if kind == _REQUEST_IDENTITIES:
            out = Message()
            out.add_byte(bytes([_IDENTITIES_ANSWER]))
            out.add_int(1)
            out.add_string(self.blob)
            out.add_string(getattr(self.pkey, "comment", None) or "")
            return out.asbytes()
        if kind == _SIGN_REQUEST:
            blob = msg.get_binary()
            data = msg.get_binary()
            flags = msg.get_int()
            if blob != self.blob:
                return bytes([_FAILURE])
            algorithm = _RSA_SHA2.get(flags & 6) if self.pkey.get_name() == "ssh-rsa" else None
            try:
                sig = self.pkey.sign_ssh_data(data, algorithm)
            except Exception:
                log.exception("signing with %r failed", self.pkey)
                return bytes([_FAILURE])
            sig = sig.asbytes() if hasattr(sig, "asbytes") else bytes(sig)
            out = Message()
            out.add_byte(bytes([_SIGN_RESPONSE]))
            out.add_string(sig)
            return out.asbytes()
        return bytes([_FAILURE])
