"""asyncio guide: a connection's commands, streams, SFTP and a forward; then many hosts."""
import asyncio

import pylibssh.asyncio as pa


async def one_host() -> None:
    async with pa.connect("myserver") as conn:          # ~/.ssh/config, keys, known_hosts
        result = await conn.run("echo $((6 * 7))", check=True)
        print("run:", result.stdout.decode().strip())

        proc = await conn.create_process("tr a-z A-Z")  # stdin/stdout/stderr streams
        proc.stdin.write(b"streamed\n")
        proc.stdin.write_eof()
        print("process:", (await proc.stdout.readline()).decode().strip())
        await proc.wait()

        try:                                             # a cancelled run closes its channel
            async with asyncio.timeout(0.5):
                await conn.run("sleep 30")
        except TimeoutError:
            again = await conn.run("echo yes")
            print("timed out; still usable:", again.stdout.decode().strip())

        async with conn.start_sftp_client() as sftp:
            async with await sftp.open("asyncio-guide.txt", "w") as f:
                await f.write(b"written with pylibssh.asyncio\n")
            await sftp.get("asyncio-guide.txt", "copy.txt")
            await sftp.remove("asyncio-guide.txt")
        print("sftp:", open("copy.txt").read().strip())

        # a TCP connection made from the server's side, as asyncio streams (direct-tcpip):
        # here to the server's own SSH port, which greets with its banner
        reader, writer = await conn.open_connection("127.0.0.1", conn.client.options.port)
        print("banner:", (await reader.readline()).decode().split("-")[0])
        writer.close()


async def many_hosts() -> None:
    limit = asyncio.Semaphore(2)                         # at most 2 connecting at once

    async def check(host: str) -> str:
        async with limit:
            conn = await pa.connect(host)
        async with conn:
            return f"{host} {(await conn.run('true')).exit_status}"

    for line in await asyncio.gather(*(check(h) for h in ["web1", "web2", "web3"])):
        print(line)


asyncio.run(one_host())
asyncio.run(many_hosts())
