"""Streaming readers of training data: WebDataset shards, CSV/folder of local images."""
