"""What the SFTP server and client share: attributes, node-libssh's ``Stat`` mode builder, the
status names and enum, and the open flags. Protocol version 3 (draft-ietf-secsh-filexfer-02),
the version OpenSSH speaks."""

from .attributes import SFTPAttributes, Stat, long_name
from .constants import (OpenFlags, SFTPStatus, open_flags_to_os, status_code, status_for_version,
                        status_name)

__all__ = [
    "SFTPAttributes",
    "Stat",
    "long_name",
    "OpenFlags",
    "SFTPStatus",
    "status_code",
    "status_name",
    "status_for_version",
    "open_flags_to_os",
]
