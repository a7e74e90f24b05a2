"""The API reference's pages, one per public module, written when the build starts.

A public module is one under ``pylibssh`` with no name part starting with ``_``; the
docstring test (tests/test_docs.py) walks the same list, so every name a page shows has a
docstring and every module has a page.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

API_DIR = Path(__file__).resolve().parent.parent / "api"


def public_modules() -> list[str]:
    """The dotted names of pylibssh's public modules, the package itself first."""
    import pylibssh

    names = ["pylibssh"]
    for info in pkgutil.walk_packages(pylibssh.__path__, "pylibssh."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def page(name: str) -> str:
    """The reStructuredText of one module's page: its docstring and its own members (names it
    imports from elsewhere are documented where they are defined)."""
    title = f"``{name}``"
    # only what the module defines: a package's re-exports are listed with links instead
    lines = [title, "=" * len(title), "", f".. automodule:: {name}", "   :members:",
             "   :ignore-module-all:", "   :show-inheritance:", "   :member-order: bysource"]
    private_based = {cls: bases for cls, bases in _private_based(name)}
    if private_based:
        lines.append(f"   :exclude-members: {', '.join(private_based)}")
    lines.append("")
    # a class built on a private base (the loop-driven session and channel) shows the public
    # members it inherits from it, which are its own API
    for cls, public_bases in private_based.items():
        lines += [f".. autoclass:: {name}.{cls}", "   :members:", "   :show-inheritance:",
                  f"   :inherited-members: {', '.join(public_bases)}", ""]
    lines.append(_reexports(name))
    if name == "pylibssh":
        lines.append(".. data:: pylibssh.TRACE\n\n   The log level below DEBUG at which libssh"
                     " logs everything (5); see :doc:`/guides/logging`.\n")
    return "\n".join(lines) + "\n"


def is_private_module(module: str) -> bool:
    """True for a pylibssh module that is not public (a name part starting with ``_``)."""
    return module.startswith("pylibssh.") and any(
        part.startswith("_") for part in module.split(".")[1:])


def _private_based(name: str) -> list[tuple[str, list[str]]]:
    """The classes a module defines on a base from a private module, each with the names of
    its other bases (whose members are documented on their own pages)."""
    import inspect

    module = importlib.import_module(name)
    found = []
    for attr, obj in vars(module).items():
        if attr.startswith("_") or not inspect.isclass(obj) or obj.__module__ != name:
            continue
        mro = obj.__mro__[1:]
        if any(is_private_module(base.__module__) for base in mro):
            found.append((attr, [base.__name__ for base in mro
                                 if not is_private_module(base.__module__)]))
    return found


def _reexports(name: str) -> str:
    """Links to the names a module exports (``__all__``) but defines elsewhere."""
    module = importlib.import_module(name)
    rows = []
    for export in getattr(module, "__all__", ()):
        obj = getattr(module, export)
        home = getattr(obj, "__module__", None)
        if home == name or home is None or not hasattr(obj, "__qualname__"):
            continue
        if not home.startswith("pylibssh") or is_private_module(home):
            continue
        role = "class" if isinstance(obj, type) else "func"
        rows.append(f"- :py:{role}:`{export} <{home}.{obj.__qualname__}>`")
    if not rows:
        return ""
    return "\n".join(["Exported here, documented where defined:", "", *rows, ""])


def write_pages(app=None) -> None:
    """Write api/<module>.rst for every public module and api/index.rst listing them; a file
    whose text is unchanged is left alone, so incremental builds stay incremental."""
    API_DIR.mkdir(exist_ok=True)
    modules = public_modules()
    wanted = {f"{name}.rst": page(name) for name in modules}
    toc = "\n".join(f"   {name}" for name in modules)
    wanted["index.rst"] = ("API reference\n=============\n\nEvery public module, class and function"
                           " of pylibssh, from its docstrings.\n\n.. toctree::\n   :maxdepth: 1\n\n"
                           + toc + "\n")
    for stale in API_DIR.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for filename, text in wanted.items():
        path = API_DIR / filename
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def setup(app):
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
