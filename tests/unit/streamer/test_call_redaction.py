"""CallRedaction: every segment redacted before it is written; digits-only segments held per track
and speaker until the next words (or the end), then judged as one number."""

from __future__ import annotations

from shared.redaction import Redactor
from streamer.deepgram import Segment
from streamer.redaction import CallRedaction, Pending


def _pending(text: str, start: float, track: str = "inbound", speaker: str = "caller") -> Pending:
    segment = Segment(track=track, text=text, start=start, end=start + 1, confidence=0.9, final_at=0.0)
    return Pending(segment, speaker, "deepgram:nova-3")


def _texts(out: list[Pending]) -> list[str]:
    return [p.segment.text for p in out]


def test_a_segment_with_words_is_redacted_and_passed_on_at_once() -> None:
    redaction = CallRedaction(Redactor())
    out = redaction.accept(_pending("my ssn is 123-45-6789", 0.0))
    assert _texts(out) == ["my ssn is [REDACTED SSN]"]
    assert out[0].segment.start == 0.0
    assert (out[0].speaker, out[0].source) == ("caller", "deepgram:nova-3")
    assert redaction.counts == {"SSN": 1}


def test_digits_only_segments_wait_for_the_next_words_of_their_track() -> None:
    redaction = CallRedaction(Redactor())
    assert redaction.accept(_pending("4111 1111", 0.0)) == []
    assert _texts(redaction.accept(_pending("hello", 0.5, track="outbound", speaker="callee"))) == ["hello"]
    assert redaction.accept(_pending("one one one one, one one one one", 1.0)) == []
    assert redaction.held == 2
    out = redaction.accept(_pending("thanks", 2.0))
    assert _texts(out) == ["[REDACTED CARD]", "[REDACTED CARD]", "thanks"]
    assert [p.segment.start for p in out] == [0.0, 1.0, 2.0]
    assert redaction.counts == {"CARD": 1}
    assert redaction.held == 0


def test_what_is_still_held_is_judged_when_the_stream_ends() -> None:
    redaction = CallRedaction(Redactor())
    redaction.accept(_pending("5555 5555", 0.0))
    redaction.accept(_pending("5555 4444", 1.0))
    redaction.accept(_pending("42", 0.0, track="outbound", speaker="callee"))
    assert sorted(_texts(redaction.flush())) == ["42", "[REDACTED CARD]", "[REDACTED CARD]"]
    assert redaction.flush() == []
    assert redaction.counts == {"CARD": 1}


def test_a_run_longer_than_any_number_is_released_without_waiting() -> None:
    redaction = CallRedaction(Redactor())
    assert redaction.accept(_pending("1234 5678", 0.0)) == []
    assert redaction.accept(_pending("1234 5678", 1.0)) == []
    out = redaction.accept(_pending("1234 5678", 2.0))  # 24 digits: no single number we redact
    assert len(out) == 3
    assert redaction.held == 0
    assert "1234 5678" not in _texts(out)  # each group of 8 is still an account-like number


def test_numbers_in_digits_alone_that_are_short_pass_unchanged() -> None:
    redaction = CallRedaction(Redactor())
    assert redaction.accept(_pending("42", 0.0)) == []
    assert _texts(redaction.accept(_pending("yes", 1.0))) == ["42", "yes"]
    assert redaction.counts == {}


def test_switched_off_nothing_is_held_or_changed() -> None:
    redaction = CallRedaction(None)
    assert not redaction.enabled
    assert _texts(redaction.accept(_pending("4111 1111 1111 1111", 0.0))) == ["4111 1111 1111 1111"]
    assert redaction.flush() == []
    assert redaction.counts == {}
