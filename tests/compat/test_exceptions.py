"""Exceptions as paramiko documents them for each case, caught by paramiko's classes and, through
the layer, by pylibssh's own classes too: SFTP statuses are IOErrors with errno, ``chdir`` onto a
file is an SFTPError, transport failures are the SSHException family."""

from __future__ import annotations

import errno
import socket

import pytest

DEADLINE = 20


def _is_layer(paramiko) -> bool:
    return getattr(paramiko, "__pylibssh__", False)


def test_sftp_status_errors(paramiko, sftp):
    from pylibssh import errors

    with pytest.raises(IOError) as info:
        sftp.stat("no-such-file")
    assert info.value.errno == errno.ENOENT
    with pytest.raises(IOError) as denied:
        sftp.open("/etc/shadow")
    assert denied.value.errno == errno.EACCES
    with sftp.open("file", "w") as f:
        f.write(b"x")
    with pytest.raises(IOError):
        sftp.mkdir("file")  # FAILURE: paramiko's plain IOError
    if _is_layer(paramiko):
        # the layer's are also paramiko's SFTPError and pylibssh's SFTP errors
        for exc, native in ((info.value, errors.SFTPNoSuchFileError),
                            (denied.value, errors.SFTPPermissionError)):
            assert isinstance(exc, paramiko.SFTPError)
            assert isinstance(exc, paramiko.sftp.SFTPError)
            assert isinstance(exc, native) and isinstance(exc, errors.SSHError)


def test_chdir_onto_a_file_is_sftp_error(paramiko, sftp):
    from pylibssh import errors

    with sftp.open("plain", "w") as f:
        f.write(b"x")
    with pytest.raises(paramiko.SFTPError) as info:
        sftp.chdir("plain")
    assert info.value.args[0] == errno.ENOTDIR
    assert isinstance(info.value, paramiko.sftp.SFTPError)
    if _is_layer(paramiko):
        assert isinstance(info.value, errors.SFTPError)


def test_transport_errors_are_ssh_exceptions(paramiko, connect, sshd, test_user):
    from pylibssh import errors

    client = connect()
    transport = client.get_transport()
    with pytest.raises(paramiko.ChannelException) as refused:
        # nothing listens on port 1: sshd answers "connect failed"
        transport.open_channel("direct-tcpip", ("127.0.0.1", 1), ("127.0.0.1", 0),
                               timeout=DEADLINE)
    assert refused.value.code == 2
    client.close()
    with pytest.raises(paramiko.SSHException) as closed:
        transport.open_session()
    bad = paramiko.Transport((sshd.host, sshd.port))
    try:
        bad.start_client(timeout=DEADLINE)
        with pytest.raises(paramiko.AuthenticationException) as auth:
            bad.auth_password(test_user, "wrong password")
    finally:
        bad.close()
    if _is_layer(paramiko):
        assert isinstance(refused.value, errors.ChannelOpenError)
        assert isinstance(closed.value, errors.SSHError)
        assert isinstance(auth.value, errors.AuthenticationError)


def test_no_server_is_a_socket_error(paramiko):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        client = paramiko.SSHClient()
        with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError) as info:
            client.connect("127.0.0.1", port, timeout=DEADLINE)
    assert isinstance(info.value, OSError)
    assert list(info.value.errors) == [("127.0.0.1", port)]
