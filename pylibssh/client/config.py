"""``~/.ssh/config`` applied the way OpenSSH applies it (ssh_config(5)).

The file is read top to bottom; ``Host`` and ``Match`` blocks apply when they match the host
name given on the command line, and for each option the **first** value obtained wins (so
specific blocks go first, ``Host *`` defaults last); ``IdentityFile`` accumulates. ``Include``
(with globs, relative to ``~/.ssh``) is followed. Arguments passed to :func:`connect` explicitly
take precedence over the file. Each file's lines are kept, split, between connections and read
again once the file changes.

Understood: HostName, User, Port, IdentityFile, IdentitiesOnly, IdentityAgent, ProxyJump,
ProxyCommand, ConnectTimeout, ServerAliveInterval, ServerAliveCountMax, Ciphers, KexAlgorithms,
HostKeyAlgorithms, MACs, Compression, UserKnownHostsFile, GlobalKnownHostsFile,
StrictHostKeyChecking, HostKeyAlias, PreferredAuthentications, PasswordAuthentication,
PubkeyAuthentication, KbdInteractiveAuthentication, Tag, CanonicalizeHostname (``no``, ``yes``,
``always``), CanonicalDomains, CanonicalizeMaxDots, CanonicalizeFallbackLocal,
CanonicalizePermittedCNAMEs (the CNAME is getaddrinfo's AI_CANONNAME). Tokens ``%h %p %r %u %d
%n %%`` and ``~`` expand in the options that take paths or commands. Other options are ignored.

``Match`` criteria: ``all``, ``canonical``, ``final``, ``host``, ``originalhost``, ``user``,
``localuser``, ``tagged``, ``localnetwork`` (the addresses of the up interfaces, getifaddrs(3))
and ``exec`` (the command run by ``$SHELL -c``, else ``/bin/sh -c``, with stdin and stdout on
/dev/null and ``%C %L %d %h %i %j %k %l %n %p %r %u %%`` expanded; it matches when the command
exits 0). Criteria are evaluated left to right and ``exec`` runs only while all the criteria
before it on the line matched. Unlike ssh, an ``exec`` command still running after
:data:`EXEC_TIMEOUT` seconds is killed and its ``Match`` line does not match (a warning is
logged), as when the command cannot be started (ssh exits then). Other criteria (``command``,
``sessiontype``, ``version``) never match.

Canonicalization follows ssh: after the first pass, with ``CanonicalizeHostname`` the name
(HostName's, else the given one) is canonicalized: an address literal to its numeric form; a name
with at most ``CanonicalizeMaxDots`` dots is tried with each of ``CanonicalDomains`` as
``name.domain.`` through ``getaddrinfo`` (only directly connected names unless ``always``);
none resolving, the name stays with ``CanonicalizeFallbackLocal yes`` and connect raises
:class:`~pylibssh.errors.HostNotFoundError` with ``no``.
Then the file is read again for the canonical name (the *final* pass, also made when a line asks
for ``Match final``): ``Host`` patterns and ``Match host`` see the canonical name, ``Match
canonical``/``final`` match only there, and options set in the first pass keep their values.
"""

from __future__ import annotations

import ctypes
import fnmatch
import functools
import getpass
import glob
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from .client import ConnectOptions

log = logging.getLogger("pylibssh.client")

__all__ = ["read_config", "apply_config", "parse_line", "run_exec", "resolve"]

_MULTI = {"identityfile", "localforward", "remoteforward", "dynamicforward", "sendenv"}


@functools.lru_cache(maxsize=4096)
def _compiled(patterns: tuple[str, ...]) -> tuple[tuple[bool, Callable[[str], Any]], ...]:
    """(negated, match function) for each comma-separated pattern of ``patterns``."""
    out = []
    for pattern in patterns:
        for p in pattern.split(","):
            neg = p.startswith("!")
            p = p[1:] if neg else p
            out.append((neg, re.compile(fnmatch.translate(p.lower())).match))
    return tuple(out)


def _match_patterns(value: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH's pattern-list: any positive match and no negated match (case-insensitive)."""
    matched = False
    value = value.lower()
    for neg, match in _compiled(patterns):
        if match(value):
            if neg:
                return False
            matched = True
    return matched


def parse_line(line: str) -> tuple[str, str] | None:
    """One ssh_config line as (keyword in lower case, value): ``Key value``, ``Key=value`` or
    ``Key = value``; None for a blank line or a comment. The value is "" when the line has
    none. (The paramiko layer's SSHConfig reads its lines with this too.)"""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if "=" in line.split(None, 1)[0]:
        key, _, value = line.partition("=")
    else:
        parts = line.split(None, 1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
    return key.strip().lower(), value.strip().lstrip("=").strip()


# where an included file's lines start and end, among the (keyword, value, words) lines of
# _lines: objects, never equal to a keyword the file could contain
_INCLUDE_START = object()
_INCLUDE_END = object()

#: a file's lines: (keyword, value, words), words being the value split as a shell would for the
#: lines that take several (Host, Match, Include) and None for the others (a tuple: the key of
#: the compiled Host patterns)
_Lines = list[tuple[str, str, "tuple[str, ...] | None"]]
_SPLIT = frozenset({"host", "match", "include"})

# the lines of files read before, by path: (stat signature, lines). A connection reads the
# file again only when its signature changed: a fan-out's connections each apply ~/.ssh/config,
# and splitting a file of a few hundred Host blocks cost milliseconds per connection
_lexed: dict[str, tuple[tuple[int, int, int, int], _Lines]] = {}
_MAX_LEXED = 64
_lexed_lock = threading.Lock()
#: a file changed less than this many seconds ago is read again next time: an edit within the
#: same timestamp tick that keeps the size would not change its signature
_SETTLED = 2.0


def _file_lines(path: str) -> _Lines | None:
    """The lines of ``path``, parsed (None when it does not exist or is a directory, which ssh
    reads nothing from)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    sig = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
    kept = _lexed.get(path)
    if kept is not None and kept[0] == sig:
        return kept[1]
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None
    lines: _Lines = []
    for raw in text.splitlines():
        parsed = parse_line(raw)
        if parsed is None:
            continue
        key, value = parsed
        if not value:  # ssh: "missing argument"
            raise ValueError(f"ssh_config {path}: {key} without a value")
        lines.append((key, value, tuple(shlex.split(value)) if key in _SPLIT else None))
    if time.time() - st.st_mtime_ns / 1e9 >= _SETTLED:
        with _lexed_lock:
            if len(_lexed) >= _MAX_LEXED and path not in _lexed:
                _lexed.pop(next(iter(_lexed)))
            _lexed[path] = (sig, lines)
    return lines


def _lines(path: str, depth: int = 0) -> Iterator[tuple[Any, str, "tuple[str, ...] | None"]]:
    # (the keyword is a str or one of the Include markers)
    if depth > 16:
        raise ValueError(f"ssh_config: Include nested too deeply at {path}")
    lines = _file_lines(path)
    if lines is None:
        return
    for key, value, words in lines:
        if key == "include":
            for pattern in cast("tuple[str, ...]", words):
                pattern = os.path.expanduser(pattern)
                if not os.path.isabs(pattern):
                    pattern = os.path.join(os.path.expanduser("~/.ssh"), pattern)
                for inc in sorted(glob.glob(pattern)):
                    yield (_INCLUDE_START, "", None)
                    yield from _lines(inc, depth + 1)
                    yield (_INCLUDE_END, "", None)
            continue
        yield key, value, words


#: seconds a ``Match exec`` command may run; then it is killed and its ``Match`` line does not
#: match (OpenSSH waits for ever: a hanging command would hang connect)
EXEC_TIMEOUT = 10.0


class _Pass:
    """What one reading of the file needs: the names to match and the options found so far."""

    def __init__(self, host: str, user: str | None, port: int | None, jump: str | None):
        self.original = host        # as given: ``originalhost``, %n
        self.host = host            # ``Host`` patterns, %h: the canonical name in the final pass
        self.user = user            # explicit: wins over the file's User
        self.port = port
        self.jump = jump            # explicit ProxyJump
        self.local_user = getpass.getuser()
        self.final = False          # the final (post-canonicalization) pass: canonical/final
        self.want_final = False     # a ``Match final`` asked for one
        self.result: dict[str, object] = {}

    def hostname(self) -> str:
        """``Match host``'s name: HostName so far (%h expanded), else the host."""
        if "hostname" in self.result:
            return _percent(str(self.result["hostname"]), {"h": self.host})
        return self.host

    def remote_user(self) -> str:
        return self.user or str(self.result.get("user") or self.local_user)

    def remote_port(self) -> str:
        return str(self.port or self.result.get("port") or 22)

    def tokens(self) -> dict[str, str]:
        """The tokens ``Match exec`` expands (readconf.c's match_cfg_line)."""
        import hashlib

        here = socket.gethostname()
        host, port, ruser = self.hostname(), self.remote_port(), self.remote_user()
        jump = _jump_host(self.jump or str(self.result.get("proxyjump", "")))
        conn = hashlib.sha1((here + host + port + ruser + jump).encode()).hexdigest()
        return {"C": conn, "L": here.split(".")[0], "d": os.path.expanduser("~"), "h": host,
                "k": str(self.result.get("hostkeyalias") or host), "l": here,
                "n": self.original, "p": port, "r": ruser, "u": self.local_user,
                "i": str(os.getuid()), "j": jump}


def _jump_host(spec: str) -> str:
    """%j: the host of ProxyJump's last hop (``[user@]host[:port]``), "" for none."""
    hop = spec.split(",")[-1].strip().rpartition("@")[2]
    if hop.lower() == "none":
        return ""
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    return hop.partition(":")[0]


def _percent(value: str, tokens: dict[str, str]) -> str:
    """``%x`` tokens replaced (``%%`` is ``%``; unknown ones are left as they are)."""
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "%" and i + 1 < len(value):
            t = value[i + 1]
            out.append("%" if t == "%" else tokens.get(t, "%" + t))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_config(path: str, host: str, user: str | None = None, port: int | None = None,
                proxied: bool = False, jump: str | None = None) -> dict[str, object]:
    """The options that apply to ``host`` (lower-case names; IdentityFile is a list), as ssh
    computes them: a first pass for the name given; then, with ``CanonicalizeHostname``, the name
    (HostName's, else the given one) canonicalized; then, with canonicalization or a ``Match
    final``, a final pass for that name (``Match canonical``/``final`` apply there; values already
    set stay). After a final pass ``hostname`` is the canonical name. ``user``/``port`` are the
    ones given explicitly, as is ``jump`` (a ProxyJump, for %j); ``proxied``: a
    ProxyCommand/ProxyJump/socket is given (such names are canonicalized only with
    ``CanonicalizeHostname always``).

    A malformed file raises ``ValueError`` (an option without a value, unbalanced quotes, a
    number that is not one, ``Include`` nested too deeply); canonicalization that finds no name
    without ``CanonicalizeFallbackLocal`` raises :class:`~pylibssh.errors.HostNotFoundError`."""
    path = os.path.expanduser(path)
    st = _Pass(host, user, port, jump)
    _read_pass(path, st)
    cfg = st.result
    name = st.hostname().lower()
    if "hostname" in cfg:
        cfg["hostname"] = name
    mode = str(cfg.get("canonicalizehostname", "no")).lower()
    mode = {"true": "yes", "false": "no"}.get(mode, mode)
    if mode not in ("yes", "always"):
        mode = "no"
    if mode != "no":
        direct = not proxied and all(
            str(cfg.get(k, "none")).lower() == "none" for k in ("proxycommand", "proxyjump"))
        name = canonicalize(name, cfg, mode, direct, port or int(st.remote_port()))
    if mode != "no" or st.want_final:
        log.debug("ssh_config: re-parsing for %s", name)
        cfg["hostname"] = st.host = name
        st.final = True
        _read_pass(path, st)
    return cfg


def _read_pass(path: str, st: _Pass) -> None:
    result = st.result
    active = True
    stack: list[bool] = []
    for key, value, words in _lines(path):
        if key is _INCLUDE_START:
            stack.append(active)
            continue
        if key is _INCLUDE_END:
            active = stack.pop()
            continue
        if key == "host":
            active = _match_patterns(st.host, cast("tuple[str, ...]", words))
            continue
        if key == "match":
            active = _match(cast("tuple[str, ...]", words), st)
            continue
        if not active:
            continue
        if key in _MULTI:
            cast("list[str]", result.setdefault(key, [])).append(value)
        elif key not in result:
            result[key] = value


def _match(words: tuple[str, ...], st: _Pass) -> bool:
    """One ``Match`` line (its words), criteria left to right as readconf.c does: every
    criterion is evaluated, but ``exec`` runs only while all before it matched."""
    i = 0
    ok = True
    while i < len(words):
        crit = words[i].lower()
        neg = crit.startswith("!")
        crit = crit.lstrip("!")
        if crit in ("all", "canonical", "final"):
            if crit == "final" and not neg:
                st.want_final = True
            r = crit == "all" or st.final
            i += 1
        else:
            arg = words[i + 1] if i + 1 < len(words) else ""
            i += 2
            if crit == "host":
                r = _match_patterns(st.hostname(), (arg,))
            elif crit == "originalhost":
                r = _match_patterns(st.original, (arg,))
            elif crit == "user":
                r = _match_patterns(st.remote_user(), (arg,))
            elif crit == "localuser":
                r = _match_patterns(st.local_user, (arg,))
            elif crit == "tagged":
                r = _match_patterns(str(st.result.get("tag", "")), (arg,))
            elif crit == "localnetwork":
                r = _in_local_network(arg)
            elif crit == "exec":
                if not ok:
                    log.debug("ssh_config: skipped Match exec %r (an earlier criterion failed)",
                              arg)
                    continue
                status = run_exec(_percent(arg, st.tokens()))
                if status is None:
                    return False
                r = status
            else:
                log.debug("ssh_config: Match %s is not supported; treated as no match", crit)
                r = False
        ok = ok and (r != neg)
    return ok


def run_exec(command: str) -> bool | None:
    """Whether ``command`` exits 0 in the user's shell (stdin/stdout /dev/null, as ssh runs it);
    None when it cannot run or outlasts :data:`EXEC_TIMEOUT`."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    log.debug("ssh_config: Match exec %r", command)
    try:
        proc = subprocess.Popen([shell, "-c", command], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        log.warning("ssh_config: Match exec %r: %s; the Match does not apply", command, exc)
        return None
    try:
        return proc.wait(EXEC_TIMEOUT) == 0
    except subprocess.TimeoutExpired:
        log.warning("ssh_config: Match exec %r still running after %g s: killed; the Match "
                    "does not apply", command, EXEC_TIMEOUT)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        return None


def resolve(name: str, port: int = 22) -> str | None:
    """The canonical name (AI_CANONNAME) ``name`` resolves to, or None if it does not."""
    try:
        infos = socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
    except (socket.gaierror, UnicodeError):
        return None
    return infos[0][3] if infos else None


def canonicalize(host: str, cfg: dict[str, object], mode: str, direct: bool,
                 port: int = 22) -> str:
    """ssh.c's resolve_canonicalize: an address literal in its numeric form; a name with at
    most ``CanonicalizeMaxDots`` dots tried with each ``CanonicalDomains`` suffix (a name ending
    in ``.`` as it is), the first that resolves winning, then ``CanonicalizePermittedCNAMEs``
    followed. Not found: the name unchanged with ``CanonicalizeFallbackLocal yes`` (the default),
    else :class:`~pylibssh.errors.HostNotFoundError`."""
    from ..errors import HostNotFoundError

    try:
        info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        return socket.getnameinfo(info[0][4], socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)[0]
    except (socket.gaierror, UnicodeError, ValueError):
        pass
    if _is_addr(host) or (not direct and mode != "always"):
        return host
    found = None
    too_long = False
    if host.endswith("."):
        cname = resolve(host, port)
        found = (host[:-1], cname) if cname is not None else None
    elif host.count(".") > int(str(cfg.get("canonicalizemaxdots", 1))):
        log.debug("ssh_config: not canonicalizing %s (CanonicalizeMaxDots)", host)
        too_long = True
    else:
        for domain in str(cfg.get("canonicaldomains", "")).split():
            if domain.lower() == "none":
                break
            cname = resolve(f"{host}.{domain}.", port)
            if cname is not None:
                found = (f"{host}.{domain}", cname)
                break
    if found is not None:
        log.debug("ssh_config: canonicalized %s => %s", host, found[0])
        return _follow_cname(found[0], found[1], cfg)
    if not too_long and not _yes(cfg.get("canonicalizefallbacklocal", "yes")):
        raise HostNotFoundError(f"cannot resolve {host!r}" + ("" if host.endswith(".") else
                                " with any of CanonicalDomains"))
    cname = resolve(host, port) if _permitted_cnames(cfg) else None
    return _follow_cname(host, cname, cfg) if cname else host


def _permitted_cnames(cfg: dict[str, object]) -> list[tuple[str, str]]:
    rules = str(cfg.get("canonicalizepermittedcnames", "none")).split()
    if not rules or rules[0].lower() == "none":
        return []
    return [tuple(r.split(":", 1)) for r in rules if ":" in r]  # type: ignore[misc]


def _follow_cname(name: str, cname: str | None, cfg: dict[str, object]) -> str:
    """``name``'s CNAME target when a ``CanonicalizePermittedCNAMEs`` rule allows it."""
    if not cname or cname.lower() == name.lower():
        return name
    for source, target in _permitted_cnames(cfg):
        if _match_patterns(name, (source,)) and _match_patterns(cname, (target,)):
            log.debug("ssh_config: canonicalized CNAME %s => %s", name, cname)
            return cname.lower()
    return name


def _is_addr(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            pass
    return False


def _in_local_network(cidrs: str) -> bool:
    """``Match localnetwork``: whether an address of an up interface is in the CIDR list."""
    import ipaddress

    nets = []
    for c in cidrs.split(","):
        try:
            nets.append(ipaddress.ip_network(c.strip(), strict=False))
        except ValueError:
            log.warning("ssh_config: Match localnetwork: bad network %r", c)
            return False
    return any(addr in net for addr in _interface_addresses() for net in nets
               if addr.version == net.version)


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [("next", ctypes.POINTER(_IfAddrs)), ("name", ctypes.c_char_p),
                     ("flags", ctypes.c_uint), ("addr", ctypes.c_void_p)]


def _interface_addresses() -> list[Any]:
    """The addresses of the up interfaces (getifaddrs(3), as ssh reads them)."""
    import ipaddress

    libc = ctypes.CDLL(None, use_errno=True)
    head = ctypes.POINTER(_IfAddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        log.warning("ssh_config: getifaddrs failed: %s", os.strerror(ctypes.get_errno()))
        return []
    addrs = []
    try:
        node = head
        while node:
            ifa = node.contents
            if ifa.addr and ifa.flags & 1:  # IFF_UP
                head2 = ctypes.string_at(ifa.addr, 2)
                # sa_family: 16 bits on Linux, the second byte after sa_len on the BSDs
                family = head2[1] if sys.platform != "linux" else int.from_bytes(head2,
                                                                                  sys.byteorder)
                if family == socket.AF_INET:  # sockaddr_in: the address at 4
                    addrs.append(ipaddress.ip_address(ctypes.string_at(ifa.addr, 8)[4:]))
                elif family == socket.AF_INET6:  # sockaddr_in6: after port and flowinfo
                    addrs.append(ipaddress.ip_address(ctypes.string_at(ifa.addr, 24)[8:]))
            node = ifa.next
    finally:
        libc.freeifaddrs(head)
    return addrs


def _yes(value: object) -> bool:
    return str(value).lower() in ("yes", "true", "on")


def _expand(value: str, o: ConnectOptions, original_host: str) -> str:
    return os.path.expanduser(_percent(value, {
        "h": o.host, "p": str(o.port or 22), "r": o.user or "", "u": getpass.getuser(),
        "d": os.path.expanduser("~"), "n": original_host}))


def apply_config(o: ConnectOptions) -> ConnectOptions:
    """``o`` with what the config file says for ``o.host`` filled in where ``o`` has no
    explicit value. Raises what :func:`read_config` raises, and ``ValueError`` for a value of
    the wrong kind (a port or timeout that is not a number)."""
    from .client import DEFAULT_TIMEOUT

    if not o.config:
        return o
    proxied = bool(o.sock is not None or o.proxy_jump or o.proxy_command)
    jump = o.proxy_jump if isinstance(o.proxy_jump, (str, type(None))) else ",".join(o.proxy_jump)
    cfg = read_config(o.config, o.host, o.user, o.port, proxied, jump)
    if not cfg:
        return replace(o, config=None)
    original = o.host
    o = replace(o, config=None)
    if "hostname" in cfg and o.sock is None:
        o.host = str(cfg["hostname"])  # %h expanded, canonicalized
    if o.user is None and "user" in cfg:
        o.user = str(cfg["user"])
    if o.port is None and "port" in cfg:
        o.port = int(str(cfg["port"]))
    if not o.keys and "identityfile" in cfg:
        o.keys = [_expand(v, o, original) for v in cast("list[str]", cfg["identityfile"])
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
