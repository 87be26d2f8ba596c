"""The demo's image host: a threaded `http.server` on 127.0.0.1 serving the world's `www/`.

It stands in for pbs.twimg.com and Bluesky's CDN while `download` runs: real HTTP, real 404s
for missing files, real bytes for broken ones. Stopped when the `with` block ends.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from smileynet.errors import UserError


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # one line per image would drown the demo's output
        pass

    def guess_type(self, path) -> str:
        return "image/jpeg"  # Bluesky's CDN paths end in "@jpeg", not ".jpg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_folder(root: Path, port: int) -> Iterator[str]:
    """Serve `root` at http://127.0.0.1:PORT for the duration of the block; yields the base URL."""
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), partial(QuietHandler, directory=str(root)))
    except OSError as err:
        raise UserError(
            f"cannot serve the demo's images on 127.0.0.1:{port} ({err.strerror}); "
            f"free that port, or start over with a new --out folder"
        ) from None
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="demo-image-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
