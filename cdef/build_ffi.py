"""The CFFI builder for ``pylibssh._libssh`` (out-of-line, API mode).

setup.py names this file in ``cffi_modules``; cffi executes it and takes ``ffi``. The C
declarations are the ``.h`` files beside it, one per libssh header, plus ``python_callbacks.h``
(every C->Python callback), ``glue.h`` (our C in ``csrc/``) and ``private.h`` (what needs libssh's
private structs or our patches, with a flag per capability). Where libssh's headers and library
are found is decided by setup.py's build step, which adds the directories to the extension.
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# order matters: later files use types declared by earlier ones
DECLARATIONS = [
    "libssh.h",
    "pki.h",
    "callbacks.h",
    "server.h",
    "sftp.h",
    "sftpserver.h",
    "glue.h",
    "private.h",
    "sftp_client.h",
    "python_callbacks.h",
]


def package_version():
    with open(os.path.join(ROOT, "pylibssh", "_version.py")) as f:
        text = f.read()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def _rel(path):
    # setuptools places objects by source path; keep sources relative to the project root
    return os.path.relpath(os.path.join(ROOT, path))


def make_ffi():
    from cffi import FFI

    ffi = FFI()
    for name in DECLARATIONS:
        with open(os.path.join(HERE, name)) as f:
            ffi.cdef(f.read())
    ffi.set_source(
        "pylibssh._libssh",
        '#include "pylibssh_glue.h"\n#include "pylibssh_sftp_client.h"\n',
        sources=[_rel("csrc/pylibssh_glue.c"), _rel("csrc/pylibssh_server.c"),
                 _rel("csrc/pylibssh_sftp.c"), _rel("csrc/pylibssh_client.c"),
                 _rel("csrc/pylibssh_run.c"), _rel("csrc/pylibssh_private.c"),
                 _rel("csrc/pylibssh_sftp_client.c")],
        include_dirs=[_rel("csrc")],
        libraries=["ssh"],
        define_macros=[("PYLIBSSH_VERSION", f'"{package_version()}"')],
        extra_compile_args=["-Werror=implicit-function-declaration"],
    )
    return ffi


ffi = make_ffi()

if __name__ == "__main__":
    # writes the generated C to stdout's directory for inspection; building is setup.py's job
    ffi.emit_c_code(os.path.join(os.getcwd(), "_libssh.c"))
