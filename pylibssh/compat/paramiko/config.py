"""paramiko.SSHConfig: OpenSSH client configuration files, looked up per host into a dict of
lower-cased keys, with paramiko's rules (which differ from ssh's in places, and applications
rely on them): the first obtained value wins (IdentityFile accumulates); a first pass for the
name given, then, when ``CanonicalizeHostname`` applies (the name has at most
``CanonicalizeMaxDots`` dots), the name tried with each ``CanonicalDomains`` suffix and a second
pass with ``Match canonical`` true, else a second pass without; ``Match final`` is true in the
second pass. ``Match all`` may stand alone or after ``canonical``. Tokens are expanded per key
as paramiko does (``%h`` in ``HostName`` is the name looked up).

Lines are read by the core client's ssh_config parser (:func:`pylibssh.client.config.parse_line`),
``Match exec`` runs through its runner (bounded by its ``EXEC_TIMEOUT``) and names resolve
through its resolver.
"""

from __future__ import annotations

import fnmatch
import getpass
import os
import re
import shlex
import socket
from functools import partial
from hashlib import sha1
from io import StringIO

from ...client.config import parse_line, resolve, run_exec
from .ssh_exception import ConfigParseError, CouldNotCanonicalize

__all__ = ["SSHConfig", "SSHConfigDict"]

SSH_PORT = 22

_KEYWORD = re.compile(r"^\w+$")


class SSHConfig:
    """Representation of config information as stored in the format used by OpenSSH."""

    TOKENS_BY_CONFIG_KEY = {
        "controlpath": ["%C", "%h", "%l", "%L", "%n", "%p", "%r", "%u"],
        "hostname": ["%h"],
        "identityfile": ["%C", "~", "%d", "%h", "%l", "%u", "%r"],
        "proxycommand": ["~", "%h", "%p", "%r"],
        "proxyjump": ["%h", "%p", "%r"],
        "match-exec": ["%C", "%d", "%h", "%L", "%l", "%n", "%p", "%r", "%u"],
    }

    def __init__(self):
        self._config = []

    @classmethod
    def from_text(cls, text):
        """A parsed SSHConfig from ``text``."""
        return cls.from_file(StringIO(text))

    @classmethod
    def from_path(cls, path):
        """A parsed SSHConfig from the file at ``path``."""
        with open(path) as flo:
            return cls.from_file(flo)

    @classmethod
    def from_file(cls, flo):
        """A parsed SSHConfig from the file object ``flo``."""
        obj = cls()
        obj.parse(flo)
        return obj

    def parse(self, file_obj):
        """Read an OpenSSH config from ``file_obj``. Raises :class:`ConfigParseError` for a
        line without a keyword and a value, or a ``Match`` line paramiko refuses."""
        context = {"host": ["*"], "config": {}}
        for line in file_obj:
            parsed = parse_line(line)
            if parsed is None:
                continue
            key, value = parsed
            if not value or not _KEYWORD.match(key):
                raise ConfigParseError(f"Unparsable line {line.strip()}")
            if key in ("host", "match"):
                self._config.append(context)
                context = {"config": {}}
                if key == "host":
                    context["host"] = self._get_hosts(value)
                else:
                    context["matches"] = self._get_matches(value)
            elif key == "proxycommand" and value.lower() == "none":
                context["config"][key] = None
            else:
                if value.startswith('"') and value.endswith('"'):
                    value = value[1:-1]
                if key in ("identityfile", "localforward", "remoteforward"):
                    context["config"].setdefault(key, []).append(value)
                elif key not in context["config"]:
                    context["config"][key] = value
        self._config.append(context)

    def lookup(self, hostname):
        """The options for ``hostname`` (an :class:`SSHConfigDict`; ``hostname`` set to the
        name itself when no HostName applies). Raises :class:`CouldNotCanonicalize` when
        canonicalization finds nothing and ``CanonicalizeFallbackLocal`` is not ``yes``."""
        options = self._lookup(hostname=hostname)
        if "hostname" not in options:
            options["hostname"] = hostname
        canon = options.get("canonicalizehostname", None) in ("yes", "always")
        maxdots = int(options.get("canonicalizemaxdots", 1))
        if canon and hostname.count(".") <= maxdots:
            domains = options["canonicaldomains"].split()
            hostname = self.canonicalize(hostname, options, domains)
            options["hostname"] = hostname
            options = self._lookup(hostname, options, canonical=True, final=True)
        else:
            options = self._lookup(hostname, options, canonical=False, final=True)
        return options

    def _lookup(self, hostname, options=None, canonical=False, final=False):
        if options is None:
            options = SSHConfigDict()
        for context in self._config:
            if not (self._pattern_matches(context.get("host", []), hostname)
                    or self._does_match(context.get("matches", []), hostname, canonical,
                                        final, options)):
                continue
            for key, value in context["config"].items():
                if key not in options:
                    options[key] = value[:] if value is not None else value
                elif key == "identityfile":
                    options[key].extend(x for x in value if x not in options[key])
        if final:
            options = self._expand_variables(options, hostname)
        return options

    def canonicalize(self, hostname, options, domains):
        """``hostname.domain`` for the first of ``domains`` that resolves; else ``hostname``
        (``CanonicalizeFallbackLocal yes``, the default) or :class:`CouldNotCanonicalize`."""
        family = options.get("addressfamily", "any").lower()
        for domain in domains:
            candidate = f"{hostname}.{domain}"
            if _resolves(candidate, family):
                return candidate
        if options.get("canonicalizefallbacklocal", "yes") == "yes":
            return hostname
        raise CouldNotCanonicalize(hostname)

    def get_hostnames(self):
        """The literal host names and patterns of every ``Host`` line."""
        hosts = set()
        for entry in self._config:
            hosts.update(entry.get("host", ()))
        return hosts

    def _pattern_matches(self, patterns, target):
        if hasattr(patterns, "split"):
            patterns = patterns.split(",")
        match = False
        for pattern in patterns:
            if pattern.startswith("!") and fnmatch.fnmatch(target, pattern[1:]):
                return False
            if fnmatch.fnmatch(target, pattern):
                match = True
        return match

    def _does_match(self, match_list, target_hostname, canonical, final, options):
        matched = []
        local_username = getpass.getuser()
        for candidate in match_list:
            passed = None
            configured_host = options.get("hostname", None)
            configured_user = options.get("user", None)
            type_, param = candidate["type"], candidate["param"]
            if type_ == "canonical":
                if self._should_fail(canonical, candidate):
                    return False
            if type_ == "final":
                passed = final
            elif type_ == "all":
                return True
            elif type_ == "host":
                passed = self._pattern_matches(param, configured_host or target_hostname)
            elif type_ == "originalhost":
                passed = self._pattern_matches(param, target_hostname)
            elif type_ == "user":
                passed = self._pattern_matches(param, configured_user or local_username)
            elif type_ == "localuser":
                passed = self._pattern_matches(param, local_username)
            elif type_ == "exec":
                command = self._tokenize(options, target_hostname, "match-exec", param)
                passed = bool(run_exec(command))
            if passed is not None and self._should_fail(passed, candidate):
                return False
            matched.append(candidate)
        return matched

    @staticmethod
    def _should_fail(would_pass, candidate):
        return would_pass if candidate["negate"] else not would_pass

    def _tokenize(self, config, target_hostname, key, value):
        """``value`` with the tokens paramiko expands for ``key`` replaced."""
        allowed = self.TOKENS_BY_CONFIG_KEY.get(key, [])
        if not allowed:
            return value
        configured_hostname = target_hostname
        if key != "hostname":
            configured_hostname = config.get("hostname", configured_hostname)
        port = config.get("port", SSH_PORT)
        user = getpass.getuser()
        remoteuser = config.get("user", user)
        local_hostname = socket.gethostname().split(".")[0]
        homedir = os.path.expanduser("~")
        tohash = local_hostname + target_hostname + repr(port) + remoteuser
        replacements = {
            "%C": lambda: sha1(tohash.encode()).hexdigest(),
            "%d": lambda: homedir,
            "%h": lambda: configured_hostname,
            "%L": lambda: local_hostname,
            "%l": lambda: _fqdn(config, local_hostname),
            "%n": lambda: target_hostname,
            "%p": lambda: port,
            "%r": lambda: remoteuser,
            "%u": lambda: user,
            "~": lambda: homedir,
        }
        for find, replace in replacements.items():
            if find in allowed and find in value:
                value = value.replace(find, str(replace()))
        return value

    def _expand_variables(self, config, target_hostname):
        for k in config:
            if config[k] is None:
                continue
            tokenizer = partial(self._tokenize, config, target_hostname, k)
            if isinstance(config[k], list):
                for i, value in enumerate(config[k]):
                    config[k][i] = tokenizer(value)
            else:
                config[k] = tokenizer(config[k])
        return config

    @staticmethod
    def _get_hosts(host):
        try:
            return shlex.split(host)
        except ValueError:
            raise ConfigParseError(f"Unparsable host {host}") from None

    @staticmethod
    def _get_matches(match):
        """A ``Match`` line's criteria; ``all`` only alone or after ``canonical``, as paramiko
        checks."""
        matches = []
        tokens = shlex.split(match)
        while tokens:
            m = {"type": None, "param": None, "negate": False}
            type_ = tokens.pop(0)
            if type_.startswith("!"):
                m["negate"] = True
                type_ = type_[1:]
            m["type"] = type_
            if type_ in ("all", "canonical", "final"):
                matches.append(m)
                continue
            if not tokens:
                raise ConfigParseError(f"Missing parameter to Match '{type_}' keyword")
            m["param"] = tokens.pop(0)
            matches.append(m)
        keywords = [x["type"] for x in matches]
        if "all" in keywords:
            allowable = ("all", "canonical")
            ok = [k for k in keywords if k in allowable]
            if any(k not in allowable for k in keywords):
                raise ConfigParseError(
                    "Match does not allow 'all' mixed with anything but 'canonical'")
            if "canonical" in ok and ok.index("canonical") > ok.index("all"):
                raise ConfigParseError("Match does not allow 'all' before 'canonical'")
        return matches


def _resolves(name: str, family: str) -> bool:
    """Whether ``name`` resolves (``AddressFamily inet``/``inet6``: in that family)."""
    if family in ("inet", "inet6"):
        fam = socket.AF_INET if family == "inet" else socket.AF_INET6
        try:
            return bool(socket.getaddrinfo(name, None, fam, socket.SOCK_DGRAM))
        except (socket.gaierror, UnicodeError):
            return False
    return resolve(name) is not None


def _fqdn(config, host):
    """``%l``: the local host's fully qualified name (in ``AddressFamily`` when given)."""
    family = config.get("addressfamily", "any").lower()
    if family in ("inet", "inet6"):
        fam = socket.AF_INET if family == "inet" else socket.AF_INET6
        try:
            for *_, canonname, _sa in socket.getaddrinfo(host, None, fam, socket.SOCK_DGRAM,
                                                         socket.IPPROTO_IP,
                                                         socket.AI_CANONNAME):
                if canonname and "." in canonname:
                    return canonname
        except socket.gaierror:
            pass
    return socket.getfqdn()


class SSHConfigDict(dict):
    """A dict with OpenSSH-style ``as_bool`` / ``as_int`` helpers."""

    def as_bool(self, key):
        """``yes`` -> True, anything else False (a bool value as it is)."""
        val = self[key]
        if isinstance(val, bool):
            return val
        return val.lower() == "yes"

    def as_int(self, key):
        """The value as an int (ValueError when it is not one)."""
        return int(self[key])
