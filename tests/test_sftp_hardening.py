"""The SFTP server against one logged-in client that tries to slow down or starve the others:
every request costs bounded time and memory, and what the client cannot have it is told with a
version-3 status. Each case runs on a read-write and, where it applies, a read-only server.

"Bounded" is shown without timing the attacker: a second client is answered (within the usual
deadline, when it would otherwise wait for minutes) while the attacker's requests are served, the
server's memory grows by less than a generous bound, and counts stop at their caps."""

import os
import re
import resource
import signal
import socket
import stat
import struct
import subprocess
import sys
import time

import pytest
from openssh import wait_for_banner
from serverkit import DEADLINE, PASSWORD, paramiko_client, paramiko_exec, wait_until
from sftpkit import RawSFTP, local_sftp_server, paramiko_sftp, sftp_server

from pylibssh.server.sftp import MAX_READ
from pylibssh.server.sftp_local import LocalFilesystem

pytestmark = pytest.mark.peer

OK, EOF, NO_SUCH_FILE, DENIED, FAILURE, BAD_MESSAGE = 0, 1, 2, 3, 4, 5
INIT, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT = 1, 3, 4, 5, 6, 7, 8
OPENDIR, READDIR, REMOVE, MKDIR, STAT, RENAME, SYMLINK, EXTENDED = 11, 12, 13, 14, 17, 18, 20, 200
HANDLE, DATA, ATTRS = 102, 103, 105
FXF_READ, FXF_WRITE, FXF_CREAT = 1, 2, 8
S = RawSFTP.string
NO_ATTRS = struct.pack(">I", 0)


def rid(n: int) -> bytes:
    return struct.pack(">I", n)


@pytest.fixture(params=[False, True], ids=["read-write", "read-only"])
def served(request, make_server, tmp_path, client_keys):
    """A local-backend server (read-write, then read-only) over a root holding ``file`` (10
    bytes) and an empty ``dir``."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_bytes(b"0123456789")
    (root / "dir").mkdir()
    rs = local_sftp_server(make_server, root, keys=[client_keys["ed25519"]],
                           read_only=request.param)
    rs.read_only = request.param
    return rs, root


@pytest.fixture
def writable(make_server, tmp_path, client_keys):
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_bytes(b"0123456789")
    (root / "dir").mkdir()
    rs = local_sftp_server(make_server, root, keys=[client_keys["ed25519"]])
    rs.read_only = False
    return rs, root


def sftp_servers(rs) -> list:
    """The server's live SFTP servers (read on the loop thread)."""
    return rs.call(lambda: [ch.sftp for s in rs.server.sessions for ch in s.channels
                            if ch.sftp is not None])


def stat_answered(raw: RawSFTP, n: int, path: str = "/file") -> None:
    """``raw`` stats ``path`` and gets its attributes (each wait bounded by DEADLINE)."""
    raw.send(STAT, rid(n) + S(path))
    kind, body = raw.recv()
    assert kind == ATTRS and body[:4] == rid(n), (kind, body)


# -- INIT --------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [2**31, 2**32 - 1])
def test_init_with_a_huge_version_is_answered_version_3(served, version):
    rs, _root = served
    raw = RawSFTP(rs.port)
    try:
        raw.send(INIT, struct.pack(">I", version))
        kind, body = raw.recv()
        assert kind == 2 and struct.unpack(">I", body[:4])[0] == 3
        stat_answered(raw, 1)
    finally:
        raw.close()


# -- status codes ------------------------------------------------------------------------------

def test_version_3_clients_get_only_version_3_status_codes(served):
    """INVALID_HANDLE (9), FILE_ALREADY_EXISTS (11) and the other codes of later drafts are
    unknown to a version-3 client: it gets FAILURE (or the closest version-3 code)."""
    rs, root = served
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        bogus = S(b"not-a-handle")
        raw.send(READ, rid(1) + bogus + struct.pack(">QI", 0, 10))
        raw.send(CLOSE, rid(2) + bogus)
        raw.send(FSTAT, rid(3) + bogus)
        raw.send(READDIR, rid(4) + bogus)
        raw.send(WRITE, rid(5) + bogus + struct.pack(">Q", 0) + S(b"x"))
        for n in range(1, 6):
            assert raw.status()[:2] == (n, FAILURE)
        # an existing target
        raw.send(MKDIR, rid(6) + S("/dir") + NO_ATTRS)
        raw.send(RENAME, rid(7) + S("/file") + S("/dir"))
        raw.send(SYMLINK, rid(8) + S("/file") + S("/dir"))
        expected = DENIED if rs.read_only else FAILURE
        for n in range(6, 9):
            assert raw.status()[:2] == (n, expected)
    finally:
        raw.close()
    assert (root / "file").read_bytes() == b"0123456789" and (root / "dir").is_dir()


def test_an_applications_later_draft_statuses_are_mapped_for_version_3(make_server):
    def setup(channel):
        @channel.on("sftp:stat")
        def stat(msg):
            if msg.filename == "/exists":
                msg.reply_status("fileexists")
            elif msg.filename == "/nopath":
                msg.reply_status("nosuchpath")
            elif msg.filename == "/readonly":
                raise OSError(30, "Read-only file system")  # EROFS: WRITE_PROTECT
            else:
                raise FileExistsError(17, "File exists")

    rs = sftp_server(make_server, setup)
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        for n, path in enumerate(["/exists", "/nopath", "/readonly", "/other"]):
            raw.send(STAT, rid(n) + S(path))
        assert raw.status() == (0, FAILURE, "File already exists")
        assert raw.status()[:2] == (1, NO_SUCH_FILE)
        assert raw.status() == (2, DENIED, "Read-only file system")
        assert raw.status() == (3, FAILURE, "File exists")
    finally:
        raw.close()


def test_openssh_sftp_names_the_status_of_an_existing_directory(served, openssh_client,
                                                                client_keys):
    rs, _root = served
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    result = client.sftp("-mkdir dir\nls\n", timeout=DEADLINE * 3)
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "Unknown status" not in err
    assert ("Permission denied" if rs.read_only else "Failure") in err


# -- NUL bytes in paths ------------------------------------------------------------------------

def test_paths_with_a_nul_byte_are_refused(served):
    """libssh reads paths as C strings: "file\\0junk" would silently become "file"."""
    rs, root = served
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        requests = [
            (STAT, S(b"/file\0junk")),
            (LSTAT, S(b"/file\0junk")),
            (OPENDIR, S(b"/dir\0junk")),
            (OPEN, S(b"/file\0junk") + struct.pack(">I", FXF_READ) + NO_ATTRS),
            (OPEN, S(b"/new\0junk") + struct.pack(">I", FXF_WRITE | FXF_CREAT) + NO_ATTRS),
            (REMOVE, S(b"/file\0junk")),
            (MKDIR, S(b"/made\0junk") + NO_ATTRS),
            (RENAME, S(b"/file") + S(b"/renamed\0junk")),
            (RENAME, S(b"/file\0junk") + S(b"/renamed")),
            (SYMLINK, S(b"/file\0junk") + S(b"/link")),
            (EXTENDED, S("posix-rename@openssh.com") + S(b"/file") + S(b"/renamed\0junk")),
            (EXTENDED, S("statvfs@openssh.com") + S(b"/\0junk")),
        ]
        for n, (kind, payload) in enumerate(requests):
            raw.send(kind, rid(n) + payload)
        for n in range(len(requests)):
            got = raw.status()
            assert got[:2] == (n, BAD_MESSAGE) and "NUL" in got[2], (requests[n], got)
        stat_answered(raw, 99)  # the session goes on
    finally:
        raw.close()
    assert sorted(os.listdir(root)) == ["dir", "file"]
    assert (root / "file").read_bytes() == b"0123456789"


# -- reads longer than the limit ---------------------------------------------------------------

@pytest.mark.parametrize("in_c", [True, False], ids=["served-in-c", "served-in-python"])
def test_reads_longer_than_the_limit_get_shorter_data(make_server, tmp_path, in_c):
    root = tmp_path / "root"
    root.mkdir()
    content = os.urandom(1 << 20)
    (root / "big").write_bytes(content)
    fs = LocalFilesystem(root, read_only=True)

    def setup(channel):
        fs.attach(channel)
        if not in_c:  # the C path serves only the backend's own listeners
            channel.on("sftpmessage", lambda msg: None)

    rs = sftp_server(make_server, setup)
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        handle = raw.handle(OPEN, 1, S("/big") + struct.pack(">I", FXF_READ) + NO_ATTRS)
        for n, (offset, length) in enumerate([(0, 1 << 20), (1000, 0xFFFFFFFF),
                                              (MAX_READ, MAX_READ + 1)], start=2):
            raw.send(READ, rid(n) + S(handle) + struct.pack(">QI", offset, length))
            kind, body = raw.recv()
            assert kind == DATA and body[:4] == rid(n), (kind, body[:40])
            (size,) = struct.unpack_from(">I", body, 4)
            assert 0 < size <= MAX_READ and size < length
            assert body[8:] == content[offset:offset + size]
    finally:
        raw.close()


# -- oversized packets -------------------------------------------------------------------------

def test_packets_over_256_kib_end_the_subsystem(served):
    """OpenSSH's sftp-server refuses packets longer than 256 KiB; so does this server, complete
    or not (a packet longer than the SSH window could never complete)."""
    rs, _root = served
    for declared, sent in [(256 * 1024 + 1, None), (3 << 20, 64)]:
        raw = RawSFTP(rs.port)
        try:
            raw.init()
            body = rid(1) + S("/file")
            packet = struct.pack(">IB", declared, STAT) + body + b"\0" * (declared - 1 - len(body))
            try:
                raw.chan.sendall(packet if sent is None else packet[:sent])
            except OSError:
                pass  # the server saw the length and closed before the rest was sent
            with pytest.raises(EOFError):
                raw.recv()
        finally:
            raw.close()
    client, sftp = paramiko_sftp(rs.port)  # the server carries on
    try:
        assert sftp.open("file").read() == b"0123456789"
    finally:
        client.close()


# -- long paths --------------------------------------------------------------------------------

# 256,500 bytes that resolve to the root: 10-13 s of the loop for each before resolution was
# linear and capped
LONG_PATH = ("a/" * 1900 + "../" * 1900) * 27


def test_a_long_path_does_not_hold_other_clients(served):
    rs, _root = served
    attacker = RawSFTP(rs.port)
    victim = None
    try:
        attacker.init()
        (target,) = sftp_servers(rs)
        victim = RawSFTP(rs.port)
        victim.init()
        for n in range(5):
            attacker.send(STAT, rid(n) + S(LONG_PATH))
        wait_until(lambda: target.requests >= 1, what="the attacker's first request")
        stat_answered(victim, 100)  # within DEADLINE: before, after the attacker's 50+ s
        for n in range(5):
            got = attacker.status()
            assert got[:2] == (n, FAILURE) and "too long" in got[2], got
        stat_answered(attacker, 6, "/dir/../" * 400 + "file")  # long, but within the caps
    finally:
        attacker.close()
        if victim is not None:
            victim.close()


def test_symbolic_link_expansion_does_not_hold_other_clients(writable):
    """A link whose target has 1,600 components, 40 times in an 84-byte path: 0.1 s of
    resolution for each request before the components walked were capped. Capped, each still
    costs milliseconds, and a client can send its window's worth at once: the server serves
    one connection's requests for a few milliseconds at a time, and a second client is answered
    long before the attacker's batch (sent first, in one packet) is done."""
    rs, _root = writable
    attacker = RawSFTP(rs.port)
    victim = None
    try:
        attacker.init()
        (target,) = sftp_servers(rs)
        victim = RawSFTP(rs.port)
        victim.init()
        attacker.send(MKDIR, rid(0) + S("/d") + NO_ATTRS)
        attacker.send(SYMLINK, rid(0) + S("d/../" * 800) + S("/l"))  # 4,000 bytes
        assert attacker.status()[:2] == (0, OK)
        assert attacker.status()[:2] == (0, OK)
        base = target.requests
        count = 200
        attacker.chan.sendall(b"".join(attacker.packet(STAT, rid(n) + S("l/" * 40 + "file"))
                                       for n in range(1, count + 1)))
        wait_until(lambda: target.requests >= base + 2, what="the attacker's requests")
        stat_answered(victim, 1000)
        assert target.requests - base < count  # the attacker's batch is still being served
        for n in range(1, count + 1):
            got = attacker.status()
            assert got[:2] == (n, FAILURE) and "too long" in got[2], got
    finally:
        attacker.close()
        if victim is not None:
            victim.close()

# -- directories -------------------------------------------------------------------------------

def rss() -> int:
    """This process's resident memory, in bytes (the server runs in it)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_open_directories_are_read_lazily(served):
    """250 OPENDIRs of a 10,000-entry directory: +250 MiB when each handle kept the directory's
    sorted listing; now a handle holds its descriptors and libc's 32 KiB buffer."""
    rs, root = served
    big = root / "big"
    big.mkdir()
    names = {f"entry-{i:05d}" for i in range(10_000)}
    for name in names:
        os.close(os.open(big / name, os.O_CREAT | os.O_WRONLY, 0o644))
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        before = rss()
        handles = [raw.handle(OPENDIR, n, S("/big")) for n in range(250)]
        assert rss() - before < 64 << 20
        listed: list[str] = []
        n = 1000
        while True:  # each handle lists the whole directory, a page at a time
            n += 1
            raw.send(READDIR, rid(n) + S(handles[-1]))
            kind, body = raw.recv()
            if kind == 101:
                assert struct.unpack_from(">I", body, 4)[0] == EOF
                break
            assert kind == 104 and body[:4] == rid(n)
            count, pos = struct.unpack_from(">I", body, 4)[0], 8
            assert 0 < count <= 100
            for _ in range(count):
                (size,) = struct.unpack_from(">I", body, pos)
                listed.append(body[pos + 4:pos + 4 + size].decode())
                pos += 4 + size
                pos += 4 + struct.unpack_from(">I", body, pos)[0]  # long name
                (flags,) = struct.unpack_from(">I", body, pos)
                pos += 4 + (8 if flags & 1 else 0) + (8 if flags & 2 else 0) + (
                    4 if flags & 4 else 0) + (8 if flags & 8 else 0)
        assert sorted(listed) == sorted(names | {".", ".."})
        for m, handle in enumerate(handles):
            raw.send(CLOSE, rid(m) + S(handle))
        for m in range(len(handles)):
            assert raw.status()[:2] == (m, OK)
    finally:
        raw.close()


# -- FIFOs and devices -------------------------------------------------------------------------

def release_fifo(path) -> None:
    """Open ``path``'s other end, so that an open the server may be blocked in returns."""
    for _ in range(20):
        for flags in (os.O_WRONLY | os.O_NONBLOCK, os.O_RDONLY | os.O_NONBLOCK):
            try:
                os.close(os.open(path, flags))
            except OSError:
                pass  # ENXIO: no reader waits
        time.sleep(0.05)


def test_fifos_and_devices_are_not_opened(served):
    """Opening a FIFO waits for its other end: the whole loop waited. A device's open may do
    anything. Only regular files are opened."""
    rs, root = served
    fifo = root / "fifo"
    os.mkfifo(fifo)
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    attacker = RawSFTP(rs.port)
    victim = None
    try:
        attacker.init()
        requests = [(S("/fifo"), FXF_READ), (S("/null"), FXF_READ)]
        if not rs.read_only:
            requests += [(S("/fifo"), FXF_WRITE), (S("/null"), FXF_WRITE)]
        for n, (path, pflags) in enumerate(requests):
            attacker.send(OPEN, rid(n) + path + struct.pack(">I", pflags) + NO_ATTRS)
        victim = RawSFTP(rs.port)
        victim.init()
        stat_answered(victim, 100)
        for n in range(len(requests)):
            got = attacker.status()
            expected = (n, DENIED, "Read-only" if rs.read_only and n >= 2 else "regular file")
            assert got[:2] == expected[:2] and expected[2] in got[2], got
        attacker.send(OPENDIR, rid(9) + S("/fifo"))
        assert attacker.status()[:2] == (9, NO_SUCH_FILE)  # not a directory
        handle = attacker.handle(OPEN, 10, S("/file") + struct.pack(">I", FXF_READ) + NO_ATTRS)
        attacker.send(READ, rid(11) + S(handle) + struct.pack(">QI", 0, 100))
        kind, body = attacker.recv()
        assert kind == DATA and body[8:] == b"0123456789"
    finally:
        release_fifo(fifo)
        attacker.close()
        if victim is not None:
            victim.close()


# -- open handles ------------------------------------------------------------------------------

def limits(raw: RawSFTP, n: int) -> tuple[int, int, int, int]:
    raw.send(EXTENDED, rid(n) + S("limits@openssh.com"))
    kind, body = raw.recv()
    assert kind == 201 and body[:4] == rid(n)
    return struct.unpack(">4Q", body[4:])


def open_until_refused(raw: RawSFTP, at_most: int) -> tuple[list[bytes], list[str]]:
    """Pipeline ``at_most`` OPENs of /file: the handles granted, the refusals' messages."""
    for n in range(at_most):
        raw.send(OPEN, rid(n) + S("/file") + struct.pack(">I", FXF_READ) + NO_ATTRS)
    handles, refused = [], []
    for n in range(at_most):
        kind, body = raw.recv()
        assert body[:4] == rid(n)
        if kind == HANDLE:
            handles.append(body[8:8 + struct.unpack_from(">I", body, 4)[0]])
        else:
            assert kind == 101 and struct.unpack_from(">I", body, 4)[0] == FAILURE, body
            refused.append(body[12:12 + struct.unpack_from(">I", body, 8)[0]].decode())
    return handles, refused


def test_a_connection_holds_a_bounded_number_of_handles(served):
    """Files and directories kept open by one connection, over all its channels, stop at the
    cap the server announces (limits@openssh.com); another client is served as usual."""
    rs, _root = served
    first = RawSFTP(rs.port)
    channels = [first]
    victim = None
    try:
        first.init()
        cap = limits(first, 500)[3]
        assert 0 < cap <= 256
        for _ in range(2):
            channels.append(RawSFTP(rs.port, client=first.client))
            channels[-1].init()
        held = 0
        for raw in channels:
            handles, refused = open_until_refused(raw, cap + 1)
            held += len(handles)
            assert all("per connection" in text for text in refused)
        assert held == cap
        channels[1].send(OPENDIR, rid(600) + S("/"))
        assert channels[1].status()[:2] == (600, FAILURE)
        victim = RawSFTP(rs.port)  # another connection is not concerned
        victim.init()
        victim.handle(OPENDIR, 1, S("/"))
        handle = victim.handle(OPEN, 2, S("/file") + struct.pack(">I", FXF_READ) + NO_ATTRS)
        victim.send(READ, rid(3) + S(handle) + struct.pack(">QI", 0, 100))
        kind, body = victim.recv()
        assert kind == DATA and body[8:] == b"0123456789"
        first.chan.close()  # a channel's handles (here all of them) go with it
        wait_until(lambda: open_until_refused(channels[1], 1)[0],
                   what="the closed channel's handles to be given back")
        handles, refused = open_until_refused(channels[1], cap)
        assert len(handles) == cap - 1 and len(refused) == 1
    finally:
        for raw in channels:
            raw.close()
        if victim is not None:
            victim.close()


# -- the process's descriptors -----------------------------------------------------------------

class LimitedServe:
    """``python -m pylibssh serve --allow-exec`` in one process whose descriptors are limited to
    ``nofile`` (its hard limit too: the server raises its soft limit to the hard one)."""

    def __init__(self, tmp_path, root, nofile: int):
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pylibssh", "serve", "--root", str(root), "--port", "0",
             "--state-dir", str(tmp_path / "state"), "--password", PASSWORD,
             "--authorized-keys", os.devnull, "--allow-exec", "--workers", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
        self.port = None
        deadline = time.monotonic() + DEADLINE
        while self.port is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = re.search(r" port (\d+)", line)
            if match:
                self.port = int(match.group(1))
        if self.port is None:
            self.stop()
            raise AssertionError("serve did not start: " + self.proc.stderr.read())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=DEADLINE)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def test_handles_leave_descriptors_for_new_connections(tmp_path):
    """A process limited to 128 descriptors gives SFTP handles 64 of them (16 per connection):
    clients holding them all still leave room for a new client to connect, run a command and
    use SFTP (once a descriptor all handles shared ran out, accept failed and new clients hung)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_bytes(b"0123456789")
    serve = LimitedServe(tmp_path, root, nofile=128)
    attackers = []
    try:
        for _ in range(5):
            attackers.append(RawSFTP(serve.port))
            attackers[-1].init()
        held = [len(open_until_refused(raw, 100)[0]) for raw in attackers]
        client = paramiko_client(serve.port, password=PASSWORD)
        try:
            assert paramiko_exec(client, "echo still-served") == (b"still-served\n", b"", 0)
            raw = RawSFTP(serve.port, client=client)
            raw.init()
            stat_answered(raw, 1)
            handles, refused = open_until_refused(raw, 1)
            assert not handles and "on this server" in refused[0]
            assert sorted(held) == [0, 16, 16, 16, 16]
            for attacker in attackers:
                attacker.close()
            attackers.clear()
            wait_until(lambda: open_until_refused(raw, 1)[0],
                       what="the attackers' handles to be given back")
        finally:
            client.close()
    finally:
        for attacker in attackers:
            attacker.close()
        serve.stop()


_OUT_OF_DESCRIPTORS_SERVER = """
import os, resource, sys, time
import pylibssh
server = pylibssh.create_server(host_keys=[sys.argv[1]], max_startups=1000)
server.listen(0, "127.0.0.1")
server.start()
print("PORT", server.port, flush=True)
sys.stdin.readline()                      # the test saw the banner: the spare is held
deadline = time.monotonic() + 30
while server.sessions and time.monotonic() < deadline:  # that session's descriptor is free
    time.sleep(0.01)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
top = max(int(fd) for fd in os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (top + 8, hard))
fillers = []
while True:
    try:
        fillers.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        break
print("FULL", flush=True)
sys.stdin.readline()                      # the test's clients were turned away
for fd in fillers:
    os.close(fd)
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
print("FREE", flush=True)
sys.stdin.readline()
server.close()
"""


def test_a_server_out_of_descriptors_closes_new_connections_at_once(host_key_files):
    """When the process has no descriptor left, a new connection is accepted with a spare one
    and closed: the client learns it at once instead of waiting in the listen queue. (The server
    runs in a process of its own: nothing else there opens or closes descriptors meanwhile.)"""
    proc = subprocess.Popen([sys.executable, "-c", _OUT_OF_DESCRIPTORS_SERVER,
                             str(host_key_files["ed25519"])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        assert wait_for_banner(port).startswith(b"SSH-")  # an accept has run: the spare is held
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "FULL"
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
                try:
                    data = sock.recv(256)
                except ConnectionResetError:
                    data = b""
                assert data == b""
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "FREE"
        assert wait_for_banner(port).startswith(b"SSH-")  # served again
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(DEADLINE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(DEADLINE)
