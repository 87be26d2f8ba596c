"""collect: read post archives, apply the paper's filter -> posts.parquet."""
