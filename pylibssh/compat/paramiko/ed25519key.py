"""paramiko.ed25519key"""

from .pkey import Ed25519Key

__all__ = ["Ed25519Key"]
