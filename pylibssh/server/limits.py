"""The server's limits, with OpenSSH's names, meanings and defaults (sshd_config(5)).

=========================  ===========================  =========================================
option                     sshd                          default
=========================  ===========================  =========================================
``login_grace_time``       LoginGraceTime                120 s (0 or None: no limit)
``max_auth_tries``         MaxAuthTries                  6 failures end the connection
``max_startups``           MaxStartups                   10:30:100
``max_sessions``           MaxSessions                   10 session channels at once
``max_forward_channels``   (16384 channels in all)       128 forwarding channels at once
``idle_timeout``           (none)                        off
``auth_failure_delay``     (auth2.c's minimum time)      5 ms, plus 0-4.3 ms per user name
=========================  ===========================  =========================================

Times take sshd's format (``90``, ``2m``, ``1h30m``) or a number of seconds. The older option
names ``max_auth_attempts`` (= ``max_auth_tries``) and ``max_unauthenticated`` (``N`` =
``max_startups`` ``N``: every connection refused once N are unauthenticated) still work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
from typing import Any, NamedTuple

__all__ = ["MaxStartups", "FailureDelay", "parse_time", "limit_options", "LIMIT_DEFAULTS"]

_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME_PART = re.compile(r"(\d+)([smhdw]?)", re.IGNORECASE)


def parse_time(value: str | float) -> float:
    """Seconds from sshd's time format (``convtime``): a number with an optional unit (``s``,
    ``m``, ``h``, ``d``, ``w``, either case), several concatenated (``1h30m``); a plain number
    of seconds is accepted too. Raises ValueError for anything else, negative times included."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a time cannot be negative: {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a time: {value!r} (sshd's format: 90, 30s, 2m, 1h30m)")
    total, pos = 0, 0
    for match in _TIME_PART.finditer(value):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _TIME_UNITS[match.group(2).lower()]
        pos = match.end()
    if pos != len(value):
        raise ValueError(f"not a time: {value!r} (sshd's format: 90, 30s, 2m, 1h30m)")
    return total


class MaxStartups(NamedTuple):
    """sshd's ``MaxStartups start:rate:full``: once ``start`` connections are unauthenticated,
    a new one is refused with probability ``rate`` %, rising linearly to 100 % at ``full``."""

    start: int
    rate: int
    full: int

    @classmethod
    def parse(cls, value: Any) -> MaxStartups:
        """From ``"10:30:100"``, ``"10"`` / ``10`` (refuse every connection from 10 on) or a
        ``(start, rate, full)`` tuple. Raises ValueError for what sshd refuses."""
        if isinstance(value, MaxStartups):
            return value
        if isinstance(value, bool):
            raise ValueError(f"invalid max_startups {value!r}")
        if isinstance(value, int):
            parts: list[Any] = [value]
        elif isinstance(value, str):
            parts = value.split(":")
        elif isinstance(value, (tuple, list)):
            parts = list(value)
        else:
            raise ValueError(f"invalid max_startups {value!r}: use 'start:rate:full' or a number")
        try:
            numbers = [_integer(p) for p in parts]
        except ValueError:
            raise ValueError(f"invalid max_startups {value!r}: use 'start:rate:full' or a "
                             "number") from None
        if len(numbers) == 1:
            numbers = [numbers[0], 100, numbers[0]]
        if len(numbers) != 3:
            raise ValueError(f"invalid max_startups {value!r}: use 'start:rate:full' or a number")
        start, rate, full = numbers
        if start <= 0 or full <= 0 or start > full or not 1 <= rate <= 100:
            raise ValueError(f"invalid max_startups {value!r}: needs 0 < start <= full and "
                             "1 <= rate <= 100")
        return cls(start, rate, full)

    def should_drop(self, unauthenticated: int) -> bool:
        """Whether a new connection is refused while ``unauthenticated`` connections are (sshd's
        ``should_drop_connection``, its integer arithmetic included)."""
        if unauthenticated < self.start:
            return False
        if unauthenticated >= self.full or self.rate == 100:
            return True
        p = (100 - self.rate) * (unauthenticated - self.start) // (self.full - self.start)
        return random.randrange(100) < p + self.rate

    def __str__(self) -> str:
        return f"{self.start}:{self.rate}:{self.full}"


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"not an integer: {value!r}")
    return int(value)


_MAX_FAIL_DELAY = 5.0  # sshd's MAX_FAIL_DELAY_SECONDS: a slower answer is not delayed more


class FailureDelay:
    """sshd's minimum time for an authentication failure (auth2.c, ``user_specific_delay`` and
    ``ensure_minimum_time_since``): ``minimum`` seconds plus 0-4.3 ms that depend on the user
    name and on a secret drawn at start, so that a failure takes as long whether the user
    exists or not, and a check that took longer is padded to a doubling of that time."""

    def __init__(self, minimum: float):
        self.minimum = minimum
        self._secret = os.urandom(32)

    def for_user(self, user: str | None) -> float:
        """The minimum failure time for ``user``, in seconds."""
        digest = hmac.new(self._secret, (user or "").encode("utf-8", "surrogateescape"),
                          hashlib.sha512).digest()
        return self.minimum + int.from_bytes(digest[:4], "big") / 1e12

    def remaining(self, elapsed: float, user: str | None) -> float:
        """How much longer a failure decided ``elapsed`` seconds after its request arrived
        waits before it is sent (0: send it now)."""
        if elapsed > max(_MAX_FAIL_DELAY, self.minimum):
            return 0.0
        wanted = self.for_user(user)
        while wanted < elapsed:
            wanted *= 2
        return wanted - elapsed


LIMIT_DEFAULTS: dict[str, Any] = {
    "login_grace_time": 120.0,
    "max_auth_tries": 6,
    "max_startups": MaxStartups(10, 30, 100),
    "max_sessions": 10,
    "max_forward_channels": 128,
    "idle_timeout": None,
    "auth_failure_delay": 0.005,
}

# older option names -> the current ones
_ALIASES = {
    "max_auth_attempts": "max_auth_tries",
    "max_unauthenticated": "max_startups",
}


def limit_options(given: dict[str, Any]) -> dict[str, Any]:
    """Take the limit options out of ``given`` (create_server's keyword arguments): the full
    set with defaults filled in and values checked and converted (times to seconds,
    ``max_startups`` to :class:`MaxStartups`). Raises TypeError when an option is given under
    both its names, ValueError for a bad value."""
    for old, new in _ALIASES.items():
        if old in given:
            if new in given:
                raise TypeError(f"give {new} or its older name {old}, not both")
            given[new] = given.pop(old)
    opts = dict(LIMIT_DEFAULTS)
    for name in LIMIT_DEFAULTS:
        if name in given:
            opts[name] = given.pop(name)
    for name, minimum in (("max_auth_tries", 1), ("max_sessions", 0),
                          ("max_forward_channels", 0)):
        value = opts[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < minimum):
            raise ValueError(f"{name} must be an integer >= {minimum} or None, not {value!r}")
    if opts["max_startups"] is not None:
        opts["max_startups"] = MaxStartups.parse(opts["max_startups"])
    # sshd: LoginGraceTime 0 is no limit
    opts["login_grace_time"] = _seconds("login_grace_time", opts["login_grace_time"],
                                        zero_is_off=True)
    opts["idle_timeout"] = _seconds("idle_timeout", opts["idle_timeout"], zero_is_off=False)
    delay = opts["auth_failure_delay"]
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float))
                              or delay < 0):
        raise ValueError(f"auth_failure_delay must be a number of seconds >= 0 or None, not "
                         f"{delay!r}")
    opts["auth_failure_delay"] = delay or None
    return opts


def _seconds(name: str, value: Any, zero_is_off: bool) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_time(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if seconds == 0 and zero_is_off:
        return None
    if seconds <= 0:
        raise ValueError(f"{name} must be more than 0 seconds, or None, not {value!r}")
    return seconds
