"""Worker processes (``create_server(workers=N)``, ``pylibssh serve --workers N``): connections
spread over the workers (a socket each, and one shared socket), a killed worker replaced, SIGTERM
draining, SIGHUP reloading; drain() and reload() in one process.

The servers run as processes of their own (tests/server_app.py, ``python -m pylibssh serve``):
workers are forked, which a test process with threads must not do. Clients are asyncssh and
OpenSSH's ssh."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncssh
import pytest
from serverkit import DEADLINE, standard_app, wait_until

import pylibssh

pytestmark = pytest.mark.peer

HERE = Path(__file__).parent


class Lines:
    """A process's stdout, line by line, read in a thread so that waits have a deadline."""

    def __init__(self, proc: subprocess.Popen):
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait(self, pattern: str, timeout: float = DEADLINE) -> re.Match:
        """The next line matching ``pattern`` (lines before it are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no line matching {pattern!r} within {timeout}s; "
                                   f"seen {self.seen[-10:]}") from None
            if line is None:
                raise AssertionError(f"the process ended before {pattern!r}; seen {self.seen}")
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match


class WorkerApp:
    """tests/server_app.py with ``--workers``: its port, workers' pids, and a stop that checks
    the exit status."""

    def __init__(self, host_key, client_key, workers: int = 2, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server_app.py"), "--host-key", str(host_key),
             "--authorized-key", str(client_key) + ".pub", "--workers", str(workers), *args],
            stdout=subprocess.PIPE, text=True)
        self.lines = Lines(self.proc)
        self.port = int(self.lines.wait(r"^PORT (\d+)").group(1))
        self.pids: dict[int, int] = {}
        for _ in range(workers):
            self.started()

    def started(self) -> tuple[int, int]:
        """Wait for a worker to start: (index, pid)."""
        match = self.lines.wait(r"^WORKER (\d+) (\d+)")
        index, pid = int(match.group(1)), int(match.group(2))
        self.pids[index] = pid
        return index, pid

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(DEADLINE * 2)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def worker_app(host_key_files, client_keys):
    made = []

    def make(*args: str, workers: int = 2) -> WorkerApp:
        app = WorkerApp(host_key_files["ed25519"], client_keys["ed25519"], workers, *args)
        made.append(app)
        return app

    yield make
    for app in made:
        app.stop(signal.SIGQUIT if app.proc.poll() is None else signal.SIGTERM)
        if app.proc.poll() is None:
            app.proc.kill()


def serving_pids(port: int, key_path, count: int, in_flight: int = 8,
                 until: set[int] | None = None) -> list[int]:
    """The pid of the process that served each of ``count`` connections (exec ``__stats__``,
    ``in_flight`` at a time, all held open until the last has answered); with ``until``, in
    rounds of ``count`` until every pid in it has served one (at most 10 rounds)."""
    key = asyncssh.read_private_key(str(key_path))

    async def one(sem: asyncio.Semaphore, opened: list) -> int:
        async with sem:
            conn = await asyncssh.connect("127.0.0.1", port, username="u", client_keys=[key],
                                          known_hosts=None, agent_path=None)
            opened.append(conn)
            result = await conn.run("__stats__", check=True)
            return json.loads(result.stdout)["pid"]

    async def round_() -> list[int]:
        sem = asyncio.Semaphore(in_flight)
        opened: list = []
        try:
            return list(await asyncio.gather(*(one(sem, opened) for _ in range(count))))
        finally:
            for conn in opened:
                conn.close()
                await conn.wait_closed()

    pids: list[int] = []
    for _ in range(10):
        pids += asyncio.run(asyncio.wait_for(round_(), DEADLINE * 3))
        if until is None or until <= set(pids):
            break
    return pids


def refused(port: int) -> bool:
    """Whether a TCP connection to ``port`` is refused (nothing listens any more)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE).close()
    except ConnectionRefusedError:
        return True
    return False


def test_connections_spread_over_workers_and_a_killed_worker_is_replaced(worker_app,
                                                                         client_keys):
    app = worker_app()
    pids = set(app.pids.values())
    assert len(pids) == 2 and app.proc.pid not in pids
    served = serving_pids(app.port, client_keys["ed25519"], 24, until=pids)
    assert set(served) == pids, served  # each worker its own socket: the kernel spreads them

    victim = app.pids[0]
    os.kill(victim, signal.SIGKILL)
    index, replacement = app.started()
    assert index == 0 and replacement not in pids
    wait_until(lambda: not os.path.exists(f"/proc/{victim}"), what="the killed worker to go")
    pids = {app.pids[0], app.pids[1]}
    # the replacement accepts on the same socket: connections are served by both again
    served = serving_pids(app.port, client_keys["ed25519"], 24, until=pids)
    assert set(served) == pids and replacement in served
    assert app.stop() == 0


def test_workers_on_one_shared_socket(worker_app, client_keys):
    app = worker_app("--no-reuse-port")
    pids = set(app.pids.values())
    served = serving_pids(app.port, client_keys["ed25519"], 16, in_flight=16, until=pids)
    assert set(served) == pids, served
    assert app.stop() == 0


def test_sigterm_drains_then_stops(worker_app, client_keys, openssh_client):
    app = worker_app("--mode", "spawn", "--drain-timeout", "8")
    client = openssh_client(app.port, identity=client_keys["ed25519"])
    # one session that ends when told to, one that would run for ten minutes
    finishing = subprocess.Popen(client.ssh_args("echo started; read word; echo finished $word"),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=client.env())
    endless = subprocess.Popen(client.ssh_args("echo started; exec sleep 600"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=client.env())
    try:
        assert finishing.stdout.readline() == b"started\n"
        assert endless.stdout.readline() == b"started\n"
        app.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: refused(app.port), what="new connections to be refused")
        assert app.proc.poll() is None  # still draining: sessions are running
        out, err = finishing.communicate(b"well\n", timeout=DEADLINE)
        assert (finishing.returncode, out) == (0, b"finished well\n"), err
        # the endless one is disconnected at the drain timeout, and the workers end
        endless.wait(DEADLINE * 2)
        assert endless.returncode == 255
        assert app.proc.wait(DEADLINE) == 0
        assert not any(os.path.exists(f"/proc/{pid}") for pid in app.pids.values())
    finally:
        for proc in (finishing, endless):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sighup_makes_every_worker_reload(worker_app):
    app = worker_app()
    os.kill(app.proc.pid, signal.SIGHUP)
    reloaded = {int(app.lines.wait(r"^RELOAD (\d+) (\d+)").group(2)) for _ in range(2)}
    assert reloaded == set(app.pids.values())
    assert app.stop() == 0


def test_second_stop_signal_does_not_wait_for_sessions(worker_app, client_keys,
                                                       openssh_client):
    app = worker_app("--mode", "spawn", "--drain-timeout", "600")
    client = openssh_client(app.port, identity=client_keys["ed25519"])
    endless = subprocess.Popen(client.ssh_args("echo started; exec sleep 600"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=client.env())
    try:
        assert endless.stdout.readline() == b"started\n"
        app.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: refused(app.port), what="the drain to begin")
        assert app.proc.poll() is None and endless.poll() is None
        app.proc.send_signal(signal.SIGINT)
        assert app.proc.wait(DEADLINE) == 0
        assert endless.wait(DEADLINE) == 255
    finally:
        if endless.poll() is None:
            endless.kill()
            endless.wait()



def test_commands_in_workers_take_signals_as_sshd_children_do(worker_app, client_keys):
    """Workers handle SIGINT (the supervisor passes Ctrl-C on) with a handler, not by ignoring
    it: a command they start gets the default, so the client's INT request ends it."""
    app = worker_app("--mode", "spawn", workers=1)
    key = asyncssh.read_private_key(str(client_keys["ed25519"]))

    async def run():
        async with asyncssh.connect("127.0.0.1", app.port, username="u", client_keys=[key],
                                    known_hosts=None, agent_path=None) as conn:
            proc = await conn.create_process("echo started; exec sleep 30")
            assert (await proc.stdout.readline()) == "started\n"
            proc.send_signal("INT")
            await proc.wait()
            return proc

    proc = asyncio.run(asyncio.wait_for(run(), DEADLINE))
    assert proc.exit_signal is not None and proc.exit_signal[0] == "INT"
    assert app.stop() == 0


def test_spawn_resets_signals_in_the_child_only_when_needed():
    """spawn() makes subprocess fork the whole server (a preexec_fn) only when the child would
    otherwise inherit an ignored or blocked signal; else subprocess uses vfork."""
    from pylibssh.server import process

    def state() -> str:
        ignored = [signal.Signals(s).name for s in process._RESET_SIGNALS
                   if signal.getsignal(s) == signal.SIG_IGN]
        blocked = [signal.Signals(s).name for s in signal.pthread_sigmask(signal.SIG_BLOCK, ())]
        return f"ignored {ignored}, blocked {blocked}"

    # a test runner started as a background job inherits SIGINT and SIGQUIT ignored (POSIX
    # shells do that): start from default dispositions and no blocked signal, restored after
    saved = {s: signal.getsignal(s) for s in process._RESET_SIGNALS if s != signal.SIGPIPE}
    saved_mask = signal.pthread_sigmask(signal.SIG_SETMASK, ())
    try:
        for s, handler in saved.items():
            if handler == signal.SIG_IGN:
                signal.signal(s, signal.SIG_DFL)
        assert not process._signals_to_reset(), state()
        previous = signal.signal(signal.SIGQUIT, signal.SIG_IGN)
        try:
            assert process._signals_to_reset()
        finally:
            signal.signal(signal.SIGQUIT, previous)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
        try:
            assert process._signals_to_reset()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR2])
        assert not process._signals_to_reset(), state()
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)


# -- the pieces, in this process ----------------------------------------------------------------

def test_create_server_workers_options(host_key_files):
    key = [host_key_files["ed25519"]]
    for bad in (0, -1, True, "2"):
        with pytest.raises(ValueError):
            pylibssh.create_server(host_keys=key, workers=bad)
    with pytest.raises(ValueError):
        pylibssh.create_server(host_keys=key, drain_timeout="soon")
    server = pylibssh.create_server(host_keys=key, workers=2)
    try:
        with pytest.raises(RuntimeError):
            server.serve_forever()  # not listening
        with pytest.raises(RuntimeError):
            server.start()  # workers are served from serve_forever()
        server.listen(0, "127.0.0.1")
        assert server.port and server.worker is None and server.worker_pids == []
        # two sockets on one port, each for a worker; nothing accepts here
        assert len(server._worker_sockets) == 2
        assert {s.getsockname() for s in server._worker_sockets} == {server.address}
        with pytest.raises(RuntimeError):
            server.accept_socket(socket.socket())
    finally:
        server.close()


def test_drain_and_reload_in_one_process(make_server, client_keys, openssh_client):
    rs = make_server()
    standard_app(rs, keys=[pylibssh.Key.from_public_file(str(client_keys["ed25519"]) + ".pub")])
    reloads = []
    rs.server.on("reload", lambda: reloads.append(threading.current_thread().name))
    rs.start()
    rs.server.reload()
    wait_until(lambda: reloads, what="the reload event")
    assert reloads == [rs.loop.name]  # emitted on the loop thread
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    session = subprocess.Popen(client.ssh_args("echo started; read word; echo finished $word"),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=client.env())
    closed = threading.Event()
    try:
        assert session.stdout.readline() == b"started\n"
        rs.server.drain(DEADLINE * 3, callback=closed.set)
        assert refused(rs.port)
        with pytest.raises(pylibssh.ClosedError):
            rs.server.accept_socket(socket.socket())
        assert not rs.server.closed and len(rs.server.sessions) == 1
        out, err = session.communicate(b"well\n", timeout=DEADLINE)
        assert (session.returncode, out) == (0, b"finished well\n"), err
        assert closed.wait(DEADLINE) and rs.server.closed  # its last session ended
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()


def test_drain_disconnects_what_is_left_at_its_timeout(make_server, client_keys,
                                                       openssh_client):
    rs = make_server()
    standard_app(rs, keys=[pylibssh.Key.from_public_file(str(client_keys["ed25519"]) + ".pub")])
    rs.start()
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    session = subprocess.Popen(client.ssh_args("echo started; exec sleep 600"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=client.env())
    try:
        assert session.stdout.readline() == b"started\n"
        rs.server.drain(0.5)
        assert session.wait(DEADLINE) == 255
        wait_until(lambda: rs.server.closed, what="the server to close")
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()


def test_serve_workers_one_host_key_and_sighup_rereads_authorized_keys(tmp_path, client_keys):
    help_text = subprocess.run([sys.executable, "-m", "pylibssh", "serve", "--help"],
                               capture_output=True, text=True, timeout=DEADLINE).stdout
    assert "--workers N" in help_text and "--drain-timeout" in help_text
    state = tmp_path / "state"
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(str(client_keys["ed25519"]) + ".pub").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "pylibssh", "serve", "--port", "0",
                             "--state-dir", str(state), "--root", str(tmp_path),
                             "--no-password", "--allow-exec", "--workers", "2",
                             "--authorized-keys", str(auth)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = Lines(proc)
    try:
        port = int(lines.wait(r"port (\d+)$").group(1))
        lines.wait(r"^workers: 2 processes")
        lines.wait(r"^Ctrl-C")
        fingerprint = pylibssh.Key.from_private_file(state / "ssh_host_ed25519_key").fingerprint()

        def logins(key_path) -> tuple[set[int], set[str]]:
            """Log in until two worker processes have served (their pid is the shell's
            parent); the pids and the host keys seen."""
            key = asyncssh.read_private_key(str(key_path))
            pids: set[int] = set()
            host_keys: set[str] = set()

            async def one():
                async with asyncssh.connect("127.0.0.1", port, username="u",
                                            client_keys=[key], known_hosts=None,
                                            agent_path=None) as conn:
                    host_keys.add(conn.get_server_host_key().get_fingerprint("sha256"))
                    result = await conn.run("echo $PPID", check=True)
                    pids.add(int(result.stdout))

            async def run():
                for _ in range(10):
                    await asyncio.gather(*(one() for _ in range(8)))
                    if len(pids) >= 2:
                        return

            asyncio.run(asyncio.wait_for(run(), DEADLINE * 3))
            return pids, host_keys

        def refused(key_path) -> bool:
            key = asyncssh.read_private_key(str(key_path))

            async def run():
                async with asyncssh.connect("127.0.0.1", port, username="u",
                                            client_keys=[key], known_hosts=None,
                                            agent_path=None):
                    pass

            try:
                asyncio.run(asyncio.wait_for(run(), DEADLINE))
            except asyncssh.PermissionDenied:
                return True
            return False

        pids, host_keys = logins(client_keys["ed25519"])
        assert len(pids) == 2 and proc.pid not in pids
        assert host_keys == {fingerprint}  # created once, before the workers started
        assert refused(client_keys["ecdsa"])

        auth.write_text(Path(str(client_keys["ecdsa"]) + ".pub").read_text())
        proc.send_signal(signal.SIGHUP)
        reloaded = {lines.wait(r"^worker (\d): 1 public keys from").group(1) for _ in range(2)}
        assert reloaded == {"0", "1"}
        assert logins(client_keys["ecdsa"])[0] == pids
        assert refused(client_keys["ed25519"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code == 0
    lines.wait(r"^stopped$")
