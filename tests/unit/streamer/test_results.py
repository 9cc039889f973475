"""How a track turns Deepgram results into stored segments: real captured payloads, stream-time
offsets, and the de-duplication rule. (Pure logic: no socket is involved at this level.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from streamer import deepgram_messages as dg
from streamer.audio import ConnectionClock, TrackAudio
from streamer.calllog import CallLog
from streamer.config import DeepgramSettings
from streamer.deepgram import Segment, TrackTranscriber
from streamer.metrics import StreamerMetrics

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepgram"


def _fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


class Harness:
    def __init__(
        self,
        seconds_of_audio: float,
        first_timestamp_ms: int = 0,
        on_event: Callable[[dg.ListenEvent], None] | None = None,
    ) -> None:
        self.segments: list[Segment] = []
        self.metrics = StreamerMetrics("test")
        self.audio = TrackAudio(max_bytes=10**7)
        frames = int(seconds_of_audio * 50)
        for i in range(frames):
            self.audio.append(first_timestamp_ms + 20 * i, b"\x20" * 160)
        self.track = TrackTranscriber(
            "inbound",
            self.audio,
            DeepgramSettings(url="ws://unused", api_key=SecretStr("k")),
            on_segment=self.segments.append,
            on_failure=lambda track, reason: None,
            metrics=self.metrics,
            log=CallLog(call_sid="CAtest"),
            on_event=on_event,
        )

    def connection(self, origin_seconds: float) -> ConnectionClock:
        clock = ConnectionClock(round(origin_seconds * 8000))
        clock.sent(clock.next_index, self.audio.end - clock.next_index)
        return clock


def _result(start: float, duration: float, words: list[tuple[str, float, float]]) -> str:
    return json.dumps(
        {
            "type": "Results",
            "start": start,
            "duration": duration,
            "is_final": True,
            "speech_final": False,
            "channel": {
                "alternatives": [
                    {
                        "transcript": " ".join(w for w, _, _ in words),
                        "confidence": 0.9,
                        "words": [
                            {"word": w, "start": s, "end": e, "confidence": 0.9, "punctuated_word": w.title()}
                            for w, s, e in words
                        ],
                    }
                ]
            },
        }
    )


def test_real_final_result_becomes_one_segment_timed_by_its_words() -> None:
    harness = Harness(seconds_of_audio=30)
    clock = harness.connection(0)
    assert harness.track.handle_message(json.dumps(_fixture("03_results_final_speech_final.json")), clock)
    (segment,) = harness.segments
    assert segment.text == "This is the Oh, no. I meant all then."
    assert (segment.start, segment.end) == (14.08, 16.58)
    assert segment.confidence == pytest.approx(0.8676758)
    assert harness.audio.confirmed == round((12.08 + 4.7700005) * 8000)


def test_interim_results_and_metadata_are_never_stored() -> None:
    harness = Harness(seconds_of_audio=30)
    clock = harness.connection(0)
    harness.track.handle_message(json.dumps(_fixture("02_results_interim_words.json")), clock)
    harness.track.handle_message(json.dumps(_fixture("06_metadata_full_session_end.json")), clock)
    harness.track.handle_message(json.dumps(_fixture("utterance_end.json")), clock)
    assert harness.segments == []
    assert harness.audio.confirmed == 0


def test_a_new_connection_restarts_at_zero_and_is_shifted_to_stream_time() -> None:
    # stream starts at media.timestamp 3000 ms; the second connection replays from 4.0 s of audio
    harness = Harness(seconds_of_audio=10, first_timestamp_ms=3000)
    first = harness.connection(0)
    harness.track.handle_message(_result(0.0, 4.0, [("hello", 0.5, 1.0), ("there", 1.0, 1.5)]), first)
    second = harness.connection(4.0)
    harness.track.handle_message(_result(0.0, 2.0, [("again", 0.25, 0.75)]), second)
    assert [(s.text, s.start, s.end) for s in harness.segments] == [
        ("hello there", 3.5, 4.5),
        ("again", 7.25, 7.75),
    ]


def test_results_already_stored_are_dropped_and_overlapping_words_trimmed() -> None:
    harness = Harness(seconds_of_audio=10)
    first = harness.connection(0)
    harness.track.handle_message(_result(0.0, 2.0, [("one", 0.0, 0.5), ("two", 1.0, 1.5)]), first)
    # a replacement connection that (say, after an overflow) replays from 1.0 s: its first final
    # repeats "two" and adds "three"; then an exact repeat of an already stored stretch arrives
    replay = harness.connection(1.0)
    harness.track.handle_message(_result(0.0, 2.0, [("two", 0.0, 0.5), ("three", 1.5, 1.9)]), replay)
    harness.track.handle_message(_result(0.0, 1.0, [("two", 0.0, 0.5)]), replay)
    assert [(s.text, s.start, s.end) for s in harness.segments] == [
        ("one two", 0.0, 1.5),
        ("Three", 2.5, 2.9),
    ]
    assert harness.metrics.totals["DuplicateResults"] == 1


def test_empty_finals_confirm_audio_without_storing_anything() -> None:
    harness = Harness(seconds_of_audio=5)
    clock = harness.connection(0)
    harness.track.handle_message(_result(0.0, 1.5, []), clock)
    assert harness.segments == []
    assert harness.audio.confirmed == 12_000


def test_malformed_results_are_skipped() -> None:
    harness = Harness(seconds_of_audio=5)
    clock = harness.connection(0)
    harness.track.handle_message('{"type": "Results", "is_final": true}', clock)
    harness.track.handle_message("not json", clock)
    assert harness.segments == []


def test_the_listener_hears_typed_events_but_not_replays_or_malformed_results() -> None:
    heard: list[dg.ListenEvent] = []
    harness = Harness(seconds_of_audio=10, on_event=heard.append)
    first = harness.connection(0)
    assert harness.track.handle_message(_result(0.0, 2.0, [("one", 0.0, 0.5)]), first)
    assert not harness.track.handle_message(json.dumps(_fixture("utterance_end.json")), first)
    replay = harness.connection(0.0)  # a reconnect that hears the same stretch again
    assert harness.track.handle_message(_result(0.0, 2.0, [("one", 0.0, 0.5)]), replay)
    # malformed: skipped by storage and listener alike, but it still shows the connection works
    assert harness.track.handle_message('{"type": "Results", "is_final": true}', replay)
    assert [type(e) for e in heard] == [dg.Results, dg.UtteranceEnd]
    assert [s.text for s in harness.segments] == ["one"]
