"""Quick start: a server that runs the commands clients send (ssh -p 2222 127.0.0.1 uname)."""
import os

import pylibssh
from pylibssh.server import spawn

PORT = int(os.environ.get("PORT", 2222))
allowed = pylibssh.load_authorized_keys(os.path.expanduser("~/.ssh/authorized_keys"))

if not os.path.exists("host_key"):
    pylibssh.Key.generate("ed25519").write_private_file("host_key")
server = pylibssh.create_server(host_keys=["host_key"], auth_methods=["publickey"])


@server.on("connection")
def on_connection(session):
    @session.on("auth")
    def on_auth(message):
        # safe: a key is let in only once the client has proved that it holds it
        if message.subtype == "publickey" and any(
                message.compare_public_key(key) for key in allowed):
            return message.reply_auth_success()
        message.reply_default()

    @session.on("channel")
    def on_channel(channel):
        @channel.on("exec")
        def on_exec(message):
            message.reply_success()
            spawn(channel, message.exec_command)  # runs as the user running the server


server.listen(PORT, "127.0.0.1")
print("listening on port", server.port, flush=True)
server.serve_forever()
