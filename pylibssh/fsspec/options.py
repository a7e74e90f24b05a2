"""Connection options of the fsspec file system: from a URL and ``storage_options`` to
:class:`~pylibssh.client.ConnectOptions`.

The names are pylibssh's (:func:`pylibssh.connect`'s keywords), and the names other fsspec SSH
back ends use are taken too, so that ``storage_options`` written for them keep working:
``username`` (fsspec's URLs, paramiko), ``key_filename`` (paramiko, fsspec's ``sftp``),
``client_keys`` (asyncssh, ``sshfs``), ``ssh_config`` for ``config``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..client import ConnectOptions

__all__ = ["connect_options", "ALIASES"]

#: other back ends' names for :class:`~pylibssh.client.ConnectOptions` fields
ALIASES = {
    "username": "user",
    "key_filename": "keys",
    "client_keys": "keys",
    "ssh_config": "config",
    "known_hosts_file": "known_hosts",
}
_FIELDS = {f.name for f in dataclasses.fields(ConnectOptions)}


def connect_options(host: str, options: dict[str, Any]) -> tuple[ConnectOptions, dict[str, Any]]:
    """Split ``options`` into the connection's (a :class:`~pylibssh.client.ConnectOptions`
    for ``host``) and the rest (for fsspec). A single key path is taken as a list of one. A
    ``port`` given as text (from a URL) becomes an int. Raises TypeError when an option is
    given twice under two names."""
    conn: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for name, value in options.items():
        field = ALIASES.get(name, name)
        if field not in _FIELDS or field == "host":
            rest[name] = value
            continue
        if field in conn and value is not None and conn[field] is not None:
            raise TypeError(f"connection option {field!r} given twice ({name!r})")
        if value is not None or field not in conn:
            conn[field] = value
    keys = conn.get("keys")
    if keys is None:
        conn.pop("keys", None)
    elif isinstance(keys, (str, bytes)) or not isinstance(keys, (list, tuple)):
        conn["keys"] = [keys]
    else:
        conn["keys"] = list(keys)
    if conn.get("port") is not None:
        conn["port"] = int(conn["port"])
    return ConnectOptions(host, **conn), rest
