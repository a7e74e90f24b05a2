"""paramiko.HostKeys: OpenSSH known_hosts files as a mapping ``hostname -> {keytype: key}``
(hashed ``|1|salt|hash`` names and ``[host]:port`` entries as OpenSSH writes them)."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import MutableMapping
from hashlib import sha1

from .pkey import PKey, UnknownKeyType
from .ssh_exception import SSHException
from .util import get_logger

__all__ = ["HostKeys", "HostKeyEntry", "InvalidHostKey"]


class InvalidHostKey(Exception):
    """A known_hosts line whose key is not valid base64."""

    def __init__(self, line, exc):
        super().__init__(line, exc)
        self.line = line
        self.exc = exc


class HostKeyEntry:
    """One known_hosts line: host names (or patterns/hashes) and a key."""

    def __init__(self, hostnames=None, key=None):
        self.valid = (hostnames is not None) and (key is not None)
        self.hostnames = hostnames
        self.key = key

    @classmethod
    def from_line(cls, line, lineno=None):
        """The entry of one known_hosts line (fields separated by a space or a tab), or None
        for a line this cannot use (too few fields, a key type no key class reads: logged on
        ``paramiko.hostkeys``; OpenSSH's ``@cert-authority``/``@revoked`` lines). Raises
        :class:`InvalidHostKey` when the key is not base64, and SSHException for key data that
        is not a key of its type, as paramiko."""
        log = get_logger("paramiko.hostkeys")
        if line.startswith("@"):  # @cert-authority / @revoked: not host keys of paramiko's
            log.info("Skipping known_hosts marker line %s (%r)", lineno, line)
            return None
        fields = re.split(" |\t", line)
        if len(fields) < 3:
            log.info("Not enough fields found in known_hosts in line %s (%r)", lineno, line)
            return None
        names, key_type, key = fields[:3]
        try:
            key_bytes = base64.decodebytes(key.encode())
        except binascii.Error as e:
            raise InvalidHostKey(line, e) from None
        try:
            return cls(names.split(","), PKey.from_type_string(key_type, key_bytes))
        except UnknownKeyType:
            log.info("Unable to handle key of type %s", key_type)
            return None

    def to_line(self):
        """The entry as one known_hosts line (with a newline), or None for an entry without a key.
        """
        if self.valid:
            return f"{','.join(self.hostnames)} {self.key.get_name()} {self.key.get_base64()}\n"
        return None

    def __repr__(self):
        return f"<HostKeyEntry {self.hostnames!r}: {self.key!r}>"


class _SubDict(MutableMapping):
    """The keys of one host (keytype -> key); adding one adds an entry to the file's list."""

    def __init__(self, hostname, entries, hostkeys):
        self._hostname = hostname
        self._entries = entries
        self._hostkeys = hostkeys

    def __iter__(self):
        for k in self.keys():
            yield k

    def __len__(self):
        return len(self.keys())

    def __delitem__(self, key):
        for e in list(self._entries):
            if e.key.get_name() == key:
                self._entries.remove(e)
                self._hostkeys._entries.remove(e)
                break
        else:
            raise KeyError(key)

    def __getitem__(self, key):
        for e in self._entries:
            if e.key.get_name() == key:
                return e.key
        raise KeyError(key)

    def __setitem__(self, key, val):
        for e in self._entries:
            if e.key is None:
                continue
            if e.key.get_name() == key:
                e.key = val
                break
        else:
            e = HostKeyEntry([self._hostname], val)
            self._entries.append(e)
            self._hostkeys._entries.append(e)

    def keys(self):
        return [e.key.get_name() for e in self._entries if e.key is not None]


class HostKeys(MutableMapping):
    """A set of host keys, loaded from / saved to OpenSSH known_hosts files."""

    def __init__(self, filename=None):
        self._entries: list[HostKeyEntry] = []
        if filename is not None:
            self.load(filename)

    def add(self, hostname, keytype, key):
        """Record ``key`` for ``hostname`` (replacing a key of the same type)."""
        for e in self._entries:
            if (hostname in e.hostnames) and (e.key.get_name() == keytype):
                e.key = key
                return
        self._entries.append(HostKeyEntry([hostname], key))

    def load(self, filename):
        """Read an OpenSSH known_hosts file into these keys (hashed names included; bad lines are
        skipped). Raises :class:`OSError` when it cannot be read."""
        with open(filename) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if (len(line) == 0) or (line[0] == "#"):
                    continue
                try:
                    e = HostKeyEntry.from_line(line, lineno)
                except (SSHException, InvalidHostKey) as exc:
                    # paramiko lets InvalidHostKey out of load(); a bad line is skipped here
                    get_logger("paramiko.hostkeys").info(
                        "Skipping invalid known_hosts line %s: %s", lineno, exc)
                    continue
                if e is not None:
                    # a host already known with this very key is not listed twice
                    e.hostnames = [h for h in e.hostnames if not self.check(h, e.key)]
                    if e.hostnames:
                        self._entries.append(e)

    def save(self, filename):
        """Write these keys to ``filename`` in known_hosts format."""
        with open(filename, "w") as f:
            for e in self._entries:
                line = e.to_line()
                if line:
                    f.write(line)

    def lookup(self, hostname):
        """The keys known for ``hostname`` as a dict of key type to key, or None."""
        entries = []
        for e in self._entries:
            if self._hostname_matches(hostname, e):
                entries.append(e)
        if len(entries) == 0:
            return None
        return _SubDict(hostname, entries, self)

    def _hostname_matches(self, hostname, entry):
        for h in entry.hostnames:
            if h == hostname or (h.startswith("|1|") and not hostname.startswith("|1|")
                                 and hmac.compare_digest(self.hash_host(hostname, h), h)):
                return True
        return False

    def check(self, hostname, key):
        """True when ``key`` is the key recorded for ``hostname`` and its type."""
        k = self.lookup(hostname)
        if k is None:
            return False
        host_key = k.get(key.get_name(), None)
        if host_key is None:
            return False
        return host_key.asbytes() == key.asbytes()

    def clear(self):
        self._entries = []

    def __iter__(self):
        for k in self.keys():
            yield k

    def __len__(self):
        return len(self.keys())

    def __getitem__(self, key):
        ret = self.lookup(key)
        if ret is None:
            raise KeyError(key)
        return ret

    def __delitem__(self, key):
        index = None
        for i, entry in enumerate(self._entries):
            if self._hostname_matches(key, entry):
                index = i
                break
        if index is None:
            raise KeyError(key)
        self._entries.pop(index)

    def __setitem__(self, hostname, entry):
        if len(entry) == 0:
            self._entries.append(HostKeyEntry([hostname], None))
            return
        for key_type in entry.keys():
            found = False
            for e in self._entries:
                if (hostname in e.hostnames) and e.key.get_name() == key_type:
                    e.key = entry[key_type]
                    found = True
            if not found:
                self._entries.append(HostKeyEntry([hostname], entry[key_type]))

    def keys(self):
        ret = []
        for e in self._entries:
            for h in e.hostnames:
                if h not in ret:
                    ret.append(h)
        return ret

    def values(self):
        return [self.lookup(k) for k in self.keys()]

    @staticmethod
    def hash_host(hostname, salt=None):
        """OpenSSH's hashed host name: ``|1|base64(salt)|base64(HMAC-SHA1(salt, host))``."""
        if salt is None:
            salt = os.urandom(sha1().digest_size)
        else:
            if salt.startswith("|1|"):
                salt = salt.split("|")[2]
            salt = base64.b64decode(salt.encode())
        hmac_digest = hmac.HMAC(salt, hostname.encode(), sha1).digest()
        hostkey = "|1|{}|{}".format(base64.b64encode(salt).decode(),
                                     base64.b64encode(hmac_digest).decode())
        return hostkey.replace("\n", "")
