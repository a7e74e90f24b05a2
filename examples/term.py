"""A real interactive shell on a pseudo-terminal, resized when the client's window changes.

    python examples/term.py --port 2222 --authorized-keys ~/.ssh/id_ed25519.pub
    ssh -p 2222 -o StrictHostKeyChecking=no localhost

The shell runs as the user running this script, with the terminal type, size and modes the
client asked for; commands work too (``ssh -t -p 2222 localhost top``).
"""

from _common import announce, authorizer, host_keys, parser

import pylibssh
from pylibssh.server import spawn


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    methods = ["publickey", "password"] if args.password else ["publickey"]
    server = pylibssh.create_server(host_keys=host_keys(args), auth_methods=methods,
                                    debug=args.debug)

    @server.on("connection")
    def on_connection(session):
        session.on("auth", authorizer(args))

        @session.on("channel")
        def on_channel(channel):
            # accepting the pty records it (channel.pty); spawn() then runs on a terminal
            # of that type, size and modes, and follows "windowchange" requests
            channel.on("pty", lambda message: message.reply_success())
            channel.on("env", lambda message: message.reply_success())

            @channel.on("shell")
            def on_shell(message):
                message.reply_success()
                spawn(channel)  # the user's login shell, interactive

            @channel.on("exec")
            def on_exec(message):
                message.reply_success()
                spawn(channel, message.exec_command)

    server.listen(args.port, args.host)
    announce(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
