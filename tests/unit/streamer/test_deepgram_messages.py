"""Deepgram live messages parsed into typed values, on real payloads (tests/fixtures/deepgram: wire
captures and Deepgram's documentation examples), and what counts as malformed."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streamer import deepgram_messages as dg

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepgram"


def _text(name: str) -> str:
    return (FIXTURES / name).read_text()


def _doc(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_text(name))
    return doc


def test_a_real_final_result_keeps_its_times_text_and_words() -> None:
    message = dg.parse(_text("03_results_final_speech_final.json"))
    assert isinstance(message, dg.Results)
    assert (message.start, message.duration) == (12.08, 4.7700005)
    assert message.end == pytest.approx(16.8500005)
    assert (message.is_final, message.speech_final) == (True, True)
    assert message.transcript == "This is the Oh, no. I meant all then."
    assert message.confidence == pytest.approx(0.8676758)
    assert len(message.words) == 9
    assert message.words[0] == dg.Word(text="This", start=14.08, end=14.4)
    assert [w.text for w in message.words[3:5]] == ["Oh,", "no."]  # punctuated forms
    assert message.has_speech


def test_a_final_that_does_not_end_speech() -> None:
    message = dg.parse(_text("04_results_final_not_speech_final.json"))
    assert isinstance(message, dg.Results)
    assert (message.is_final, message.speech_final) == (True, False)
    assert message.transcript.startswith("I guess we'll see")


def test_interim_results_with_and_without_words() -> None:
    words = dg.parse(_text("02_results_interim_words.json"))
    assert isinstance(words, dg.Results)
    assert not words.is_final
    assert [w.text for w in words.words] == ["This", "is", "the"]
    assert words.has_speech
    empty = dg.parse(_text("01_results_interim_empty.json"))
    assert isinstance(empty, dg.Results)
    assert (empty.transcript, empty.words, empty.has_speech) == ("", (), False)
    assert empty.confidence == 0.0


def test_the_documented_result_example() -> None:
    message = dg.parse(_text("results_live_streaming_doc.json"))
    assert isinstance(message, dg.Results)
    assert message.transcript == "Tell me more about this."
    assert [w.text for w in message.words] == ["Tell", "me", "more", "about", "this"]


def test_speech_started_and_utterance_end() -> None:
    assert dg.parse(_text("speech_started.json")) == dg.SpeechStarted(timestamp=9.54)
    assert dg.parse(_text("utterance_end.json")) == dg.UtteranceEnd(last_word_end=2.395)
    # only the type matters to the listener: a missing field does not drop the event
    assert dg.parse('{"type": "SpeechStarted"}') == dg.SpeechStarted(timestamp=None)
    assert dg.parse('{"type": "UtteranceEnd", "last_word_end": "x"}') == dg.UtteranceEnd(None)


@pytest.mark.parametrize(
    ("name", "duration"),
    [
        ("05_metadata_no_audio.json", 0.0),
        ("06_metadata_full_session_end.json", 44.259937),
        ("metadata_after_closestream_empty.json", 0.0),
    ],
)
def test_metadata(name: str, duration: float) -> None:
    message = dg.parse(_text(name))
    assert message == dg.Metadata(request_id=_doc(name)["request_id"], duration=duration)


def test_error_messages_are_recognised_by_type_or_error_code() -> None:
    by_type = dg.parse('{"type": "Error", "description": "bad audio"}')
    assert isinstance(by_type, dg.ErrorMessage)
    assert "bad audio" in by_type.detail
    by_code = dg.parse(json.dumps({"err_code": "INVALID", "err_msg": "x" * 1000}))
    assert isinstance(by_code, dg.ErrorMessage)
    assert len(by_code.detail) == 300


@pytest.mark.parametrize("text", ['{"type": "Warning"}', "[1, 2]", '"Results"', '{"no": "type"}'])
def test_what_the_bridge_has_no_use_for_is_none(text: str) -> None:
    assert dg.parse(text) is None


def test_non_json_is_its_own_error() -> None:
    with pytest.raises(dg.NotJsonError):
        dg.parse("not json")
    with pytest.raises(dg.NotJsonError):
        dg.parse(b"\xff\xfe")


def _final(**changes: Any) -> str:
    doc = _doc("03_results_final_speech_final.json")
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Results", "is_final": true}',
        _final(start=None),
        _final(duration="soon"),
        _final(start=float("nan")),
        _final(channel={"alternatives": []}),
        _final(channel={"alternatives": ["text"]}),
        _final(channel={"alternatives": [{"words": [{"word": "hi", "start": 0.1}]}]}),
        _final(channel={"alternatives": [{"words": [{"start": 0.1, "end": 0.2}]}]}),
        _final(channel={"alternatives": [{"confidence": "high"}]}),
    ],
)
def test_malformed_results_are_an_error_not_a_partial_value(text: str) -> None:
    with pytest.raises(dg.MalformedResultsError):
        dg.parse(text)


def test_optional_result_parts_have_defaults() -> None:
    message = dg.parse(
        json.dumps({"type": "Results", "start": 1, "duration": 2, "channel": {"alternatives": [{}]}})
    )
    assert message == dg.Results(
        start=1.0,
        duration=2.0,
        is_final=False,
        speech_final=False,
        transcript="",
        confidence=None,
        words=(),
    )
    # words that are not objects are ignored, as Deepgram never sends them
    odd = dg.parse(_final(channel={"alternatives": [{"transcript": "a", "words": ["a", None]}]}))
    assert isinstance(odd, dg.Results)
    assert odd.words == ()
    assert odd.has_speech


def _at_stack_depth(depth: int, text: str) -> dg.Message | None:
    """Parse as a reader does, some frames down the stack (json and repr share its limit)."""
    if depth == 0:
        return dg.parse(text)
    return _at_stack_depth(depth - 1, text)


def _nested(n: int) -> str:
    return "[" * n + "]" * n


def _with_nesting(template: str) -> Callable[[int], str]:
    return lambda n: template.replace("NEST", _nested(n))


_WORD = {"word": "NEST", "start": 0, "end": 1}
NESTED_KINDS: dict[str, Callable[[int], str]] = {
    "bare": _nested,
    "error": _with_nesting('{"type": "Error", "detail": NEST}'),
    "word": _with_nesting(_final(channel={"alternatives": [{"words": [_WORD]}]}).replace('"NEST"', "NEST")),
    "transcript": _with_nesting(
        _final(channel={"alternatives": [{"transcript": "NEST"}]}).replace('"NEST"', "NEST")
    ),
    "metadata": _with_nesting('{"type": "Metadata", "request_id": NEST}'),
}


@pytest.mark.parametrize("kind", sorted(NESTED_KINDS))
@pytest.mark.parametrize("nesting", [900, 960, 990, 100_000])
@pytest.mark.parametrize("depth", [0, 50, 200])
def test_deep_nesting_is_skipped_never_a_recursion_error(kind: str, nesting: int, depth: int) -> None:
    """json raises RecursionError, not ValueError, past its depth limit, and so does str() of a
    structure nested almost as deep; either escaped the reader's `except MessageError` and ended the
    track's Deepgram connection. Now it is a message or a MessageError, at any depth of the stack."""
    text = NESTED_KINDS[kind](nesting)
    with contextlib.suppress(dg.MessageError):
        _at_stack_depth(depth, text)


def test_an_error_message_keeps_the_frame_text_not_a_repr() -> None:
    text = _with_nesting('{"type": "Error", "description": "bad audio", "variant": NEST}')(50)
    message = dg.parse(text)
    assert message == dg.ErrorMessage(detail=text[:300])


def test_a_malformed_result_is_described_without_any_of_its_values() -> None:
    """The description is logged: a value in the wrong place may be transcript text."""
    secret = "my card is 4111 1111 1111 1111"
    doc = {
        "type": "Results",
        "start": secret,
        "duration": 1.0,
        "channel": {"alternatives": [{"transcript": secret, "words": []}]},
    }
    with pytest.raises(dg.MalformedResultsError) as error:
        dg.parse(json.dumps(doc))
    assert "4111" not in str(error.value)
    assert error.value.__cause__ is None
    assert error.value.__suppress_context__
