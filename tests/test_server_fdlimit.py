"""The server's descriptor limit: raised to the hard limit when a server is created."""

import resource
import subprocess
import sys

import pytest
from serverkit import DEADLINE


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
