"""The file descriptors the streamer's limits need, and this process's soft limit raised to them.

A call holds its Twilio socket, one Deepgram socket per track and, in agent mode, its TTS socket; a
connection waiting for `start` holds one socket. A process out of descriptors stops accepting
(asyncio pauses its accept loop), which would refuse Twilio too. So at start the server raises its
soft RLIMIT_NOFILE towards what HARD_MAX_CALLS and MAX_PENDING_STREAMS need (never above the hard
limit) and, when that is still short, lets fewer connections wait than configured rather than run out.
Fargate's default is 65535 soft and hard (docs/deploy.md), far above the defaults' need.
"""

from __future__ import annotations

import resource

from streamer.config import LimitSettings

FDS_PER_CALL = 4  # the Twilio socket, a Deepgram socket per track (two), agent mode's TTS socket
RESERVED_FDS = 256  # the listening socket, AWS and vendor HTTP clients, logs, the interpreter's own
MIN_PENDING = 16  # even on a starved limit, a few upgrades may wait for their `start`


def needed(limits: LimitSettings) -> int:
    return limits.max_pending_streams + limits.hard_cap * FDS_PER_CALL + RESERVED_FDS


def raise_soft_limit(wanted: int) -> int:
    """Raise the soft limit on open files to `wanted` (at most the hard limit); the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def pending_cap(limits: LimitSettings) -> tuple[int, int]:
    """(connections that may wait for `start`, open files available): MAX_PENDING_STREAMS, or fewer
    when this process cannot have the descriptors for them next to HARD_MAX_CALLS calls."""
    wanted = needed(limits)
    available = raise_soft_limit(wanted)
    if available >= wanted:
        return limits.max_pending_streams, available
    left = available - limits.hard_cap * FDS_PER_CALL - RESERVED_FDS
    return max(MIN_PENDING, min(limits.max_pending_streams, left)), available
