"""Helpers for the SFTP server tests: a server whose channels accept the ``sftp`` subsystem and
hand it to a per-test ``setup(channel, sftp)``; OpenSSH's sftp/scp and paramiko as clients."""

from __future__ import annotations

from typing import Any, Callable

import paramiko

import pylibssh
from serverkit import DEADLINE, PASSWORD, paramiko_client, standard_app


def sftp_server(make_server, setup: Callable[[Any], None], keys=(), **options: Any):
    """A started RunningServer (password auth, and the public ``keys``: ``sftp -b`` runs in
    batch mode, so OpenSSH's clients log in with a key) whose ``sftp`` subsystems run
    ``setup(channel)`` right after ``sftp_accept()``."""
    rs = make_server(**options)

    def on_channel(channel):
        @channel.on("subsystem")
        def _subsystem(msg):
            rs.log.append(("subsystem", msg.subsystem))
            if msg.subsystem != "sftp":
                return msg.reply_default()
            msg.sftp_accept()
            setup(channel)

    standard_app(rs, keys=[pylibssh.Key.from_private_file(k).public_key() if not
                      isinstance(k, pylibssh.Key) else k for k in keys],
                 on_channel=on_channel)
    return rs.start()


def paramiko_sftp(port: int) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
    client = paramiko_client(port, password=PASSWORD)
    sftp = client.open_sftp()
    sftp.get_channel().settimeout(DEADLINE)
    return client, sftp
