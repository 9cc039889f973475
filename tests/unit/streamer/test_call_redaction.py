"""CallRedaction: every segment redacted before it is written; a segment ending in digits is held
per track and speaker until the run of digits ends (the next words, the end, or a hold bound), then
judged as one number however many segments it spans."""

from __future__ import annotations

from shared.redaction import HOLD_SECONDS, HOLD_SEGMENTS, Redactor
from streamer.deepgram import Segment
from streamer.redaction import CallRedaction, Pending


def _pending(text: str, start: float, track: str = "inbound", speaker: str = "caller") -> Pending:
    segment = Segment(track=track, text=text, start=start, end=start + 1, confidence=0.9, final_at=0.0)
    return Pending(segment, speaker, "deepgram:nova-3")


def _texts(out: list[Pending]) -> list[str]:
    return [p.segment.text for p in out]


def test_a_segment_ending_in_words_is_redacted_and_passed_on_at_once() -> None:
    redaction = CallRedaction(Redactor())
    out = redaction.accept(_pending("my ssn is 123-45-6789, thanks", 0.0))
    assert _texts(out) == ["my ssn is [REDACTED SSN], thanks"]
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


def test_a_segment_ending_in_digits_after_words_waits_too() -> None:
    redaction = CallRedaction(Redactor())
    assert redaction.accept(_pending("my card is 4111", 0.0)) == []
    assert redaction.accept(_pending("1111 1111", 1.0)) == []
    out = redaction.accept(_pending("1111 thanks", 2.0))
    assert _texts(out) == ["my card is [REDACTED CARD]", "[REDACTED CARD]", "[REDACTED CARD] thanks"]
    assert redaction.counts == {"CARD": 1}


def test_a_card_its_expiry_and_code_one_group_per_segment_are_judged_as_one_run() -> None:
    # longer than any number (23 digits): judged whole, never piece by piece
    redaction = CallRedaction(Redactor())
    for at, text in enumerate(["4111", "1111", "1111", "1111", "0 4 2 7", "1 2 3"]):
        assert redaction.accept(_pending(text, float(at))) == []
    out = redaction.accept(_pending("is that right", 6.0))
    assert _texts(out) == [
        *["[REDACTED CARD]"] * 4,
        "[REDACTED EXPIRY]",
        "[REDACTED SECURITY_CODE]",
        "is that right",
    ]
    assert redaction.counts == {"CARD": 1, "EXPIRY": 1, "SECURITY_CODE": 1}


def test_a_long_run_is_let_go_at_the_segment_bound_and_still_judged_whole() -> None:
    redaction = CallRedaction(Redactor())
    released: list[Pending] = []
    for at in range(HOLD_SEGMENTS):
        released += redaction.accept(_pending("7", float(at) * 0.1))  # 32 lone digits: one run
    assert released == []
    assert redaction.held == HOLD_SEGMENTS
    released += redaction.accept(_pending("4111 1111", 3.3))
    assert redaction.held == 0  # let go at the bound: redacted as it stands (a long tail: ACCOUNT)
    assert all("7" not in text for text in _texts(released))
    # the run goes on across the bound: the card read next is found with the digits before it
    out = redaction.accept(_pending("1111 1111", 3.4)) + redaction.accept(_pending("thanks", 3.5))
    assert _texts(out) == ["[REDACTED CARD]", "thanks"]
    assert redaction.counts["CARD"] == 1


def test_a_held_segment_is_let_go_when_the_other_track_has_talked_past_the_time_bound() -> None:
    redaction = CallRedaction(Redactor())
    assert redaction.accept(_pending("my order is 42", 0.0)) == []
    assert _texts(redaction.accept(_pending("let me check", 1.0, "outbound", "callee"))) == ["let me check"]
    out = redaction.accept(_pending("found it", HOLD_SECONDS + 1, "outbound", "callee"))
    assert _texts(out) == ["my order is 42", "found it"]  # judged as it stands: a short number, kept
    assert redaction.held == 0


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
