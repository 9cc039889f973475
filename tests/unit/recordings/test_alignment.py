"""Recording time onto stream time: the timestamps' prior, refined by the words both sources heard."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from functions.recordings.alignment import NONE, TIMESTAMPS, WORDS, estimate_offset, timestamp_prior
from functions.recordings.words import segment_tokens
from tests.support.synthetic_call import STREAM_STARTED_AT, synthetic_call


def test_a_known_offset_is_recovered_from_a_whole_second_recording_start() -> None:
    call = synthetic_call(seconds=60, offset=3.37, live_errors=0.1, recording_errors=0.05)
    prior = timestamp_prior(call.recording_started_at, call.stream_started_at)
    assert prior == pytest.approx(2.75)  # 10:00:03 (truncated) - 10:00:00.250: 0.62 s off
    alignment = estimate_offset(
        call.words,
        call.live,
        recording_started_at=call.recording_started_at,
        stream_started_at=call.stream_started_at,
    )
    assert alignment.method == WORDS
    assert alignment.offset == pytest.approx(3.37, abs=0.05)
    assert alignment.matches >= 20
    assert alignment.prior == pytest.approx(2.75)


@pytest.mark.parametrize("offset", [0.4, 7.9, 31.25])
def test_without_a_stream_start_the_words_alone_find_the_offset(offset: float) -> None:
    call = synthetic_call(seconds=offset + 45, offset=offset, seed=7)
    alignment = estimate_offset(
        call.words, call.live, recording_started_at=call.recording_started_at, stream_started_at=None
    )
    assert alignment.method == WORDS
    assert alignment.offset == pytest.approx(offset, abs=0.05)
    assert alignment.prior is None


def test_mismatched_words_and_a_shuffled_input_change_nothing() -> None:
    call = synthetic_call(seconds=40, live_errors=0.3, recording_errors=0.2, seed=21)
    kwargs = {"recording_started_at": call.recording_started_at, "stream_started_at": call.stream_started_at}
    first = estimate_offset(call.words, call.live, **kwargs)
    words, live = list(call.words), list(call.live)
    random.Random(1).shuffle(words)
    random.Random(2).shuffle(live)
    assert estimate_offset(words, live, **kwargs) == first
    assert first.offset == pytest.approx(3.37, abs=0.05)


def test_too_few_shared_words_leave_the_timestamps_or_nothing() -> None:
    call = synthetic_call(seconds=60)
    started = call.stream_started_at
    recorded = started + timedelta(seconds=4)
    no_live = estimate_offset(call.words, [], recording_started_at=recorded, stream_started_at=started)
    assert (no_live.method, no_live.offset, no_live.matches) == (TIMESTAMPS, 4.0, 0)
    nothing = estimate_offset(call.words, [], recording_started_at=recorded, stream_started_at=None)
    assert (nothing.method, nothing.offset) == (NONE, 0.0)
    assert estimate_offset([], call.live, recording_started_at=None, stream_started_at=None).method == NONE


def test_the_words_never_move_the_offset_outside_the_prior_window() -> None:
    call = synthetic_call(seconds=60, offset=3.37)
    wrong_start = STREAM_STARTED_AT - timedelta(seconds=5)  # a prior 5 s off: the words cannot reach
    alignment = estimate_offset(
        call.words, call.live, recording_started_at=call.recording_started_at, stream_started_at=wrong_start
    )
    assert alignment.method == TIMESTAMPS
    assert alignment.offset == pytest.approx(7.75)


def test_live_tokens_get_exact_boundaries_and_interpolated_insides() -> None:
    tokens = segment_tokens("Hello, there my friend!", 10.0, 12.0)
    assert [(t.token, t.kind) for t in tokens] == [
        ("hello", "start"),
        ("there", "inner"),
        ("my", "inner"),
        ("friend", "end"),
    ]
    assert (tokens[0].time, tokens[-1].time) == (10.0, 12.0)
    assert 10.0 < tokens[1].time < tokens[2].time < 12.0
    assert [(t.kind, t.time) for t in segment_tokens("OK.", 3.0, 3.4)] == [("start", 3.0), ("end", 3.4)]
    assert segment_tokens(" ... ", 0.0, 1.0) == []


@pytest.mark.parametrize("seed", range(12))
def test_a_live_transcript_that_kept_one_or_two_segments_still_aligns_well(seed: int) -> None:
    call = synthetic_call(seconds=60, seed=seed, missing={"inbound": [(5, 55)], "outbound": [(5, 55)]})
    alignment = estimate_offset(
        call.words,
        call.live,
        recording_started_at=call.recording_started_at,
        stream_started_at=call.stream_started_at,
    )
    if not call.live:
        assert alignment.method == TIMESTAMPS
        return
    assert alignment.method == WORDS
    assert alignment.offset == pytest.approx(call.offset, abs=0.1)
