"""Connections end to end: node-libssh's standard-connection-test.js and exec-test.js ported, then
the same behaviours with OpenSSH's ssh, paramiko and asyncssh as clients: exec with
stdin/stdout/stderr, exit codes and signals, pty + shell, env, subsystems, flow control both ways,
asynchronous replies and failing listeners."""

import asyncio
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import asyncssh
import paramiko
import pytest
from serverkit import (
    DEADLINE,
    PASSWORD,
    md5,
    paramiko_client,
    paramiko_exec,
    paramiko_key,
    run_in_terminal,
    standard_app,
    wait_until,
)

import pylibssh

pytestmark = pytest.mark.peer


def pubkey(path):
    return pylibssh.Key.from_public_file(str(path) + ".pub")


@pytest.fixture(scope="module")
def payload():
    """Binary test data: every byte value, then random bytes (1.5 MiB)."""
    return bytes(range(256)) * 16 + os.urandom(3 << 19)


# -- node-libssh's standard-connection-test.js ---------------------------------------------------

def node_style_server(make_server, on_channel, auth):
    rs = make_server()
    seen = rs.log

    @rs.server.on("connection")
    def on_connection(session):
        seen.append("connection")

        @session.on("auth")
        def on_auth(message):
            seen.append(("auth", message.subtype))
            auth(message)

        @session.on("channel")
        def on_channel_(channel):
            seen.append("channel")
            channel.on("end", lambda: seen.append("end"))
            channel.on("close", lambda: seen.append("close"))
            on_channel(channel)

    return rs.start()


def test_standard_pubkey_connection(make_server, client_keys, payload):
    """Public key auth, pty + shell; the client pipes a binary file into the shell."""
    received = bytearray()
    key_text = Path(str(client_keys["rsa"]) + ".pub").read_text()

    def auth(message):
        # node-libssh's README pattern, safe here: a probe only gets pk_ok
        if message.subtype == "publickey" and message.compare_public_key(key_text):
            return message.reply_auth_success()
        message.reply_default()

    def on_channel(channel):
        channel.on("pty", lambda m: (rs.log.append("pty"), m.reply_success()))
        channel.on("shell", lambda m: (rs.log.append("shell"), m.reply_success()))
        channel.on("data", lambda data, is_stderr: received.extend(data))

    rs = node_style_server(make_server, on_channel, auth)
    client = paramiko_client(rs.port, username="foobar", pkey=paramiko_key(client_keys["rsa"]))
    chan = client.invoke_shell()
    chan.sendall(payload)
    chan.shutdown_write()
    wait_until(lambda: "end" in rs.log, what="the server's end event")
    client.close()
    wait_until(lambda: "close" in rs.log, what="the channel's close event")
    assert md5(bytes(received)) == md5(payload)
    auths = [e for e in rs.log if isinstance(e, tuple)]
    assert auths[-1] == ("auth", "publickey")
    assert rs.log.index("pty") < rs.log.index("shell") < rs.log.index("end")


def test_standard_password_connection(make_server, payload):
    """Password auth; on shell the server pipes a binary file to the client, then closes."""

    def auth(message):
        if message.auth_user == "foobar" and message.auth_password == "doobar":
            return message.reply_auth_success()
        message.reply_default()

    def on_channel(channel):
        channel.on("pty", lambda m: m.reply_success())

        @channel.on("shell")
        def shell(message):
            message.reply_success()
            channel.write(payload)
            channel.send_eof()
            channel.close()

    rs = node_style_server(make_server, on_channel, auth)
    client = paramiko_client(rs.port, username="foobar", password="doobar")
    chan = client.invoke_shell()
    chan.settimeout(DEADLINE)
    data = bytearray()
    while chunk := chan.recv(1 << 16):
        data += chunk
    client.close()
    assert md5(bytes(data)) == md5(payload)


def test_binary_file_both_ways_with_openssh(make_server, client_keys, openssh_client, payload):
    """OpenSSH's ssh as the client: `cat` echoes a binary file unchanged both ways."""
    rs = make_server()
    standard_app(rs, keys=[pubkey(client_keys["ed25519"])])
    rs.start()
    result = openssh_client(rs.port, identity=client_keys["ed25519"]).ssh("cat", input=payload)
    assert result.returncode == 0, result.stderr
    assert md5(result.stdout) == md5(payload)


# -- node-libssh's exec-test.js ------------------------------------------------------------------

def exec_test_server(make_server):
    received = bytearray()

    def on_channel(channel):
        @channel.on("exec")
        def exec_(message):
            rs.log.append(("exec", message.exec_command))
            channel.on("data", lambda data, is_stderr: received.extend(data))
            message.reply_success()
            channel.write("foobar\n")
            channel.write(b"doobar\n")
            channel.send_eof()
            channel.send_exit_status(0)
            channel.close()

    rs = node_style_server(make_server, on_channel, lambda m: m.reply_auth_success())
    return rs, received


def test_exec_with_paramiko(make_server):
    rs, received = exec_test_server(make_server)
    client = paramiko_client(rs.port, username="foobar", password="anything")
    out, err, status = paramiko_exec(client, "cat /etc/shadow")
    client.close()
    assert (out, err, status) == (b"foobar\ndoobar\n", b"", 0)
    assert ("exec", "cat /etc/shadow") in rs.log
    wait_until(lambda: "close" in rs.log, what="close")
    assert received == b""


def test_exec_with_openssh(make_server, openssh_client):
    rs, received = exec_test_server(make_server)
    result = openssh_client(rs.port, password="anything").ssh("cat /etc/shadow")
    assert (result.stdout, result.returncode) == (b"foobar\ndoobar\n", 0), result.stderr
    wait_until(lambda: "close" in rs.log, what="close")
    assert received == b""


# -- exec with real commands -----------------------------------------------------------------------

@pytest.fixture
def app_server(make_server, client_keys):
    rs = make_server(host_keys=None)
    standard_app(rs, keys=[pubkey(p) for p in client_keys.values()])
    return rs.start()


SCRIPT = "cat; echo to-stderr >&2; exit 7"


def test_exec_stdin_stdout_stderr_exit_code_openssh(app_server, client_keys, openssh_client,
                                                    payload):
    client = openssh_client(app_server.port, identity=client_keys["ed25519"])
    result = client.ssh(SCRIPT, input=payload)
    assert result.returncode == 7
    assert md5(result.stdout) == md5(payload)
    assert result.stderr == b"to-stderr\n"


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_exec_with_paramiko_keys(app_server, client_keys, kind):
    client = paramiko_client(app_server.port, pkey=paramiko_key(client_keys[kind]))
    out, err, status = paramiko_exec(client, SCRIPT, stdin=b"hello " + kind.encode())
    client.close()
    assert (out, err, status) == (b"hello " + kind.encode(), b"to-stderr\n", 7)
    assert ("auth", "publickey", "tester", "valid") in app_server.log


def test_exec_with_paramiko_password(app_server):
    client = paramiko_client(app_server.port, password=PASSWORD)
    for code in (0, 1, 42):
        assert paramiko_exec(client, f"printf x; exit {code}") == (b"x", b"", code)
    client.close()


def test_exit_signal_and_client_signal_with_asyncssh(app_server):
    async def run():
        async with asyncssh.connect("127.0.0.1", app_server.port, username="tester",
                                    password=PASSWORD, known_hosts=None,
                                    client_keys=None) as conn:
            killed = await conn.run("kill -TERM $$", check=False)
            proc = await conn.create_process("echo started; exec sleep 30")
            assert (await proc.stdout.readline()) == "started\n"
            proc.send_signal("INT")
            await proc.wait()
            return killed, proc

    # a server started as a shell's background job has SIGINT ignored; its children must not
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        killed, proc = asyncio.run(asyncio.wait_for(run(), DEADLINE))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert killed.exit_signal is not None and killed.exit_signal[0] == "TERM"
    assert proc.exit_signal is not None and proc.exit_signal[0] == "INT"


def test_exit_signal_reaches_openssh(app_server, client_keys, openssh_client):
    # OpenSSH's ssh exits with 255 when the remote command died from a signal
    client = openssh_client(app_server.port, identity=client_keys["ed25519"])
    assert client.ssh("kill -KILL $$").returncode == 255
    assert client.ssh("exit 0").returncode == 0


def test_env_requests(app_server, client_keys, openssh_client):
    client = openssh_client(app_server.port, identity=client_keys["ed25519"])
    args = client.ssh_args("-o", "SendEnv=PYLIBSSH_GREETING", "echo $PYLIBSSH_GREETING")
    result = subprocess.run(args, capture_output=True, timeout=DEADLINE,
                            env={**client.env(), "PYLIBSSH_GREETING": "hi there"},
                            stdin=subprocess.DEVNULL)
    assert result.stdout == b"hi there\n", result.stderr
    assert ("env", "PYLIBSSH_GREETING", "hi there") in app_server.log


# -- pty and shell -----------------------------------------------------------------------------------

def test_last_output_on_a_pty_before_exit_is_delivered(app_server, client_keys, openssh_client):
    # the tty layer hands the child's last bytes to the pty's master side asynchronously: at
    # the child's exit they may not be readable yet, and must not be taken for the end
    client = openssh_client(app_server.port, identity=client_keys["ed25519"])
    for i in range(30):
        result = client.ssh("-tt", f"printf 'last-words-{i}\\n'; exit 5")
        assert result.returncode == 5, result
        assert f"last-words-{i}".encode() in result.stdout, (i, result.stdout)


def test_interactive_shell_on_a_pty_with_openssh(app_server, client_keys, openssh_client):
    client = openssh_client(app_server.port, identity=client_keys["ed25519"])
    env = {**client.env(), "TERM": "xterm-256color", "PS1": "$ "}
    script = (b"stty size; echo TERM=$TERM; tty; echo RESIZE-NOW; sleep 0.5; stty size; "
              b"exit 3\n")
    code, out = run_in_terminal(client.ssh_args("-tt"), env, script, resize=(120, 50))
    assert code == 3, out
    assert b"40 100" in out and b"50 120" in out, out
    assert b"TERM=xterm-256color" in out and b"/dev/pts/" in out, out
    pty_events = [e for e in app_server.log if e[0] == "pty"]
    assert pty_events and pty_events[0][1:4] == ("xterm-256color", 100, 40)
    modes = pty_events[0][4]
    assert modes and "ECHO" in modes and "VINTR" in modes and modes["VINTR"] == 3, modes


def test_requests_nobody_listens_to_get_the_default_reply(make_server, openssh_client):
    rs = make_server()

    def on_channel(channel):  # only exec: no pty listener, no subsystem listener
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            channel.end("only exec\n")
            channel.send_exit_status(0)
            channel.close()

    standard_app(rs, on_channel=on_channel)
    rs.start()
    # paramiko waits for the pty reply: a failure, at once (paramiko then drops that channel)
    client = paramiko_client(rs.port, password=PASSWORD)
    chan = client.get_transport().open_session(timeout=DEADLINE)
    start = time.monotonic()
    with pytest.raises(paramiko.SSHException):
        chan.get_pty()
    assert time.monotonic() - start < 2
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.exec_command("anything")
    chan.settimeout(DEADLINE)
    assert chan.makefile("rb").read() == b"only exec\n"
    client.close()
    # OpenSSH's ssh -tt treats a refused pty as fatal (as with sshd's PermitTTY no)
    result = openssh_client(rs.port, password=PASSWORD).ssh("-tt", "anything")
    assert result.returncode == 255 and b"PTY allocation request failed" in result.stderr
    sub = openssh_client(rs.port, password=PASSWORD).ssh("-s", "no-such-subsystem")
    assert sub.returncode != 0 and b"subsystem request failed" in sub.stderr.lower()


def test_a_request_read_while_a_channel_is_closed_is_served(make_server):
    """ssh_channel_close flushes, and that flush polls: a request arriving just then is read while
    events are dispatched and waits in libssh's queue. It must still be served, not wait for more
    input that never comes (paramiko closes a refused-pty channel, then at once opens the next
    and sends exec: one run in ~10 hung before the fix)."""
    rs = make_server()

    def on_channel(channel):
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            channel.end(b"ran\n")
            channel.send_exit_status(0)
            channel.close()

    standard_app(rs, on_channel=on_channel)
    rs.start()
    for _ in range(40):
        client = paramiko_client(rs.port, password=PASSWORD)
        try:
            chan = client.get_transport().open_session(timeout=DEADLINE)
            with pytest.raises(paramiko.SSHException):
                chan.get_pty()  # refused; paramiko then closes the channel
            chan = client.get_transport().open_session(timeout=DEADLINE)
            chan.settimeout(DEADLINE)
            # paramiko's exec_command waits without a timeout: bound it here
            runner = threading.Thread(target=chan.exec_command, args=("x",), daemon=True)
            runner.start()
            runner.join(DEADLINE)
            assert not runner.is_alive(), "the exec request was never answered"
            assert chan.makefile("rb").read() == b"ran\n"
        finally:
            client.close()


def test_subsystem_request(make_server, openssh_client):
    rs = make_server()

    def on_channel(channel):
        @channel.on("subsystem")
        def subsystem(msg):
            rs.log.append(("subsystem", msg.subsystem))
            if msg.subsystem != "greeter":
                return msg.reply_default()
            msg.reply_success()
            channel.on("data", lambda data, err: channel.write(b"hello " + data))
            channel.on("end", lambda: (channel.send_eof(), channel.send_exit_status(0),
                                       channel.close()))

    standard_app(rs, on_channel=on_channel)
    rs.start()
    result = openssh_client(rs.port, password=PASSWORD).ssh("-s", "greeter", input=b"world")
    assert result.stdout == b"hello world" and result.returncode == 0, result.stderr
    assert ("subsystem", "greeter") in rs.log


# -- flow control ------------------------------------------------------------------------------------

def test_paused_input_holds_the_client_back(make_server):
    """While the application has paused a channel, the SSH window stays shut: the client cannot
    push more than the window (2 MiB in libssh) however much it has to send."""
    rs = make_server()
    received = bytearray()
    channels = []

    def on_channel(channel):
        channels.append(channel)

        @channel.on("exec")
        def exec_(msg):
            channel.pause()
            msg.reply_success()

        channel.on("data", lambda data, err: received.extend(data))
        channel.on("end", lambda: (channel.send_exit_status(0), channel.close()))

    standard_app(rs, on_channel=on_channel)
    rs.start()
    data = os.urandom(24 << 20)
    client = paramiko_client(rs.port, password=PASSWORD)
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.exec_command("sink")
    sent = [0]

    def sender():
        view = memoryview(data)
        while view:
            n = chan.send(view[:1 << 16])
            sent[0] += n
            view = view[n:]
        chan.shutdown_write()

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    time.sleep(1.0)
    assert received == b""
    assert sent[0] <= (2 << 20) + (1 << 16), sent[0]  # held back by the window
    rs.call(channels[0].resume)
    thread.join(DEADLINE)
    assert not thread.is_alive()
    wait_until(lambda: len(received) == len(data), what="all data after resume")
    assert md5(bytes(received)) == md5(data)
    client.close()


def test_output_flow_control_write_false_and_drain(make_server):
    """write() says when the peer's window is full and 'drain' says when to write again: a
    server producing 64 MiB never buffers more than about its high-water mark."""
    rs = make_server()
    total = 64 << 20
    stats = {"false": 0, "drain": 0, "max_buffered": 0}
    block = os.urandom(1 << 18)

    def on_channel(channel):
        @channel.on("exec")
        def exec_(msg):
            msg.reply_success()
            sent = [0]

            def pump():
                while sent[0] < total:
                    ok = channel.write(block)
                    sent[0] += len(block)
                    stats["max_buffered"] = max(stats["max_buffered"], channel.buffered)
                    if not ok:
                        stats["false"] += 1
                        channel.once("drain", on_drain)
                        return
                channel.send_exit_status(0)
                channel.send_eof()
                channel.close()

            def on_drain():
                stats["drain"] += 1
                pump()

            pump()

    standard_app(rs, on_channel=on_channel)
    rs.start()
    client = paramiko_client(rs.port, password=PASSWORD)
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.settimeout(DEADLINE)
    chan.exec_command("flood")
    got = 0
    digest = bytearray()
    while True:
        chunk = chan.recv(1 << 20)
        if not chunk:
            break
        if got < len(block):
            digest += chunk[:len(block) - got]
        got += len(chunk)
        if got < (8 << 20):
            time.sleep(0.001)  # a slow reader first
    client.close()
    assert got == total and bytes(digest[:len(block)]) == block
    assert stats["false"] > 0 and stats["drain"] == stats["false"]
    assert stats["max_buffered"] <= pylibssh.ServerChannel.high_water + len(block)


# -- asynchronous replies and failing listeners ------------------------------------------------------

def test_replies_from_another_thread_and_from_a_timer(make_server, openssh_client):
    rs = make_server()

    @rs.server.on("connection")
    def on_connection(session):
        @session.on("auth")
        def on_auth(msg):
            def decide():  # e.g. after asking a database
                time.sleep(0.2)
                if msg.auth_password == PASSWORD:
                    msg.reply_auth_success()
                else:
                    msg.reply_default()
            threading.Thread(target=decide, daemon=True).start()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            def exec_(msg):
                def later():
                    msg.reply_success()
                    channel.write(b"late but fine\n")
                    channel.send_exit_status(0)
                    channel.close()
                rs.loop.call_later(0.2, later)

    rs.start()
    client = openssh_client(rs.port, password=PASSWORD)
    result = client.ssh("hello")
    assert result.stdout == b"late but fine\n" and result.returncode == 0, result.stderr


def test_a_raising_listener_gets_the_default_reply_and_the_server_goes_on(make_server,
                                                                          openssh_client, caplog):
    rs = make_server()
    calls = []

    @rs.server.on("connection")
    def on_connection(session):
        @session.on("auth")
        def on_auth(msg):
            calls.append(msg.subtype)
            if msg.subtype == "password" and msg.auth_password == "boom":
                raise RuntimeError("listener bug")
            if msg.subtype == "password" and msg.auth_password == PASSWORD:
                msg.reply_auth_success()
            else:
                msg.reply_default()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            def exec_(msg):
                if msg.exec_command == "crash":
                    raise ValueError("exec listener bug")
                msg.reply_success()
                channel.end(b"ok\n")
                channel.send_exit_status(0)
                channel.close()

    rs.start()
    with caplog.at_level(logging.ERROR, logger="pylibssh.server"):
        assert openssh_client(rs.port, password="boom").ssh("true").returncode == 255
        crashed = openssh_client(rs.port, password=PASSWORD).ssh("crash")
        assert crashed.returncode != 0
        fine = openssh_client(rs.port, password=PASSWORD).ssh("fine")
    assert fine.stdout == b"ok\n" and fine.returncode == 0
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert any("listener bug" in str(r.exc_info[1]) for r in tracebacks)
    assert any("exec listener bug" in str(r.exc_info[1]) for r in tracebacks)


def test_eof_after_resume_waits_for_the_held_data(make_server):
    """EOF that arrives after resume() but before the held data was read must still come after
    that data (the loop runs socket events before the scheduled delivery)."""
    rs = make_server()
    received, order, channels = bytearray(), [], []

    def on_channel(channel):
        channels.append(channel)

        @channel.on("exec")
        def exec_(msg):
            channel.pause()
            msg.reply_success()

        def on_data(data, err):
            received.extend(data)
            order.append("data")

        channel.on("data", on_data)
        channel.on("end", lambda: (order.append("end"), channel.send_exit_status(0),
                                   channel.close()))

    standard_app(rs, on_channel=on_channel)
    rs.start()
    data = os.urandom(24000)
    client = paramiko_client(rs.port, password=PASSWORD)
    chan = client.get_transport().open_session(timeout=DEADLINE)
    chan.exec_command("sink")
    chan.sendall(data)  # within libssh's initial window (32000): all of it is held
    time.sleep(0.3)
    assert received == b""
    with rs.loop.lock:  # the loop cannot run meanwhile
        channels[0].resume()  # schedules the delivery of the held data
        chan.shutdown_write()  # EOF reaches the server's socket before that delivery runs
        time.sleep(0.3)
    wait_until(lambda: "end" in order, what="end")
    client.close()
    assert md5(bytes(received)) == md5(data)
    assert order[-1] == "end" and order.count("end") == 1
