"""The SFTP types server and client share: Stat, attributes, status names, open flags."""

import os
import stat

import pytest

import pylibssh
from pylibssh.sftp import (
    OpenFlags,
    SFTPAttributes,
    SFTPStatus,
    Stat,
    long_name,
    open_flags_to_os,
    status_code,
    status_name,
)


def test_stat_builder_matches_node_libssh():
    assert pylibssh.Stat is Stat
    assert Stat("755").dir() == 0o40755
    assert Stat("644").reg() == 0o100644
    assert Stat(0o600).lnk() == stat.S_IFLNK | 0o600
    assert stat.S_ISDIR(Stat("750").dir()) and stat.S_IMODE(Stat("750").dir()) == 0o750
    assert Stat("755").dir().reg() == 0o100755  # the type is replaced, not or-ed
    with pytest.raises(ValueError):
        Stat("9")
    with pytest.raises(ValueError):
        Stat(-1)


def test_status_names_both_ways():
    assert status_code("ok") == SFTPStatus.OK == 0
    assert status_code("nosuchfile") == SFTPStatus.NO_SUCH_FILE
    assert status_code("NO_SUCH_FILE") == status_code("no-such-file") == 2
    assert status_code("permissiondenied") == SFTPStatus.PERMISSION_DENIED
    assert status_code("fileexists") == SFTPStatus.FILE_ALREADY_EXISTS
    assert status_code(8) is SFTPStatus.OP_UNSUPPORTED
    assert status_name(2) == "nosuchfile"
    for bad in ("bogus", "", 99, None, True):
        with pytest.raises(ValueError):
            status_code(bad)


def test_status_members_are_the_error_table():
    from pylibssh.errors import SFTP_STATUS_NAMES

    assert {m.value: m.name for m in SFTPStatus} == SFTP_STATUS_NAMES
    assert [m.value for m in SFTPStatus] == sorted(SFTP_STATUS_NAMES)


def test_attributes_dict_round_trip_and_unknown_keys():
    attrs = SFTPAttributes.from_dict({"permissions": Stat("644").reg(), "size": 3, "uid": 101,
                                      "gid": 202, "atime": 5, "mtime": 6})
    assert attrs.to_dict() == {"permissions": 0o100644, "size": 3, "uid": 101, "gid": 202,
                               "atime": 5, "mtime": 6}
    assert attrs.is_file and not attrs.is_dir
    assert SFTPAttributes.from_dict(None).to_dict() == {}
    with pytest.raises(ValueError, match="unknown SFTP attribute"):
        SFTPAttributes.from_dict({"perms": 0o644})


def test_attributes_from_stat_and_long_name(tmp_path):
    path = tmp_path / "file.txt"
    path.write_bytes(b"x" * 1234)
    st = os.stat(path)
    attrs = SFTPAttributes.from_stat(st)
    assert attrs.size == 1234 and attrs.permissions == st.st_mode and attrs.uid == st.st_uid
    line = long_name("file.txt", attrs, numeric=True)
    fields = line.split()
    assert fields[0] == stat.filemode(st.st_mode)
    assert fields[2] == str(st.st_uid) and fields[4] == "1234" and fields[-1] == "file.txt"


def test_open_flags():
    assert open_flags_to_os(OpenFlags.READ) == os.O_RDONLY
    assert open_flags_to_os(OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC) == (
        os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    assert open_flags_to_os(OpenFlags.READ | OpenFlags.WRITE | OpenFlags.EXCL
                            | OpenFlags.CREAT) == os.O_RDWR | os.O_EXCL | os.O_CREAT
    assert open_flags_to_os(OpenFlags.APPEND) & os.O_APPEND
