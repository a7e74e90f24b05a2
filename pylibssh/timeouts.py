"""The default of every ``timeout`` argument: :data:`DEFAULT` means "the object's own timeout"
(a client's ``op_timeout``, a process's or SFTP client's ``timeout``), distinct from ``None``,
which means "wait as long as it takes"."""

from __future__ import annotations

import enum
from typing import Literal, Union

__all__ = ["DEFAULT", "Timeout", "resolve"]


class _Default(enum.Enum):
    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: a ``timeout`` left out: the object's own timeout applies
DEFAULT = _Default.DEFAULT

#: what a ``timeout`` argument takes: seconds, None (no limit) or :data:`DEFAULT`
Timeout = Union[float, None, Literal[_Default.DEFAULT]]


def resolve(timeout: Timeout, default: float | None) -> float | None:
    """``timeout`` in seconds (None: no limit), with ``default`` standing for :data:`DEFAULT`."""
    return default if timeout is DEFAULT else timeout
