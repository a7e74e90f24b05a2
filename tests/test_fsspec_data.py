"""What analysts do with the fsspec file system: pandas and pyarrow read a CSV and a Parquet file
through ``libssh://`` URLs, and Dask reads a directory of CSV files with its local scheduler,
all from OpenSSH's sshd."""

from __future__ import annotations

import io

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clientkit import known_hosts  # noqa: F401 - a fixture
from fsspeckit import base, fs, no_cached_connections  # noqa: F401 - fixtures

pytestmark = [pytest.mark.peer, pytest.mark.usefixtures("no_cached_connections")]


@pytest.fixture
def url(sshd, base):
    return f"libssh://{sshd.user}@127.0.0.1:{sshd.port}{base}"


@pytest.fixture
def storage_options(client_key, known_hosts):  # noqa: F811
    return dict(keys=[str(client_key)], known_hosts=str(known_hosts), config=None, agent=False,
                look_for_keys=False)


def _frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n), "x": rng.random(n),
                         "city": rng.choice(["Oslo", "Lima", "Pune"], n)})


def test_pandas_reads_and_writes_csv_and_parquet(fs, base, url, storage_options):
    df = _frame(20_000)
    fs.pipe_file(f"{base}/data.csv", df.to_csv(index=False).encode())
    got = pd.read_csv(f"{url}/data.csv", storage_options=storage_options)
    pd.testing.assert_frame_equal(got, df)

    buf = io.BytesIO()
    df.to_parquet(buf, row_group_size=2_000)
    fs.pipe_file(f"{base}/data.parquet", buf.getvalue())
    got = pd.read_parquet(f"{url}/data.parquet", storage_options=storage_options)
    pd.testing.assert_frame_equal(got, df)
    got = pd.read_parquet(f"{url}/data.parquet", columns=["x"],
                          storage_options=storage_options)
    pd.testing.assert_frame_equal(got, df[["x"]])

    df.to_csv(f"{url}/out/written.csv", index=False, storage_options=storage_options)
    assert fs.cat_file(f"{base}/out/written.csv") == df.to_csv(index=False).encode()


def test_pyarrow_reads_parquet_columns_through_the_file_system(fs, base):
    table = pa.Table.from_pandas(_frame(50_000, seed=2), preserve_index=False)
    with fs.open(f"{base}/t.parquet", "wb") as f:
        pq.write_table(table, f, row_group_size=5_000)
    got = pq.read_table(f"{base}/t.parquet", filesystem=fs, columns=["id", "city"])
    assert got.equals(table.select(["id", "city"]))
    whole = pq.ParquetFile(f"{base}/t.parquet", filesystem=fs)
    assert whole.metadata.num_row_groups == 10
    assert whole.read_row_group(7).equals(table.slice(35_000, 5_000))


def test_dask_reads_a_directory_of_csv_files(fs, base, url, storage_options):
    parts = [_frame(3_000, seed=s) for s in range(6)]
    for i, part in enumerate(parts):
        fs.pipe_file(f"{base}/drop/part-{i}.csv", part.to_csv(index=False).encode())
    ddf = dd.read_csv(f"{url}/drop/*.csv", storage_options=storage_options, blocksize=20_000)
    assert ddf.npartitions > 6  # files cut in blocks: ranged reads
    got = ddf.compute(scheduler="threads").reset_index(drop=True)
    want = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    counts = ddf.groupby("city").id.count().compute(scheduler="threads")
    assert counts.sum() == 18_000
