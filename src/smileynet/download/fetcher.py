"""img2dataset's downloader, every fetch under the project's fetch policy (`smileynet.fetch`).

img2dataset opens each url with `urllib.request.urlopen`, which fetches through the process's
installed urllib opener. The policy is such an opener, installed around each shard in the process
that downloads it (a pool worker, a Spark executor, a Ray task: the downloader travels there
pickled, policy included). So img2dataset's own fetching, retries, X-Robots-Tag check, hashing
and writers run unchanged, with nothing of it patched or copied; only what reaches the network
(or the disk, for `file://`) is decided here. This module imports img2dataset (seconds), so only
`download` imports it.
"""

from __future__ import annotations

from img2dataset.downloader import Downloader

from smileynet.fetch import FetchPolicy


class PolicyDownloader(Downloader):
    """`Downloader(...)` with one more argument, the fetch policy of its shards."""

    def __init__(self, policy: FetchPolicy, **kwargs) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    def __call__(self, row):
        with self.policy.installed():
            return super().__call__(row)
