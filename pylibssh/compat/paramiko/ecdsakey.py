"""paramiko.ecdsakey"""

from .pkey import ECDSAKey

__all__ = ["ECDSAKey"]
