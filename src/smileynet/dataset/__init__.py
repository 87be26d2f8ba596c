"""sample: temporal sampling and splits -> manifest.parquet + release CSVs."""
