"""A console chat over SSH (node-libssh's stdiopipe.js): clients log in with a password or a
public key and get a shell that echoes what they type, prints it on this console, and receives
what is typed on this console.

    python examples/stdiopipe.py --port 2222 --user tester --password secret
    ssh -p 2222 -o StrictHostKeyChecking=no tester@localhost

Type in either window. The shell ends when the client sends EOF (Ctrl-D at the start of a line
without a pty, or ``exit`` is not special: this is not a real shell).
"""

import sys
import threading

from _common import announce, authorizer, host_keys, parser

import pylibssh


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    server = pylibssh.create_server(host_keys=host_keys(args), debug=args.debug)
    shells = set()  # channels in shell mode: they get the console's lines

    @server.on("connection")
    def on_connection(session):
        session.on("auth", authorizer(args))

        @session.on("channel")
        def on_channel(channel):
            channel.on("pty", lambda message: message.reply_success())

            @channel.on("shell")
            def on_shell(message):
                message.reply_success()
                shells.add(channel)
                channel.write("Welcome to my party!\n")

                @channel.on("data")
                def echo(data, is_stderr):
                    channel.write(data)  # the channel piped to itself: an echo
                    sys.stdout.buffer.write(data)  # and to the console
                    sys.stdout.buffer.flush()

                @channel.on("end")
                def bye():
                    channel.send_exit_status(0)
                    channel.send_eof()
                    channel.close()

            channel.on("close", lambda: shells.discard(channel))

    def console():
        # the console to every shell; channel.write is safe from any thread
        for line in sys.stdin.buffer:
            for channel in list(shells):
                try:
                    channel.write(line)
                except pylibssh.ClosedError:
                    pass

    server.listen(args.port, args.host)
    announce(server)
    threading.Thread(target=console, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
