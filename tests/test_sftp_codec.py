"""The SFTP codec (pylibssh/sftp/codec.py): its numbers are libssh's and the C fast path's, and what
it encodes it decodes."""

import pytest

from pylibssh import _binding
from pylibssh.sftp import SFTPAttributes, SFTPStatus
from pylibssh.sftp import codec
from pylibssh.sftp.codec import FXP, Attr, PacketSplitter, Reader, SFTPDecodeError

lib = _binding.lib


def test_packet_types_and_flags_are_libssh_s():
    for kind in FXP:
        assert getattr(lib, f"SSH_FXP_{kind.name}") == kind, kind
    for flag in Attr:
        assert getattr(lib, f"SSH_FILEXFER_ATTR_{flag.name}") == flag, flag
    for status in SFTPStatus:
        assert getattr(lib, f"SSH_FX_{status.name}") == status, status


def test_limits_and_values_are_the_c_fast_path_s():
    assert codec.MAX_PACKET == lib.PYLIBSSH_SFTP_PACKET_MAX
    assert codec.MAX_READ == lib.PYLIBSSH_SFTP_READ_MAX
    assert (lib.SFTP_FXP_READ, lib.SFTP_FXP_WRITE, lib.SFTP_FXP_STATUS, lib.SFTP_FXP_DATA) == (
        FXP.READ, FXP.WRITE, FXP.STATUS, FXP.DATA)
    assert (lib.SFTP_FX_OK, lib.SFTP_FX_EOF) == (SFTPStatus.OK, SFTPStatus.EOF)


def test_attributes_round_trip():
    full = SFTPAttributes(size=2**40 + 3, uid=1000, gid=100, permissions=0o100644,
                          atime=1_700_000_000, mtime=1_700_000_001)
    for attrs in (full, SFTPAttributes(), SFTPAttributes(size=0), SFTPAttributes(mtime=5)):
        got = Reader(codec.attrs_bytes(attrs)).attrs()
        want = attrs if attrs.mtime is None or attrs.atime is not None else SFTPAttributes(
            atime=5, mtime=5)
        assert got == want
    assert codec.attrs_bytes(None) == b"\0\0\0\0"
    assert Reader(codec.attrs_bytes({"size": 7})).attrs().size == 7


def test_replies_round_trip_through_the_splitter():
    entries = [("a", "-rw-r--r-- a", SFTPAttributes(size=1)), ("b\udcff", "b", None)]
    stream = (codec.reply(FXP.STATUS, 7, codec.status_payload(SFTPStatus.EOF, "End"))
              + codec.reply(FXP.HANDLE, 8, codec.handle_payload(b"\x00\x01h"))
              + codec.reply(FXP.NAME, 9, codec.name_payload(entries))
              + codec.data_header(10, 3) + b"xyz"
              + codec.packet(FXP.VERSION, b"\0\0\0\3"))
    splitter = PacketSplitter()
    got = []
    for i in range(len(stream)):  # one byte at a time: packets come out whole, in order
        got += splitter.feed(stream[i:i + 1])
    assert splitter.buffered == 0
    kinds = [k for k, _ in got]
    assert kinds == [FXP.STATUS, FXP.HANDLE, FXP.NAME, FXP.DATA, FXP.VERSION]
    r = Reader(got[0][1])
    assert r.u32() == 7 and codec.parse_status(r.rest()) == (SFTPStatus.EOF, "End")
    r = Reader(got[1][1])
    assert r.u32() == 8 and codec.parse_handle(r.rest()) == b"\x00\x01h"
    r = Reader(got[2][1])
    assert r.u32() == 9
    names = codec.parse_names(r.rest())
    assert [(f, ln) for f, ln, _ in names] == [("a", "-rw-r--r-- a"), ("b\udcff", "b")]
    assert names[0][2].size == 1
    r = Reader(got[3][1])
    assert r.u32() == 10 and r.string() == b"xyz"
    assert bytes(got[4][1]) == b"\0\0\0\3"


def test_bad_input_raises_decode_errors():
    with pytest.raises(SFTPDecodeError):
        PacketSplitter(max_packet=100).feed(b"\0\0\1\0" + b"\5" * 300)
    with pytest.raises(SFTPDecodeError):
        PacketSplitter().feed(b"\0\0\0\0\1")
    with pytest.raises(SFTPDecodeError):
        Reader(b"\0\0\0\5ab").string()
    with pytest.raises(SFTPDecodeError):
        Reader(codec.string(b"a\0b")).path()
    with pytest.raises(SFTPDecodeError):
        codec.parse_names(b"\xff\xff\xff\xff")
    assert codec.parse_status(b"\0\0\0\4") == (4, "")  # a status without its message
