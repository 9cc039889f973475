"""The agent's view of its call: what the session lends it (identity, the Twilio socket, storage)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streamer.deepgram import Segment


@dataclass(frozen=True)
class CallLine:
    """Everything agent mode may touch of the call's `CallSession`, and nothing else: the session
    stays the one owner of the sockets, the writes and the transcript's end."""

    call_sid: str
    account_sid: str
    stream_sid: str
    send: Callable[[str], Awaitable[None]]
    close_stream: Callable[[], Awaitable[None]]
    store_segment: Callable[[Segment], None]
