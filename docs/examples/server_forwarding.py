"""Server guide: forwarding with a policy (ssh -L/-W to allowed ports, ssh -R on loopback)."""
import os

import pylibssh
from pylibssh.server import connect_handler, listen_handler

PORT = int(os.environ.get("PORT", 2222))
ALLOWED_PORT = int(os.environ.get("ALLOWED_PORT", 8080))
allowed = pylibssh.load_authorized_keys(os.path.expanduser("~/.ssh/authorized_keys"))

if not os.path.exists("host_key"):
    pylibssh.Key.generate("ed25519").write_private_file("host_key")
server = pylibssh.create_server(host_keys=["host_key"], auth_methods=["publickey"],
                                max_forward_channels=32)  # open forwards per connection


@server.on("connection")
def on_connection(session):
    @session.on("auth")
    def on_auth(message):
        if message.subtype == "publickey" and any(
                message.compare_public_key(key) for key in allowed):
            return message.reply_auth_success()
        message.reply_default()

    # ssh -L / -W: only this host's ALLOWED_PORT; anything else is refused as "prohibited"
    session.on("tcpip", connect_handler(allow=[f"127.0.0.1:{ALLOWED_PORT}",
                                               f"localhost:{ALLOWED_PORT}"]))
    # ssh -R: listen on loopback ports only (0.0.0.0 is bound as loopback, as GatewayPorts no)
    session.on("request", listen_handler(allow=["127.0.0.1:*", "localhost:*"]))


server.listen(PORT, "127.0.0.1")
print("listening on port", server.port, flush=True)
server.serve_forever()
