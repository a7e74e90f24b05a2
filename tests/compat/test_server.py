"""paramiko's server side: a test server written the way paramiko's docs and demos write one
(accept loop, ``Transport(sock)``, ``add_server_key``, ``start_server(server=...)``,
``accept()``, ``set_subsystem_handler("sftp", SFTPServer, StubSFTPServer)``), run with real
paramiko and with pylibssh's layer, and used by clients nobody here wrote: OpenSSH's ``ssh`` and
``sftp``, and real paramiko's ``SSHClient`` / ``SFTPClient``."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import threading
import time

import paramiko as real_paramiko  # imported before any fixture installs the layer
import pytest
from compatkit import read_to_eof

DEADLINE = 20  # seconds for any single network operation

assert not getattr(real_paramiko, "__pylibssh__", False)

pytestmark = pytest.mark.peer  # OpenSSH's ssh and sftp are among the clients

USER = "alice"
PASSWORD = "open-sesame"
KBD_CODE = "4711"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def until_client_leaves(t):
    """Wait (at most DEADLINE) while the transport is active."""
    deadline = time.monotonic() + DEADLINE
    while t.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)


# -- the paramiko-style server under test ----------------------------------------------------------

def make_interface(paramiko, allowed_key):
    """A ServerInterface as paramiko's demo_server.py writes one (more methods, same style)."""

    class Server(paramiko.ServerInterface):
        def __init__(self):
            self.event = threading.Event()
            self.kind = None
            self.command = None
            self.pty = None
            self.window = None
            self.offered = []
            self.env = {}

        def get_allowed_auths(self, username):
            if username == "kbd":
                return "keyboard-interactive"
            if username == "two":
                return "password,publickey"
            return "password,publickey,keyboard-interactive"

        def check_auth_password(self, username, password):
            if password != PASSWORD:
                return paramiko.AUTH_FAILED
            if username == "two":
                return paramiko.AUTH_PARTIALLY_SUCCESSFUL
            if username in (USER, "nochannels"):
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED

        def check_auth_publickey(self, username, key):
            self.offered.append((username, key.get_name(), key.get_base64()))
            if username in (USER, "two") and key.get_base64() == allowed_key.get_base64():
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED

        def check_auth_interactive(self, username, submethods):
            if username == "kbd":
                return paramiko.InteractiveQuery("login", "enter the code", ("Code: ", False))
            return paramiko.AUTH_FAILED

        def check_auth_interactive_response(self, responses):
            if list(responses) == [KBD_CODE]:
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED

        def check_channel_request(self, kind, chanid):
            if kind == "session" and self.kind != "no-channels":
                return paramiko.OPEN_SUCCEEDED
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

        def check_channel_exec_request(self, channel, command):
            self.kind, self.command = "exec", command
            self.event.set()
            return True

        def check_channel_shell_request(self, channel):
            self.kind = "shell"
            self.event.set()
            return True

        def check_channel_pty_request(self, channel, term, width, height, pixelwidth,
                                      pixelheight, modes):
            self.pty = (term, width, height)
            self.modes = modes
            return True

        def check_channel_window_change_request(self, channel, width, height, pixelwidth,
                                                pixelheight):
            self.window = (width, height)
            return True

        def check_channel_env_request(self, channel, name, value):
            self.env[name] = value
            return name == b"GREETING"

        def get_banner(self):
            return ("Authorized use only.\r\n", "en-US")

        def check_channel_subsystem_request(self, channel, name):
            self.kind = "subsystem"
            self.event.set()
            return super().check_channel_subsystem_request(channel, name)

    return Server


def make_stub_sftp(paramiko, root):
    """An SFTPServerInterface over a local directory, as paramiko's tests/_stub_sftp.py."""

    class StubSFTPHandle(paramiko.SFTPHandle):
        def stat(self):
            try:
                return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

        def chattr(self, attr):
            try:
                paramiko.SFTPServer.set_file_attr(self.filename, attr)
                return paramiko.SFTP_OK
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

    class StubSFTPServer(paramiko.SFTPServerInterface):
        ROOT = str(root)
        sessions = []

        def session_started(self):
            self.sessions.append("started")

        def session_ended(self):
            self.sessions.append("ended")

        def _realpath(self, path):
            return self.ROOT + self.canonicalize(path)

        def list_folder(self, path):
            path = self._realpath(path)
            try:
                out = []
                for fname in os.listdir(path):
                    attr = paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(path, fname)))
                    attr.filename = fname
                    out.append(attr)
                return out
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

        def _attrs(self, fn, path):
            try:
                return paramiko.SFTPAttributes.from_stat(fn(self._realpath(path)))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

        def stat(self, path):
            return self._attrs(os.stat, path)

        def lstat(self, path):
            return self._attrs(os.lstat, path)

        def open(self, path, flags, attr):
            path = self._realpath(path)
            try:
                mode = getattr(attr, "st_mode", None)
                fd = os.open(path, flags, mode if mode is not None else 0o666)
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            if (flags & os.O_CREAT) and (attr is not None):
                attr._flags &= ~attr.FLAG_PERMISSIONS
                paramiko.SFTPServer.set_file_attr(path, attr)
            if flags & os.O_WRONLY:
                fstr = "ab" if flags & os.O_APPEND else "wb"
            elif flags & os.O_RDWR:
                fstr = "a+b" if flags & os.O_APPEND else "r+b"
            else:
                fstr = "rb"
            try:
                f = os.fdopen(fd, fstr)
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            fobj = StubSFTPHandle(flags)
            fobj.filename = path
            fobj.readfile = f
            fobj.writefile = f
            return fobj

        @staticmethod
        def _do(fn, *args):
            try:
                fn(*args)
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)
            return paramiko.SFTP_OK

        def remove(self, path):
            return self._do(os.remove, self._realpath(path))

        def rename(self, oldpath, newpath):
            oldpath, newpath = self._realpath(oldpath), self._realpath(newpath)
            if os.path.exists(newpath):
                return paramiko.SFTP_FAILURE
            return self._do(os.rename, oldpath, newpath)

        def posix_rename(self, oldpath, newpath):
            return self._do(os.rename, self._realpath(oldpath), self._realpath(newpath))

        def mkdir(self, path, attr):
            path = self._realpath(path)
            status = self._do(os.mkdir, path)
            if status == paramiko.SFTP_OK and attr is not None:
                status = self._do(paramiko.SFTPServer.set_file_attr, path, attr)
            return status

        def rmdir(self, path):
            return self._do(os.rmdir, self._realpath(path))

        def chattr(self, path, attr):
            return self._do(paramiko.SFTPServer.set_file_attr, self._realpath(path), attr)

        def symlink(self, target_path, path):
            return self._do(os.symlink, target_path, self._realpath(path))

        def readlink(self, path):
            try:
                return os.readlink(self._realpath(path))
            except OSError as e:
                return paramiko.SFTPServer.convert_errno(e.errno)

    return StubSFTPServer


class PServer:
    """The accept loop of paramiko's demo server, one thread per connection."""

    def __init__(self, paramiko, host_key, interface, sftp_interface):
        self.paramiko = paramiko
        self.host_key = host_key
        self.interface = interface
        self.sftp_interface = sftp_interface
        self.transports = []
        self.interfaces = []
        self.errors = []
        self.outcomes = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                client, _addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        paramiko = self.paramiko
        try:
            t = paramiko.Transport(client)
            self.transports.append(t)
            t.add_server_key(self.host_key)
            t.set_subsystem_handler("sftp", paramiko.SFTPServer, self.sftp_interface)
            server = self.interface()
            self.interfaces.append(server)
            try:
                t.start_server(server=server)
            except paramiko.SSHException:
                self.outcomes.append("negotiation failed")
                return
            chan = t.accept(DEADLINE)
            if chan is None:
                self.outcomes.append(("no channel", t.is_authenticated()))
                return
            self.outcomes.append(("channel", t.get_username(), t.is_authenticated()))
            if not server.event.wait(DEADLINE):
                self.outcomes.append("no request")
                return
            if server.kind == "exec":
                self._exec(chan, server.command)
            elif server.kind == "shell":
                self._shell(chan, server)
            until_client_leaves(t)  # (a subsystem's handler thread serves meanwhile)
        except Exception as exc:  # recorded: the test asserts there are none
            self.errors.append(exc)

    def _exec(self, chan, command):
        chan.settimeout(DEADLINE)
        if command == b"both":
            chan.sendall(b"to stdout\n")
            chan.sendall_stderr(b"to stderr\n")
            err = chan.makefile_stderr("wb")
            err.write(b"more stderr\n")
            err.flush()
            chan.send_exit_status(7)
        elif command == b"upper":
            chan.sendall(read_to_eof(chan).upper())
            chan.send_exit_status(0)
        elif command == b"digest-then-stream":  # reads everything, then writes a lot
            digest = hashlib.sha256(read_to_eof(chan)).hexdigest().encode()
            block = bytes(range(256)) * 256  # 64 KiB
            chan.sendall(digest + b"\n")
            for _ in range(160):  # 10 MiB
                chan.sendall(block)
            chan.send_exit_status(0)
        else:
            chan.sendall_stderr(b"unknown command\n")
            chan.send_exit_status(127)
        chan.shutdown_write()
        chan.close()

    def _shell(self, chan, server):
        chan.settimeout(DEADLINE)
        chan.send(b"welcome\r\n")
        f = chan.makefile("rb")
        line = f.readline().strip()
        chan.send(b"you said " + line + b"\r\n")
        if f.readline().strip() == b"resize?":  # the client resized before asking
            deadline = time.monotonic() + DEADLINE
            while server.window is None and time.monotonic() < deadline:
                time.sleep(0.02)
            chan.send(b"window %d %d\r\n" % server.window)
        chan.send_exit_status(0)
        chan.close()

    def refuse_channels(self):
        """From now on, connections get an interface whose check_channel_request refuses."""
        base = self.interface

        class NoChannels(base):
            def __init__(self):
                super().__init__()
                self.kind = "no-channels"

        self.interface = NoChannels

    def close(self):
        self.sock.close()
        for t in self.transports:
            t.close()


@pytest.fixture
def sftp_root(tmp_path):
    root = tmp_path / "sftp-root"
    root.mkdir()
    return root


@pytest.fixture
def pserver(paramiko, host_key_files, client_keys, sftp_root):
    host_key = paramiko.Ed25519Key(filename=str(host_key_files["ed25519"]))
    allowed = paramiko.Ed25519Key(filename=str(client_keys["ed25519"]))
    server = PServer(paramiko, host_key, make_interface(paramiko, allowed),
                     make_stub_sftp(paramiko, sftp_root))
    yield server
    server.close()
    assert not server.errors, server.errors


def real_client(port, **kwargs):
    client = real_paramiko.SSHClient()
    client.set_missing_host_key_policy(real_paramiko.AutoAddPolicy())
    kwargs.setdefault("username", USER)
    client.connect("127.0.0.1", port, look_for_keys=False, allow_agent=False, timeout=DEADLINE,
                   banner_timeout=DEADLINE, auth_timeout=DEADLINE, channel_timeout=DEADLINE,
                   **kwargs)
    return client


def uses_layer(paramiko):
    return bool(getattr(paramiko, "__pylibssh__", False))


# -- OpenSSH's ssh -----------------------------------------------------------------------------

def test_openssh_password_exec_stdout_stderr_exit_status(paramiko, pserver, openssh_client):
    ssh = openssh_client(pserver.port, user=USER, password=PASSWORD)
    result = ssh.ssh("both", timeout=DEADLINE * 2)
    assert result.returncode == 7, result.stderr
    assert result.stdout == b"to stdout\n"
    assert b"to stderr\nmore stderr\n" in result.stderr
    assert pserver.interfaces[0].command == b"both"
    assert pserver.outcomes == [("channel", USER, True)]
    assert isinstance(pserver.transports[0], paramiko.Transport)
    assert uses_layer(paramiko) == hasattr(pserver.transports[0], "_server_mode")


def test_openssh_stdin_reaches_the_server_and_eof_ends_it(paramiko, pserver, openssh_client):
    ssh = openssh_client(pserver.port, user=USER, password=PASSWORD)
    data = os.urandom(200_000).hex().encode()
    result = ssh.ssh("upper", input=data, timeout=DEADLINE * 2)
    assert result.returncode == 0, result.stderr
    assert sha256(result.stdout) == sha256(data.upper())


def test_openssh_large_streams_both_ways(paramiko, pserver, openssh_client):
    ssh = openssh_client(pserver.port, user=USER, password=PASSWORD)
    data = os.urandom(12 << 20)  # more than the server channel buffers before pausing
    result = ssh.ssh("digest-then-stream", input=data, timeout=DEADLINE * 4)
    assert result.returncode == 0, result.stderr
    first, _, rest = result.stdout.partition(b"\n")
    assert first.decode() == sha256(data)
    assert sha256(rest) == sha256(bytes(range(256)) * 256 * 160)


def test_openssh_shell_with_pty(paramiko, pserver, openssh_client):
    ssh = openssh_client(pserver.port, user=USER, password=PASSWORD)
    result = subprocess.run(
        ["ssh", "-tt", *ssh.options(), f"{USER}@127.0.0.1"], input=b"hello there\nbye\n",
        capture_output=True, timeout=DEADLINE * 2, env={**ssh.env(), "TERM": "vt220"})
    assert result.returncode == 0, result.stderr
    assert b"welcome\r\n" in result.stdout
    assert b"you said hello there\r\n" in result.stdout
    server = pserver.interfaces[0]
    assert server.kind == "shell"
    assert server.pty[0] == b"vt220"
    assert isinstance(server.pty[1], int) and isinstance(server.pty[2], int)
    assert isinstance(server.modes, bytes)


def test_openssh_publickey_accepts_one_key_and_rejects_another(paramiko, pserver,
                                                               openssh_client, client_keys):
    good = openssh_client(pserver.port, user=USER, identity=client_keys["ed25519"])
    result = good.ssh("both", timeout=DEADLINE * 2)
    assert result.returncode == 7, result.stderr
    bad = openssh_client(pserver.port, user=USER, identity=client_keys["ecdsa"])
    result = bad.ssh("both", timeout=DEADLINE * 2)
    assert result.returncode == 255
    assert b"Permission denied" in result.stderr
    offered = [o for i in pserver.interfaces for o in i.offered]
    assert any(name == "ssh-ed25519" for _u, name, _b in offered)
    assert any(name.startswith("ecdsa-sha2-") for _u, name, _b in offered)
    assert pserver.outcomes[0] == ("channel", USER, True)


def test_openssh_keyboard_interactive(paramiko, pserver, openssh_client, tmp_path):
    ssh = openssh_client(pserver.port, user="kbd", password=KBD_CODE)
    result = ssh.ssh("both", timeout=DEADLINE * 2)
    assert result.returncode == 7, result.stderr
    assert pserver.outcomes == [("channel", "kbd", True)]


def test_openssh_wrong_password_is_refused(paramiko, pserver, openssh_client):
    ssh = openssh_client(pserver.port, user=USER, password="wrong")
    result = ssh.ssh("both", timeout=DEADLINE * 2)
    assert result.returncode == 255
    assert b"Permission denied" in result.stderr
    assert not any(o[0] == "channel" for o in pserver.outcomes if isinstance(o, tuple))


def test_openssh_channel_refused_by_check_channel_request(paramiko, pserver, openssh_client):
    pserver.refuse_channels()
    ssh = openssh_client(pserver.port, user=USER, password=PASSWORD)
    result = ssh.ssh("both", timeout=DEADLINE * 2)
    assert result.returncode == 255  # (LogLevel=ERROR hides "open failed: administratively...")
    assert result.stdout == b""
    assert pserver.interfaces[0].command is None  # no request reached the server


# -- real paramiko as the client -----------------------------------------------------------------

def test_paramiko_client_exec_and_env(paramiko, pserver):
    client = real_client(pserver.port, password=PASSWORD)
    try:
        stdin, stdout, stderr = client.exec_command("both", timeout=DEADLINE,
                                                    environment={"GREETING": "hi"})
        assert stdout.read() == b"to stdout\n"
        assert stderr.read() == b"to stderr\nmore stderr\n"
        assert stdout.channel.recv_exit_status() == 7
        assert client.get_transport().get_banner() == b"Authorized use only.\r\n"
    finally:
        client.close()
    assert pserver.interfaces[0].env == {b"GREETING": b"hi"}


def test_paramiko_client_shell_with_pty_and_window_change(paramiko, pserver):
    client = real_client(pserver.port, password=PASSWORD)
    try:
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.settimeout(DEADLINE)
        chan.get_pty("xterm-256color", 100, 30)
        chan.invoke_shell()
        f = chan.makefile("rb")
        assert f.readline() == b"welcome\r\n"
        chan.sendall(b"hello there\n")
        assert f.readline() == b"you said hello there\r\n"
        chan.resize_pty(120, 40)
        chan.sendall(b"resize?\n")
        assert f.readline() == b"window 120 40\r\n"
        assert chan.recv_exit_status() == 0
    finally:
        client.close()
    assert pserver.interfaces[0].pty == (b"xterm-256color", 100, 30)
    assert pserver.interfaces[0].window == (120, 40)


def test_paramiko_client_publickey_and_partial_success(paramiko, pserver, client_keys):
    key = real_paramiko.Ed25519Key(filename=str(client_keys["ed25519"]))
    other = real_paramiko.ECDSAKey(filename=str(client_keys["ecdsa"]))
    t = real_paramiko.Transport(("127.0.0.1", pserver.port))
    try:
        t.start_client(timeout=DEADLINE)
        with pytest.raises(real_paramiko.AuthenticationException):
            t.auth_publickey("two", other)  # (paramiko refuses a change of user name)
        # partial success: more is needed, and the answer lists get_allowed_auths("two")
        # (libssh writes the names in its own order)
        assert sorted(t.auth_password("two", PASSWORD)) == ["password", "publickey"]
        assert not t.is_authenticated()
        assert t.auth_publickey("two", key) == []
        assert t.is_authenticated()
        chan = t.open_session(timeout=DEADLINE)
        chan.exec_command("both")
        assert chan.recv_exit_status() == 7
    finally:
        t.close()
    assert pserver.outcomes[0] == ("channel", "two", True)


def test_server_is_authenticated_when_the_client_is(paramiko, pserver):
    # checked the moment the client has the success reply, over several connections
    for _ in range(5):
        client = real_client(pserver.port, password=PASSWORD)
        try:
            assert pserver.transports[-1].is_authenticated()
        finally:
            client.close()


def test_paramiko_client_keyboard_interactive_and_bad_type(paramiko, pserver):
    t = real_paramiko.Transport(("127.0.0.1", pserver.port))
    prompts = []

    def handler(title, instructions, prompt_list):
        prompts.append((title, instructions, list(prompt_list)))
        return [KBD_CODE]

    try:
        t.start_client(timeout=DEADLINE)
        with pytest.raises(real_paramiko.BadAuthenticationType) as info:
            t.auth_password("kbd", PASSWORD, fallback=False)
        assert info.value.allowed_types == ["keyboard-interactive"]
        assert t.auth_interactive("kbd", handler) == []
        assert t.is_authenticated()
    finally:
        t.close()
    assert prompts == [("login", "enter the code", [("Code: ", False)])]


def test_paramiko_client_wrong_password_and_refused_channel(paramiko, pserver):
    with pytest.raises(real_paramiko.AuthenticationException):
        real_client(pserver.port, password="wrong")
    pserver.refuse_channels()
    client = real_client(pserver.port, password=PASSWORD)
    try:
        with pytest.raises(real_paramiko.ChannelException) as info:
            client.get_transport().open_session(timeout=DEADLINE)
        assert info.value.code == real_paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
    finally:
        client.close()


# -- SFTP ----------------------------------------------------------------------------------------

def test_openssh_sftp_against_stub_sftp_server(paramiko, pserver, openssh_client, sftp_root,
                                               tmp_path, client_keys):
    payload = os.urandom(3_000_000)
    local = tmp_path / "local.bin"
    local.write_bytes(payload)
    back = tmp_path / "back.bin"
    (sftp_root / "existing.txt").write_bytes(b"already here\n")
    for i in range(40):  # more than one page of names (paramiko sends 16 per reply)
        (sftp_root / f"many-{i:02d}").write_bytes(b"x" * i)
    # (sftp -b implies BatchMode: public-key authentication)
    sftp = openssh_client(pserver.port, user=USER, identity=client_keys["ed25519"])
    batch = "\n".join([
        "pwd",
        f"put {local} up.bin",
        f"get up.bin {back}",
        "mkdir sub",
        "rename up.bin sub/moved.bin",
        "ls -l sub",
        "ls",
        "get existing.txt " + str(tmp_path / "existing.txt"),
        "rm many-00",
        "",
    ])
    result = sftp.sftp(batch, timeout=DEADLINE * 3)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "Remote working directory: /" in out
    assert sha256(back.read_bytes()) == sha256(payload)
    moved = sftp_root / "sub" / "moved.bin"
    assert sha256(moved.read_bytes()) == sha256(payload)
    assert not (sftp_root / "up.bin").exists()
    assert "moved.bin" in out and "3000000" in out  # ls -l's long name
    assert all(f"many-{i:02d}" in out for i in range(40))
    assert (tmp_path / "existing.txt").read_bytes() == b"already here\n"
    assert not (sftp_root / "many-00").exists()
    # remove what is left, then an error path: rmdir of a missing directory fails the batch
    result = sftp.sftp("rm sub/moved.bin\nrmdir sub\nrmdir missing\n", timeout=DEADLINE * 2)
    assert not (sftp_root / "sub").exists()
    assert result.returncode != 0
    assert b"missing" in result.stderr


def test_paramiko_sftp_client_against_stub_sftp_server(paramiko, pserver, sftp_root, tmp_path):
    payload = os.urandom(1 << 20)
    local = tmp_path / "local.bin"
    local.write_bytes(payload)
    client = real_client(pserver.port, password=PASSWORD)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(DEADLINE)
        assert sftp.normalize(".") == "/"
        sftp.put(str(local), "/data.bin")
        assert sha256((sftp_root / "data.bin").read_bytes()) == sha256(payload)
        sftp.get("/data.bin", str(tmp_path / "copy.bin"))
        assert sha256((tmp_path / "copy.bin").read_bytes()) == sha256(payload)
        assert sftp.stat("/data.bin").st_size == len(payload)
        sftp.mkdir("/dir")
        with sftp.open("/dir/note.txt", "w") as f:
            f.write(b"line one\n")
        with sftp.open("/dir/note.txt", "a") as f:
            f.write(b"line two\n")
        with sftp.open("/dir/note.txt", "r") as f:
            assert f.read() == b"line one\nline two\n"
        sftp.chmod("/dir/note.txt", 0o600)
        assert stat.S_IMODE(os.stat(sftp_root / "dir" / "note.txt").st_mode) == 0o600
        sftp.rename("/dir/note.txt", "/dir/renamed.txt")
        sftp.symlink("renamed.txt", "/dir/link")
        assert sftp.readlink("/dir/link") == "renamed.txt"
        assert stat.S_ISLNK(sftp.lstat("/dir/link").st_mode)
        sftp.posix_rename("/data.bin", "/dir/data.bin")
        assert sorted(sftp.listdir("/dir")) == ["data.bin", "link", "renamed.txt"]
        with pytest.raises(FileNotFoundError):
            sftp.stat("/nope")
        with pytest.raises(OSError):
            sftp.rename("/dir/renamed.txt", "/dir/data.bin")  # the stub refuses to overwrite
        for name in ("data.bin", "link", "renamed.txt"):
            sftp.remove("/dir/" + name)
        sftp.rmdir("/dir")
        assert os.listdir(sftp_root) == []
        sftp.close()
    finally:
        client.close()
    stub = pserver.sftp_interface
    deadline = time.monotonic() + DEADLINE
    while stub.sessions != ["started", "ended"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stub.sessions == ["started", "ended"]


def test_sftp_client_of_the_same_kind_against_stub_sftp_server(paramiko, pserver, sftp_root):
    # the server's implementation as its client: paramiko with paramiko, the layer with the layer
    from test_sftp import _rename_symlink_exclusive

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", pserver.port, USER, password=PASSWORD, look_for_keys=False,
                   allow_agent=False, timeout=DEADLINE)
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(DEADLINE)
        _rename_symlink_exclusive(paramiko, sftp)
        assert os.readlink(sftp_root / "link") == "other.txt"
        assert (sftp_root / "other.txt").read_bytes() == b"exclusive"
        sftp.close()
    finally:
        client.close()


# -- start_server(event), a subsystem handler of one's own, global requests ---------------------

def host_key_and_interface(paramiko, host_key_files):
    host_key = paramiko.Ed25519Key(filename=str(host_key_files["ed25519"]))
    return host_key, make_interface(paramiko, host_key)


def serve_one(paramiko, host_key, server, setup, flow):
    """Accept one connection and run ``flow(transport)`` in a thread (paramiko's demo style,
    with ``start_server(event, server)``); returns (port, results, thread)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(DEADLINE)
    results = {}

    def run():
        try:
            client, _ = listener.accept()
            t = paramiko.Transport(client)
            results["transport"] = t
            t.add_server_key(host_key)
            setup(t)
            event = threading.Event()
            t.start_server(event, server)
            results["active while negotiating"] = t.is_active()
            results["event"] = event.wait(DEADLINE)
            results["active"] = t.is_active()
            results["peer"] = t.getpeername()
            flow(t, results)
        except Exception as exc:
            results["error"] = exc
        finally:
            listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], results, thread


def test_start_server_event_and_own_subsystem_handler(paramiko, host_key_files, client_keys):
    import select

    host_key = paramiko.Ed25519Key(filename=str(host_key_files["ed25519"]))
    server = make_interface(paramiko, host_key)()

    class Reverser(paramiko.SubsystemHandler):
        def __init__(self, channel, name, server, prefix):
            super().__init__(channel, name, server)
            self.prefix = prefix

        def start_subsystem(self, name, transport, channel):
            channel.settimeout(DEADLINE)
            readable, _, _ = select.select([channel], [], [], DEADLINE)  # Channel.fileno()
            seen = {"readable": readable == [channel], "ready": channel.recv_ready(),
                    "server": self.get_server() is server, "name": name}
            data = read_to_eof(channel)
            channel.sendall(self.prefix + data[::-1])
            channel.send_exit_status(0)
            seen["data"] = data
            handled.append(seen)

    handled = []

    def flow(t, results):
        results["chan"] = chan = t.accept(DEADLINE)
        results["chan peer"] = chan.getpeername()
        results["user"] = t.get_username()
        results["authenticated"] = t.is_authenticated()
        results["closed"] = chan.status_event.wait(DEADLINE)  # set when the channel closes
        results["chan event"] = chan.event.is_set()  # so is this one
        until_client_leaves(t)

    port, results, thread = serve_one(
        paramiko, host_key, server,
        lambda t: t.set_subsystem_handler("reverse", Reverser, b"<<"), flow)
    client = real_client(port, password=PASSWORD)
    try:
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.settimeout(DEADLINE)
        with pytest.raises(real_paramiko.SSHException):
            chan.invoke_subsystem("no-such-subsystem")
        chan.close()
        chan = client.get_transport().open_session(timeout=DEADLINE)
        chan.settimeout(DEADLINE)
        chan.invoke_subsystem("reverse")
        chan.sendall(b"hello, subsystem")
        chan.shutdown_write()
        out = read_to_eof(chan)
        assert chan.recv_exit_status() == 0
    finally:
        client.close()
    thread.join(DEADLINE)
    assert "error" not in results, results.get("error")
    assert results["active while negotiating"] and results["event"] and results["active"]
    assert results["peer"][0] == "127.0.0.1"
    assert results["chan peer"] == results["peer"]
    assert results["closed"] and results["chan event"]
    assert out == b"<<metsysbus ,olleh"
    assert handled == [{"readable": True, "ready": True, "server": True, "name": "reverse",
                        "data": b"hello, subsystem"}]
    assert results["chan"].get_transport() is results["transport"]
    assert results["user"] == USER and results["authenticated"]
    assert results["transport"].get_username() is None  # not active any more
    assert results["transport"].remote_version.startswith("SSH-2.0-paramiko")
    results["transport"].close()


def test_port_forward_requests_reach_the_interface(paramiko, host_key_files):
    host_key, base = host_key_and_interface(paramiko, host_key_files)
    calls = []

    class Forwarding(base):
        def check_port_forward_request(self, address, port):
            calls.append(("forward", address, port))
            return 40123 if port == 0 else False

        def cancel_port_forward_request(self, address, port):
            calls.append(("cancel", address, port))

    def flow(t, results):
        until_client_leaves(t)

    port, results, thread = serve_one(paramiko, host_key, Forwarding(), lambda t: None, flow)
    client = real_client(port, password=PASSWORD)
    try:
        t = client.get_transport()
        assert t.request_port_forward("127.0.0.1", 0) == 40123
        with pytest.raises(real_paramiko.SSHException):
            t.request_port_forward("127.0.0.1", 2222)
        t.cancel_port_forward("127.0.0.1", 40123)
        # a global request round trip, so the cancel (which wants no reply) has arrived
        t.request_port_forward("127.0.0.1", 1)
    except real_paramiko.SSHException:
        pass
    finally:
        client.close()
    thread.join(DEADLINE)
    assert "error" not in results, results.get("error")
    assert calls == [("forward", "127.0.0.1", 0), ("forward", "127.0.0.1", 2222),
                     ("cancel", "127.0.0.1", 40123), ("forward", "127.0.0.1", 1)]
    results["transport"].close()


def test_check_global_request_gets_the_fields_and_answers_with_a_tuple(paramiko, host_key_files):
    host_key, base = host_key_and_interface(paramiko, host_key_files)
    calls = []

    class Answering(base):
        def check_global_request(self, kind, msg):
            calls.append((kind, msg.get_string(), msg.get_int()))
            if kind == "sum@example.com":
                return (b"total", 40 + 2)
            return kind == "plain@example.com"

    def flow(t, results):
        until_client_leaves(t)

    port, results, thread = serve_one(paramiko, host_key, Answering(), lambda t: None, flow)
    client = real_client(port, password=PASSWORD)
    try:
        t = client.get_transport()
        reply = t.global_request("sum@example.com", (b"a", 7), wait=True)
        assert reply is not None and reply.get_string() == b"total" and reply.get_int() == 42
        plain = t.global_request("plain@example.com", (b"b", 8), wait=True)
        assert plain is not None and plain.get_remainder() == b""
        assert t.global_request("no@example.com", (b"c", 9), wait=True) is None
    finally:
        client.close()
    thread.join(DEADLINE)
    assert "error" not in results, results.get("error")
    assert calls == [("sum@example.com", b"a", 7), ("plain@example.com", b"b", 8),
                     ("no@example.com", b"c", 9)]
    results["transport"].close()


# -- paramiko's demos/demo_server.py, step by step -----------------------------------------------

def test_demo_server_flow(paramiko, host_key_files, client_keys, openssh_client):
    host_key = paramiko.Ed25519Key(filename=str(host_key_files["ed25519"]))
    good_pub_key = paramiko.Ed25519Key(filename=str(client_keys["ed25519"]))

    class Server(paramiko.ServerInterface):
        def __init__(self):
            self.event = threading.Event()

        def check_channel_request(self, kind, chanid):
            if kind == "session":
                return paramiko.OPEN_SUCCEEDED
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

        def check_auth_password(self, username, password):
            if (username == "robey") and (password == "foo"):
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED

        def check_auth_publickey(self, username, key):
            if (username == "robey") and (key == good_pub_key):
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED

        def enable_auth_gssapi(self):
            return True

        def get_allowed_auths(self, username):
            return "gssapi-keyex,gssapi-with-mic,password,publickey"

        def check_channel_shell_request(self, channel):
            self.event.set()
            return True

        def check_channel_pty_request(self, channel, term, width, height, pixelwidth,
                                      pixelheight, modes):
            return True

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(100)
    sock.settimeout(DEADLINE)
    said = []

    def demo():
        client, addr = sock.accept()
        t = paramiko.Transport(client)  # (paramiko 5 dropped the demo's GSS-API calls)
        t.load_server_moduli()
        t.add_server_key(host_key)
        server = Server()
        t.start_server(server=server)
        chan = t.accept(20)
        said.append(("accepted", chan is not None))
        server.event.wait(10)
        said.append(("shell", server.event.is_set()))
        chan.send("\r\n\r\nWelcome to my dorky little BBS!\r\n\r\n")
        chan.send("Username: ")
        f = chan.makefile("rU")
        username = f.readline().strip("\r\n")
        said.append(("username", username))
        chan.send("\r\nI don't like you, " + username + ".\r\n")
        chan.close()
        time.sleep(0.2)
        t.close()

    def run():
        try:
            demo()
        except Exception as exc:  # recorded: asserted below
            said.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        ssh = openssh_client(sock.getsockname()[1], user="robey", password="foo")
        result = subprocess.run(["ssh", "-tt", *ssh.options(), "robey@127.0.0.1"],
                                input=b"dave\r", capture_output=True, timeout=DEADLINE * 2,
                                env=ssh.env())
        thread.join(DEADLINE)
    finally:
        sock.close()
    assert b"Welcome to my dorky little BBS!" in result.stdout, result.stderr
    assert b"I don't like you, dave." in result.stdout
    assert said == [("accepted", True), ("shell", True), ("username", "dave")]


# -- direct-tcpip channels (what ``ssh -W`` / ``-L`` and paramiko's open_channel ask for) --------

def direct_tcpip_server(paramiko, host_key_files):
    """A server whose check_channel_direct_tcpip_request allows one destination; the channel
    that accept() returns for it is served as an upper-casing echo."""
    host_key, base = host_key_and_interface(paramiko, host_key_files)
    asked = []

    class Tunnels(base):
        def check_channel_direct_tcpip_request(self, chanid, origin, destination):
            asked.append((origin[0], destination))
            if destination == ("echo.invalid", 7):
                return paramiko.OPEN_SUCCEEDED
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def flow(t, results):
        chan = t.accept(DEADLINE)
        chan.settimeout(DEADLINE)
        chan.sendall(read_to_eof(chan).upper())
        chan.close()
        until_client_leaves(t)

    port, results, thread = serve_one(paramiko, host_key, Tunnels(), lambda t: None, flow)
    return port, results, thread, asked


def test_direct_tcpip_with_paramiko_client(paramiko, host_key_files):
    port, results, thread, asked = direct_tcpip_server(paramiko, host_key_files)
    client = real_client(port, password=PASSWORD)
    try:
        t = client.get_transport()
        with pytest.raises(real_paramiko.ChannelException) as info:
            t.open_channel("direct-tcpip", ("elsewhere.invalid", 80), ("127.0.0.1", 4000),
                           timeout=DEADLINE)
        assert info.value.code == real_paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        chan = t.open_channel("direct-tcpip", ("echo.invalid", 7), ("127.0.0.1", 4001),
                              timeout=DEADLINE)
        chan.settimeout(DEADLINE)
        chan.sendall(b"through the tunnel")
        chan.shutdown_write()
        assert read_to_eof(chan) == b"THROUGH THE TUNNEL"
    finally:
        client.close()
    thread.join(DEADLINE)
    assert "error" not in results, results.get("error")
    assert asked == [("127.0.0.1", ("elsewhere.invalid", 80)),
                     ("127.0.0.1", ("echo.invalid", 7))]
    results["transport"].close()


def test_direct_tcpip_with_openssh_stdio_forwarding(paramiko, host_key_files, openssh_client):
    port, results, thread, asked = direct_tcpip_server(paramiko, host_key_files)
    ssh = openssh_client(port, user=USER, password=PASSWORD)
    data = os.urandom(300_000)
    result = subprocess.run(["ssh", "-W", "echo.invalid:7", *ssh.options(), f"{USER}@127.0.0.1"],
                            input=data, capture_output=True, timeout=DEADLINE * 2,
                            env=ssh.env())
    thread.join(DEADLINE)
    assert "error" not in results, results.get("error")
    assert result.returncode == 0, result.stderr
    assert sha256(result.stdout) == sha256(data.upper())
    assert [d for _o, d in asked] == [("echo.invalid", 7)]
    results["transport"].close()


def test_open_forwarded_tcpip_channel_to_a_paramiko_client(paramiko, host_key_files):
    host_key, base = host_key_and_interface(paramiko, host_key_files)
    forwards = []

    class Forwarding(base):
        def check_port_forward_request(self, address, port):
            forwards.append((address, port))
            return 40123

    def flow(t, results):
        deadline = time.monotonic() + DEADLINE
        while not forwards and time.monotonic() < deadline:
            time.sleep(0.02)
        # a connection arrived on the forwarded port: hand it to the client
        chan = t.open_forwarded_tcpip_channel(("10.1.2.3", 5555), ("127.0.0.1", 40123))
        chan.settimeout(DEADLINE)
        chan.sendall(b"ping from the server")
        chan.shutdown_write()
        results["reply"] = read_to_eof(chan)
        chan.close()
        until_client_leaves(t)

    port, results, thread = serve_one(paramiko, host_key, Forwarding(), lambda t: None, flow)
    got = []

    def echo(chan):
        chan.settimeout(DEADLINE)
        chan.sendall(read_to_eof(chan).upper())
        chan.close()

    def handler(chan, origin, server):  # runs on paramiko's transport thread: do not block it
        got.append((origin, server))
        threading.Thread(target=echo, args=(chan,), daemon=True).start()

    client = real_client(port, password=PASSWORD)
    try:
        assert client.get_transport().request_port_forward("127.0.0.1", 0, handler) == 40123
        deadline = time.monotonic() + DEADLINE
        while "reply" not in results and "error" not in results and \
                time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.close()
    thread.join(DEADLINE)
    assert "error" not in results, results.get("error")
    assert results["reply"] == b"PING FROM THE SERVER"
    assert forwards == [("127.0.0.1", 0)]
    assert got == [(("10.1.2.3", 5555), ("127.0.0.1", 40123))]
    results["transport"].close()
