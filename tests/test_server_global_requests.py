"""Global requests neither libssh nor pylibssh implements reach the server's ``request``
listeners with their name and fields (libssh patch 0013), and paramiko's clients read the
answers."""

from __future__ import annotations

import paramiko
import pytest
from paramiko.message import Message
from serverkit import PASSWORD, paramiko_client, paramiko_exec, standard_app, wait_until

from pylibssh._binding import HAS

pytestmark = pytest.mark.peer


def fields(*values) -> Message:
    m = Message()
    m.add(*values)
    return m


def started(make_server, listener=None):
    rs = make_server()
    standard_app(rs)
    seen: list = []

    @rs.server.on("connection")
    def on_connection(session):
        session.on("request", seen.append)
        if listener is not None:
            session.on("request", listener)

    return rs.start(), seen


def echo_reversed(msg) -> None:
    """Answers echo@pylibssh.test with its string reversed and its number doubled."""
    if msg.name != "echo@pylibssh.test":
        return msg.reject()
    m = Message(msg.data)
    text, number = m.get_string(), m.get_int()
    msg.accept(data=fields(text[::-1], number * 2).asbytes())


def test_a_request_of_the_applications_own_is_answered_with_data(make_server):
    rs, seen = started(make_server, echo_reversed)
    with paramiko_client(rs.port, password=PASSWORD) as client:
        t = client.get_transport()
        reply = t.global_request("echo@pylibssh.test", ("abc", 21), wait=True)
        assert reply is not None
        assert reply.get_string() == b"cba" and reply.get_int() == 42
        assert t.global_request("other@pylibssh.test", (b"x",), wait=True) is None
        # the connection goes on
        assert paramiko_exec(client, "echo still here")[0] == b"still here\n"
    msg = seen[0]
    assert (msg.name, msg.want_reply, msg.data) == ("echo@pylibssh.test", True,
                                                    fields("abc", 21).asbytes())
    assert msg.info == {"data": msg.data}
    assert (msg.bind_addr, msg.bind_port, msg.socket_path) == (None, None, None)
    assert [m.name for m in seen] == ["echo@pylibssh.test", "other@pylibssh.test"]


def test_with_no_listener_the_client_gets_a_failure(make_server):
    rs = make_server()
    standard_app(rs)
    rs.start()
    with paramiko_client(rs.port, password=PASSWORD) as client:
        t = client.get_transport()
        assert t.global_request("nobody@pylibssh.test", (b"x",), wait=True) is None
        assert paramiko_exec(client, "true")[2] == 0


def test_a_request_wanting_no_reply_arrives_with_its_fields(make_server):
    def reject_if_wanted(msg):
        if msg.want_reply:
            msg.reject()

    rs, seen = started(make_server, reject_if_wanted)
    with paramiko_client(rs.port, password=PASSWORD) as client:
        t = client.get_transport()
        assert t.global_request("quiet@pylibssh.test", (b"q",), wait=False) is None
        assert t.global_request("loud@pylibssh.test", wait=True) is None
    wait_until(lambda: len(seen) == 2, what="both requests")
    assert [(m.name, m.want_reply, m.data) for m in seen] == [
        ("quiet@pylibssh.test", False, fields(b"q").asbytes()),
        ("loud@pylibssh.test", True, b"")]
    assert all(m.replied for m in seen)


def test_forwarding_requests_carry_no_data(make_server):
    rs, seen = started(make_server, lambda msg: msg.reject())
    with paramiko_client(rs.port, password=PASSWORD) as client:
        with pytest.raises(paramiko.SSHException):
            client.get_transport().request_port_forward("127.0.0.1", 0)
    msg = wait_until(lambda: seen, what="the tcpip-forward request")[0]
    assert (msg.name, msg.data, msg.bind_addr) == ("tcpip-forward", None, "127.0.0.1")
    with pytest.raises(ValueError):
        msg.accept(data=b"no")


def test_without_the_capability_libssh_refuses_them(make_server, monkeypatch):
    monkeypatch.setattr(HAS, "other_global_requests", False)
    rs, seen = started(make_server, echo_reversed)
    with paramiko_client(rs.port, password=PASSWORD) as client:
        t = client.get_transport()
        assert t.global_request("echo@pylibssh.test", ("abc", 21), wait=True) is None
        assert paramiko_exec(client, "true")[2] == 0
    assert seen == []
