"""paramiko.SSHConfig: OpenSSH client configuration files, looked up per host into a dict of
lower-cased keys (first obtained value wins; IdentityFile and forwards accumulate), with
OpenSSH's ``%`` tokens and ``~`` expanded where OpenSSH expands them."""

from __future__ import annotations

import fnmatch
import getpass
import os
import re
import shlex
import socket

from .ssh_exception import ConfigParseError

__all__ = ["SSHConfig", "SSHConfigDict"]

SSH_PORT = 22

_LINE = re.compile(r"^\s*(\w+)(?:\s*=\s*|\s+)(.+?)\s*$")
_LISTS = ("identityfile", "localforward", "remoteforward", "certificatefile")
# which tokens each key expands (OpenSSH's ssh_config(5) TOKENS section)
_TOKENS = {
    "controlpath": ["%C", "%h", "%l", "%L", "%n", "%p", "%r", "%u"],
    "hostname": ["%h"],
    "identityfile": ["%C", "~", "%d", "%h", "%l", "%u", "%r"],
    "proxycommand": ["~", "%h", "%p", "%r"],
    "proxyjump": ["%h", "%p", "%r"],
    "match-exec": ["%C", "%d", "%h", "%L", "%l", "%n", "%p", "%r", "%u"],
    "certificatefile": ["%C", "~", "%d", "%h", "%l", "%u", "%r"],
}


class SSHConfigDict(dict):
    """A dict with OpenSSH-style ``as_bool`` / ``as_int`` helpers."""

    def as_bool(self, key):
        val = self[key]
        if isinstance(val, bool):
            return val
        return val.lower() == "yes"

    def as_int(self, key):
        return int(self[key])


class SSHConfig:
    """Representation of config information as stored in the format used by OpenSSH."""

    def __init__(self):
        self._config = []

    @classmethod
    def from_text(cls, text):
        import io

        return cls.from_file(io.StringIO(text))

    @classmethod
    def from_path(cls, path):
        with open(path) as flo:
            return cls.from_file(flo)

    @classmethod
    def from_file(cls, flo):
        obj = cls()
        obj.parse(flo)
        return obj

    def parse(self, file_obj):
        context = {"host": ["*"], "config": {}}
        for line in file_obj:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = _LINE.match(line)
            if not match:
                raise ConfigParseError(f"Unparsable line {line}")
            key = match.group(1).lower()
            value = match.group(2)
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
                if key in _LISTS:
                    context["config"].setdefault(key, []).append(value)
                elif key not in context["config"]:
                    context["config"][key] = value
        self._config.append(context)

    @staticmethod
    def _get_hosts(host):
        try:
            return shlex.split(host)
        except ValueError:
            raise ConfigParseError(f"Unparsable host {host}") from None

    @staticmethod
    def _get_matches(match):
        matches = []
        tokens = shlex.split(match)
        while tokens:
            type_ = tokens.pop(0)
            negated = type_.startswith("!")
            if negated:
                type_ = type_[1:]
            m = {"type": type_.lower(), "param": None, "negate": negated}
            if m["type"] not in ("all", "canonical", "final"):
                if not tokens:
                    raise ConfigParseError(f"Missing parameter to Match '{type_}' keyword")
                m["param"] = tokens.pop(0)
            matches.append(m)
        return matches

    def lookup(self, hostname):
        options = self._lookup(hostname=hostname)
        if "hostname" not in options:
            options["hostname"] = hostname
        return self._expand_variables(options, hostname)

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

    def _does_match(self, matches, target_hostname, options):
        user = options.get("user", getpass.getuser())
        hostname = options.get("hostname", target_hostname)
        for m in matches:
            kind, param = m["type"], m["param"]
            if kind in ("canonical", "final"):
                ok = False
            elif kind == "all":
                ok = True
            elif kind == "host":
                ok = self._pattern_matches(param, hostname)
            elif kind == "originalhost":
                ok = self._pattern_matches(param, target_hostname)
            elif kind == "user":
                ok = self._pattern_matches(param, user)
            elif kind == "localuser":
                ok = self._pattern_matches(param, getpass.getuser())
            elif kind == "exec":
                import subprocess

                cmd = self._tokenize(options, target_hostname, "match-exec", param)
                ok = subprocess.run(cmd, shell=True, capture_output=True).returncode == 0
            else:
                ok = False
            if ok == m["negate"]:
                return False
        return True

    def _lookup(self, hostname, options=None):
        if options is None:
            options = SSHConfigDict()
        for context in self._config:
            if "host" in context:
                if not self._pattern_matches(context["host"], hostname):
                    continue
            elif not self._does_match(context["matches"], hostname, options):
                continue
            for key, value in context["config"].items():
                if key not in options:
                    options[key] = value[:] if value is not None and key in _LISTS else value
                elif key in _LISTS:
                    options[key].extend(x for x in value if x not in options[key])
        return options

    def get_hostnames(self):
        hosts = set()
        for entry in self._config:
            hosts.update(entry.get("host", ()))
        return hosts

    def _tokenize(self, config, target_hostname, key, value):
        allowed = _TOKENS.get(key, [])
        if not allowed or value is None:
            return value
        configured_hostname = config.get("hostname", target_hostname)
        port = config.get("port", SSH_PORT)
        user = getpass.getuser()
        remoteuser = config.get("user", user)
        local_hostname = socket.gethostname().split(".")[0]
        local_fqdn = socket.getfqdn()
        homedir = os.path.expanduser("~")
        import hashlib

        tohash = local_hostname + configured_hostname + repr(port) + remoteuser
        replacements = {
            "%C": hashlib.sha1(tohash.encode()).hexdigest(),
            "%d": homedir,
            "%h": configured_hostname,
            "%L": local_hostname,
            "%l": local_fqdn,
            "%n": target_hostname,
            "%p": str(port),
            "%r": remoteuser,
            "%u": user,
            "~": homedir,
        }
        out = []
        i = 0
        while i < len(value):
            if value.startswith("%%", i):
                out.append("%")
                i += 2
                continue
            for token in allowed:
                if value.startswith(token, i) and (token != "~" or i == 0 or
                                                    value[i - 1] in " =\t"):
                    out.append(replacements[token])
                    i += len(token)
                    break
            else:
                out.append(value[i])
                i += 1
        return "".join(out)

    def _expand_variables(self, config, target_hostname):
        for k in config:
            if config[k] is None:
                continue
            if isinstance(config[k], list):
                config[k] = [self._tokenize(config, target_hostname, k, v) for v in config[k]]
            else:
                config[k] = self._tokenize(config, target_hostname, k, config[k])
        return config
