"""Remote exec: every command a client sends runs with subprocess; its output, stderr and exit
status stream back (node-libssh's exec.js).

    python examples/exec.py --port 2222 --authorized-keys ~/.ssh/id_ed25519.pub
    ssh -p 2222 -o StrictHostKeyChecking=no localhost 'uname -a; exit 3'; echo $?

Input works too (``ssh -p 2222 localhost 'wc -c' < file``), and so do signals, e.g. Ctrl-C in
``ssh -t``. Add ``--password secret`` to allow a password; ``--debug`` to see what happens.
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
            channel.on("pty", lambda message: message.reply_success())
            channel.on("env", lambda message: message.reply_success())

            @channel.on("exec")
            def on_exec(message):
                message.reply_success()  # a success reply is needed before the output
                spawn(channel, message.exec_command)

    server.listen(args.port, args.host)
    announce(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
