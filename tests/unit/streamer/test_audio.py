"""The mu-law encoder, and the track timeline: silence fill, anchors across long gaps, confirmation
and the memory bound."""

from __future__ import annotations

from streamer.audio import MULAW_SILENCE, ConnectionClock, TrackAudio, linear_to_mulaw

FRAME = b"\x10" * 160  # 20 ms


def test_mulaw_encoding_matches_the_g711_reference_encoder() -> None:
    # expected values from CPython's audioop.lin2ulaw (the CCITT reference code)
    linear = (0, -1, 100, -100, 32767, -32768, 1000)
    assert [linear_to_mulaw(v) for v in linear] == [255, 126, 242, 114, 128, 0, 206]


def test_contiguous_frames_map_bytes_to_media_timestamps() -> None:
    audio = TrackAudio(max_bytes=80_000)
    for i in range(5):
        audio.append(1000 + 20 * i, FRAME)
    assert audio.end == 800
    assert audio.stream_seconds(0) == 1.0
    assert audio.stream_seconds(800) == 1.1


def test_short_gap_is_filled_with_silence_so_deepgram_hears_real_time() -> None:
    audio = TrackAudio(max_bytes=80_000, max_silence_fill_ms=1000)
    audio.append(0, FRAME)
    audio.append(100, FRAME)  # 80 ms missing
    assert audio.end == 160 + 640 + 160
    _, data = audio.pending(160, 640)
    assert data == bytes([MULAW_SILENCE]) * 640
    assert audio.stream_seconds(800) == 0.1


def test_long_gap_starts_a_new_anchor_instead_of_sending_silence() -> None:
    audio = TrackAudio(max_bytes=80_000, max_silence_fill_ms=1000)
    audio.append(0, FRAME)
    audio.append(60_000, FRAME)  # a minute later (e.g. the stream was paused)
    assert audio.end == 320
    assert audio.stream_seconds(100) == 0.0125
    assert audio.stream_seconds(160) == 60.0
    assert audio.stream_seconds(160, end=True) == 0.02  # the end of the stretch before the gap
    assert audio.stream_seconds(240) == 60.01


def test_jitter_of_a_millisecond_or_two_is_not_a_gap() -> None:
    audio = TrackAudio(max_bytes=80_000)
    audio.append(0, FRAME)
    audio.append(22, FRAME)
    assert audio.end == 320


def test_confirm_forgets_audio_but_keeps_the_anchor_that_maps_what_is_left() -> None:
    audio = TrackAudio(max_bytes=80_000, max_silence_fill_ms=0)
    audio.append(0, FRAME)
    audio.append(5000, FRAME)
    audio.append(5020, FRAME)
    audio.confirm(200)
    assert audio.confirmed == 200
    assert audio.buffered_bytes == 280
    assert audio.stream_seconds(240) == 5.01
    start, data = audio.pending(0, 10_000)
    assert (start, len(data)) == (200, 280)
    audio.confirm(100)  # never moves back
    assert audio.confirmed == 200


def test_buffer_is_bounded_and_reports_what_it_dropped() -> None:
    audio = TrackAudio(max_bytes=800)
    dropped = [audio.append(20 * i, FRAME) for i in range(7)]
    assert dropped == [0, 0, 0, 0, 0, 160, 160]
    assert audio.buffered_bytes == 800
    assert audio.confirmed == 320
    assert audio.dropped_bytes == 320
    assert audio.stream_seconds(audio.confirmed) == 0.04


def test_connection_clock_maps_its_seconds_to_track_bytes_across_a_skip() -> None:
    clock = ConnectionClock(origin=16_000)
    clock.sent(16_000, 8000)
    assert clock.index_at(0.5) == 20_000
    clock.sent(40_000, 8000)  # the replay buffer overflowed while this connection lagged behind
    assert clock.index_at(1.0) == 40_000
    assert clock.index_at(1.5) == 44_000
    assert clock.next_index == 48_000
