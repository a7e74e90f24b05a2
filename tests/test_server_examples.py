"""The examples run as their docstrings show, with OpenSSH's ssh as the client."""

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serverkit import DEADLINE, md5, run_in_terminal

pytestmark = pytest.mark.peer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class Example:
    def __init__(self, name, *args):
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / name), "--port", "0", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.read_line()
        assert line.startswith(b"listening on 127.0.0.1 port "), line
        self.port = int(line.split()[-1])
        self.buffer = b""

    def read_line(self) -> bytes:
        out = b""
        deadline = time.monotonic() + DEADLINE
        while not out.endswith(b"\n"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no line from the example: {out!r} "
                                     f"{self.proc.stderr.read() if self.proc.poll() else ''}")
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                out += os.read(self.proc.stdout.fileno(), 1)
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def example():
    started = []

    def start(name, *args):
        ex = Example(name, *args)
        started.append(ex)
        return ex

    yield start
    for ex in started:
        ex.stop()


def test_exec_example(example, client_keys, openssh_client):
    ex = example("exec.py", "--authorized-keys", str(client_keys["ed25519"]) + ".pub")
    client = openssh_client(ex.port, identity=client_keys["ed25519"])
    result = client.ssh("uname -s; echo oops >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, b"Linux\n", b"oops\n")
    data = os.urandom(1 << 20)
    result = client.ssh("cat", input=data)
    assert result.returncode == 0 and md5(result.stdout) == md5(data)
    assert openssh_client(ex.port, identity=client_keys["rsa"]).ssh("true").returncode == 255


def read_until(stream, wanted: bytes, got: bytearray) -> bytes:
    deadline = time.monotonic() + DEADLINE
    while wanted not in got:
        assert time.monotonic() < deadline, f"waiting for {wanted!r}, got {bytes(got)!r}"
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            got += chunk
    return bytes(got)


def test_stdiopipe_example(example, openssh_client):
    ex = example("stdiopipe.py", "--user", "tester", "--password", "secret",
                 "--authorized-keys", "")
    client = openssh_client(ex.port, user="tester", password="secret")
    ssh = subprocess.Popen(client.ssh_args(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=client.env())
    seen, console = bytearray(), bytearray()
    try:
        read_until(ssh.stdout, b"Welcome to my party!\n", seen)
        ssh.stdin.write(b"hello from the client\n")
        ssh.stdin.flush()
        read_until(ssh.stdout, b"hello from the client\n", seen)  # the echo
        read_until(ex.proc.stdout, b"hello from the client\n", console)  # on the console
        ex.proc.stdin.write(b"hello from the console\n")
        ex.proc.stdin.flush()
        read_until(ssh.stdout, b"hello from the console\n", seen)
        ssh.stdin.close()  # EOF: the shell ends
        assert ssh.wait(DEADLINE) == 0
    finally:
        if ssh.poll() is None:
            ssh.kill()
            ssh.wait()
    assert bytes(seen) == (b"Welcome to my party!\nhello from the client\n"
                           b"hello from the console\n")
    wrong = openssh_client(ex.port, user="tester", password="wrong").ssh("true")
    assert wrong.returncode == 255


def test_term_example(example, client_keys, openssh_client):
    ex = example("term.py", "--authorized-keys", str(client_keys["ed25519"]) + ".pub")
    client = openssh_client(ex.port, identity=client_keys["ed25519"])
    env = {**client.env(), "TERM": "vt100"}
    code, out = run_in_terminal(
        client.ssh_args("-tt"), env,
        b"stty size; echo T=$TERM; echo RESIZE-NOW; sleep 0.5; stty size; exit 4\n",
        cols=91, rows=33, resize=(77, 22))
    assert code == 4, out
    assert b"33 91" in out and b"T=vt100" in out and b"22 77" in out, out
    # and commands, with and without a terminal
    assert client.ssh("echo plain").stdout == b"plain\n"


def test_workers_example_shares_its_store(example, client_keys, openssh_client):
    ex = example("workers.py", "--workers", "2", "--authorized-keys",
                 str(client_keys["ed25519"]) + ".pub")
    client = openssh_client(ex.port, identity=client_keys["ed25519"])
    assert client.ssh("set color deep blue").stdout == b"ok\n"
    workers, logins = set(), []
    for _ in range(40):  # until both workers have answered (the kernel picks per connection)
        assert client.ssh("get color").stdout == b"deep blue\n"
        stats = client.ssh("stats").stdout.split()  # logins N worker W pid P
        logins.append(int(stats[1]))
        workers.add(stats[3])
        if len(workers) == 2 and len(logins) >= 4:
            break
    assert workers == {b"0", b"1"}
    # every login counted once, whichever worker took it: set, then a get and a stats each
    assert logins == [3 + 2 * i for i in range(len(logins))]
