"""What the caller heard of the agent goes on the record: as an `outbound` segment of the call's
transcript, and (for scripted phrases, which the model did not write) into the model's history.

Called for every utterance the speaker finishes, however it finished: its last mark echoed, a
barge-in, or the stream closing (`AgentConversation.close()` interrupts what is still playing, so
the words heard before the hang-up are stored before the session flushes its writes). An utterance
nobody heard (no audio played, or nothing left of it) stores nothing.

Times are stream seconds: the playout estimate (monotonic) mapped through the stream clock, which
the inbound track's `media.timestamp`s keep (Twilio's clock, the one caller segments use).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from streamer.agent.llm import History
from streamer.agent.utterance import Utterance
from streamer.deepgram import Segment


class AgentTranscript:
    def __init__(self, store_segment: Callable[[Segment], None], history: History, started_at: float) -> None:
        self._store_segment = store_segment
        self._history = history
        self._clock = (0.0, started_at)  # (stream seconds, monotonic) of the last inbound frame
        self.segments = 0

    def on_media(self, timestamp_ms: int) -> None:
        self._clock = (timestamp_ms / 1000, time.monotonic())

    def utterance_finished(self, utterance: Utterance) -> None:
        heard = utterance.heard.strip()
        if utterance.scripted and heard:
            self._history.add("assistant", heard)
        if not heard or utterance.play_started_at is None or utterance.ended_at is None:
            return
        start = self._stream_time(utterance.play_started_at)
        end = max(start, self._stream_time(utterance.ended_at))
        self.segments += 1
        self._store_segment(
            Segment(
                track="outbound",
                text=heard,
                start=round(max(start, 0.0), 3),
                end=round(max(end, 0.0), 3),
                confidence=None,
                final_at=time.monotonic(),
            )
        )

    def _stream_time(self, monotonic: float) -> float:
        seconds, at = self._clock
        return seconds + (monotonic - at)
