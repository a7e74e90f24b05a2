"""The algorithms a session negotiated in its key exchange (``client.algorithms``,
``session.algorithms``), as asyncssh's ``get_extra_info`` names them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Algorithms"]


@dataclass(frozen=True)
class Algorithms:
    """The algorithms of a session's current keys, each direction seen from this side: ``send_*``
    protect what this side sends, ``recv_*`` what it receives. A field is None where this build
    cannot tell (the host key and compression need the vendored libssh). With an AEAD cipher
    (``aes128-gcm@openssh.com``, ``chacha20-poly1305@openssh.com``) the MAC is the cipher's own:
    libssh names it ``aead-gcm`` or ``aead-poly1305``."""

    #: the key exchange method, e.g. ``curve25519-sha256``
    kex: str | None
    #: the host key algorithm, e.g. ``ssh-ed25519`` or ``rsa-sha2-512``
    host_key: str | None
    #: the cipher of what this side sends
    send_cipher: str | None
    #: the cipher of what it receives
    recv_cipher: str | None
    #: the MAC of what this side sends
    send_mac: str | None
    #: the MAC of what it receives
    recv_mac: str | None
    #: the compression of what this side sends (``none``, ``zlib@openssh.com``, ``zlib``)
    send_compression: str | None
    #: the compression of what it receives
    recv_compression: str | None
