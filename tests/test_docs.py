"""The documentation: every public name has a docstring, the site builds without a warning,
and the examples its pages show run against real servers."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from openssh import keygen
from serverkit import DEADLINE

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
from pylibssh_api import is_private_module, public_modules  # noqa: E402


def _own_members(cls: type) -> dict[str, object]:
    """A class's public methods and properties: those it defines, and those it inherits from
    a class in a private module (they are its API; the reference shows them with it)."""
    members: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if klass is cls or is_private_module(klass.__module__):
            for name, value in vars(klass).items():
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if not name.startswith("_") and (inspect.isfunction(value)
                                                  or isinstance(value, property)):
                    members[name] = (klass, value)
                elif name in members and klass is cls:
                    members.pop(name)  # overridden by something else (an attribute)
    return members


def undocumented_names() -> list[str]:
    """Every public module, class, function, method and property of pylibssh without a
    docstring (an override of a documented method counts as documented), by qualified name:
    ``module.Class.member`` under the module that defines the member."""
    missing = []
    for name in public_modules():
        module = importlib.import_module(name)
        if not (module.__doc__ or "").strip():
            missing.append(name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if inspect.isfunction(obj) and not (obj.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
            elif inspect.isclass(obj):
                if not (obj.__doc__ or "").strip():
                    missing.append(f"{name}.{attr}")
                for member, (home, value) in _own_members(obj).items():
                    if not (inspect.getdoc(value) or "").strip():
                        missing.append(f"{home.__module__}.{home.__qualname__}.{member}")
    return sorted(set(missing))


def test_every_public_name_has_a_docstring():
    missing = undocumented_names()
    assert not missing, "public names without a docstring:\n  " + "\n  ".join(missing)


# -- the site builds ---------------------------------------------------------------------------

@pytest.mark.build
def test_the_site_builds_without_a_warning(tmp_path):
    """What ``./dev docs`` runs (warnings are errors), into a fresh folder: a broken reference,
    a docstring sphinx cannot read or a missing page fails here."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-q",
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    for page in ("index", "quickstart", "performance", "api/pylibssh.server.sftp_local"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page


# -- the examples the pages show ---------------------------------------------------------------

EXAMPLES = DOCS / "examples"
# the pages whose code must all come from docs/examples/ (so that it runs here)
EXAMPLE_PAGES = [DOCS / "quickstart.md", *sorted((DOCS / "guides").glob("*.md"))]
# every example file, and the test that runs it
TESTED = {
    "sftp_server.py": "test_quick_start_sftp_server_and_clients",
    "sftp_client.py": "test_quick_start_sftp_server_and_clients",
    "paramiko_layer.py": "test_quick_start_sftp_server_and_clients",
    "exec_server.py": "test_quick_start_exec_server",
    "server_auth.py": "test_server_guide_authentication",
    "server_forwarding.py": "test_server_guide_forwarding",
    "sftp_handlers.py": "test_server_guide_sftp_handlers",
    "client_commands.py": "test_client_guide_examples",
    "client_hosts.py": "test_client_guide_examples",
    "client_transfer.py": "test_client_guide_examples",
    "logging_debug.py": "test_client_guide_examples",
    "fsspec_data.py": "test_fsspec_guide_example",
    "asyncio_client.py": "test_asyncio_guide_example",
}


def test_pages_show_only_examples_that_run_here():
    """Code on the quick start and guide pages is included from docs/examples/ (each file run
    by a test below), never written inline where no test would see it."""
    fence = re.compile(r"^(```|:::)\s*(\{code-block\}\s*)?(python|py|pycon)\b", re.M)
    included = set()
    for page in EXAMPLE_PAGES:
        text = page.read_text()
        assert not fence.search(text), f"{page.name}: inline Python; put it in docs/examples/"
        for name in re.findall(r"\{literalinclude\}\s+\S*examples/(\S+\.py)", text):
            assert (EXAMPLES / name).exists(), f"{page.name} includes a missing {name}"
            included.add(name)
    files = {p.name for p in EXAMPLES.glob("*.py")}
    assert files == set(TESTED), "docs/examples/ and TESTED differ"
    assert included == files, f"examples no page shows: {sorted(files - included)}"
    names = {n for n, v in globals().items() if n.startswith("test_")}
    assert set(TESTED.values()) <= names


@pytest.fixture
def home(tmp_path, sshd, client_key):
    """A home directory for the examples: ~/.ssh/config names the test sshd ``myserver``,
    ``web1``..``web3`` and ``inner`` (``inner`` through ``myserver`` as a jump host), with the
    client key, its known_hosts lines, and the key in authorized_keys (for the server examples)."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    key = ssh / "id_ed25519"
    shutil.copy(client_key, key)
    key.chmod(0o600)
    public = Path(str(client_key) + ".pub").read_text()
    (ssh / "id_ed25519.pub").write_text(public)
    (ssh / "authorized_keys").write_text(public)
    (ssh / "known_hosts").write_text("\n".join(sshd.known_hosts_lines()) + "\n")
    (ssh / "config").write_text(
        f"Host myserver web1 web2 web3 inner\n"
        f"    HostName 127.0.0.1\n    Port {sshd.port}\n    User {sshd.user}\n"
        f"    IdentityFile ~/.ssh/id_ed25519\n    IdentitiesOnly yes\n")
    return ssh.parent


def example_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "DISPLAY")}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


def run_example(name: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result


class ServerExample:
    """A server example in its own process on a free port (PORT=0): it prints the port."""

    def __init__(self, name: str, cwd: Path, env: dict[str, str], *args: str):
        cwd.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                                     env={**env, "PORT": "0"}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + DEADLINE
        line = ""
        while not line.endswith("\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line += self.proc.stdout.readline()
            elif time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise AssertionError(f"{name} did not start: {line!r} {self.proc.stderr.read()}")
        assert line.startswith("listening on port "), line
        self.port = int(line.split()[-1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def server_example():
    started: list[ServerExample] = []

    def start(name: str, cwd: Path, env: dict[str, str], *args: str) -> ServerExample:
        started.append(ServerExample(name, cwd, env, *args))
        return started[-1]

    yield start
    for example in started:
        example.stop()


@pytest.mark.peer
def test_quick_start_sftp_server_and_clients(tmp_path, home, server_example):
    served = tmp_path / "served"
    served.mkdir()
    env = example_env(home, PASSWORD="quick-start-pw")
    server = server_example("sftp_server.py", tmp_path / "server", env, str(served))

    client_dir = tmp_path / "client"
    client_dir.mkdir()
    out = run_example("sftp_client.py", client_dir, {**env, "PORT": str(server.port)}).stdout
    assert out == "['uploaded.txt']\nhello, SFTP\n"
    assert (served / "uploaded.txt").read_text() == "hello, SFTP\n"
    assert "127.0.0.1" in (client_dir / "known_hosts").read_text()  # accept-new recorded it

    out = run_example("paramiko_layer.py", client_dir, {**env, "PORT": str(server.port)}).stdout
    assert out == "['uploaded.txt']\n"

    # real paramiko as a peer, and a wrong password refused
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", server.port, username="x", password="quick-start-pw",
                   look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    try:
        with client.open_sftp() as sftp:
            assert sftp.open("uploaded.txt").read() == b"hello, SFTP\n"
    finally:
        client.close()
    refused = paramiko.SSHClient()
    refused.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        refused.connect("127.0.0.1", server.port, username="x", password="wrong",
                        look_for_keys=False, allow_agent=False, timeout=DEADLINE)
    refused.close()


@pytest.mark.peer
def test_quick_start_exec_server(tmp_path, home, server_example, client_key, openssh_client):
    server = server_example("exec_server.py", tmp_path / "server", example_env(home))
    ssh = openssh_client(server.port, identity=client_key)
    result = ssh.ssh("echo hi; echo err >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, b"hi\n", b"err\n")
    other = keygen(tmp_path / "other", "ed25519")
    assert openssh_client(server.port, identity=other).ssh("true").returncode == 255


@pytest.mark.peer
def test_server_guide_authentication(tmp_path, home, server_example, client_key,
                                     openssh_client):
    env = example_env(home, BOB_PASSWORD="bobs-pw")
    server = server_example("server_auth.py", tmp_path / "server", env)
    alice = openssh_client(server.port, user="alice", identity=client_key).ssh("uptime")
    assert alice.stdout == b"hello alice, you asked for uptime\n", alice
    bob = openssh_client(server.port, user="bob", password="bobs-pw").ssh("ls")
    assert bob.stdout == b"hello bob, you asked for ls\n", bob
    for user, password in (("bob", "wrong"), ("alice", "bobs-pw")):
        refused = openssh_client(server.port, user=user, password=password).ssh("ls")
        assert refused.returncode == 255 and b"Permission denied" in refused.stderr
    # alice's key is not bob's
    assert openssh_client(server.port, user="bob", identity=client_key).ssh("ls").returncode \
        == 255


@pytest.mark.peer
def test_server_guide_forwarding(tmp_path, home, server_example, client_key, openssh_client):
    echo = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))  # listening, but not allowed
    stop = threading.Event()

    def serve_echo():
        echo.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = echo.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(DEADLINE)
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve_echo, daemon=True)
    thread.start()
    try:
        env = example_env(home, ALLOWED_PORT=str(echo.getsockname()[1]))
        server = server_example("server_forwarding.py", tmp_path / "server", env)
        ssh = openssh_client(server.port, identity=client_key)
        data = os.urandom(256 * 1024)
        through = ssh.ssh("-W", f"127.0.0.1:{echo.getsockname()[1]}", input=data)
        assert through.returncode == 0 and through.stdout == data, through.stderr
        refused = ssh.ssh("-W", f"127.0.0.1:{closed.getsockname()[1]}", input=b"x")
        assert refused.returncode == 255 and b"forwarding failed" in refused.stderr, refused
    finally:
        stop.set()
        thread.join(DEADLINE)
        echo.close()
        closed.close()


@pytest.mark.peer
def test_server_guide_sftp_handlers(tmp_path, home, server_example, client_key,
                                    openssh_client):
    server = server_example("sftp_handlers.py", tmp_path / "server", example_env(home))
    local = tmp_path / "local"
    local.mkdir()
    (local / "up.txt").write_text("no\n")
    sftp = openssh_client(server.port, identity=client_key)
    result = sftp.sftp(f"ls -l\nget hello.txt {local}/hello.txt\n"
                       f"get numbers.txt {local}/numbers.txt\n-put {local}/up.txt up.txt\n")
    assert result.returncode == 0, result.stderr
    assert b"hello.txt" in result.stdout and b"numbers.txt" in result.stdout
    assert (local / "hello.txt").read_bytes() == b"hello from memory\n"
    assert (local / "numbers.txt").read_bytes() == b"".join(b"%d\n" % i for i in range(10_000))
    assert b"Permission denied" in result.stderr
    missing = sftp.sftp(f"get nothing.txt {local}/nothing.txt\n")
    assert missing.returncode != 0 and b"not found" in missing.stderr


@pytest.mark.peer
def test_client_guide_examples(tmp_path, home):
    env = example_env(home)
    out = run_example("client_commands.py", tmp_path, env).stdout
    assert out == ("0 Linux\n100000\nfailed: 3 oops\nline 1\nline 2\nline 3\nexit status 0\n")

    out = run_example("client_hosts.py", tmp_path, env).stdout.splitlines()
    assert out[0].startswith("host key SHA256:")
    assert out[1] == "via jump: 127.0.0.1"
    assert out[2:] == ["web1 0", "web2 0", "web3 0"]

    out = run_example("client_transfer.py", tmp_path, env).stdout
    size = 8 * 1024 * 1024
    assert out == (f"  {size} of {size} bytes\n  {size} of {size} bytes\n"
                   "small files: 390 bytes, 50 files\nfile 7\nidentical: True\n")

    result = run_example("logging_debug.py", tmp_path, env)
    assert result.stdout == "0\n"
    assert "pylibssh.libssh PACKET ssh_connect: libssh 0.12" in result.stderr


def test_fsspec_guide_example(tmp_path, home):
    out = run_example("fsspec_data.py", tmp_path, example_env(home)).stdout
    assert out == ("44850\n300 ['city']\n{'Lima': 14950, 'Oslo': 14850, 'Pune': 15050}\n")


@pytest.mark.peer
def test_asyncio_guide_example(tmp_path, home):
    out = run_example("asyncio_client.py", tmp_path, example_env(home)).stdout
    assert out == ("run: 42\nprocess: STREAMED\ntimed out; still usable: yes\n"
                   "sftp: written with pylibssh.asyncio\nbanner: SSH\n"
                   "web1 0\nweb2 0\nweb3 0\n")
