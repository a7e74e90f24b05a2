"""Host-key verification against OpenSSH known_hosts files.

Policies (``host_key_policy=``):

* ``"strict"`` (default) — the key must be in known_hosts; unknown and changed keys are refused.
* ``"accept-new"`` — an unknown host's key is added to known_hosts; a changed key is
  refused (OpenSSH's ``StrictHostKeyChecking accept-new``).
* ``"auto-add"`` — like accept-new, named after paramiko's AutoAddPolicy.
* ``"ignore"`` — no verification at all (tests, throw-away hosts; insecure).
* a callable ``policy(host, port, key) -> bool`` — asked about unknown hosts; True accepts (the
  key is not recorded unless the callable does so).

A key that differs from the recorded one always raises :class:`HostKeyChangedError` naming the
host and both fingerprints; libssh looks the host up as OpenSSH does (``[host]:port`` for ports
other than 22, hashed names, ``@revoked``/``@cert-authority`` markers honoured by libssh).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Union

from .._binding import CData
from .._binding import client as client_api
from .._binding.constants import (
    SSH_KNOWN_HOSTS_CHANGED,
    SSH_KNOWN_HOSTS_ERROR,
    SSH_KNOWN_HOSTS_OK,
    SSH_KNOWN_HOSTS_OTHER,
)
from ..errors import HostKeyChangedError, HostKeyError, UnknownHostKeyError, error_from
from ..keys import Key

__all__ = ["HostKeyPolicy", "POLICIES", "verify_host_key", "server_key"]

HostKeyCallback = Callable[[str, int, Key], bool]
HostKeyPolicy = Union[str, HostKeyCallback]
POLICIES = ("strict", "accept-new", "auto-add", "ignore")


def normalize_policy(policy: HostKeyPolicy) -> HostKeyPolicy:
    """The canonical name of a host key ``policy`` (``strict``, ``accept-new``, ``auto-add``,
    ``ignore``, or their aliases), or the callable itself. Raises ValueError for an unknown
    name."""
    if callable(policy):
        return policy
    name = str(policy).lower().replace("_", "-")
    aliases = {"yes": "strict", "no": "ignore", "autoadd": "auto-add", "reject": "strict",
               "off": "ignore", "accept_new": "accept-new", "warn": "ignore"}
    name = aliases.get(name, name)
    if name not in POLICIES:
        raise ValueError(f"unknown host key policy {policy!r}; use one of {POLICIES} "
                         "or a callable")
    return name


def server_key(s: CData) -> Key:
    """The host key the server presented (after key exchange)."""
    return Key(client_api.server_public_key(s))


def _known_keys(files: list[str], host: str, port: int) -> list[Key]:
    """The keys recorded for ``host`` in ``files`` (libssh matches plain and hashed names)."""
    name = _display(host, port).encode()
    found: list[Key] = []
    for path in files:
        try:
            with open(path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith((b"#", b"@")):
                continue
            key = client_api.known_hosts_key(name, line)
            if key is not None:
                found.append(Key(key))
    return found


def _display(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def verify_host_key(s: CData, host: str, port: int, policy: HostKeyPolicy,
                    known_hosts: str | None, global_known_hosts: str | None = None) -> Key:
    """Check the server's key on session ``s`` (its KNOWNHOSTS option is set); returns it."""
    key = server_key(s)
    if policy == "ignore":
        return key
    where = _display(host, port)
    state = client_api.is_known_server(s)
    if state == SSH_KNOWN_HOSTS_OK:
        return key
    if state in (SSH_KNOWN_HOSTS_CHANGED, SSH_KNOWN_HOSTS_OTHER):
        recorded = _known_keys([f for f in (known_hosts, global_known_hosts) if f], host, port)
        known = next((k for k in recorded if k.type == key.type), recorded[0] if recorded
                     else None)
        known_fp = (f"{known.type_name} {known.fingerprint()}" if known is not None
                    else "another key")
        raise HostKeyChangedError(
            f"host key for {where} has CHANGED: known_hosts has {known_fp}, the server "
            f"presented {key.type_name} {key.fingerprint()}; someone may be intercepting the "
            f"connection (or the host key was replaced: remove the old entry from "
            f"{known_hosts or 'known_hosts'})",
            host=where, key=key, known_key=known)
    if state == SSH_KNOWN_HOSTS_ERROR:
        raise error_from(s, f"reading known_hosts for {where}", HostKeyError)
    # NOT_FOUND (no file) or UNKNOWN (no entry)
    if callable(policy):
        if policy(host, port, key):
            return key
        raise UnknownHostKeyError(
            f"host key for {where} ({key.type_name} {key.fingerprint()}) was rejected by the "
            "host key callback", host=where, key=key)
    if policy == "strict":
        raise UnknownHostKeyError(
            f"host {where} is not in {known_hosts or 'known_hosts'} (its key is "
            f"{key.type_name} {key.fingerprint()}) and the host key policy is strict",
            host=where, key=key)
    # accept-new / auto-add: remember it
    if known_hosts:
        directory = os.path.dirname(os.path.abspath(os.path.expanduser(known_hosts)))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        client_api.update_known_hosts(s, f"adding {where} to {known_hosts}")
    return key
