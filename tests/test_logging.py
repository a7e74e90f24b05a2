"""libssh's log output arrives in Python's logging; its verbosity follows the logger's level."""

import logging
import socket

import pytest

import pylibssh
from pylibssh import _log
from pylibssh._binding import ffi, lib


@pytest.fixture
def restore_levels():
    logger = logging.getLogger("pylibssh")
    old = logger.level
    yield logger
    logger.setLevel(old)
    _log.sync_verbosity()


@pytest.mark.parametrize(
    "level, verbosity",
    [
        (pylibssh.TRACE, lib.SSH_LOG_TRACE),
        (_log.PACKET, lib.SSH_LOG_DEBUG),
        (logging.DEBUG, lib.SSH_LOG_INFO),
        (logging.INFO, lib.SSH_LOG_WARN),
        (logging.WARNING, lib.SSH_LOG_WARN),
        (logging.ERROR, lib.SSH_LOG_NONE),
    ],
)
def test_verbosity_follows_logger_level(restore_levels, level, verbosity):
    restore_levels.setLevel(level)
    assert _log.sync_verbosity() == verbosity
    assert lib.ssh_get_log_level() == verbosity


def test_libssh_messages_reach_the_logger(restore_levels, caplog, capsys):
    # libssh logs its connection steps at its DEBUG level, which is PACKET (7) in Python
    restore_levels.setLevel(_log.PACKET)
    assert _log.sync_verbosity() == lib.SSH_LOG_DEBUG
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    session = lib.ssh_new()
    try:
        lib.ssh_options_set(session, lib.SSH_OPTIONS_HOST, b"127.0.0.1")
        lib.ssh_options_set(session, lib.SSH_OPTIONS_PORT, ffi.new("int *", port))
        with caplog.at_level(_log.PACKET, logger="pylibssh"):
            lib.ssh_connect(session)
    finally:
        lib.ssh_free(session)
    records = [r for r in caplog.records if r.name == "pylibssh.libssh"]
    messages = [r.getMessage() for r in records]
    assert any(m.startswith("ssh_connect: libssh 0.12") for m in messages), messages
    assert any("Connection refused" in m and r.levelno == logging.WARNING
               for m, r in zip(messages, records)), messages
    # a library never prints: nothing on stdout or stderr
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_quiet_by_default(restore_levels, capsys):
    restore_levels.setLevel(logging.NOTSET)
    logging.getLogger().setLevel(logging.WARNING)
    assert _log.sync_verbosity() == lib.SSH_LOG_WARN
    session = lib.ssh_new()
    lib.ssh_options_set(session, lib.SSH_OPTIONS_HOST, b"127.0.0.1")
    lib.ssh_options_set(session, lib.SSH_OPTIONS_PORT, ffi.new("int *", 1))
    lib.ssh_connect(session)
    lib.ssh_free(session)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
