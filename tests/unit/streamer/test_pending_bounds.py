"""Bounds on connections waiting for `start`: the client address a per-source bound counts (only what
our own proxies appended is trusted), the book of waiting connections, and the open-file limit."""

from __future__ import annotations

import pytest

from streamer.client_address import client_address, source_key
from streamer.pending import ADDRESS_BUSY, BUSY, PendingStreams

PEER = "10.0.3.7"  # the ALB node (or CloudFront, or a local client) the streamer sees


@pytest.mark.parametrize(
    ("forwarded_for", "hops", "expected"),
    [
        ([], 0, PEER),  # no proxy: the TCP peer
        (["198.51.100.1"], 0, PEER),  # a header nobody trusted is ignored
        (["198.51.100.1"], 1, "198.51.100.1"),  # the ALB appended the client
        (["192.0.2.9, 203.0.113.5, 198.51.100.1"], 1, "198.51.100.1"),  # what the client wrote: ignored
        (["192.0.2.9, 203.0.113.5", "198.51.100.1"], 1, "198.51.100.1"),  # several header lines: one list
        (["192.0.2.9, 198.51.100.1, 130.176.0.4"], 2, "198.51.100.1"),  # CloudFront's, then the ALB's
        (["130.176.0.4"], 2, PEER),  # fewer entries than proxies: not through them
        (["198.51.100.1:51234"], 1, "198.51.100.1"),  # the ALB's xff_client_port
        (["[2001:db8:1:2::9]:443"], 1, "2001:db8:1:2::/64"),
        (["  198.51.100.1  "], 1, "198.51.100.1"),
        (["garbage"], 1, "garbage"),  # not an address: still one source
    ],
)
def test_the_client_is_the_entry_the_trusted_proxies_added(
    forwarded_for: list[str], hops: int, expected: str
) -> None:
    assert client_address(forwarded_for, PEER, hops) == expected


def test_an_ipv6_subscriber_s_prefix_is_one_source() -> None:
    assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("::ffff:198.51.100.1") == "198.51.100.1"
    assert len(source_key("x" * 500)) == 64


def test_pending_streams_have_a_bound_per_address_inside_the_task_s() -> None:
    pending: PendingStreams[str] = PendingStreams(cap=3, per_address_cap=2)
    pending.add("a1", "A")
    pending.add("a2", "A")
    assert pending.refusal("A") == ADDRESS_BUSY
    assert pending.refusal("B") is None
    pending.add("b1", "B")
    assert pending.refusal("C") == BUSY  # the task's bound first
    pending.discard("a1")
    pending.discard("a1")  # twice: counted once
    assert (len(pending), pending.waiting_from("A"), pending.refusal("A")) == (2, 1, None)
    pending.discard("a2")
    pending.discard("b1")
    assert not pending
    assert pending.waiting_from("A") == 0


def test_the_open_file_limit_is_raised_for_the_limits_or_fewer_connections_wait() -> None:
    """In a child process with a hard limit of 1500 open files and a soft one of 1024: the soft limit
    is raised to the hard one, and only what is left beside HARD_MAX_CALLS calls may wait."""
    import subprocess
    import sys

    probe = (
        "import resource; from streamer import fd_limit; from streamer.config import LimitSettings; "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1500)); "
        "print(fd_limit.pending_cap(LimitSettings()), resource.getrlimit(resource.RLIMIT_NOFILE)[0]); "
        "print(fd_limit.pending_cap(LimitSettings(max_pending_streams=100, max_calls=50))[0])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    # defaults: 2048 waiting + 250 calls x 4 + 256 reserved = 3304 wanted; 1500 - 1000 - 256 left
    assert out.split("\n")[:2] == ["(244, 1500) 1500", "100"]
