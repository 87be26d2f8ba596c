"""listen: record live Bluesky (Jetstream) and Mastodon posts into hourly archives that `collect` reads."""
