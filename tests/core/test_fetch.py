"""The fetch policy against real servers on 127.0.0.1: schemes, addresses, redirects, bytes and time.

"No connection is made" is checked by recording every `socket.connect` of the process and by
listeners that would see any connection attempt."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smileynet.fetch import FetchPolicy, Refused

LOOPBACK_OK = FetchPolicy(allow_private_network=True, max_bytes=100_000, deadline=3.0)


class Site:
    """Routes by path: ("bytes", data), ("redirect", location), ("zeros",), ("dribble", where, pause)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple] = {}
        self.hits: list[str] = []
        handler = self.handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                site.hits.append(self.path)
                kind, *args = site.routes.get(self.path, ("status",))
                try:
                    if kind == "bytes":
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(args[0])))
                        self.end_headers()
                        self.wfile.write(args[0])
                    elif kind == "redirect":
                        self.send_response(302)
                        self.send_header("Location", args[0])
                        self.end_headers()
                    elif kind == "lying-length":
                        self.send_response(200)
                        self.send_header("Content-Length", str(10**12))
                        self.end_headers()
                    elif kind == "zeros":  # no Content-Length: the body ends when the connection does
                        self.send_response(200)
                        self.end_headers()
                        for _ in range(10_000):
                            self.wfile.write(b"\0" * 65536)
                    elif kind == "dribble":
                        where, pause = args
                        if where == "headers":
                            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                            for _ in range(200):
                                self.wfile.write(b"X")
                                self.wfile.flush()
                                time.sleep(pause)
                        self.send_response(200)
                        self.end_headers()
                        for _ in range(200):
                            self.wfile.write(b"\0")
                            self.wfile.flush()
                            time.sleep(pause)
                    else:
                        self.send_error(404)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    site = Site()
    yield site
    site.close()


@pytest.fixture
def connects(monkeypatch):
    """Every address this process connects a socket to, during the test."""
    seen: list = []
    real = socket.socket.connect

    def connect(self, address):
        seen.append(address[:2])
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def fetch(policy: FetchPolicy, url: str, timeout: float = 5.0) -> bytes:
    with policy.installed(), urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def reason(err: BaseException) -> str:
    return str(err).split(" (")[0]


def test_allowed_fetch_and_redirect_work(site):
    site.routes["/a.jpg"] = ("bytes", b"jpeg bytes")
    site.routes["/r"] = ("redirect", "/a.jpg")
    assert fetch(LOOPBACK_OK, site.base + "/r") == b"jpeg bytes"
    assert site.hits == ["/r", "/a.jpg"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x.jpg", "data:image/png;base64,AAAA", "gopher://127.0.0.1/"]
)
def test_other_schemes_are_refused(url, connects):
    with pytest.raises(Refused, match="not http or https"):
        fetch(LOOPBACK_OK, url)
    assert connects == []


def test_redirects_to_file_ftp_and_link_local_are_refused_before_connecting(site, connects, tmp_path):
    local = tmp_path / "secret.jpg"
    local.write_bytes(b"\xff\xd8 a local file")
    ftp = socket.create_server(("127.0.0.1", 0))  # would see an FTP connection attempt
    ftp.setblocking(False)
    site.routes["/to-file"] = ("redirect", local.as_uri())
    site.routes["/to-ftp"] = ("redirect", f"ftp://127.0.0.1:{ftp.getsockname()[1]}/x.jpg")
    site.routes["/to-metadata"] = ("redirect", "http://169.254.169.254/latest/meta-data/")
    site.routes["/to-mapped"] = ("redirect", "http://[::ffff:169.254.169.254]/latest/meta-data/")
    site.routes["/to-multicast"] = ("redirect", "http://224.0.0.1/x.jpg")
    connects.clear()
    expected = {
        "/to-file": "refused: not http or https",
        "/to-ftp": "refused: not http or https",
        "/to-metadata": "refused: link-local address",
        "/to-mapped": "refused: link-local address",
        "/to-multicast": "refused: multicast address",
    }
    for path, why in expected.items():
        with pytest.raises(Refused) as err:
            fetch(LOOPBACK_OK, site.base + path)
        assert reason(err.value) == why
    port = site.server.server_address[1]
    assert set(connects) == {("127.0.0.1", port)}  # only the allowed server, once per attempt
    assert len(connects) == len(expected)
    with pytest.raises(BlockingIOError):
        ftp.accept()
    ftp.close()


def test_private_addresses_need_the_flag(site, connects):
    site.routes["/a.jpg"] = ("bytes", b"x")
    for url in (site.base + "/a.jpg", site.base.replace("127.0.0.1", "localhost") + "/a.jpg"):
        with pytest.raises(Refused, match="loopback address .*--allow-private-network"):
            fetch(FetchPolicy(), url)
    assert connects == [] and site.hits == []


@pytest.mark.parametrize(
    "address, allowed, refused",
    [
        ("8.8.8.8", None, None),
        ("2606:4700::1111", None, None),
        ("127.0.0.1", None, "loopback address"),
        ("::1", None, "loopback address"),
        ("10.1.2.3", None, "private address"),
        ("192.168.0.1", None, "private address"),
        ("100.64.0.1", None, "private address"),
        ("fd00::1", None, "private address"),
        ("::ffff:10.0.0.1", None, "private address"),
        ("169.254.169.254", "link-local address", "link-local address"),
        ("fe80::1%eth0", "link-local address", "link-local address"),
        ("224.0.0.251", "multicast address", "multicast address"),
        ("ff02::1", "multicast address", "multicast address"),
        ("0.0.0.0", "unspecified address", "unspecified address"),
        ("::", "unspecified address", "unspecified address"),
        ("240.0.0.1", "reserved address", "reserved address"),
    ],
)
def test_address_table(address, allowed, refused):
    assert FetchPolicy().refusal(address) == refused
    assert FetchPolicy(allow_private_network=True).refusal(address) == allowed


def test_body_over_max_bytes_is_cut_off(site):
    site.routes["/zeros"] = ("zeros",)
    site.routes["/huge"] = ("lying-length",)
    site.routes["/ok"] = ("bytes", b"\1" * 100_000)
    for path in ("/zeros", "/huge"):
        with pytest.raises(Refused, match="over --max-bytes"):
            fetch(LOOPBACK_OK, site.base + path)
    assert fetch(LOOPBACK_OK, site.base + "/ok") == b"\1" * 100_000


@pytest.mark.parametrize("where", ["headers", "body"])
def test_deadline_bounds_the_whole_download(site, where):
    """One byte every 0.2 s never trips the 5 s read timeout; the 1 s deadline stops it."""
    site.routes["/slow"] = ("dribble", where, 0.2)
    start = time.monotonic()
    with pytest.raises(Refused, match="over the deadline"):
        fetch(FetchPolicy(allow_private_network=True, deadline=1.0), site.base + "/slow", timeout=5)
    assert time.monotonic() - start < 2.5


def test_deadline_spans_redirects(site):
    site.routes["/slow-hop"] = ("dribble", "body", 0.2)
    for n in range(5):
        site.routes[f"/hop{n}"] = ("redirect", f"/hop{n + 1}")
    site.routes["/hop5"] = ("redirect", "/slow-hop")
    start = time.monotonic()
    with pytest.raises(Refused, match="over the deadline"):
        fetch(FetchPolicy(allow_private_network=True, deadline=1.0), site.base + "/hop0")
    assert time.monotonic() - start < 2.5


def test_a_refused_url_is_refused_again_unfetched(site):
    """img2dataset retries failed urls: a slow server costs the deadline once, not once per try."""
    site.routes["/slow"] = ("dribble", "body", 0.2)
    policy = FetchPolicy(allow_private_network=True, deadline=1.0)
    with policy.installed():
        for attempt in range(3):
            start = time.monotonic()
            with pytest.raises(Refused, match="over the deadline"):
                urllib.request.urlopen(site.base + "/slow", timeout=5).read()
            assert time.monotonic() - start < (2.5 if attempt == 0 else 0.1)
    assert site.hits == ["/slow"]


def test_http_errors_keep_urllibs_form(site):
    with pytest.raises(urllib.error.HTTPError, match="HTTP Error 404"):
        fetch(LOOPBACK_OK, site.base + "/missing")


def test_installed_puts_the_previous_opener_back():
    before = getattr(urllib.request, "_opener", None)
    with FetchPolicy().installed():
        assert urllib.request._opener is not before
    assert getattr(urllib.request, "_opener", None) is before
