"""fsspec guide: pandas, pyarrow and Dask read and write files on an SFTP server."""
import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow.parquet as pq

sales = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"] * 100, "amount": range(300)})
sales.to_parquet("libssh://myserver/~/sales.parquet")          # written over SFTP

df = pd.read_parquet("libssh://myserver/~/sales.parquet")     # the three lines
print(df.amount.sum())

fs = fsspec.filesystem("libssh", host="myserver")                # the same connection
table = pq.read_table("sales.parquet", filesystem=fs, columns=["city"])  # in the home
print(table.num_rows, table.column_names)

fs.makedirs("~/drop", exist_ok=True)                             # a drop of CSV files
for i in range(3):
    part = sales.iloc[i * 100:(i + 1) * 100]
    fs.pipe_file(f"~/drop/part-{i}.csv", part.to_csv(index=False).encode())
parts = dd.read_csv("libssh://myserver/~/drop/*.csv")            # Dask, one task per file
print(parts.groupby("city").amount.sum().compute().to_dict())

fs.rm(["~/drop", "~/sales.parquet"], recursive=True)            # tidy up the server
