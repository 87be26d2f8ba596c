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

Outgrowing one machine: `--distributor pyspark` (`pip install 'smileynet[spark]'`, Java 17+)
runs the same shards in a Spark session (spark.py): a local one of `--processes` cores, the
cluster of `--spark-master` (or of Spark's own settings), or the session of a driver started by
`spark-submit`. `--out` must then be a folder every node can write (a shared file system), and
every node must have this package installed at the same interpreter path (docs/scale.md).
"""
