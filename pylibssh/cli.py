"""``pylibssh serve``: a ready-made SFTP (and, on request, SSH) server with embedded defaults.

    python -m pylibssh serve [--root DIR] [--host 127.0.0.1] [--port 2222] [--read-only]
                             [--password PW | --no-password] [--authorized-keys FILE]
                             [--state-dir DIR] [--allow-exec] [--debug]
                             [--login-grace-time 2m] [--max-auth-tries 6]
                             [--max-startups 10:30:100] [--max-sessions 10] [--idle-timeout T]
                             [--workers N] [--drain-timeout 30s]

It serves the current directory (or ``--root``) over SFTP, confined to it. The Ed25519 host key
is created once and kept in a per-user state directory (``$PYLIBSSH_STATE_DIR``, else
``$XDG_STATE_HOME/pylibssh``, else ``~/.local/state/pylibssh``); its fingerprint is printed.
Clients log in with a key from ``~/.ssh/authorized_keys`` or with a password: ``--password``,
``$PYLIBSSH_PASSWORD``, or one generated at start and printed. Any user name is accepted: the
secret is the key or the password. Shell and exec are off unless ``--allow-exec``, which runs
commands as the server's own user. It serves from one worker process per CPU (``--workers``),
supervised by the process started. Ctrl-C (SIGINT) or SIGTERM stops it cleanly: no new
connection is accepted and sessions may end, for up to ``--drain-timeout``; a second Ctrl-C
disconnects them at once. SIGHUP rereads the authorized keys. The limits carry the names,
meanings and defaults of OpenSSH's sshd_config (LoginGraceTime, MaxAuthTries, MaxStartups,
MaxSessions) and apply per worker; times take sshd's format (90, 30s, 2m, 1h30m).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .keys import Key, load_authorized_keys
from .server.limits import LIMIT_DEFAULTS, MaxStartups, parse_time
from .server.workers import default_workers

if TYPE_CHECKING:
    from .server import (
        AuthMessage,
        ChannelRequestMessage,
        LocalFilesystem,
        Server,
        ServerChannel,
        ServerSession,
    )

log = logging.getLogger("pylibssh.serve")

HOST_KEY_NAME = "ssh_host_ed25519_key"


def state_dir() -> Path:
    """Where ``serve`` keeps its host key."""
    explicit = os.environ.get("PYLIBSSH_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "state")
    return Path(base) / "pylibssh"


def load_or_create_host_key(directory: Path) -> tuple[Key, Path, bool]:
    """The host key in ``directory``, created (mode 0600, directory 0700) when missing."""
    path = directory / HOST_KEY_NAME
    if path.exists():
        return Key.from_private_file(path), path, False
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Key.generate("ed25519")
    tmp = path.with_suffix(".tmp")
    key.write_private_file(tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)  # a half-written key is never picked up
    key.write_public_file(path.with_name(HOST_KEY_NAME + ".pub"), comment="pylibssh serve")
    return key, path, True


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pylibssh", description="pylibssh command line")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a directory over SFTP (and SSH with --allow-exec)",
                       description=__doc__.split("\n\n")[2].strip() if __doc__ else None)
    s.add_argument("--root", default=".", help="the directory to serve (default: the current)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s.add_argument("--port", type=int, default=2222, help="port (2222; 0: any free port)")
    s.add_argument("--read-only", action="store_true", help="refuse every change")
    s.add_argument("--password", default=None,
                   help="the password to accept (default: $PYLIBSSH_PASSWORD or a generated one)")
    s.add_argument("--no-password", action="store_true", help="public keys only")
    s.add_argument("--authorized-keys", default=os.path.join(os.path.expanduser("~"), ".ssh",
                                                             "authorized_keys"),
                   help="public keys allowed to log in (~/.ssh/authorized_keys)")
    s.add_argument("--state-dir", default=None, help="where the host key is kept")
    s.add_argument("--allow-exec", action="store_true",
                   help="also run shells and commands, AS THE USER RUNNING THE SERVER")
    s.add_argument("--debug", action="store_true", help="log connections and requests (stderr)")
    s.add_argument("--workers", type=_count(0), default=default_workers(), metavar="N",
                   help=f"worker processes (one per CPU: {default_workers()} here; 0: serve from "
                   "this process alone)")
    s.add_argument("--drain-timeout", type=_time_or_off, default=30.0, metavar="TIME",
                   help="on SIGTERM or Ctrl-C, how long sessions may go on before they are "
                   "disconnected (30s; 0: no limit)")
    limits = s.add_argument_group(
        "limits", "OpenSSH's sshd_config names, meanings and defaults; TIME is sshd's format: "
        "90 (seconds), 30s, 2m, 1h30m")
    limits.add_argument("--login-grace-time", type=_time_or_off, default=_time_or_off("2m"),
                        metavar="TIME", help="drop a connection not authenticated within TIME "
                        "(2m; 0: no limit)")
    limits.add_argument("--max-auth-tries", type=_count(1),
                        default=LIMIT_DEFAULTS["max_auth_tries"], metavar="N",
                        help="authentication failures before the client is disconnected (6; "
                        "logged from N/2 on)")
    limits.add_argument("--max-startups", type=_max_startups,
                        default=LIMIT_DEFAULTS["max_startups"], metavar="START:RATE:FULL",
                        help="once START connections are unauthenticated, refuse RATE%% of new "
                        "ones, rising to all at FULL (10:30:100; one number N: all from N on)")
    limits.add_argument("--max-sessions", type=_count(0),
                        default=LIMIT_DEFAULTS["max_sessions"], metavar="N",
                        help="session channels (SFTP, shells, commands) a connection may have "
                        "open at once (10)")
    limits.add_argument("--idle-timeout", type=_time_or_off, default=None, metavar="TIME",
                        help="drop a connection after TIME with no traffic either way: nothing "
                        "received (keepalives count) and nothing sent (default: off)")
    return p


def _time_or_off(text: str) -> float | None:
    """sshd's time format for an option where 0 (or "none") turns the limit off."""
    if text.lower() == "none":
        return None
    try:
        return parse_time(text) or None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, not {text!r}")
        return int(text)

    return parse


def _max_startups(text: str) -> MaxStartups:
    try:
        return MaxStartups.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def serve(args: argparse.Namespace) -> int:
    """``pylibssh serve``: serve ``args.root`` over SFTP (and exec/shell when allowed) until
    SIGTERM or Ctrl-C, with workers when asked; returns the exit status. Raises OSError when the
    address cannot be bound."""
    from .server import create_server, spawn
    from .server.sftp_local import LocalFilesystem

    out = sys.stdout
    fs = LocalFilesystem(args.root, read_only=args.read_only)
    key, key_path, created = load_or_create_host_key(
        Path(args.state_dir) if args.state_dir else state_dir())
    keys = read_authorized_keys(args.authorized_keys)
    password = None
    generated = False
    if not args.no_password:
        password = args.password or os.environ.get("PYLIBSSH_PASSWORD")
        if not password:
            password = secrets.token_urlsafe(12)
            generated = True
    if not keys and password is None:
        print("pylibssh serve: no authorized keys and no password: nobody could log in",
              file=sys.stderr)
        return 2
    methods = (["publickey"] if keys else []) + (["password"] if password is not None else [])
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("pylibssh.libssh").setLevel(logging.INFO)
    workers = args.workers or None
    server = create_server(host_keys=[key], auth_methods=methods,
                           login_grace_time=args.login_grace_time,
                           max_auth_tries=args.max_auth_tries, max_startups=args.max_startups,
                           max_sessions=args.max_sessions, idle_timeout=args.idle_timeout,
                           workers=workers, drain_timeout=args.drain_timeout)

    @server.on("reload")
    def reload_keys() -> None:  # SIGHUP; in each worker
        try:
            keys[:] = read_authorized_keys(args.authorized_keys)
        except (OSError, ValueError) as exc:
            print(f"pylibssh serve: kept the previous keys: {exc}", file=sys.stderr, flush=True)
            return
        who = f"worker {server.worker}" if server.worker is not None else "server"
        out.write(f"{who}: {len(keys)} public keys from {args.authorized_keys}\n")  # one write:
        out.flush()  # the workers share the stream

    @server.on("connection")
    def on_connection(session: ServerSession) -> None:
        @session.on("auth")
        def on_auth(message: AuthMessage) -> None:
            if message.subtype == "publickey" and any(message.compare_public_key(k)
                                                      for k in keys):
                return message.reply_auth_success()  # a probe gets pk_ok, see the README
            if (message.subtype == "password" and password is not None
                    and secrets.compare_digest(message.auth_password or "", password)):
                return message.reply_auth_success()
            message.reply_default()

        @session.on("channel")
        def on_channel(channel: ServerChannel) -> None:
            @channel.on("subsystem")
            def on_subsystem(message: ChannelRequestMessage) -> None:
                if message.subsystem != "sftp":
                    return message.reply_default()
                message.sftp_accept()
                fs.attach(channel)

            if args.allow_exec:
                channel.on("pty", lambda message: message.reply_success())
                channel.on("env", lambda message: message.reply_success())

                @channel.on("shell")
                def on_shell(message: ChannelRequestMessage) -> None:
                    message.reply_success()
                    spawn(channel, cwd=fs.root)

                @channel.on("exec")
                def on_exec(message: ChannelRequestMessage) -> None:
                    message.reply_success()
                    spawn(channel, message.exec_command, cwd=fs.root)

    if workers:
        # the supervisor takes SIGTERM, SIGINT (Ctrl-C) and SIGHUP itself, once it runs: until
        # then they wait (one sent as soon as the address is printed must not kill us)
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            server.listen(args.port, args.host)
            announce(server, args, fs, key, key_path, created, keys, password, generated, out)
            server.serve_forever()
        finally:
            server.close()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    else:
        serve_here(server, lambda: announce(server, args, fs, key, key_path, created, keys,
                                            password, generated, out), args)
    server.loop.close()
    print("stopped", file=out, flush=True)
    return 0


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def serve_here(server: Server, announce_it: Callable[[], None], args: argparse.Namespace) -> None:
    """Serve from this process: the loop runs in its own thread and this one waits, so that
    signals (which reach only the main thread) never land inside a libssh callback."""
    stops: list[int] = []

    # SIGTERM like Ctrl-C (and Ctrl-C even if inherited as ignored)
    def stop(signum: int, frame: FrameType | None) -> None:
        stops.append(signum)
        if len(stops) == 1:
            server.drain()
        else:
            server.close()

    def reload(signum: int, frame: FrameType | None) -> None:
        server.reload()

    handlers = {signal.SIGINT: stop, signal.SIGTERM: stop, signal.SIGHUP: reload}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        server.listen(args.port, args.host)
        server.start()
        announce_it()
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()


def read_authorized_keys(path: str | None) -> list[Key]:
    """The keys in ``path`` (none when it is not given or does not exist)."""
    if not path or not os.path.exists(path):
        return []
    return load_authorized_keys(path)


def announce(server: Server, args: argparse.Namespace, fs: LocalFilesystem, key: Key,
             key_path: Path, created: bool, keys: list[Key], password: str | None,
             generated: bool, out: TextIO) -> None:
    """What the user needs to connect: address, host key, how to log in."""
    port = server.port

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    say(f"pylibssh {__version__} serving {fs.root}"
        f"{' (read-only)' if args.read_only else ''} over SFTP on {args.host} port {port}")
    say(f"host key {key.fingerprint()} ({'new, ' if created else ''}{key_path})")
    if keys:
        say(f"public keys: {len(keys)} from {args.authorized_keys} (SIGHUP rereads them)")
    if args.workers:
        say(f"workers: {args.workers} processes")
    if generated:
        say(f"password: {password}  (any user name; generated, new at each start)")
    elif password is not None:
        say("password: as given" + ("" if args.password else " in $PYLIBSSH_PASSWORD"))
    host = args.host if ":" not in args.host else f"[{args.host}]"
    say(f"connect:  sftp -P {port} {host}")
    say(f"          scp -P {port} FILE {host}:")
    if args.allow_exec:
        say(f"          ssh -p {port} {host}")
        print("WARNING: --allow-exec: clients that log in run shells and commands as user "
              f"{_whoami()} on this machine", file=sys.stderr, flush=True)
    say("Ctrl-C stops the server.")


def _whoami() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def main(argv: list[str] | None = None) -> int:
    """``pylibssh`` on the command line: parse ``argv`` (default: ``sys.argv[1:]``) and run the
    command; returns the exit status (1 when serving fails with an OSError, 2 for no command)."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        try:
            return serve(args)
        except OSError as exc:
            print(f"pylibssh serve: {exc}", file=sys.stderr)
            return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
