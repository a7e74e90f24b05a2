"""The SFTP server under bad and heavy clients: malformed and out-of-order requests get a status,
listener exceptions stay with their request, a flooding or non-reading client is held back by
the SSH window, a client vanishing mid-upload leaves a partial file, 20 concurrent clients, and a
1 GiB round trip."""

import errno
import hashlib
import os
import struct
import subprocess
import threading
import time

import pytest
from serverkit import DEADLINE, md5, wait_until
from sftpkit import RawSFTP, local_sftp_server, paramiko_sftp, sftp_server

pytestmark = pytest.mark.peer

OK, EOF, NO_SUCH_FILE, DENIED, FAILURE, BAD_MESSAGE = 0, 1, 2, 3, 4, 5
UNSUPPORTED = 8
S = RawSFTP.string


@pytest.fixture
def served(make_server, tmp_path, client_keys):
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_bytes(b"0123456789")
    # max_startups: 20 clients connect at once below (the default, sshd's 10:30:100, drops
    # some of them, as sshd would)
    rs = local_sftp_server(make_server, root, keys=[client_keys["ed25519"]], max_startups=100)
    return rs, root


def test_requests_before_init_and_duplicate_init(served):
    rs, root = served
    raw = RawSFTP(rs.port)
    try:
        raw.send(17, struct.pack(">I", 41) + S("/file"))  # STAT before INIT
        assert raw.status()[:2] == (41, BAD_MESSAGE)
        version = raw.init()
        assert struct.unpack(">I", version[:4])[0] == 3
        assert b"limits@openssh.com" in version and b"posix-rename@openssh.com" in version
        raw.send(1, struct.pack(">I", 3))  # a second INIT is ignored
        raw.send(17, struct.pack(">I", 42) + S("/file"))
        kind, body = raw.recv()
        assert kind == 105 and struct.unpack(">I", body[:4])[0] == 42  # ATTRS
    finally:
        raw.close()


def test_malformed_and_unknown_requests_get_a_status(served):
    rs, root = served
    raw = RawSFTP(rs.port)
    try:
        raw.init()
        raw.send(5, struct.pack(">I", 7) + b"\x00\x00")  # READ, truncated
        assert raw.status()[:2] == (7, BAD_MESSAGE)
        raw.send(99, struct.pack(">I", 8) + b"junk")  # unknown type
        assert raw.status()[:2] == (8, UNSUPPORTED)
        raw.send(200, struct.pack(">I", 9) + S("lsetstat@openssh.com") + S("/file")
                 + b"\x00\x00")  # attributes cut short
        assert raw.status()[:2] == (9, BAD_MESSAGE)
        raw.send(18, struct.pack(">I", 10) + S("/file"))  # RENAME without its second path
        assert raw.status()[:2] == (10, BAD_MESSAGE)
        raw.send(200, struct.pack(">I", 11) + S("no-such-extension@example.com") + b"xyz")
        assert raw.status()[:2] == (11, UNSUPPORTED)
        # out of order: handles that were never opened, or of the wrong kind (FAILURE, as
        # OpenSSH's sftp-server says: INVALID_HANDLE is not a version-3 code)
        raw.send(5, struct.pack(">I", 12) + S(b"bogus") + struct.pack(">QI", 0, 10))
        assert raw.status()[:2] == (12, FAILURE)
        raw.send(4, struct.pack(">I", 13) + S(b"bogus"))  # CLOSE
        assert raw.status()[:2] == (13, FAILURE)
        raw.send(11, struct.pack(">I", 14) + S("/"))  # OPENDIR, then READ on that handle
        kind, body = raw.recv()
        assert kind == 102
        dir_handle = body[8:8 + struct.unpack(">I", body[4:8])[0]]
        raw.send(5, struct.pack(">I", 15) + S(dir_handle) + struct.pack(">QI", 0, 10))
        assert raw.status()[:2] == (15, FAILURE)
        raw.send(6, struct.pack(">I", 16) + S(dir_handle) + struct.pack(">Q", 0) + S(b"x"))
        assert raw.status()[:2] == (16, FAILURE)
        # the session is still fine
        raw.send(3, struct.pack(">I", 17) + S("/file") + struct.pack(">II", 1, 0))  # OPEN read
        kind, body = raw.recv()
        assert kind == 102
        handle = body[8:8 + struct.unpack(">I", body[4:8])[0]]
        raw.send(5, struct.pack(">I", 18) + S(handle) + struct.pack(">QI", 2, 3))
        kind, body = raw.recv()
        assert kind == 103 and body[8:] == b"234"
        raw.send(5, struct.pack(">I", 19) + S(handle) + struct.pack(">QI", 100, 3))
        assert raw.status()[:2] == (19, EOF)
    finally:
        raw.close()


def test_a_broken_packet_length_ends_only_that_subsystem(served):
    rs, root = served
    raw = RawSFTP(rs.port)
    raw.init()
    raw.chan.sendall(struct.pack(">I", 0x7FFFFFFF) + b"garbage")
    with pytest.raises(EOFError):
        raw.recv()
    raw.close()
    client, sftp = paramiko_sftp(rs.port)  # the server carries on
    assert sftp.open("file").read() == b"0123456789"
    client.close()


def test_listener_exceptions_are_isolated_to_their_request(make_server, caplog):
    answered = []

    def setup(channel):
        @channel.on("sftp:stat")
        def stat(msg):
            if msg.filename == "/boom":
                raise RuntimeError("listener bug")
            if msg.filename == "/missing":
                raise FileNotFoundError(errno.ENOENT, "gone")
            if msg.filename == "/denied":
                raise PermissionError(errno.EACCES, "nope")
            if msg.filename == "/later":  # answered asynchronously, from a timer
                channel.session.loop.call_later(0.2, msg.reply_attr, {"size": 7})
                return
            msg.reply_attr({"size": 1})
            answered.append(msg.filename)

        @channel.on("sftp:lstat")
        def lstat(msg):
            msg.reply_attr({"size": 2})
            raise ValueError("after the reply")  # logged; the reply stands

        @channel.on("sftpmessage")
        def observer(msg):
            if msg.filename == "/observer-raises":
                raise KeyError("observer bug")

    rs = sftp_server(make_server, setup)
    client, sftp = paramiko_sftp(rs.port)
    with pytest.raises(IOError, match="listener bug"):
        sftp.stat("/boom")  # FAILURE status carrying the message
    with pytest.raises(FileNotFoundError):
        sftp.stat("/missing")
    with pytest.raises(PermissionError):
        sftp.stat("/denied")
    assert sftp.stat("/later").st_size == 7
    assert sftp.lstat("/x").st_size == 2
    assert sftp.stat("/observer-raises").st_size == 1  # replied before the observer raised
    assert sftp.stat("/fine").st_size == 1  # the session goes on
    with pytest.raises(IOError, match="not supported"):
        sftp.mkdir("/x")  # no listener
    client.close()
    assert "/fine" in answered
    assert "listener bug" in caplog.text


def test_flooding_client_is_held_back_by_the_window(served):
    """A client that sends requests without reading replies: the server stops taking requests
    once the client's window is full of replies; unread requests wait in the SSH window
    (2 MiB), so the server's buffers stay bounded while the client cannot send everything."""
    rs, root = served
    (root / "big").write_bytes(os.urandom(65536))
    raw = RawSFTP(rs.port)
    raw.init()
    raw.send(3, struct.pack(">I", 1) + S("/big") + struct.pack(">II", 1, 0))
    kind, body = raw.recv()
    assert kind == 102
    handle = body[8:8 + struct.unpack(">I", body[4:8])[0]]
    count = 100_000  # 3 MiB of requests for 6 GiB of replies
    read = struct.pack(">QI", 0, 65536)
    flood = b"".join(raw.packet(5, struct.pack(">I", i) + S(handle) + read)
                     for i in range(count))
    sent = [0]

    def sender():
        view = memoryview(flood)
        try:
            while view:
                n = raw.chan.send(view[:65536])
                sent[0] += n
                view = view[n:]
        except Exception:
            pass  # the connection is closed at the end of the test

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    session = rs.server.sessions[0]
    sftp = next(ch.sftp for ch in session.channels if getattr(ch, "sftp", None))
    seen = [-1]

    def settled():  # the server stopped taking requests: the client's window is full
        now = sftp.requests
        done = now == seen[0]
        seen[0] = now
        return done and now > 1

    wait_until(settled, interval=0.5, what="the server to stop taking requests")

    def bounds():
        return (sftp.outstanding, sftp.channel.buffered, sftp._counter.buffered)

    outstanding, queued, buffered = rs.call(bounds)
    assert outstanding <= sftp.max_outstanding
    assert queued <= (1 << 20) + 65536 + 64  # replies waiting: the budget and one more
    assert buffered <= (2 << 20) + 65536  # requests: libssh holds at most the window
    assert sftp.requests < 200  # about the client's window (2 MiB) of 64 KiB replies
    assert sent[0] < len(flood)  # the client is held back
    stalled_at = sftp.requests
    for i in range(100):  # reading replies lets the server go on, in order
        kind, body = raw.recv()
        assert kind == 103 and struct.unpack(">I", body[:4])[0] == i
    wait_until(lambda: sftp.requests > stalled_at + 50, what="the server to resume")
    raw.close()
    wait_until(lambda: not rs.server.sessions, what="the session to end")


def test_client_vanishing_mid_upload_leaves_a_partial_file(served):
    rs, root = served
    client, sftp = paramiko_sftp(rs.port)
    data = os.urandom(64 << 20)
    f = sftp.open("partial.bin", "wb")
    f.set_pipelined(True)

    def upload():
        try:
            f.write(data)
        except Exception:
            pass

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    wait_until(lambda: (root / "partial.bin").exists()
               and (root / "partial.bin").stat().st_size > (4 << 20), what="upload progress")
    client.get_transport().sock.close()  # the network goes away
    thread.join(DEADLINE)
    wait_until(lambda: not rs.server.sessions, what="the session to end")
    on_disk = (root / "partial.bin").read_bytes()
    assert 0 < len(on_disk) < len(data)
    assert on_disk == data[:len(on_disk)]  # what was written is intact
    client, sftp = paramiko_sftp(rs.port)  # and the server is fine
    assert sftp.open("file").read() == b"0123456789"
    client.close()


def test_twenty_concurrent_openssh_clients(served, openssh_client, client_keys, tmp_path):
    rs, root = served
    procs = []
    payloads = {}
    for i in range(20):
        data = os.urandom(1_000_000 + i)
        src = tmp_path / f"src{i}"
        src.write_bytes(data)
        payloads[i] = data
        client = openssh_client(rs.port, identity=client_keys["ed25519"])
        batch = tmp_path / f"batch{i}"
        batch.write_text(f"put {src} up{i}\nget up{i} {tmp_path / f'back{i}'}\nls -l\n")
        args = ["sftp", *client.options("-P"), "-b", str(batch), client.remote("")[:-1]]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=client.env()))
    for proc in procs:
        out, err = proc.communicate(timeout=DEADLINE * 4)
        assert proc.returncode == 0, err.decode()
    for i, data in payloads.items():
        assert (root / f"up{i}").read_bytes() == data
        assert md5((tmp_path / f"back{i}").read_bytes()) == md5(data)


def test_one_gib_round_trip(served, openssh_client, client_keys, tmp_path):
    rs, root = served
    src = tmp_path / "gib"
    digest = hashlib.sha256()
    with open(src, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(1024):
            chunk = block[i:] + block[:i]  # every MiB different
            f.write(chunk)
            digest.update(chunk)
    expected = digest.hexdigest()
    client = openssh_client(rs.port, identity=client_keys["ed25519"])
    back = tmp_path / "gib-back"
    result = client.sftp(f"put {src} gib\nget gib {back}\n", timeout=600)
    assert result.returncode == 0, result.stderr.decode()

    def sha(path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        return h.hexdigest()

    assert (root / "gib").stat().st_size == 1 << 30
    assert sha(root / "gib") == expected
    assert sha(back) == expected
