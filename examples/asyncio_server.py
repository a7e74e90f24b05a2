"""An SFTP and exec server on asyncio (pylibssh.asyncio) whose authentication awaits an async
user store, serving a directory with LocalFilesystem.

    python examples/asyncio_server.py --port 2222 --root /srv/files --user alice:secret
    sftp -P 2222 alice@localhost          # (password: secret)
    ssh -p 2222 alice@localhost 'echo hi'

The user store keeps scrypt hashes and checks a password in a worker thread (scrypt takes tens
of milliseconds on purpose): the loop serves every other connection meanwhile. Public keys from
``--authorized-keys`` are accepted for any listed user.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import sys

import pylibssh
import pylibssh.asyncio as pa
from pylibssh.server import LocalFilesystem, spawn


class UserStore:
    """Users and scrypt password hashes; a lookup is a coroutine, as a database's would be."""

    def __init__(self) -> None:
        self._users: dict[str, tuple[bytes, bytes]] = {}

    def add(self, name: str, password: str) -> None:
        salt = os.urandom(16)
        self._users[name] = (salt, self._hash(password, salt))

    @staticmethod
    def _hash(password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)

    def known(self, name: str) -> bool:
        return name in self._users

    async def check(self, name: str, password: str) -> bool:
        entry = self._users.get(name)
        if entry is None:
            return False
        salt, expected = entry
        got = await asyncio.to_thread(self._hash, password, salt)
        return hmac.compare_digest(got, expected)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2222, help="port (0: any free port)")
    p.add_argument("--root", default=".", help="the directory SFTP serves (as /)")
    p.add_argument("--host-key", help="host private key file (default: a new Ed25519 key)")
    p.add_argument("--user", action="append", default=[], help="name:password (repeatable)")
    p.add_argument("--authorized-keys", help="public keys allowed for the listed users")
    args = p.parse_args()

    users = UserStore()
    for spec in args.user:
        name, _, password = spec.partition(":")
        users.add(name, password)
    keys = pylibssh.load_authorized_keys(args.authorized_keys) if args.authorized_keys else []
    host_keys = [args.host_key] if args.host_key else [pylibssh.Key.generate("ed25519")]
    fs = LocalFilesystem(args.root)

    server = await pa.create_server(args.host, args.port, host_keys=host_keys)

    @server.on("connection")
    def on_connection(session):
        @session.on("auth")
        async def on_auth(message):
            if not users.known(message.auth_user):
                message.reply_default()
            elif message.subtype == "password":
                if await users.check(message.auth_user, message.auth_password):
                    message.reply_auth_success()
                else:
                    message.reply_default()
            elif message.subtype == "publickey" and any(
                    message.compare_public_key(k) for k in keys):
                message.reply_auth_success()  # (a probe gets pk_ok; only a signed request logs in)
            else:
                message.reply_default()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("subsystem")
            def on_subsystem(message):
                if message.subsystem == "sftp":
                    message.sftp_accept()
                    fs.attach(channel)
                else:
                    message.reply_default()

            @channel.on("exec")
            def on_exec(message):
                message.reply_success()
                spawn(channel, message.exec_command, cwd=args.root)

    print(f"listening on {server.address[0]} port {server.port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
