"""paramiko.util: the helpers applications import from it."""

from __future__ import annotations

import itertools
import logging
import threading

from .common import DEBUG, asbytes  # noqa: F401
from .config import SSHConfig

_thread_data = threading.local()
_thread_ids = itertools.count(1)


def get_thread_id() -> int:
    """A small number for the calling thread (``thr=`` in :func:`log_to_file`'s lines)."""
    try:
        return _thread_data.id
    except AttributeError:
        _thread_data.id = next(_thread_ids)
        return _thread_data.id


class PFilter:
    """Adds ``_threadid`` to log records (the field :func:`log_to_file`'s format prints)."""

    def filter(self, record):
        """Add the thread's id to ``record`` (as ``_threadid``) for paramiko's log format; always
        keeps the record."""
        record._threadid = get_thread_id()
        return True


_pfilter = PFilter()


def get_logger(name):
    """The logger ``name`` with :class:`PFilter` attached (paramiko logs through these)."""
    logger = logging.getLogger(name)
    logger.addFilter(_pfilter)
    return logger


def log_to_file(filename, level=DEBUG):
    """Append the ``paramiko`` loggers' records at ``level`` and above to ``filename``, unless
    the ``paramiko`` logger already has a handler."""
    logger = logging.getLogger("paramiko")
    if len(logger.handlers) > 0:
        return
    logger.setLevel(level)
    handler = logging.StreamHandler(open(filename, "a"))
    handler.addFilter(_pfilter)  # records of loggers not made by get_logger format too
    handler.setFormatter(logging.Formatter(
        "%(levelname)-.3s [%(asctime)s.%(msecs)03d] thr=%(_threadid)-3d %(name)s: %(message)s",
        "%Y%m%d-%H:%M:%S"))
    logger.addHandler(handler)


def load_host_keys(filename):
    """A :class:`~pylibssh.compat.paramiko.hostkeys.HostKeys` read from known_hosts ``filename``."""
    from .hostkeys import HostKeys

    return HostKeys(filename)


def parse_ssh_config(file_obj):
    """An :class:`~pylibssh.compat.paramiko.config.SSHConfig` parsed from the open file
    ``file_obj``."""
    config = SSHConfig()
    config.parse(file_obj)
    return config


def lookup_ssh_host_config(hostname, config):
    """``config.lookup(hostname)``: the options that apply to ``hostname``."""
    return config.lookup(hostname)


def b(s, encoding="utf8"):
    """``s`` as bytes: str encoded with ``encoding`` (default UTF-8), bytes unchanged."""
    return s.encode(encoding) if isinstance(s, str) else s


def u(s, encoding="utf8"):
    """``s`` as str: bytes decoded with ``encoding`` (default UTF-8), str unchanged."""
    return s.decode(encoding) if isinstance(s, bytes) else s


class ClosingContextManager:
    """Mixin: ``with obj:`` closes ``obj`` at the end of the block."""

    def __enter__(self):
        return self

    def __exit__(self, type, value, traceback):
        self.close()
