"""paramiko.rsakey"""

from .pkey import RSAKey

__all__ = ["RSAKey"]
