"""Option handling shared by the examples (host key, address, who may log in)."""

from __future__ import annotations

import argparse
import os
import sys

import pylibssh


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=2222, help="port (0: any free port)")
    p.add_argument("--host-key", help="host private key file (default: a new Ed25519 key)")
    p.add_argument("--authorized-keys", default=os.path.expanduser("~/.ssh/authorized_keys"),
                   help="public keys allowed to log in (an authorized_keys or .pub file)")
    p.add_argument("--user", help="the only user name accepted (default: any)")
    p.add_argument("--password", help="also accept this password")
    p.add_argument("--debug", action="store_true", help="log what the server does on stderr")
    return p


def host_keys(args) -> list:
    if args.host_key:
        return [args.host_key]
    key = pylibssh.Key.generate("ed25519")
    print(f"host key (new, not saved): {key.fingerprint()}", file=sys.stderr)
    return [key]


def authorizer(args):
    """An ``auth`` listener: node-libssh's README pattern (pylibssh only lets a key in once the
    client proved it holds it), plus an optional password."""
    keys = []
    if args.authorized_keys and os.path.exists(args.authorized_keys):
        keys = pylibssh.load_authorized_keys(args.authorized_keys)

    def on_auth(message):
        if args.user and message.auth_user != args.user:
            return message.reply_default()
        if message.subtype == "publickey" and any(message.compare_public_key(k) for k in keys):
            return message.reply_auth_success()
        if (message.subtype == "password" and args.password is not None
                and message.auth_password == args.password):
            return message.reply_auth_success()
        message.reply_default()

    return on_auth


def announce(server) -> None:
    # the examples' smoke tests read this line
    print(f"listening on {server.address[0]} port {server.port}", flush=True)
