"""A server on every core, with state its worker processes share.

    python examples/workers.py --port 2222 --authorized-keys ~/.ssh/id_ed25519.pub [--workers 4]
    ssh -p 2222 localhost set color blue   # each connection may land on another worker
    ssh -p 2222 localhost get color        # blue, whichever worker answers
    ssh -p 2222 localhost stats            # logins on all workers; which worker answered

Every listener runs in each worker, on a copy of this process made when ``serve_forever()``
forks them: a plain Python dict would be one dict per worker. What they share lives outside
them: the login count in shared memory made before the fork (``multiprocessing.Value``, whose
lock works across processes), the key-value store in an SQLite file that each worker opens for
itself once it runs (the ``ready`` event). The commands are exec requests the server answers
itself, without starting a process. SIGHUP (``reload``) prints each worker's view; Ctrl-C or
SIGTERM stops the workers once their sessions have ended.
"""

import multiprocessing
import os
import sqlite3
import tempfile

from _common import announce, authorizer, host_keys, parser

import pylibssh
from pylibssh.server.workers import default_workers


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="worker processes (default: one per CPU)")
    p.add_argument("--store", help="the SQLite file (default: a new one in a temporary "
                   "directory)")
    args = p.parse_args()
    store_path = args.store or os.path.join(tempfile.mkdtemp(prefix="pylibssh-store-"),
                                            "store.sqlite3")
    with sqlite3.connect(store_path) as db:  # made once, before the workers
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT)")
    logins = multiprocessing.Value("q", 0)  # shared memory: made here, mapped by every worker
    per_worker = {"db": None}  # each worker's own connection, opened in `ready`

    server = pylibssh.create_server(host_keys=host_keys(args), auth_methods=["publickey"],
                                    workers=args.workers, debug=args.debug)

    @server.on("ready")
    def open_store():  # in each worker, once it accepts connections
        per_worker["db"] = sqlite3.connect(store_path, timeout=5, isolation_level=None)

    @server.on("reload")
    def show():
        print(f"worker {server.worker} (pid {os.getpid()}): {logins.value} logins", flush=True)

    def answer(words: list[str]) -> str:
        db = per_worker["db"]
        if words[:1] == ["set"] and len(words) >= 3:
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (words[1], " ".join(words[2:])))
            return "ok"
        if words[:1] == ["get"] and len(words) == 2:
            row = db.execute("SELECT value FROM kv WHERE key = ?", (words[1],)).fetchone()
            return row[0] if row else ""
        if words == ["stats"]:
            return f"logins {logins.value} worker {server.worker} pid {os.getpid()}"
        return "commands: set KEY VALUE, get KEY, stats"

    check = authorizer(args)

    @server.on("connection")
    def on_connection(session):
        @session.on("auth")
        def on_auth(message):
            check(message)
            if session.authenticated:
                with logins.get_lock():
                    logins.value += 1

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            def on_exec(message):
                message.reply_success()
                channel.write(answer((message.exec_command or "").split()) + "\n")
                channel.send_exit_status(0)
                channel.close()

    server.listen(args.port, args.host)
    announce(server)
    server.serve_forever()  # forks the workers; returns once they have stopped


if __name__ == "__main__":
    main()
