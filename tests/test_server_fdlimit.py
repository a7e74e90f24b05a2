"""The server's descriptor limit: raised to the hard limit when a server is created, and
named in the log when it keeps connections waiting."""

import resource
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from serverkit import DEADLINE, wait_until


def test_server_raises_its_descriptor_limit(host_key_files):
    """A server process started with a soft RLIMIT_NOFILE of 256 serves with its hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit is {hard}")
    code = ("import resource, pylibssh; "
            f"pylibssh.create_server(host_keys=[{str(host_key_files['ed25519'])!r}]).close(); "
            "print(*resource.getrlimit(resource.RLIMIT_NOFILE))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=DEADLINE,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                               (256, hard)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(hard), str(hard)]


def test_an_accept_refused_for_want_of_descriptors_names_the_limit(host_key_files):
    """A server whose hard limit is 64 descriptors, given 80 connections: the log says which
    limit keeps the others waiting."""
    app = Path(__file__).parent / "server_app.py"
    code = ("import logging, runpy, sys; logging.basicConfig(level=logging.WARNING); "
            f"sys.argv = [{str(app)!r}, '--host-key', {str(host_key_files['ed25519'])!r}]; "
            f"runpy.run_path({str(app)!r}, run_name='__main__')")
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    logged: list[str] = []
    threading.Thread(target=lambda: logged.extend(server.stderr), daemon=True).start()
    held = []
    try:
        port = int(server.stdout.readline().split()[1])
        for _ in range(80):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE))
        wait_until(lambda: any("RLIMIT_NOFILE" in line for line in logged),
                   what="the server to log the limit")
        line = next(line for line in logged if "RLIMIT_NOFILE" in line)
        assert "uses all the descriptors RLIMIT_NOFILE allows (64)" in line, line
    finally:
        for s in held:
            s.close()
        server.terminate()
        server.wait(DEADLINE)
