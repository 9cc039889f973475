"""Deepgram pre-recorded responses read into words per track (fixtures: tests/fixtures/deepgram/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.recordings.deepgram_batch import BatchResponseError, parse_response, track_of_channel
from functions.recordings.words import Word

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepgram"


def _load(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_a_real_one_channel_response_is_the_inbound_track_with_punctuated_words() -> None:
    transcript = parse_response(_load("prerecorded_nova3_mono.json"))
    assert transcript.channels == 1
    assert set(transcript.words) == {"inbound"}
    words = transcript.words["inbound"]
    assert len(words) == 52
    assert words[0] == Word("inbound", 0.32, 0.79999995, "We,", 0.8624499)
    assert words[-1].text == "America."
    assert (transcript.model, transcript.duration) == ("general-nova-3", 19.097937)
    assert transcript.request_id == "770e7ea1-1ca5-4ec5-9d04-889b77de2f61"


def test_a_two_channel_response_maps_channel_0_inbound_and_1_outbound() -> None:
    transcript = parse_response(_load("prerecorded_multichannel_constructed.json").encode())
    inbound, outbound = transcript.words["inbound"], transcript.words["outbound"]
    assert (len(inbound), len(outbound)) == (23, 15)
    assert inbound[0] == Word("inbound", 0.94, 1.06, "thank", 0.9963781)  # no punctuated_word: `word`
    assert outbound[0].start == pytest.approx(4.0095854)
    assert {w.track for w in outbound} == {"outbound"}
    assert [w.text for w in transcript.all_words()][:2] == ["thank", "you"]


def test_extra_fields_are_ignored_and_words_come_back_in_time_order() -> None:
    payload: dict[str, Any] = {
        "metadata": {"request_id": "r1", "something_new": {"x": 1}},
        "results": {
            "channels": [
                {
                    "alternatives": [
                        {
                            "words": [
                                {"word": "b", "start": 1.0, "end": 1.2, "confidence": 0.9, "speaker": 0},
                                {"word": "a", "start": 0.5, "end": 0.4},  # end before start: clamped
                            ],
                            "languages": ["en"],
                        }
                    ],
                    "detected_language": "en",
                },
                {"alternatives": []},
            ],
            "utterances": [],
        },
    }
    transcript = parse_response(payload)
    assert transcript.words["inbound"] == (
        Word("inbound", 0.5, 0.5, "a", None),
        Word("inbound", 1.0, 1.2, "b", 0.9),
    )
    assert transcript.words["outbound"] == ()
    assert transcript.model is None


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        json.dumps({"metadata": {}}),
        json.dumps({"results": {"channels": []}}),
        json.dumps({"results": {"channels": [{"alternatives": [{"words": [{"word": "x"}]}]}]}}),
        json.dumps({"results": {"channels": [{"alternatives": []}] * 3}}),
    ],
)
def test_a_response_we_cannot_use_raises(payload: str) -> None:
    with pytest.raises(BatchResponseError):
        parse_response(payload)


def test_channels_map_to_tracks_as_twilio_records_them() -> None:
    assert [track_of_channel(0, 1), track_of_channel(0, 2), track_of_channel(1, 2)] == [
        "inbound",
        "inbound",
        "outbound",
    ]


def test_an_unusable_answer_is_described_without_the_words_in_it() -> None:
    """The error is logged by the handler: it names where the answer is wrong, never its words."""
    answer = {
        "results": {
            "channels": [
                {"alternatives": [{"transcript": "card 4111", "words": [{"word": "4111", "start": "4111"}]}]}
            ]
        }
    }
    with pytest.raises(BatchResponseError) as error:
        parse_response(json.dumps(answer).encode())
    assert "4111" not in str(error.value)
    assert error.value.__cause__ is None


def _answer(*words: dict[str, Any]) -> dict[str, Any]:
    return {"results": {"channels": [{"alternatives": [{"words": list(words)}]}]}}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="JSON nested 100k deep"),
        pytest.param(
            '{"results": {"channels": [{"alternatives": [{"words": '
            '[{"word": "a", "start": Infinity, "end": Infinity}]}]}]}}',
            id="Infinity times",
        ),
        pytest.param(
            '{"results": {"channels": [{"alternatives": [{"words": '
            '[{"word": "a", "start": 1.0, "end": NaN}]}]}]}}',
            id="NaN time",
        ),
        pytest.param(json.dumps(_answer({"word": "a", "start": -3.5, "end": -3.2})), id="negative time"),
        pytest.param(
            '{"metadata": {"duration": -Infinity}, "results": {"channels": [{"alternatives": []}]}}',
            id="infinite duration",
        ),
    ],
)
def test_an_answer_that_cannot_be_true_is_a_bad_response(payload: str) -> None:
    with pytest.raises(BatchResponseError, match="not a Deepgram pre-recorded response"):
        parse_response(payload)


def test_a_repeated_word_is_kept_once() -> None:
    word = {"word": "yes", "start": 1.0, "end": 1.3, "confidence": 0.9, "punctuated_word": "Yes."}
    transcript = parse_response(
        _answer(word, dict(word, confidence=0.5), {"word": "no", "start": 2.0, "end": 2.2})
    )
    assert transcript.words["inbound"] == (
        Word("inbound", 1.0, 1.3, "Yes.", 0.9),
        Word("inbound", 2.0, 2.2, "no", None),
    )
    assert transcript.duplicates == 1


def test_a_word_after_the_end_of_the_recording_is_refused() -> None:
    transcript = parse_response(
        _answer({"word": "a", "start": 1.0, "end": 1.2}, {"word": "b", "start": 1e7, "end": 1e7})
    )
    with pytest.raises(BatchResponseError, match=r"recording of 60\.000 s"):
        transcript.check_within(60.0)
    parse_response(_answer({"word": "a", "start": 59.5, "end": 60.3})).check_within(60.0)  # rounding
