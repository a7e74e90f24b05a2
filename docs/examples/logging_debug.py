"""Logging guide: see what libssh and pylibssh do (on stderr, through logging)."""
import logging

import pylibssh

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
# libssh's own messages: WARNING and INFO (logging.DEBUG) are few; PACKET (7) shows the
# connection's steps and every packet; pylibssh.TRACE (5) every function libssh enters
logging.getLogger("pylibssh.libssh").setLevel(7)

with pylibssh.connect("myserver") as client:
    print(client.run("true").exit_status)
