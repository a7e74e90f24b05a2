"""pylibssh.asyncio's server with async listeners, against clients nobody here wrote: asyncssh's
client in the same loop, OpenSSH's ssh and sftp as processes. An auth listener that awaits does
not hold up another session; an async listener that raises gets its request the default reply;
SFTP on LocalFilesystem and through async sftp:* listeners, with checksums."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os

import asyncssh
import pytest

import pylibssh
import pylibssh.asyncio as pa
from asynciokit import run_on
from pylibssh.server import LocalFilesystem, spawn
from serverkit import DEADLINE

pytestmark = [pytest.mark.peer, pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])]

PASSWORD = "pw-async"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def make_server(host_key_files, root=None, *, auth_gate=None, log=None, keys=(),
                      **options):
    """An asyncio server: async password and public-key (``keys``) auth, awaiting
    ``auth_gate`` for user "slow"; exec through spawn; SFTP on ``root``."""
    server = await pa.create_server("127.0.0.1", 0, host_keys=[host_key_files["ed25519"]],
                                    **options)
    fs = LocalFilesystem(root) if root is not None else None

    @server.on("connection")
    def on_connection(session):  # (plain: the session's listeners are there at once)
        @session.on("auth")
        async def on_auth(msg):
            if log is not None:
                log.append(("auth", msg.auth_user))
            if msg.auth_user == "slow" and auth_gate is not None:
                await auth_gate.wait()  # a user store that takes its time
            if msg.auth_user == "boom":
                raise RuntimeError("the user store failed")
            if msg.subtype == "password" and msg.auth_password == PASSWORD:
                msg.reply_auth_success()
            elif msg.subtype == "publickey" and any(msg.compare_public_key(k) for k in keys):
                msg.reply_auth_success()  # (a probe gets pk_ok: pylibssh makes that safe)
            else:
                msg.reply_default()

        @session.on("channel")
        def on_channel(channel):
            @channel.on("exec")
            async def on_exec(msg):
                await asyncio.sleep(0)
                msg.reply_success()
                spawn(channel, msg.exec_command)

            @channel.on("subsystem")
            def on_subsystem(msg):
                if msg.subsystem == "sftp" and fs is not None:
                    msg.sftp_accept()
                    fs.attach(channel)
                else:
                    msg.reply_default()
    return server


def client_opts(server, user="tester"):
    return dict(host="127.0.0.1", port=server.port, username=user, password=PASSWORD,
                known_hosts=None, client_keys=None, agent_path=None, connect_timeout=DEADLINE)


def test_asyncssh_client_exec_and_sftp(loop_kind, host_key_files, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    data = os.urandom(12 << 20)
    (root / "down.bin").write_bytes(data)

    async def main():
        async with await make_server(host_key_files, root) as server:
            async with asyncssh.connect(**client_opts(server)) as conn:
                r = await conn.run("echo hi; sha256sum", input=data, encoding=None)
                assert r.stdout.startswith(b"hi\n") and sha(data).encode() in r.stdout
                assert r.exit_status == 0
                async with conn.start_sftp_client() as sftp:
                    await sftp.get("/down.bin", str(tmp_path / "got.bin"))
                    await sftp.put(str(tmp_path / "got.bin"), "/up.bin")
                    assert sorted(await sftp.listdir("/")) == [".", "..", "down.bin",
                                                               "up.bin"]
            assert sha((tmp_path / "got.bin").read_bytes()) == sha(data)
            assert sha((root / "up.bin").read_bytes()) == sha(data)
    run_on(loop_kind, main())


def test_slow_auth_does_not_hold_other_sessions(loop_kind, host_key_files):
    async def main():
        gate = asyncio.Event()
        log = []
        async with await make_server(host_key_files, auth_gate=gate, log=log) as server:
            async def connect_slow():
                return await asyncssh.connect(**client_opts(server, "slow"))
            slow = asyncio.create_task(connect_slow())
            deadline = asyncio.get_running_loop().time() + DEADLINE
            while ("auth", "slow") not in log and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            assert ("auth", "slow") in log  # its listener now awaits the gate
            # meanwhile another client logs in and runs a command
            async with asyncssh.connect(**client_opts(server)) as conn:
                assert (await conn.run("echo fast")).stdout == "fast\n"
            assert not slow.done()
            gate.set()
            async with await slow as conn:
                assert (await conn.run("echo slow")).stdout == "slow\n"
    run_on(loop_kind, main())


def test_raising_async_listener_gets_the_default_reply(loop_kind, host_key_files, caplog):
    async def main():
        async with await make_server(host_key_files) as server:
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh.connect(**client_opts(server, "boom"))
            # the server goes on
            async with asyncssh.connect(**client_opts(server)) as conn:
                assert (await conn.run("echo ok")).stdout == "ok\n"
    with caplog.at_level(logging.ERROR, logger="pylibssh.server"):
        run_on(loop_kind, main())
    assert any("the user store failed" in str(r.exc_info[1]) for r in caplog.records
               if r.exc_info)


def test_async_sftp_listeners(loop_kind, host_key_files, tmp_path):
    """sftp:* listeners that await (a storage backend) answer requests from asyncssh's SFTP
    client; several requests wait at once."""
    store = {"/a.txt": b"alpha" * 1000}

    async def main():
        server = await pa.create_server("127.0.0.1", 0, host_keys=[host_key_files["ed25519"]])
        waiting = []

        @server.on("connection")
        def on_connection(session):
            session.on("auth", lambda m: m.reply_auth_success()
                       if m.subtype == "password" and m.auth_password == PASSWORD
                       else m.reply_default())

            @session.on("channel")
            def on_channel(channel):
                @channel.on("subsystem")
                def sub(msg):
                    msg.sftp_accept()

                @channel.on("sftp:stat")
                async def stat(msg):
                    waiting.append(msg.filename)
                    await asyncio.sleep(0.05)  # a slow backend
                    data = store.get(msg.filename)
                    if data is None:
                        raise FileNotFoundError(errno.ENOENT, "no such file", msg.filename)
                    msg.reply_attrs({"size": len(data), "permissions": 0o100644})

        async with server:
            async with asyncssh.connect(**client_opts(server)) as conn:
                async with conn.start_sftp_client() as sftp:
                    sizes = await asyncio.gather(*(sftp.getsize("/a.txt") for _ in range(8)))
                    assert sizes == [5000] * 8
                    with pytest.raises(asyncssh.SFTPNoSuchFile):
                        await sftp.stat("/missing")
        assert len(waiting) == 9
    run_on(loop_kind, main())


def test_openssh_clients(loop_kind, host_key_files, client_keys, tmp_path, openssh_client):
    root = tmp_path / "root"
    root.mkdir()
    data = os.urandom(6 << 20)
    (tmp_path / "local.bin").write_bytes(data)

    async def main():
        key = pylibssh.Key.from_public_file(str(client_keys["ed25519"]) + ".pub")
        async with await make_server(host_key_files, root, keys=[key]) as server:
            client = openssh_client(server.port, password=PASSWORD)
            # (sftp -b never asks for a password: it logs in with the key)
            sftp_client = openssh_client(server.port, identity=client_keys["ed25519"])

            async def run(args):
                proc = await asyncio.create_subprocess_exec(
                    *args, env=client.env(), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                try:
                    out, err = await asyncio.wait_for(proc.communicate(), 60)
                except BaseException:
                    proc.kill()
                    await proc.wait()
                    raise
                return proc.returncode, out, err

            rc, out, err = await run(client.ssh_args("echo", "from-ssh"))
            assert (rc, out) == (0, b"from-ssh\n"), err
            batch = tmp_path / "batch"
            batch.write_text(f"put {tmp_path / 'local.bin'} /up.bin\n"
                             f"get /up.bin {tmp_path / 'back.bin'}\n")
            args = ["sftp", *sftp_client.options("-P"), "-b", str(batch),
                    f"{client.user}@{client.host}"]
            rc, out, err = await run(args)
            assert rc == 0, err
        assert sha((root / "up.bin").read_bytes()) == sha(data)
        assert sha((tmp_path / "back.bin").read_bytes()) == sha(data)
    run_on(loop_kind, main())


def test_serve_forever_and_close(loop_kind, host_key_files):
    async def main():
        server = await make_server(host_key_files)
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.05)
        assert not task.done()
        async with asyncssh.connect(**client_opts(server)) as conn:
            assert (await conn.run("echo x")).stdout == "x\n"
            server.close()
            await asyncio.wait_for(task, DEADLINE)
            await asyncio.wait_for(conn.wait_closed(), DEADLINE)
        assert server.closed
        with pytest.raises(OSError):
            await asyncssh.connect(**client_opts(server))
    run_on(loop_kind, main())
