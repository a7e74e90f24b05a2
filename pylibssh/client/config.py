"""``~/.ssh/config`` applied the way OpenSSH applies it (ssh_config(5)).

The file is read top to bottom; ``Host`` and ``Match`` blocks apply when they match the host
name given on the command line, and for each option the **first** value obtained wins (so
specific blocks go first, ``Host *`` defaults last); ``IdentityFile`` accumulates. ``Include``
(with globs, relative to ``~/.ssh``) is followed. Arguments passed to :func:`connect` explicitly
take precedence over the file.

Understood: HostName, User, Port, IdentityFile, IdentitiesOnly, IdentityAgent, ProxyJump,
ProxyCommand, ConnectTimeout, ServerAliveInterval, ServerAliveCountMax, Ciphers, KexAlgorithms,
HostKeyAlgorithms, MACs, Compression, UserKnownHostsFile, GlobalKnownHostsFile,
StrictHostKeyChecking, HostKeyAlias, PreferredAuthentications, PasswordAuthentication,
PubkeyAuthentication, KbdInteractiveAuthentication. ``Match`` supports ``all``, ``host``,
``originalhost``, ``user`` and ``localuser``; other criteria never match. Tokens ``%h %p %r %u %d
%%`` and ``~`` expand in the options that take paths or commands. Other options are ignored.
"""

from __future__ import annotations

import fnmatch
import getpass
import glob
import logging
import os
import shlex
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import ConnectOptions

log = logging.getLogger("pylibssh.client")

__all__ = ["read_config", "apply_config"]

_MULTI = {"identityfile", "localforward", "remoteforward", "dynamicforward", "sendenv"}


def _match_patterns(value: str, patterns: list[str]) -> bool:
    """OpenSSH's pattern-list: any positive match and no negated match."""
    matched = False
    for pattern in patterns:
        for p in pattern.split(","):
            neg = p.startswith("!")
            p = p[1:] if neg else p
            if fnmatch.fnmatchcase(value.lower(), p.lower()):
                if neg:
                    return False
                matched = True
    return matched


def _lines(path: str, depth: int = 0):
    if depth > 16:
        raise ValueError(f"ssh_config: Include nested too deeply at {path}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" in line.split(None, 1)[0]:
            key, _, value = line.partition("=")
        else:
            parts = line.split(None, 1)
            key, value = parts[0], parts[1] if len(parts) > 1 else ""
        key = key.strip().lower()
        value = value.strip().lstrip("=").strip()
        if key == "include":
            for pattern in shlex.split(value):
                pattern = os.path.expanduser(pattern)
                if not os.path.isabs(pattern):
                    pattern = os.path.join(os.path.expanduser("~/.ssh"), pattern)
                for inc in sorted(glob.glob(pattern)):
                    yield ("include-start", "")
                    yield from _lines(inc, depth + 1)
                    yield ("include-end", "")
            continue
        yield key, value


def read_config(path: str, host: str, user: str | None = None) -> dict[str, object]:
    """The options that apply to ``host`` (lower-case names; IdentityFile is a list)."""
    result: dict[str, object] = {}
    active = True
    stack: list[bool] = []
    local_user = getpass.getuser()
    for key, value in _lines(os.path.expanduser(path)):
        if key == "include-start":
            stack.append(active)
            continue
        if key == "include-end":
            active = stack.pop()
            continue
        if key == "host":
            active = _match_patterns(host, shlex.split(value))
            continue
        if key == "match":
            active = _match(value, host, result, user, local_user)
            continue
        if not active:
            continue
        if key in _MULTI:
            result.setdefault(key, [])
            result[key].append(value)  # type: ignore[union-attr]
        elif key not in result:
            result[key] = value
    return result


def _match(value: str, host: str, seen: dict[str, object], user: str | None,
           local_user: str) -> bool:
    words = shlex.split(value)
    i = 0
    ok = True
    while i < len(words):
        crit = words[i].lower()
        neg = crit.startswith("!")
        crit = crit.lstrip("!")
        if crit in ("all", "canonical", "final"):
            r = crit == "all"
            i += 1
        else:
            arg = words[i + 1] if i + 1 < len(words) else ""
            i += 2
            if crit == "host":
                r = _match_patterns(str(seen.get("hostname", host)), [arg])
            elif crit == "originalhost":
                r = _match_patterns(host, [arg])
            elif crit == "user":
                r = _match_patterns(str(seen.get("user", user or local_user)), [arg])
            elif crit == "localuser":
                r = _match_patterns(local_user, [arg])
            else:
                log.debug("ssh_config: Match %s is not supported; treated as no match", crit)
                r = False
        ok = ok and (r != neg)
    return ok


def _yes(value: object) -> bool:
    return str(value).lower() in ("yes", "true", "on")


def _expand(value: str, o: ConnectOptions, original_host: str) -> str:
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "%" and i + 1 < len(value):
            t = value[i + 1]
            out.append({"h": o.host, "p": str(o.port or 22), "r": o.user or "",
                        "u": getpass.getuser(), "d": os.path.expanduser("~"),
                        "n": original_host, "%": "%"}.get(t, "%" + t))
            i += 2
        else:
            out.append(c)
            i += 1
    return os.path.expanduser("".join(out))


def apply_config(o: ConnectOptions) -> ConnectOptions:
    """``o`` with what the config file says for ``o.host`` filled in where ``o`` has no
    explicit value."""
    from .client import DEFAULT_TIMEOUT

    if not o.config:
        return o
    cfg = read_config(o.config, o.host, o.user)
    if not cfg:
        return replace(o, config=None)
    original = o.host
    o = replace(o, config=None)
    if "hostname" in cfg and o.sock is None:
        o.host = _expand(str(cfg["hostname"]), o, original)
    if o.user is None and "user" in cfg:
        o.user = str(cfg["user"])
    if o.port is None and "port" in cfg:
        o.port = int(str(cfg["port"]))
    if not o.keys and "identityfile" in cfg:
        o.keys = [_expand(v, o, original) for v in cfg["identityfile"]  # type: ignore[union-attr]
                  if os.path.exists(_expand(v, o, original))]
    if _yes(cfg.get("identitiesonly", "no")):
        o.agent = False if o.keys else o.agent
        o.look_for_keys = False
    if o.proxy_jump is None and o.proxy_command is None:
        if "proxyjump" in cfg and str(cfg["proxyjump"]).lower() != "none":
            o.proxy_jump = str(cfg["proxyjump"])
        elif "proxycommand" in cfg and str(cfg["proxycommand"]).lower() != "none":
            o.proxy_command = str(cfg["proxycommand"])
    if o.timeout == DEFAULT_TIMEOUT and "connecttimeout" in cfg:
        o.timeout = float(str(cfg["connecttimeout"]))
    if not o.keepalive_interval and "serveraliveinterval" in cfg:
        o.keepalive_interval = float(str(cfg["serveraliveinterval"]))
        o.keepalive_count_max = int(str(cfg.get("serveralivecountmax", 3)))
    for name, attr in (("ciphers", "ciphers"), ("kexalgorithms", "kex"),
                       ("hostkeyalgorithms", "host_key_algorithms"), ("macs", "macs")):
        if getattr(o, attr) is None and name in cfg:
            setattr(o, attr, str(cfg[name]))
    if not o.compression and _yes(cfg.get("compression", "no")):
        o.compression = True
    if o.known_hosts == "~/.ssh/known_hosts" and "userknownhostsfile" in cfg:
        o.known_hosts = _expand(str(cfg["userknownhostsfile"]).split()[0], o, original)
    if "globalknownhostsfile" in cfg:
        o.global_known_hosts = _expand(str(cfg["globalknownhostsfile"]).split()[0], o,
                                       original)
    if o.host_key_policy == "strict" and "stricthostkeychecking" in cfg:
        o.host_key_policy = {"yes": "strict", "ask": "strict", "accept-new": "accept-new",
                             "no": "ignore", "off": "ignore"}.get(
            str(cfg["stricthostkeychecking"]).lower(), "strict")
    if o.host_key_alias is None and "hostkeyalias" in cfg:
        o.host_key_alias = str(cfg["hostkeyalias"])
    if o.auth_methods is None:
        methods = None
        if "preferredauthentications" in cfg:
            methods = [m.strip() for m in str(cfg["preferredauthentications"]).split(",")]
        for opt, name in (("passwordauthentication", "password"),
                          ("pubkeyauthentication", "publickey"),
                          ("kbdinteractiveauthentication", "keyboard-interactive")):
            if opt in cfg and not _yes(cfg[opt]):
                methods = [m for m in (methods or ["publickey", "keyboard-interactive",
                                                   "password"]) if m != name]
        o.auth_methods = methods
    if "identityagent" in cfg and str(cfg["identityagent"]).lower() == "none":
        o.agent = False
    return o
