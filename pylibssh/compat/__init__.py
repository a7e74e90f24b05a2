"""Compatibility layers over pylibssh's own API (``pylibssh.compat.paramiko``)."""
