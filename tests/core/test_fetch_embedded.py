"""IPv6 addresses that carry an IPv4 address are checked as that IPv4 address: a NAT64 gateway, a
6to4 relay or a dual-stack socket would take the connection there."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smileynet.fetch import FetchPolicy, embedded_ipv4


def forms(v4: ipaddress.IPv4Address) -> list[str]:
    n = int(v4)
    return [
        f"::ffff:{v4}",
        str(ipaddress.IPv6Address((0x0064_FF9B << 96) | n)),
        str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80))),
        *([f"::{v4}"] if n > 1 else []),
    ]


@pytest.mark.parametrize(
    "address, reason",
    [
        ("64:ff9b::a9fe:a9fe", "link-local address"),
        ("64:ff9b::127.0.0.1", "loopback address"),
        ("64:ff9b::10.0.0.1", "private address"),
        ("2002:a9fe:a9fe::", "link-local address"),
        ("2002:7f00:1::1", "loopback address"),
        ("2002:c0a8:101::", "private address"),
        ("::169.254.169.254", "link-local address"),
        ("::10.1.2.3", "private address"),
        ("::ffff:127.0.0.1", "loopback address"),
        ("::1", "loopback address"),
        ("::", "unspecified address"),
    ],
)
def test_ipv4_carried_in_ipv6_is_refused_like_the_ipv4_address(address, reason):
    assert FetchPolicy().refusal(address) == reason


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::8.8.8.8", "::ffff:8.8.8.8"])
def test_a_public_ipv4_carried_in_ipv6_is_allowed(address):
    assert FetchPolicy().refusal(address) is None


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_every_form_gets_the_verdict_of_its_ipv4_address(n, allow_private):
    v4 = ipaddress.IPv4Address(n)
    policy = FetchPolicy(allow_private_network=allow_private)
    for address in forms(v4):
        assert embedded_ipv4(ipaddress.IPv6Address(address)) == v4, address
        assert policy.refusal(address) == policy.refusal(str(v4)), address


@given(st.integers(0, 2**128 - 1))
def test_any_ipv6_address_gets_a_verdict(n):
    verdict = FetchPolicy().refusal(str(ipaddress.IPv6Address(n)))
    assert verdict is None or isinstance(verdict, str)
