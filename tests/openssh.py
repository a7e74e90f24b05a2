"""OpenSSH as a real test peer: a private ``sshd`` on a free 127.0.0.1 port, a dedicated local
user, client keys, and helpers to run OpenSSH's ``ssh``/``sftp``/``scp`` against any server.

Everything lives in a temporary directory; nothing on the machine is reconfigured except the
dedicated test user (created once, as OpenSSH needs a real account to log in to).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
TEST_USER = "pylibssh-test"
TEST_PASSWORD = "pylibssh-test-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_banner(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> bytes:
    """Connect until the server sends its SSH banner; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.settimeout(2)
                banner = s.recv(256)
                if banner.startswith(b"SSH-"):
                    return banner
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"no SSH banner on {host}:{port} within {timeout}s ({last})")


def ensure_test_user() -> pwd.struct_passwd:
    """The dedicated local account the tests log in to (password TEST_PASSWORD)."""
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", TEST_USER], check=True, timeout=60)
        entry = pwd.getpwnam(TEST_USER)
    subprocess.run(["chpasswd"], input=f"{TEST_USER}:{TEST_PASSWORD}\n", text=True, check=True,
                   timeout=60)
    return entry


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "", comment: str = "") -> Path:
    args = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-f", str(path)]
    if comment:
        args += ["-C", comment]
    subprocess.run(args, check=True, timeout=120, capture_output=True)
    return path


class OpenSSHServer:
    """A private sshd. ``options`` are extra sshd_config lines (name -> value)."""

    def __init__(self, workdir: Path, options: dict[str, str] | None = None, port: int = 0):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.user = TEST_USER
        self.password = TEST_PASSWORD
        self.options = dict(options or {})
        self.proc: subprocess.Popen | None = None
        self.host_keys = {}
        for kind in ("ed25519", "ecdsa", "rsa"):
            path = self.dir / f"ssh_host_{kind}_key"
            if not path.exists():
                keygen(path, kind)
            os.chmod(path, 0o600)
            self.host_keys[kind] = path
        # sshd reads authorized_keys as the logged-in user: keep it in a directory that user can
        # reach (pytest's temporary directories are private to root)
        self.public_dir = Path(tempfile.mkdtemp(prefix="pylibssh-sshd-"))
        os.chmod(self.public_dir, 0o755)
        self.authorized_keys = self.public_dir / "authorized_keys"
        self.authorized_keys.touch()
        os.chmod(self.authorized_keys, 0o644)
        self.log = self.dir / "sshd.log"
        self.config = self.dir / "sshd_config"

    def write_config(self) -> None:
        lines = {
            "ListenAddress": f"{self.host}:{self.port}",
            "PidFile": str(self.dir / "sshd.pid"),
            "UsePAM": "no",
            "StrictModes": "no",
            "PasswordAuthentication": "yes",
            "PubkeyAuthentication": "yes",
            "KbdInteractiveAuthentication": "no",
            "AuthorizedKeysFile": str(self.authorized_keys),
            "Subsystem": "sftp internal-sftp",
            "AllowTcpForwarding": "yes",
            "AllowStreamLocalForwarding": "yes",
            "AllowAgentForwarding": "yes",
            "X11Forwarding": "no",
            "PermitRootLogin": "no",
            "LogLevel": "VERBOSE",
            "MaxStartups": "1000",
            "MaxSessions": "1000",
            "PrintMotd": "no",
            "AcceptEnv": "LANG LC_* PYLIBSSH_*",
        }
        lines.update(self.options)
        text = "".join(f"HostKey {p}\n" for p in self.host_keys.values())
        text += "".join(f"{k} {v}\n" for k, v in lines.items() if v is not None)
        self.config.write_text(text)

    def start(self, timeout: float = 15.0) -> OpenSSHServer:
        ensure_test_user()
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        self.write_config()
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True,
                               text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"sshd refused its config: {check.stderr}")
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_banner(self.port, timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"sshd did not start: {self.log_text()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.public_dir, ignore_errors=True)

    def authorize(self, public_line: str) -> None:
        with open(self.authorized_keys, "a") as f:
            f.write(public_line.strip() + "\n")

    def known_hosts_lines(self) -> list[str]:
        """known_hosts lines for this server's host keys (``[127.0.0.1]:port type base64``)."""
        out = []
        for path in self.host_keys.values():
            kind, b64 = Path(str(path) + ".pub").read_text().split()[:2]
            out.append(f"[{self.host}]:{self.port} {kind} {b64}")
        return out

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def __enter__(self) -> OpenSSHServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


class OpenSSHClient:
    """Runs OpenSSH's ssh/sftp/scp against any server on loopback, non-interactively."""

    def __init__(self, workdir: Path, port: int, user: str = TEST_USER, host: str = "127.0.0.1",
                 identity: Path | None = None, password: str | None = None,
                 known_hosts: Path | None = None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.user = user
        self.host = host
        self.identity = identity
        self.password = password
        self.known_hosts = known_hosts
        self.connect_timeout = 10  # seconds; covers the banner exchange too

    def options(self, port_flag: str = "-p") -> list[str]:
        opts = [
            port_flag, str(self.port),
            "-o", "LogLevel=ERROR",
            "-o", f"ConnectTimeout={self.connect_timeout}",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=6",
            "-F", "/dev/null",
        ]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}",
                     "-o", "StrictHostKeyChecking=yes"]
        else:
            opts += ["-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no"]
        if self.identity:
            opts += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        if self.password is None:
            opts += ["-o", "BatchMode=yes"]
        else:
            opts += ["-o", "PreferredAuthentications=password,keyboard-interactive",
                     "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
        return opts

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "DISPLAY")}
        if self.password is not None:
            askpass = self.dir / "askpass.sh"
            askpass.write_text(f"#!/bin/sh\necho '{self.password}'\n")
            askpass.chmod(0o700)
            env.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        return env

    def ssh_args(self, *args: str) -> list[str]:
        return ["ssh", *self.options(), f"{self.user}@{self.host}", *args]

    def ssh(self, *args: str, input: bytes | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self.ssh_args(*args), input=input, capture_output=True,
                              timeout=timeout, env=self.env(), check=check,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def sftp(self, batch: str, timeout: float = 120, extra: list[str] | None = None
             ) -> subprocess.CompletedProcess:
        fd, batchfile = tempfile.mkstemp(dir=self.dir, suffix=".batch")
        with os.fdopen(fd, "w") as f:
            f.write(batch)
        args = ["sftp", *self.options("-P"), "-b", batchfile, *(extra or []),
                f"{self.user}@{self.host}"]
        return subprocess.run(args, capture_output=True, timeout=timeout, env=self.env())

    def scp(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["scp", *self.options("-P"), *args], capture_output=True,
                              timeout=timeout, env=self.env(), stdin=subprocess.DEVNULL)

    def remote(self, path: str) -> str:
        return f"{self.user}@{self.host}:{path}"
