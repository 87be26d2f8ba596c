"""download: images into WebDataset shards with img2dataset."""
