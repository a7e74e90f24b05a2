"""libssh's key calls (``ssh_pki_*``, ``ssh_key_*``): generate, import, export, compare.

A key is an opaque ``ssh_key`` (:data:`~pylibssh._binding.CData`); :func:`own` ties one to its
Python owner's lifetime. Imports and exports return None when libssh refuses the data, so that
:class:`pylibssh.keys.Key` says why in its own words (a wrong passphrase, a corrupt key...).
"""

from __future__ import annotations

from . import NULL, CData, ffi, lib, take_string
from .constants import SSH_KEY_CMP_PUBLIC, SSH_OK, SSH_PKI_OPTION_RSA_KEY_SIZE


def own(key: CData) -> CData:
    """``key`` freed with ssh_key_free once the returned handle is no longer referenced."""
    return ffi.gc(key, lib.ssh_key_free)


def type_name(key_type: int) -> str:
    """The SSH name of a key type (``ssh-ed25519``, ``ecdsa-sha2-nistp256``...)."""
    return ffi.string(lib.ssh_key_type_to_char(key_type)).decode()


def type_from_name(name: str) -> int:
    """The key type (SSH_KEYTYPE_*) of an SSH name; SSH_KEYTYPE_UNKNOWN for one libssh does not
    know."""
    key_type: int = lib.ssh_key_type_from_name(name.encode())
    return key_type


def key_type(key: CData) -> int:
    """The key's type (SSH_KEYTYPE_*)."""
    value: int = lib.ssh_key_type(key)
    return value


def is_private(key: CData) -> bool:
    """Whether the key holds its private part."""
    return bool(lib.ssh_key_is_private(key))


def generate(key_type: int, rsa_bits: int | None = None) -> CData | None:
    """A new key pair of ``key_type`` (``rsa_bits`` for RSA); None when libssh cannot generate
    it. Raises ValueError when libssh refuses the RSA size, MemoryError without memory."""
    ctx = ffi.gc(lib.ssh_pki_ctx_new(), lib.ssh_pki_ctx_free)
    if ctx == NULL:
        raise MemoryError("ssh_pki_ctx_new failed")
    if rsa_bits is not None:
        size = ffi.new("int *", rsa_bits)
        if lib.ssh_pki_ctx_options_set(ctx, SSH_PKI_OPTION_RSA_KEY_SIZE, size) != 0:
            raise ValueError(f"libssh refused an RSA key size of {rsa_bits}")
    out = ffi.new("ssh_key *")
    if lib.ssh_pki_generate_key(key_type, ctx, out) != SSH_OK:
        return None
    return out[0]


def import_private(text: bytes, passphrase: bytes) -> CData | None:
    """The private key in ``text`` (OpenSSH or PEM), decrypted with ``passphrase`` (b"" for
    none: libssh never prompts then); None when libssh cannot read it."""
    out = ffi.new("ssh_key *")
    if lib.ssh_pki_import_privkey_base64(text, passphrase, NULL, NULL, out) != SSH_OK:
        return None
    return out[0]


def import_public(base64: str, key_type: int, certificate: bool) -> CData | None:
    """The public key (or ``certificate``) of ``key_type`` in ``base64``; None when libssh
    cannot read it."""
    out = ffi.new("ssh_key *")
    if certificate:
        rc = lib.ssh_pki_import_cert_base64(base64.encode(), key_type, out)
    else:
        rc = lib.ssh_pki_import_pubkey_base64(base64.encode(), key_type, out)
    return out[0] if rc == SSH_OK else None


def export_public_base64(key: CData) -> str | None:
    """The public key's base64 blob; None when libssh cannot export it."""
    out = ffi.new("char **")
    if lib.ssh_pki_export_pubkey_base64(key, out) != SSH_OK:
        return None
    return take_string(out[0]) or ""


def export_public(key: CData) -> CData | None:
    """The public half as a new ``ssh_key`` (to :func:`own`); None when libssh cannot derive it."""
    out = ffi.new("ssh_key *")
    if lib.ssh_pki_export_privkey_to_pubkey(key, out) != SSH_OK:
        return None
    return out[0]


def export_private(key: CData, passphrase: bytes | None, file_format: int) -> str | None:
    """The private key as text in ``file_format`` (SSH_FILE_FORMAT_*), encrypted with
    ``passphrase`` when one is given; None when libssh cannot export it so."""
    secret = passphrase if passphrase else NULL
    out = ffi.new("char **")
    rc = lib.ssh_pki_export_privkey_base64_format(key, secret, NULL, NULL, out, file_format)
    if rc != SSH_OK:
        return None
    return take_string(out[0]) or ""


def same_public(key: CData, other: CData) -> bool:
    """Whether the two keys' public halves are equal."""
    return bool(lib.ssh_key_cmp(key, other, SSH_KEY_CMP_PUBLIC) == 0)


def dup(key: CData) -> CData:
    """A new copy of ``key`` for libssh calls that take ownership of the key they are given;
    raises MemoryError when libssh cannot copy it."""
    copy = lib.ssh_key_dup(key)
    if copy == NULL:
        raise MemoryError("ssh_key_dup failed")
    return copy
