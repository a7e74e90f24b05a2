"""Server guide: an SFTP backend of your own (a read-only tree held in memory)."""
import errno
import itertools
import os
import posixpath

import pylibssh
from pylibssh import SFTPAttributes, Stat
from pylibssh.sftp import OpenFlags, long_name

PORT = int(os.environ.get("PORT", 2222))
FILES = {"/hello.txt": b"hello from memory\n", "/numbers.txt": b"".join(
    b"%d\n" % i for i in range(10_000))}
allowed = pylibssh.load_authorized_keys(os.path.expanduser("~/.ssh/authorized_keys"))


def clean(path) -> str:
    """A client's path as a key of FILES: absolute, normalised, "." being the root."""
    return "/" + posixpath.normpath("/" + (path or ".")).lstrip("/")


def attrs_of(path: str) -> SFTPAttributes:
    if path == "/":
        return SFTPAttributes(permissions=Stat("555").dir())
    if path not in FILES:
        raise FileNotFoundError(errno.ENOENT, path)   # becomes "no such file"
    return SFTPAttributes(size=len(FILES[path]), permissions=Stat("444").reg())


if not os.path.exists("host_key"):
    pylibssh.Key.generate("ed25519").write_private_file("host_key")
server = pylibssh.create_server(host_keys=["host_key"], auth_methods=["publickey"])


@server.on("connection")
def on_connection(session):
    @session.on("auth")
    def on_auth(message):
        if message.subtype == "publickey" and any(
                message.compare_public_key(key) for key in allowed):
            return message.reply_auth_success()
        message.reply_default()

    @session.on("channel")
    def on_channel(channel):
        handles = {}                  # this channel's open files and directories
        numbers = itertools.count()

        def new_handle(value) -> bytes:
            handle = b"%d" % next(numbers)
            handles[handle] = value
            return handle

        @channel.on("subsystem")
        def on_subsystem(message):
            if message.subsystem != "sftp":
                return message.reply_default()
            message.sftp_accept()

        @channel.on("sftp:realpath")
        def realpath(message):
            message.reply_name(clean(message.filename), None)

        @channel.on("sftp:stat")
        @channel.on("sftp:lstat")
        def stat(message):
            message.reply_attr(attrs_of(clean(message.filename)))

        @channel.on("sftp:opendir")
        def opendir(message):
            attrs_of(clean(message.filename))   # exists?
            message.reply_handle(new_handle(sorted(FILES)))

        @channel.on("sftp:readdir")
        def readdir(message):
            names = handles[message.handle]
            page = [(n[1:], long_name(n[1:], attrs_of(n)), attrs_of(n)) for n in names]
            names.clear()
            message.reply_names(page)                 # an empty page is the end

        @channel.on("sftp:open")
        def open_(message):
            if message.open_flags & (OpenFlags.WRITE | OpenFlags.CREAT):
                raise PermissionError(errno.EACCES, "read-only")  # "permission denied"
            path = clean(message.filename)
            attrs_of(path)
            message.reply_handle(new_handle(FILES[path]))

        @channel.on("sftp:read")
        def read(message):
            data = handles[message.handle]
            message.reply_data(data[message.offset:message.offset + message.length])  # b"": EOF

        @channel.on("sftp:close")
        def close(message):
            handles.pop(message.handle, None)
            message.reply_status("ok")


server.listen(PORT, "127.0.0.1")
print("listening on port", server.port, flush=True)
server.serve_forever()
