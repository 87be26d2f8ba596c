"""download: images into WebDataset shards with img2dataset.

    smileynet download DS --out SHARDS [--image-size 256] [--processes N] [--threads 32]

reads a `smileynet sample` folder (manifest.parquet) or the official release CSVs and writes
`SHARDS/{split}/NNNNN.tar` (+ img2dataset's `NNNNN.parquet` and `NNNNN_stats.json` per shard),
`SHARDS/categories.csv`, `SHARDS/download_summary.json` (successes and failures by reason, per
split) and `SHARDS/download_config.yaml`. Rerun the same command after a kill to resume.

Every url is fetched under the fetch policy (`smileynet.fetch`, see docs/security.md): http and
https only, no loopback or private addresses unless `--allow-private-network` (a local image
server), never link-local, multicast or reserved ones, at most `--max-bytes` per response and
`--deadline` seconds per download; refusals are counted in the summary.

Outgrowing one machine: img2dataset's distributors run the same shards on a cluster.
`--distributor pyspark` (`pip install pyspark`) starts a local Spark session with `--processes`
cores, or, on a cluster, uses the session that is active when your own PySpark driver script
(run with `spark-submit`, this package on every executor) calls `smileynet.download.download`,
as img2dataset's documentation does it. `--distributor ray` (`pip install ray`) sends one task per
shard to the Ray cluster that `ray.init()` finds (`RAY_ADDRESS`). Either way `--out` must be a
folder every node can write (a shared file system).
"""
