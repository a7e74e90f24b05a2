"""Shared fixtures. Real peers only: OpenSSH's sshd/ssh/sftp/scp run on 127.0.0.1 (see openssh.py)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests import their helper modules by name

from openssh import OpenSSHClient, OpenSSHServer, keygen  # noqa: E402


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A private OpenSSH server for the whole run; tests may authorize their own keys."""
    server = OpenSSHServer(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def client_key(tmp_path_factory, sshd):
    """An Ed25519 key pair made by ssh-keygen and authorized on ``sshd``."""
    path = keygen(tmp_path_factory.mktemp("client-key") / "id_ed25519", "ed25519",
                  comment="pylibssh-tests")
    sshd.authorize((path.parent / "id_ed25519.pub").read_text())
    return path


@pytest.fixture
def openssh_client(tmp_path):
    """Factory for OpenSSH client runners: ``openssh_client(port, identity=..., password=...)``."""

    def make(port: int, **kwargs) -> OpenSSHClient:
        return OpenSSHClient(tmp_path / f"client-{port}", port, **kwargs)

    return make


# -- the pylibssh server's tests (serverkit.py) ----------------------------------------------------

@pytest.fixture(scope="session")
def host_key_files(tmp_path_factory):
    """Host keys of every type a server can hold, made by ssh-keygen: {kind: path}."""
    where = tmp_path_factory.mktemp("host-keys")
    return {kind: keygen(where / f"host_{kind}", kind) for kind in ("ed25519", "ecdsa", "rsa")}


@pytest.fixture(scope="session")
def client_keys(tmp_path_factory):
    """Client key pairs made by ssh-keygen: {kind: private key path} (``path.pub`` beside)."""
    where = tmp_path_factory.mktemp("client-keys")
    return {kind: keygen(where / f"id_{kind}", kind, comment=f"pylibssh-{kind}")
            for kind in ("ed25519", "ecdsa", "rsa")}


@pytest.fixture
def make_server(host_key_files):
    """Factory: ``make_server(**options)`` -> serverkit.RunningServer (not yet listening; call
    ``.start()``). Every server is closed, and its loop stopped, after the test."""
    from serverkit import RunningServer

    made = []

    def make(host_keys=None, **options):
        rs = RunningServer(host_keys or [host_key_files["ed25519"]], **options)
        made.append(rs)
        return rs

    yield make
    for rs in made:
        rs.close()


# -- nothing a test started outlives the run ------------------------------------------------------

#: set in this process's environment, so every process a test starts (and theirs) carries it
RUN_MARK = "PYLIBSSH_TEST_RUN"


def pytest_configure(config):
    os.environ.setdefault(RUN_MARK, f"{os.getpid()}-{time.time_ns()}")


def processes_of_this_run() -> dict[int, str]:
    """Live processes (not zombies) started by this run: {pid: command line}. Descendants of this
    process, and any process whose environment carries this run's mark (daemonized ones; sshd
    reuses its environment's memory for its process title, so it is found by its parent)."""
    mark = f"{RUN_MARK}={os.environ[RUN_MARK]}".encode()
    parents: dict[int, int] = {}
    marked: set[int] = set()
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":
                continue
            parents[pid] = int(fields[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                commands[pid] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    marked.add(pid)
        except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
            continue
    ours = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grew = True
    ours |= marked
    ours.discard(os.getpid())
    return {pid: commands.get(pid, "?") for pid in ours
            if pid in parents
            and not any(helper in commands.get(pid, "") for helper in _INTERPRETER_HELPERS)}


#: helper processes the interpreter itself keeps until it exits (multiprocessing starts its
#: resource tracker on first use of a Process or a shared value): not a test's leftover
_INTERPRETER_HELPERS = ("from multiprocessing.resource_tracker import main;main(",)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running():
    """Fails the run when a process a test started is still running after every test and
    fixture has finished (the processes are then killed, so the next run starts clean)."""
    yield
    if not os.path.isdir("/proc"):
        return
    deadline = time.monotonic() + 15  # a process being stopped may take a moment to exit
    left = processes_of_this_run()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_of_this_run()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if left:
        pytest.fail("processes started by tests still run after the suite: "
                    + "; ".join(f"{pid}: {cmd}" for pid, cmd in sorted(left.items())),
                    pytrace=False)
