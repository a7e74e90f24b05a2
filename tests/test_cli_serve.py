"""`python -m pylibssh serve`: the project's main job, driven like a user would, with OpenSSH's
sftp/scp/ssh as clients."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import paramiko
import pytest
from serverkit import DEADLINE

import pylibssh

pytestmark = pytest.mark.peer


class Serve:
    def __init__(self, tmp_path, *args, env=None, preexec_fn=None):
        self.state = tmp_path / "state"
        cmd = [sys.executable, "-m", "pylibssh", "serve", "--port", "0",
               "--state-dir", str(self.state), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})},
                                     preexec_fn=preexec_fn)
        self.lines = []
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"serve ended early: {self.proc.stderr.read()}")
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        self.text = "\n".join(self.lines)
        self.port = int(re.search(r"port (\d+)", self.text).group(1))

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=DEADLINE)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, out, err


@pytest.fixture
def key_files(client_keys, tmp_path):
    auth = tmp_path / "authorized_keys"
    auth.write_text((client_keys["ed25519"].parent / "id_ed25519.pub").read_text())
    return client_keys["ed25519"], auth


def test_serve_sftp_scp_and_clean_stop(tmp_path, key_files, openssh_client):
    identity, auth = key_files
    root = tmp_path / "served"
    root.mkdir()
    (root / "hello.txt").write_text("hello from serve\n")
    serve = Serve(tmp_path, "--root", str(root), "--authorized-keys", str(auth))
    try:
        key = pylibssh.Key.from_private_file(serve.state / "ssh_host_ed25519_key")
        assert key.fingerprint() in serve.text
        assert oct(os.stat(serve.state / "ssh_host_ed25519_key").st_mode & 0o777) == "0o600"
        assert re.search(r"password: \S{12,}", serve.text)  # generated and printed
        assert f"sftp -P {serve.port} 127.0.0.1" in serve.text
        client = openssh_client(serve.port, identity=identity)
        upload = tmp_path / "upload.bin"
        upload.write_bytes(os.urandom(1_000_000))
        result = client.sftp(f"get hello.txt {tmp_path / 'got.txt'}\nput {upload} up.bin\n"
                             "mkdir dir\nls\n")
        assert result.returncode == 0, result.stderr.decode()
        assert (tmp_path / "got.txt").read_text() == "hello from serve\n"
        assert (root / "up.bin").read_bytes() == upload.read_bytes() and (root / "dir").is_dir()
        result = client.scp(str(upload), client.remote("dir/copy.bin"))
        assert result.returncode == 0, result.stderr.decode()
        assert (root / "dir" / "copy.bin").read_bytes() == upload.read_bytes()
        # no shell or exec without --allow-exec
        result = client.ssh("echo", "should-not-run")
        assert result.returncode != 0 and b"should-not-run" not in result.stdout
    finally:
        code, out, err = serve.stop(signal.SIGINT)
    assert code == 0, err
    assert "stopped" in out and "Traceback" not in err


def _file_size_limit():
    # (in the child before exec) files over 1 MiB fail with EFBIG; SIGXFSZ, which would kill
    # the server instead, stays ignored across exec
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_a_write_the_file_system_refuses_is_answered(tmp_path, key_files, openssh_client):
    """Uploads are written in C straight from the channel: a write the file system refuses
    (EFBIG past the server's file size limit) gets an error status, sftp reports it, and the
    session and the server go on."""
    identity, auth = key_files
    root = tmp_path / "served"
    root.mkdir()
    serve = Serve(tmp_path, "--root", str(root), "--authorized-keys", str(auth),
                  preexec_fn=_file_size_limit)
    try:
        client = openssh_client(serve.port, identity=identity)
        big, small = tmp_path / "big.bin", tmp_path / "small.bin"
        big.write_bytes(os.urandom(3 << 20))
        small.write_bytes(os.urandom(100_000))
        result = client.sftp(f"put {big} big.bin\n")
        assert result.returncode != 0
        assert b"big.bin" in result.stderr and b"Failure" in result.stderr, result.stderr
        written = (root / "big.bin").read_bytes()
        assert len(written) <= 1 << 20 and written == big.read_bytes()[:len(written)]
        result = client.sftp(f"put {small} small.bin\nget small.bin {tmp_path / 'back'}\n")
        assert result.returncode == 0, result.stderr.decode()
        assert (tmp_path / "back").read_bytes() == small.read_bytes()
    finally:
        code, out, err = serve.stop(signal.SIGINT)
    assert code == 0, err
    assert "Traceback" not in err


def test_serve_password_exec_and_persistent_host_key(tmp_path, key_files, openssh_client):
    identity, auth = key_files
    first = Serve(tmp_path, "--root", str(tmp_path), "--no-password", "--authorized-keys",
                  str(auth))
    try:
        fingerprint = re.search(r"host key (\S+)", first.text).group(1)
        assert "(new, " in first.text and "password:" not in first.text
    finally:
        assert first.stop(signal.SIGTERM)[0] == 0
    serve = Serve(tmp_path, "--root", str(tmp_path), "--password", "let-me-in", "--allow-exec",
                  "--authorized-keys", str(tmp_path / "none"))
    try:
        assert re.search(r"host key (\S+)", serve.text).group(1) == fingerprint  # kept
        assert "let-me-in" not in serve.text  # a given password is not echoed
        result = openssh_client(serve.port, password="let-me-in").ssh("pwd; echo ran-$((6*7))")
        assert result.returncode == 0, result.stderr.decode()
        assert result.stdout.decode().split() == [str(tmp_path), "ran-42"]
        assert openssh_client(serve.port, password="wrong").ssh("true").returncode == 255
    finally:
        code, out, err = serve.stop()
    assert code == 0 and "WARNING: --allow-exec" in err


def test_serve_password_from_environment_and_refusals(tmp_path, openssh_client):
    serve = Serve(tmp_path, "--root", str(tmp_path), "--read-only", "--authorized-keys",
                  str(tmp_path / "none"), env={"PYLIBSSH_PASSWORD": "from-env"})
    try:
        assert "(read-only)" in serve.text and "from-env" not in serve.text
        client = openssh_client(serve.port, password="from-env")
        result = client.scp(str(tmp_path / "state" / "ssh_host_ed25519_key.pub"),
                            client.remote("x.pub"))
        assert result.returncode != 0 and not (tmp_path / "x.pub").exists()  # read-only
    finally:
        assert serve.stop()[0] == 0
    result = subprocess.run([sys.executable, "-m", "pylibssh", "serve", "--port", "0",
                             "--no-password", "--authorized-keys", str(tmp_path / "none"),
                             "--state-dir", str(tmp_path / "state")],
                            capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 2 and "nobody could log in" in result.stderr


def test_serve_limits_carry_openssh_names(tmp_path, openssh_client):
    help_text = subprocess.run([sys.executable, "-m", "pylibssh", "serve", "--help"],
                               capture_output=True, text=True, timeout=DEADLINE).stdout
    for option, default in (("--login-grace-time", "(2m;"), ("--max-auth-tries", "(6;"),
                            ("--max-startups", "(10:30:100;"), ("--max-sessions", "(10)"),
                            ("--idle-timeout", "off")):
        assert option in help_text and default in help_text, option
    serve = Serve(tmp_path, "--root", str(tmp_path), "--password", "let-me-in",
                  "--authorized-keys", str(tmp_path / "none"), "--max-auth-tries", "2",
                  "--login-grace-time", "1s", "--max-sessions", "1", "--max-startups", "5",
                  "--idle-timeout", "10m")
    try:
        # two failures end the connection, though ssh would try 20 passwords
        client = openssh_client(serve.port, password="wrong")
        args = client.ssh_args("true")
        args[1:1] = ["-o", "NumberOfPasswordPrompts=20", "-o", "LogLevel=INFO"]
        result = subprocess.run(args, capture_output=True, timeout=DEADLINE, env=client.env(),
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 255
        assert b"Too many authentication failures" in result.stderr, result.stderr
        # (ssh says so after each failure it was told of)
        assert result.stderr.count(b"Permission denied, please try again") == 2, result.stderr
        # a connection that never logs in is dropped after the grace time
        with socket.create_connection(("127.0.0.1", serve.port), timeout=DEADLINE) as s:
            while s.recv(4096):
                pass
        # one session channel at a time
        t = paramiko.Transport(socket.create_connection(("127.0.0.1", serve.port),
                                                        timeout=DEADLINE))
        try:
            t.start_client(timeout=DEADLINE)
            t.auth_password("anyone", "let-me-in")
            t.open_session(timeout=DEADLINE)
            with pytest.raises(paramiko.ChannelException):
                t.open_session(timeout=DEADLINE)
        finally:
            t.close()
    finally:
        assert serve.stop()[0] == 0


def test_a_client_cannot_write_on_the_servers_stdout(tmp_path):
    """A malformed SFTP INIT (no version) is a peer's bad packet: it is refused without a word on
    the server's standard output, which belongs to the application (libssh printed there)."""
    from sftpkit import RawSFTP

    serve = Serve(tmp_path, "--root", str(tmp_path), "--password", "let-me-in",
                  "--authorized-keys", str(tmp_path / "none"))
    try:
        for _ in range(3):
            raw = RawSFTP(serve.port, password="let-me-in")
            try:
                raw.send(1, b"")  # SSH_FXP_INIT without its version
                with pytest.raises(EOFError):  # the subsystem ends: nothing readable came
                    raw.recv()
            finally:
                raw.close()
    finally:
        code, out, err = serve.stop()
    assert code == 0
    assert out.strip().splitlines() == ["stopped"], out  # nothing after the announcement
