"""A small pylibssh server run as its own process by the scale tests (its memory is measured
apart from the clients') and by the benchmarks.

    python tests/server_app.py --host-key KEY [--authorized-key PUB] [--password PW]
        [--port 0] [--mode echo|spawn] [--forward]
        [--workers N [--no-reuse-port] [--drain-timeout T]]

Prints ``PORT <n>`` on stdout once listening. Exec requests: ``__stats__`` answers with a JSON
line (RSS in KiB, live sessions/channels/messages, the process id); in ``echo`` mode any other
command is echoed back (``<command>\\n``, exit status 0) without a process; in ``spawn`` mode it
runs with ``pylibssh.server.spawn``. ``--forward`` allows every forward (``connect_handler`` and
``listen_handler`` with ``allow="*"``). SIGTERM closes the server.

With ``--workers N`` the server runs in N worker processes (``create_server(workers=N)``); each
prints ``WORKER <index> <pid>`` once it accepts and ``RELOAD <index> <pid>`` on each ``reload``.
SIGTERM then drains (the supervisor's own handling), SIGHUP reloads.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

import pylibssh
from pylibssh.server import _live, connect_handler, listen_handler, spawn


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def say(line: str) -> None:
    """One line on stdout in one write: the workers share it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-key", required=True)
    parser.add_argument("--authorized-key")
    parser.add_argument("--password")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("echo", "spawn"), default="echo")
    parser.add_argument("--max-unauthenticated", type=int, default=1000)
    parser.add_argument("--forward", action="store_true", help="allow every forward")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-reuse-port", action="store_true")
    parser.add_argument("--drain-timeout", type=float, default=30.0)
    args = parser.parse_args()

    keys = pylibssh.load_authorized_keys(args.authorized_key) if args.authorized_key else []
    server = pylibssh.create_server(host_keys=[args.host_key],
                                    max_unauthenticated=args.max_unauthenticated,
                                    workers=args.workers, drain_timeout=args.drain_timeout,
                                    reuse_port=False if args.no_reuse_port else None)

    def on_auth(msg):
        if msg.subtype == "publickey" and any(msg.compare_public_key(k) for k in keys):
            return msg.reply_auth_success()
        if msg.subtype == "password" and args.password and msg.auth_password == args.password:
            return msg.reply_auth_success()
        msg.reply_default()

    def on_channel(channel):
        @channel.on("exec")
        def on_exec(msg):
            msg.reply_success()
            command = msg.exec_command or ""
            if command == "__stats__":
                channel.write(json.dumps({"rss_kib": rss_kib(), "pid": os.getpid(),
                                          **_live.counts()}) + "\n")
            elif args.mode == "echo":
                channel.write(command + "\n")
            else:
                spawn(channel, command, shell="/bin/sh")  # what sshd runs for this user
                return
            channel.send_exit_status(0)
            channel.send_eof()
            channel.close()

    @server.on("connection")
    def on_connection(session):
        session.on("auth", on_auth)
        session.on("channel", on_channel)
        if args.forward:
            session.on("tcpip", connect_handler(allow="*"))
            session.on("openssh.streamlocal", connect_handler(allow="*"))
            session.on("request", listen_handler(allow="*"))

    if args.workers:
        server.on("ready", lambda: say(f"WORKER {server.worker} {os.getpid()}"))
        server.on("reload", lambda: say(f"RELOAD {server.worker} {os.getpid()}"))
    else:
        # close from another thread: it takes the loop's lock and wakes the loop
        signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.close).start())
    server.listen(args.port, "127.0.0.1")
    print(f"PORT {server.port}", flush=True)
    server.serve_forever()
    server.loop.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
