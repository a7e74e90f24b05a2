"""Client guide: host keys, a jump host, and many hosts from one thread."""
import os

import pylibssh

# a host whose key is not known yet: record it on first use, refuse it if it ever changes
client = pylibssh.connect("myserver", known_hosts=os.path.expanduser("~/.ssh/known_hosts"),
                          host_key_policy="accept-new")
print("host key", client.host_key.fingerprint())
client.close()

# through a jump host (ssh -J): "inner" is reached over a connection to "myserver"
with pylibssh.connect("inner", proxy_jump="myserver") as inner:
    print("via jump:", inner.run("echo $SSH_CONNECTION").stdout.decode().split()[0])

# many hosts from one thread: one loop drives every connection and command
loop = pylibssh.Loop()
hosts = ["web1", "web2", "web3"]
connecting = [pylibssh.connect_async(host, loop=loop) for host in hosts]
loop.run_until(lambda: all(f.done() for f in connecting), 30)
clients = [f.result() for f in connecting]
running = [c.run_async("hostname") for c in clients]
loop.run_until(lambda: all(f.done() for f in running), 30)
for host, f in zip(hosts, running):
    print(host, f.result().exit_status)
for c in clients:
    c.close()
loop.close()
