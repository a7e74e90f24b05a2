"""Quick start: an SFTP server for one directory (run: python sftp_server.py DIR)."""
import os
import sys

import pylibssh
from pylibssh.server import LocalFilesystem

PORT = int(os.environ.get("PORT", 2222))
PASSWORD = os.environ.get("PASSWORD", "change me")

if not os.path.exists("host_key"):  # the server's identity: made once, then kept
    pylibssh.Key.generate("ed25519").write_private_file("host_key")
files = LocalFilesystem(sys.argv[1] if len(sys.argv) > 1 else ".")  # clients see it as /
server = pylibssh.create_server(host_keys=["host_key"], auth_methods=["password"])


@server.on("connection")
def on_connection(session):
    @session.on("auth")
    def on_auth(message):
        if message.subtype == "password" and message.auth_password == PASSWORD:
            return message.reply_auth_success()
        message.reply_default()  # refused; the server counts it (max_auth_tries)

    @session.on("channel")
    def on_channel(channel):
        @channel.on("subsystem")
        def on_subsystem(message):
            if message.subsystem != "sftp":
                return message.reply_default()
            message.sftp_accept()
            files.attach(channel)  # every SFTP request now goes to the directory


server.listen(PORT, "127.0.0.1")
print("listening on port", server.port, flush=True)
server.serve_forever()
