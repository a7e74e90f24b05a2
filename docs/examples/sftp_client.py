"""Quick start: a client of the quick start's SFTP server (run it first)."""
import os
from pathlib import Path

import pylibssh

PORT = int(os.environ.get("PORT", 2222))
PASSWORD = os.environ.get("PASSWORD", "change me")

client = pylibssh.connect(
    "127.0.0.1", PORT, user="me", password=PASSWORD,
    known_hosts="known_hosts", host_key_policy="accept-new")  # remember the key on first use
with client, client.sftp() as sftp:
    Path("hello.txt").write_text("hello, SFTP\n")
    sftp.put("hello.txt", "uploaded.txt")
    print(sftp.listdir("/"))
    sftp.get("uploaded.txt", "downloaded.txt")
print(Path("downloaded.txt").read_text(), end="")
