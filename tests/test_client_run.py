"""``run()`` for a command without input, environment or terminal, which runs in C
(csrc/pylibssh_run.c): what the server answers reaches the caller as the general path gives it,
against asyncssh's server (scripted answers: a refused exec, a signal, no exit status, a close
that comes with the output) and OpenSSH's sshd (output on both streams, timeouts, many runs on
one connection)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import asyncssh
import pytest

import pylibssh
import pylibssh.asyncio as pa
from asynciokit import fd_count, opts, run_on  # noqa: F401 - opts is a fixture
from clientkit import DEADLINE, connect, known_hosts  # noqa: F401 - fixtures

pytestmark = pytest.mark.peer

STDOUT = os.urandom(3 << 20)
STDERR = os.urandom(1 << 20)


class _Session(asyncssh.SSHServerSession):
    """Answers a command by its name."""

    def connection_made(self, chan):
        self._chan = chan
        self._command = ""

    def exec_requested(self, command):
        self._command = command
        return command != "refuse"

    def session_started(self):
        chan, command = self._chan, self._command
        if command == "signal":
            chan.exit_with_signal("TERM")
        elif command == "no-status":
            chan.write(b"bye\n")
            chan.close()
        elif command == "both":
            for i in range(0, len(STDOUT), 1 << 20):  # the streams interleaved
                chan.write(STDOUT[i:i + (1 << 20)])
                chan.write_stderr(STDERR[i // 3:(i + (1 << 20)) // 3])
            chan.write_stderr(STDERR[len(STDOUT) // 3:])
            chan.exit(3)
        else:  # everything at once: output, status and close in one write
            chan.write(command.encode())
            chan.exit(0)


class _Server(asyncssh.SSHServer):
    def session_requested(self):
        return _Session()


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_answers_of_asyncssh_server_reach_the_caller(loop_kind, host_key_files, client_keys,
                                                     tmp_path):
    async def main():
        server = await asyncssh.create_server(
            _Server, "127.0.0.1", 0, server_host_keys=[str(host_key_files["ed25519"])],
            authorized_client_keys=str(client_keys["ed25519"]) + ".pub", encoding=None)
        port = server.sockets[0].getsockname()[1]
        pub = Path(str(host_key_files["ed25519"]) + ".pub").read_text().split()[:2]
        kh = tmp_path / "known_hosts"
        kh.write_text(f"[127.0.0.1]:{port} {' '.join(pub)}\n")
        try:
            async with pa.connect("127.0.0.1", port, "anyone",
                                  keys=[str(client_keys["ed25519"])], known_hosts=str(kh),
                                  config=None, agent=False, look_for_keys=False,
                                  timeout=DEADLINE, op_timeout=DEADLINE) as conn:
                session = conn.client.session
                with pytest.raises(pylibssh.RequestDeniedError, match="refuse"):
                    await conn.run("refuse")
                r = await conn.run("signal")
                assert (r.exit_status, r.exit_signal, r.returncode) == (None, "TERM", -15)
                r = await conn.run("no-status")
                assert (r.stdout, r.exit_status, r.exit_signal) == (b"bye\n", None, None)
                r = await conn.run("both")
                assert hashlib.sha256(r.stdout).digest() == hashlib.sha256(STDOUT).digest()
                assert hashlib.sha256(r.stderr).digest() == hashlib.sha256(STDERR).digest()
                assert r.exit_status == 3
                with pytest.raises(pylibssh.ProcessError, match="status 3"):
                    await conn.run("both", check=True)
                # many at once on the connection, each answered whole in one write
                results = await asyncio.gather(*(conn.run(f"n{i}") for i in range(40)))
                assert [r.stdout for r in results] == [f"n{i}".encode() for i in range(40)]
                assert {r.exit_status for r in results} == {0}
                assert session.channels == []
        finally:
            server.close()
            await server.wait_closed()
    run_on(loop_kind, main())


def test_blocking_run_against_sshd(connect):
    c = connect()
    r = c.run("head -c 2000000 /dev/zero; echo oops >&2; exit 5")
    assert (len(r.stdout), set(r.stdout), r.stderr, r.exit_status) == \
        (2000000, {0}, b"oops\n", 5)
    r = c.run("kill -KILL $$")
    assert (r.exit_status, r.exit_signal) == (None, "KILL")
    # a run that times out closes its channel; the connection runs on
    with pytest.raises(pylibssh.SSHTimeoutError):
        c.run("sleep 30", timeout=0.5)
    assert c.run("echo again").stdout == b"again\n"
    assert c.session.channels == []


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_dropped_connection_ends_its_runs(loop_kind, opts):
    async def main():
        fds = fd_count()
        async with pa.connect(**opts) as conn:
            runs = [asyncio.ensure_future(conn.run("sleep 30")) for _ in range(3)]
            # the server's session process goes away, and the connection with it
            runs.append(asyncio.ensure_future(conn.run("sleep 0.3; kill -KILL $PPID")))
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
            assert all(isinstance(o, pylibssh.DisconnectedError) for o in outcomes), outcomes
            assert conn.closed and conn.client.session.channels == []
        assert fd_count() == fds
    run_on(loop_kind, main())
