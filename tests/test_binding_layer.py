"""Only the binding layer (``pylibssh/_binding/``) calls into C: a module elsewhere that imports
``lib`` or ``ffi`` fails this test, so calls into libssh stay where their errors are checked."""

from __future__ import annotations

import pathlib
import re

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pylibssh"
BINDING = "_binding/"

IMPORTS_C = re.compile(
    r"from \.+_binding import [^\n]*\b(lib|ffi)\b|_binding\.(lib|ffi)\b|import _libssh"
    r"|from \.+_binding import \($(?:[^)]*?)\b(lib|ffi)\b", re.M)
#: a call through the extension's objects however they were imported (not ``ffi.x`` in text)
CALLS_C = re.compile(r"^[^#\n]*(?<![`\w])(lib|ffi)\.[A-Za-z_]", re.M)


def modules_calling_c() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).as_posix()
        text = path.read_text()
        if not name.startswith(BINDING) and (IMPORTS_C.search(text) or CALLS_C.search(text)):
            found.add(name)
    return found


def test_only_the_binding_layer_calls_c():
    assert modules_calling_c() == set(), "a module outside pylibssh/_binding/ calls C"
