"""AppSync Events channel paths: what a valid one is, and which subscriptions a published event reaches.

As AppSync Events documents them: a path is `/namespace/segment/...` (the leading slash optional),
at most five segments with the namespace, each 1-50 letters, digits or dashes; a subscription may end
in the wildcard segment `*`, which matches one or more segments below its prefix (`/calls/*` gets
`/calls/live` and `/calls/CA…`), while a publish names one concrete channel. Only channels of a
configured namespace exist.
"""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_SEGMENTS = 5
WILDCARD = "*"
_SEGMENT = re.compile(r"[A-Za-z0-9-]{1,50}")

Channel = tuple[str, ...]


class ChannelError(ValueError):
    """Not a channel path this API accepts; the message says why."""


def parse_channel(path: object, namespaces: Collection[str], *, wildcard: bool) -> Channel:
    """The segments of `path`; ChannelError when it is malformed, names no configured namespace,
    or uses the wildcard where it is not allowed (a publish, or anywhere but the last segment)."""
    if not isinstance(path, str) or not path.strip("/"):
        raise ChannelError("channel must be a path such as /namespace/name")
    segments = tuple(path[1:].split("/") if path.startswith("/") else path.split("/"))
    if len(segments) > MAX_SEGMENTS:
        raise ChannelError(f"channel has more than {MAX_SEGMENTS} segments")
    for position, segment in enumerate(segments):
        if segment == WILDCARD:
            if not wildcard:
                raise ChannelError("a channel to publish to cannot contain a wildcard")
            if position != len(segments) - 1 or position == 0:
                raise ChannelError("the wildcard may only be the last segment, after the namespace")
        elif not _SEGMENT.fullmatch(segment):
            raise ChannelError(f"channel segment {segment[:60]!r} is not 1-50 letters, digits or dashes")
    if segments[0] not in namespaces:
        raise ChannelError(f"no channel namespace named {segments[0]!r}")
    return segments


def reaches(subscription: Channel, channel: Channel) -> bool:
    """True when an event published on `channel` is delivered to `subscription`."""
    if subscription and subscription[-1] == WILDCARD:
        prefix = subscription[:-1]
        return len(channel) > len(prefix) and channel[: len(prefix)] == prefix
    return subscription == channel


def path_of(channel: Channel) -> str:
    return "/" + "/".join(channel)
