"""Error mapping: libssh's return codes and messages become pylibssh exceptions."""

import errno
import socket
import threading

import pytest
from clientkit import connect, known_hosts  # noqa: F401  (fixtures)

import pylibssh
from pylibssh import errors
from pylibssh._binding import ffi, lib


@pytest.fixture
def session():
    s = lib.ssh_new()
    yield s
    lib.ssh_free(s)


def test_hierarchy():
    assert issubclass(pylibssh.SSHTimeoutError, TimeoutError)
    assert issubclass(pylibssh.SSHTimeoutError, pylibssh.SSHError)
    assert issubclass(pylibssh.SSHConnectionRefusedError, ConnectionRefusedError)
    assert issubclass(pylibssh.HostKeyChangedError, pylibssh.HostKeyError)
    assert issubclass(pylibssh.WrongPassphraseError, ValueError)
    assert issubclass(pylibssh.SFTPError, OSError)
    for name in errors.__all__:
        assert issubclass(getattr(pylibssh, name), pylibssh.SSHError)


def test_check_passes_success_and_again_through(session):
    assert errors.check(lib.SSH_OK, session) == 0
    assert errors.check(7, session) == 7
    # SSH_AGAIN is the nonblocking "not yet": never an exception
    assert errors.check(lib.SSH_AGAIN, session) == lib.SSH_AGAIN


def test_check_raises_with_libssh_message(session):
    rc = lib.ssh_options_set(session, lib.SSH_OPTIONS_CIPHERS_C_S, b"no-such-cipher")
    with pytest.raises(pylibssh.SSHError) as info:
        errors.check(rc, session, "setting ciphers")
    assert str(info.value).startswith("setting ciphers: ")
    # the text is libssh's own, copied out of the session
    assert "no-such-cipher" in str(info.value)
    assert type(info.value) is pylibssh.SSHError
    assert info.value.code in (lib.SSH_REQUEST_DENIED, lib.SSH_FATAL)


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused_is_classified(session):
    lib.ssh_options_set(session, lib.SSH_OPTIONS_HOST, b"127.0.0.1")
    lib.ssh_options_set(session, lib.SSH_OPTIONS_PORT, ffi.new("int *", _closed_port()))
    with pytest.raises(pylibssh.SSHConnectionRefusedError) as info:
        errors.check(lib.ssh_connect(session), session, "connect")
    assert "refused" in str(info.value).lower()


def test_timeout_is_classified(session):
    # a listener that accepts and never sends the SSH banner
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held = []
    t = threading.Thread(target=lambda: held.append(server.accept()), daemon=True)
    t.start()
    lib.ssh_options_set(session, lib.SSH_OPTIONS_HOST, b"127.0.0.1")
    lib.ssh_options_set(session, lib.SSH_OPTIONS_PORT, ffi.new("int *", server.getsockname()[1]))
    lib.ssh_options_set(session, lib.SSH_OPTIONS_TIMEOUT, ffi.new("long *", 1))
    with pytest.raises(pylibssh.SSHTimeoutError):
        errors.check(lib.ssh_connect(session), session, "connect")
    server.close()
    for conn, _ in held:
        conn.close()


def test_closed_error_is_a_value_error():
    with pytest.raises(ValueError):
        raise pylibssh.ClosedError("closed")


def test_sftp_status_table_both_ways():
    e = pylibssh.SFTPError(lib.SSH_FX_NO_SUCH_FILE, "no such file", "/x")
    assert e.errno == errno.ENOENT and e.filename == "/x" and e.status == 2
    assert "NO_SUCH_FILE" in str(e)
    assert errors.sftp_status_for(FileNotFoundError(errno.ENOENT, "x")) == lib.SSH_FX_NO_SUCH_FILE
    assert errors.sftp_status_for(PermissionError(errno.EACCES, "x")) == (
        lib.SSH_FX_PERMISSION_DENIED
    )
    assert errors.sftp_status_for(FileExistsError(errno.EEXIST, "x")) == (
        lib.SSH_FX_FILE_ALREADY_EXISTS
    )
    assert errors.sftp_status_for(RuntimeError("boom")) == lib.SSH_FX_FAILURE
    assert errors.sftp_status_for(e) == lib.SSH_FX_NO_SUCH_FILE
    for status, err in errors.SFTP_STATUS_TO_ERRNO.items():
        if err and status != lib.SSH_FX_NO_SUCH_PATH:
            assert errors.ERRNO_TO_SFTP_STATUS.get(err, status) == status or err == errno.EIO


# -- classified by what libssh reports --------------------------------------------------------------


@pytest.mark.peer
def test_no_common_cipher_with_sshd_is_a_protocol_error(connect):
    """libssh's error state with a sound socket: negotiation failed."""
    with pytest.raises(pylibssh.ProtocolError, match="no match"):
        connect(ciphers=["aes128-cbc"])  # OpenSSH 9 offers no CBC cipher


@pytest.mark.peer
def test_a_refused_channel_open_carries_the_reason(connect):
    c = connect()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(pylibssh.ChannelOpenError) as info:
        c.open_channel_to("127.0.0.1", port)
    assert info.value.reason is pylibssh.ChannelOpenFailure.CONNECT_FAILED
    assert info.value.reason.label == "connect failed"
    assert info.value.description and "(connect failed)" in str(info.value)


def test_channel_open_failure_table():
    F = pylibssh.ChannelOpenFailure
    assert [(int(r), r.short_name) for r in F] == [
        (1, "prohibited"), (2, "connect-failed"), (3, "unknown-channel-type"),
        (4, "resource-shortage")]
    assert F.lookup("connect-failed") is F.CONNECT_FAILED
    assert F.lookup("RESOURCE_SHORTAGE") is F.RESOURCE_SHORTAGE
    assert F.lookup(3) is F.UNKNOWN_CHANNEL_TYPE
    assert F.lookup(77) == 77 and type(F.lookup(77)) is int  # a code past the RFC's, kept
    with pytest.raises(ValueError, match="prohibited"):
        F.lookup("nope")
    with pytest.raises(ValueError):
        F.lookup(1 << 32)
    from pylibssh.compat.paramiko import common
    assert common.OPEN_FAILED_CONNECT_FAILED == 2
    assert common.CONNECTION_FAILED_CODE[4] == "Resource shortage"
