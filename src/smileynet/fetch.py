"""The one fetch policy for every URL the project opens.

A URL in a release CSV or a post's media list is outside input: it may name a local file
(`file:///etc/passwd`), another protocol (`ftp://`), the cloud metadata service
(`http://169.254.169.254/`), a machine on the private network, or a server that never stops
sending. The policy:

- `http` and `https` only, checked on the first URL and again on every redirect;
- every address a host name resolves to is checked before any connection is made (an IPv6
  address that carries an IPv4 one, such as ::ffff:a.b.c.d or NAT64's 64:ff9b::a.b.c.d, is
  checked as that IPv4 address), and the connection goes to the checked address (a second DNS
  answer cannot swap it). Loopback and
  private addresses are refused unless `allow_private_network`; link-local (the metadata
  service), multicast, unspecified and reserved addresses are always refused: no image host
  lives there;
- at most `max_bytes` of body, read in chunks (a larger `Content-Length` is refused unread);
- one `deadline` for the whole fetch (connect, redirects, headers, body), on top of the
  per-read `timeout`: a server dribbling one byte every few seconds is cut off.

The policy is a `urllib.request` opener. img2dataset's downloader fetches with
`urllib.request.urlopen`, which uses the process's installed opener, so `installed()` plugs the
policy into img2dataset without touching its code: its retries, X-Robots-Tag check, hashing and
writers stay as they are. Proxies from the environment are not used: through a proxy the policy
could not see the address it connects to.
"""

from __future__ import annotations

import heapq
import http.client
import ipaddress
import itertools
import os
import socket
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

SCHEMES = ("http", "https")
MAX_BYTES = 20_000_000  # Mastodon, the largest of the sources, takes uploads up to 16 MB
DEADLINE = 30.0
CHUNK = 64 * 1024
PRIVATE_KINDS = ("loopback address", "private address")  # what --allow-private-network allows


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: a NAT64 gateway forwards to the last 32 bits
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291's deprecated ::a.b.c.d


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv6 address carries and leads to, if any: IPv4-mapped
    (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::) and IPv4-compatible
    (::a.b.c.d, but not :: or ::1, which are IPv6's own unspecified and loopback addresses)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return ip.sixtofour


class Refused(Exception):
    """A fetch the policy stopped. The text before " (" is the reason the download summary counts,
    so it never carries the URL or the address (one key per kind of refusal)."""


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = MAX_BYTES
    deadline: float = DEADLINE
    allow_private_network: bool = False

    def refusal(self, address: str) -> str | None:
        """Why a connection to the IP `address` is refused, or None when it is allowed."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
        if isinstance(ip, ipaddress.IPv6Address):
            ip = embedded_ipv4(ip) or ip
        if ip.is_unspecified:
            return "unspecified address"
        if ip.is_link_local:
            return "link-local address"
        if ip.is_multicast:
            return "multicast address"
        if ip.is_loopback:
            kind = "loopback address"
        elif ip.is_global:
            return None
        elif ip.is_reserved:
            return "reserved address"
        else:
            kind = "private address"
        return None if self.allow_private_network else kind

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener that fetches only what the policy allows."""
        opener = _RefusalMemo()
        for handler in (
            _PolicyHandler(self),
            _HTTPHandler(self),
            _HTTPSHandler(self),
            _RedirectHandler(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
            urllib.request.UnknownHandler(),
        ):
            opener.add_handler(handler)
        return opener

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Make `urllib.request.urlopen` (what img2dataset calls) fetch through this policy for
        the block, then put back the opener there was."""
        previous = getattr(urllib.request, "_opener", None)  # urllib keeps no public getter
        urllib.request.install_opener(self.opener())
        try:
            yield
        finally:
            urllib.request.install_opener(previous)


class _RefusalMemo(urllib.request.OpenerDirector):
    """An opener that answers a url it has refused once with the same refusal, unfetched.
    img2dataset retries every failed url (`--retries`); without this, a server that dribbles
    bytes would hold a thread for the deadline once per try. One opener serves one shard, so
    the memo holds at most a shard's urls."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: dict[str, str] = {}

    def open(self, fullurl, *args, **kwargs):
        url = fullurl if isinstance(fullurl, str) else fullurl.full_url
        if url in self.refused:
            raise Refused(self.refused[url])
        try:
            response = super().open(fullurl, *args, **kwargs)
        except Refused as err:
            self.refused[url] = str(err)
            raise
        response.on_refused = partial(self.refused.__setitem__, url)  # a body over the limits, later
        return response


def check_scheme(url: str) -> None:
    """Refuse anything but http and https (file, ftp, data...): urllib would open them all."""
    if urlsplit(url).scheme.lower() not in SCHEMES:
        raise Refused("refused: not http or https")


class _PolicyHandler(urllib.request.BaseHandler):
    """Runs before any protocol handler: the scheme check, and the deadline of the whole fetch
    (a redirect's request inherits it). Also bounds every response, redirects' bodies included
    (urllib reads those whole before following)."""

    handler_order = 100

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy

    def default_open(self, req: urllib.request.Request) -> None:
        check_scheme(req.full_url)
        if not hasattr(req, "deadline"):
            cast(Any, req).deadline = time.monotonic() + self.policy.deadline
        return None  # go on to the http/https handler

    def http_response(self, req, response):
        return _BoundedResponse(response, self.policy, req.deadline)

    https_response = http_response


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, with the target's scheme checked first (urllib itself would follow
    `ftp://`) and the deadline carried over to the next request."""

    def http_error_302(self, req, fp, code, msg, headers):
        target = headers.get("location") or headers.get("uri")
        if target:
            try:
                check_scheme(urljoin(req.full_url, target))
            except Refused:
                fp.close()
                raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.deadline = req.deadline
        return new


class _VettedConnection(http.client.HTTPConnection):
    """An http.client connection whose socket goes only to an address the policy allows (the
    address it checked: the name is not resolved twice), watched for the fetch's deadline."""

    def __init__(self, *args, policy: FetchPolicy, deadline: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.policy, self.deadline = policy, deadline
        self._create_connection = self._vetted_connection  # http.client's hook for opening the socket

    def _vetted_connection(self, address, timeout, source_address=None) -> socket.socket:
        host, port = address
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for *_, sockaddr in infos:  # one refused address refuses the name: no mixing a public and a private answer
            reason = self.policy.refusal(str(sockaddr[0]))
            if reason:
                hint = " (--allow-private-network allows it)" if reason in PRIVATE_KINDS else ""
                raise Refused(f"refused: {reason}{hint}")
        error: OSError = OSError(f"no address for {host}")
        for *_, sockaddr in infos:
            try:
                return socket.create_connection((str(sockaddr[0]), int(sockaddr[1])), timeout, source_address)
            except OSError as err:
                error = err
        raise error

    def connect(self) -> None:
        if time.monotonic() >= self.deadline:
            raise _over_deadline(self.policy)
        super().connect()
        _WATCHDOG.watch(self.sock, self.deadline)


class _HTTPConnection(_VettedConnection, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_VettedConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__()
        self.policy = policy

    def http_open(self, req):
        return _open(self, req, _HTTPConnection)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__()
        self.policy = policy

    def https_open(self, req):
        return _open(self, req, _HTTPSConnection, context=self._context)


def _open(handler, req, connection, **kwargs):
    """urllib's own `do_open` on the vetted connection; a failure once the deadline has passed
    (the watchdog shut the socket) is counted as the deadline."""
    try:
        return handler.do_open(partial(connection, policy=handler.policy, deadline=req.deadline), req, **kwargs)
    except Refused:
        raise
    except Exception:
        if time.monotonic() >= req.deadline:
            raise _over_deadline(handler.policy) from None
        raise


def _over_deadline(policy: FetchPolicy) -> Refused:
    return Refused(f"refused: over the deadline ({policy.deadline:g} s for the whole download)")


class _BoundedResponse:
    """A response whose body reads stop at `max_bytes` and at the deadline; the rest is the response's."""

    def __init__(self, response, policy: FetchPolicy, deadline: float) -> None:
        self._response, self._policy, self._deadline = response, policy, deadline
        self._read = 0
        self.on_refused = lambda reason: None
        declared = response.headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > policy.max_bytes:
            response.close()
            raise self._too_large()

    def _too_large(self) -> Refused:
        return Refused(f"refused: over --max-bytes ({self._policy.max_bytes:,})")

    def _refuse(self, err: Refused) -> Refused:
        self.close()
        self.on_refused(str(err))
        return err

    def read(self, amt: int | None = None) -> bytes:
        want = self._policy.max_bytes + 1 - self._read if amt is None or amt < 0 else amt
        chunks = []
        while want > 0:
            try:
                chunk = self._response.read(min(CHUNK, want))
            except Exception:
                self._check_deadline()
                raise
            self._check_deadline()  # an end of body caused by the watchdog is not the real end
            if not chunk:
                break
            self._read += len(chunk)
            if self._read > self._policy.max_bytes:
                raise self._refuse(self._too_large())
            chunks.append(chunk)
            want -= len(chunk)
            if amt is not None and amt >= 0:
                break
        return b"".join(chunks)

    def _check_deadline(self) -> None:
        if time.monotonic() >= self._deadline:
            raise self._refuse(_over_deadline(self._policy))

    def close(self) -> None:
        self._response.close()

    def __getattr__(self, name: str):
        return getattr(self._response, name)

    def __enter__(self) -> _BoundedResponse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Watchdog:
    """One thread per process that shuts the socket of every fetch whose deadline has passed, so
    a read blocked in the middle of slow headers or body returns. Holds weak references only: a
    closed socket is forgotten, never shut by number."""

    def __init__(self) -> None:
        self._heap: list = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._pid = -1

    def watch(self, sock: socket.socket, deadline: float) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline, next(self._order), weakref.ref(sock)))
            if self._pid != os.getpid():  # first use in this process (or a forked child)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="fetch-deadline", daemon=True).start()
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    sock = heapq.heappop(self._heap)[2]()
                    if sock is not None:
                        try:  # the plain socket's shutdown, under TLS too: the TLS reader sees the end
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                        except OSError:
                            pass  # already closed
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()
