"""pylibssh's SFTP client as an `fsspec <https://filesystem-spec.readthedocs.io>`_ file system:
``libssh://`` URLs for pandas, pyarrow, Dask and anything else that opens files through fsspec.

Installing pylibssh registers the ``libssh`` protocol (the ``fsspec.specs`` entry point), so
with the ``fsspec`` extra (``pip install pylibssh[fsspec]``)::

    import pandas as pd
    df = pd.read_parquet("libssh://user@host/data/file.parquet")

:func:`register_sftp` makes the same file system serve ``sftp://`` and ``ssh://`` URLs too.
"""

from __future__ import annotations

from .spec import SFTPFileSystem

__all__ = ["SFTPFileSystem", "register_sftp", "PROTOCOLS"]

#: the URL schemes :func:`register_sftp` takes over
PROTOCOLS = ("sftp", "ssh")


def register_sftp(protocols: tuple[str, ...] = PROTOCOLS) -> None:
    """Make fsspec open ``sftp://`` and ``ssh://`` URLs (or those of ``protocols``) with
    :class:`SFTPFileSystem` instead of its paramiko-based ``sftp`` back end, for this process
    (``fsspec.register_implementation`` with ``clobber=True``). File systems fsspec already
    made stay what they are."""
    import fsspec

    for name in protocols:
        fsspec.register_implementation(name, SFTPFileSystem, clobber=True)
