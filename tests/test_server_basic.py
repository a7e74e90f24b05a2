"""The server's basics: node-libssh's basic-test.js (options, listen, ready/close) and the loop:
background threads, stopping from another thread, several servers on one loop."""

import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from openssh import wait_for_banner
from serverkit import DEADLINE, standard_app, wait_until

import pylibssh

pytestmark = pytest.mark.peer


# -- options (node: "test create arguments & options") ------------------------------------------

def test_create_server_requires_a_host_key():
    with pytest.raises(ValueError, match="host key"):
        pylibssh.create_server()
    with pytest.raises(ValueError, match="host key"):
        pylibssh.create_server(host_keys=[])


def test_bad_host_keys_raise_at_once(tmp_path, host_key_files):
    with pytest.raises(FileNotFoundError):
        pylibssh.create_server(host_keys=[tmp_path / "missing"])
    with pytest.raises(IsADirectoryError):
        pylibssh.create_server(host_keys=[tmp_path])
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\n")
    with pytest.raises(pylibssh.KeyFormatError, match="garbage"):
        pylibssh.create_server(host_keys=[garbage])
    public_only = str(host_key_files["ed25519"]) + ".pub"
    with pytest.raises(pylibssh.KeyFormatError):
        pylibssh.create_server(host_keys=[public_only])
    with pytest.raises(ValueError, match="public key"):
        pylibssh.create_server(host_keys=[pylibssh.Key.generate("ed25519").public_key()])
    with pytest.raises(ValueError, match="two ed25519"):
        pylibssh.create_server(host_keys=[host_key_files["ed25519"],
                                          pylibssh.Key.generate("ed25519")])
    with pytest.raises(TypeError):
        pylibssh.create_server(host_keys=[42])


def test_node_libssh_option_spellings(host_key_files):
    for name in ("host_rsa_key_file", "hostRsaKeyFile"):
        server = pylibssh.create_server(**{name: host_key_files["rsa"]})
        assert [k.type_name for k in server.host_keys] == ["ssh-rsa"]
        server.close()
    # the file must hold the type the option names
    with pytest.raises(ValueError, match="not rsa"):
        pylibssh.create_server(host_rsa_key_file=host_key_files["ed25519"])
    with pytest.raises(pylibssh.UnsupportedKeyTypeError, match="DSA"):
        pylibssh.create_server(host_keys=[host_key_files["ed25519"]],
                               hostDsaKeyFile=host_key_files["ed25519"])


@pytest.mark.parametrize("options, error", [
    ({"no_such_option": 1}, TypeError),
    ({"max_auth_attempts": 0}, ValueError),
    ({"max_auth_attempts": "6"}, ValueError),
    ({"login_grace_time": -1}, ValueError),
    ({"max_unauthenticated": 0}, ValueError),
    ({"idle_timeout": 0}, ValueError),
    ({"auth_methods": ["password", "telepathy"]}, ValueError),
    ({"auth_methods": []}, ValueError),
    ({"ciphers": "rot13-cbc"}, ValueError),
    ({"key_exchange": ["nope"]}, ValueError),
    ({"banner": "two\nlines"}, ValueError),
    ({"loop": "not a loop"}, TypeError),
])
def test_bad_options_raise_at_once(host_key_files, options, error):
    with pytest.raises(error):
        pylibssh.create_server(host_keys=[host_key_files["ed25519"]], **options)


def test_algorithm_error_carries_libssh_message(host_key_files):
    with pytest.raises(ValueError, match="ciphers 'rot13-cbc'") as info:
        pylibssh.create_server(host_keys=[host_key_files["ed25519"]], ciphers="rot13-cbc")
    assert "algorithm" in str(info.value).lower() or "method" in str(info.value).lower()


# -- listen, ready, close (node: "test createServer() starts a server") ---------------------------

def test_listen_ready_and_close(host_key_files):
    server = pylibssh.create_server(host_keys=[host_key_files["ed25519"]], banner="pylibssh_test")
    assert callable(server.on) and callable(server.once) and callable(server.remove_listener)
    with pytest.raises(TypeError):
        server.listen()  # node: "requires a port option"
    events = []
    server.on("ready", lambda: events.append("ready"))
    server.on("close", lambda: events.append("close"))
    called = []
    assert server.listen(0, "127.0.0.1", lambda s: called.append(s)) is server
    port = server.port
    assert isinstance(port, int) and port > 0
    with pytest.raises(RuntimeError):
        server.listen(0)
    server.start()
    wait_until(lambda: events == ["ready"] and called == [server], what="ready")
    assert wait_for_banner(port) == b"SSH-2.0-pylibssh_test\r\n"
    server.close()
    assert events == ["ready", "close"]
    server.close()  # idempotent
    assert events == ["ready", "close"]
    with pytest.raises(pylibssh.ClosedError):
        server.listen(0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    server.loop.close()


def test_listen_rejects_bad_ports(make_server):
    rs = make_server()
    for port in (-1, 70000, "22"):
        with pytest.raises(ValueError):
            rs.server.listen(port)


def test_several_host_key_types_at_once(make_server, host_key_files, openssh_client, tmp_path,
                                        client_keys):
    keys = [host_key_files["ed25519"], pylibssh.Key.from_private_file(host_key_files["ecdsa"]),
            host_key_files["rsa"]]
    rs = make_server(host_keys=keys)
    standard_app(rs, keys=[pylibssh.Key.from_public_file(str(client_keys["ed25519"]) + ".pub")])
    rs.start()
    for kind, algorithm in (("ed25519", "ssh-ed25519"), ("ecdsa", "ecdsa-sha2-nistp256"),
                            ("rsa", "rsa-sha2-512")):
        known = tmp_path / f"known_{kind}"
        kind_name, b64 = Path(str(host_key_files[kind]) + ".pub").read_text().split()[:2]
        known.write_text(f"[127.0.0.1]:{rs.port} {kind_name} {b64}\n")
        client = openssh_client(rs.port, identity=client_keys["ed25519"], known_hosts=known)
        result = client.ssh("-o", f"HostKeyAlgorithms={algorithm}", "echo", kind)
        assert result.returncode == 0, result.stderr
        assert result.stdout == kind.encode() + b"\n"


def test_connection_from_a_plain_socket_gets_the_banner_and_a_clean_close(make_server):
    rs = make_server()
    rs.start()
    with socket.create_connection(("127.0.0.1", rs.port), timeout=DEADLINE) as s:
        assert s.recv(100).startswith(b"SSH-2.0-")
    wait_until(lambda: not rs.server.sessions, what="the dropped connection to be freed")


# -- the loop ------------------------------------------------------------------------------------

def test_serve_forever_stopped_from_another_thread(host_key_files):
    server = pylibssh.create_server(host_keys=[host_key_files["ed25519"]])
    server.listen(0, "127.0.0.1")
    results = []
    runner = threading.Thread(target=lambda: results.append(server.serve_forever()))
    runner.start()
    wait_for_banner(server.port)
    assert server.loop.running
    server.close()  # from this (another) thread
    runner.join(DEADLINE)
    assert not runner.is_alive() and results == [True]
    server.loop.close()


def test_serve_forever_in_this_thread_until_a_timer_closes_it(host_key_files):
    server = pylibssh.create_server(host_keys=[host_key_files["ed25519"]])
    server.listen(0, "127.0.0.1")
    server.loop.call_later(0.2, server.close)
    start = time.monotonic()
    assert server.serve_forever(timeout=DEADLINE) is True
    assert time.monotonic() - start < DEADLINE
    server.loop.close()


def test_serve_forever_returns_on_loop_stop_and_timeout(host_key_files):
    server = pylibssh.create_server(host_keys=[host_key_files["ed25519"]])
    with pytest.raises(RuntimeError, match="listen"):
        server.serve_forever()
    server.listen(0, "127.0.0.1")
    assert server.serve_forever(timeout=0.1) is False
    threading.Timer(0.1, server.loop.stop).start()
    assert server.serve_forever(timeout=DEADLINE) is False  # stopped, not closed
    server.close()
    server.loop.close()


def test_background_thread_and_wait_from_main(make_server, client_keys, openssh_client):
    rs = make_server()
    standard_app(rs, keys=[pylibssh.Key.from_public_file(str(client_keys["ed25519"]) + ".pub")])
    rs.start()
    assert rs.server.serve_forever(timeout=0.05) is False  # waits on the running loop thread
    result = openssh_client(rs.port, identity=client_keys["ed25519"]).ssh("echo", "bg")
    assert result.stdout == b"bg\n", result.stderr


def test_several_servers_share_one_loop(host_key_files, openssh_client):
    loop = pylibssh.Loop("shared")
    servers = []
    try:
        for i in range(3):
            server = pylibssh.create_server(host_keys=[host_key_files["ed25519"]], loop=loop,
                                            banner=f"server{i}")
            servers.append(server.listen(0, "127.0.0.1"))
        loop.start()
        for i, server in enumerate(servers):
            assert server.loop is loop
            assert wait_for_banner(server.port) == f"SSH-2.0-server{i}\r\n".encode()
        client = openssh_client(servers[1].port, password="x")
        assert client.ssh("true").returncode == 255  # no auth listener: refused, not hung
        servers[0].close()
        assert wait_for_banner(servers[2].port).startswith(b"SSH-2.0-server2")
    finally:
        for server in servers:
            server.close()
        loop.close()


@pytest.fixture
def server_logger_level_restored():
    """debug=True sets the ``pylibssh.server`` logger to DEBUG for the process: put it back,
    or later tests' records (which hold the sessions they name) keep servers alive."""
    logger = logging.getLogger("pylibssh.server")
    level = logger.level
    yield
    logger.setLevel(level)


def test_debug_logs_to_the_pylibssh_logger_never_stdout(make_server, caplog, capsys,
                                                          openssh_client,
                                                          server_logger_level_restored):
    rs = make_server(debug=True)
    standard_app(rs)
    rs.start()
    with caplog.at_level(logging.DEBUG, logger="pylibssh.server"):
        result = openssh_client(rs.port, password="wrong").ssh("true")
        assert result.returncode == 255
        wait_until(lambda: any("authentication failed" in r.getMessage() for r in caplog.records),
                   what="the failed attempt in the log")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "connection from 127.0.0.1" in text
    assert "method=password" in text
    assert "wrong" not in text  # passwords never logged
    assert capsys.readouterr().out == ""
