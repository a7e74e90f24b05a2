"""Client guide: file transfers with progress, and many small files at once."""
import hashlib
import os
from pathlib import Path

import pylibssh


def progress(done: int, total: int) -> None:
    if done == total:
        print(f"  {done} of {total} bytes")


with open("big.bin", "wb") as f:
    f.write(os.urandom(8 * 1024 * 1024))
os.makedirs("small", exist_ok=True)
for i in range(50):
    with open(f"small/{i}.txt", "w") as f:
        f.write(f"file {i}\n")

with pylibssh.connect("myserver") as client, client.sftp() as sftp:
    sftp.put("big.bin", "big.bin", progress=progress)          # pipelined
    sftp.get("big.bin", "copy.bin", progress=progress, preserve=True)
    sftp.mkdir("small")
    sent = sftp.put_many([(f"small/{i}.txt", f"small/{i}.txt") for i in range(50)])
    print("small files:", sent, "bytes,", len(sftp.listdir("small")), "files")
    with sftp.open("small/7.txt") as f:                       # a file object
        print(f.read().decode().strip())
    for i in range(50):                                          # tidy up the server
        sftp.remove(f"small/{i}.txt")
    sftp.rmdir("small")
    sftp.remove("big.bin")

original, copy = Path("big.bin").read_bytes(), Path("copy.bin").read_bytes()
print("identical:", hashlib.sha256(original).digest() == hashlib.sha256(copy).digest())
