"""paramiko.util: the helpers applications import from it."""

from __future__ import annotations

import logging

from .common import DEBUG, asbytes  # noqa: F401
from .config import SSHConfig


def get_logger(name):
    return logging.getLogger(name)


def log_to_file(filename, level=DEBUG):
    logger = logging.getLogger("paramiko")
    if len(logger.handlers) > 0:
        return
    logger.setLevel(level)
    handler = logging.FileHandler(filename)
    handler.setFormatter(logging.Formatter(
        "%(levelname)-.3s [%(asctime)s.%(msecs)03d] thr=%(_threadid)-3d %(name)s: %(message)s",
        "%Y%m%d-%H:%M:%S"))
    logger.addHandler(handler)


def load_host_keys(filename):
    from .hostkeys import HostKeys

    return HostKeys(filename)


def parse_ssh_config(file_obj):
    config = SSHConfig()
    config.parse(file_obj)
    return config


def lookup_ssh_host_config(hostname, config):
    return config.lookup(hostname)


def b(s, encoding="utf8"):
    return s.encode(encoding) if isinstance(s, str) else s


def u(s, encoding="utf8"):
    return s.decode(encoding) if isinstance(s, bytes) else s


class ClosingContextManager:
    def __enter__(self):
        return self

    def __exit__(self, type, value, traceback):
        self.close()
