"""Reconciliation: live kept, the recording fills only what live missed, every word stored once."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from functions.recordings.alignment import Alignment, estimate_offset
from functions.recordings.reconcile import (
    COVER_TOLERANCE,
    Reconciliation,
    reconcile,
    speaker_roles,
    transcript_version,
)
from functions.recordings.words import REDACTED, Word, normalise, segment_tokens
from shared.dal.keys import recording_segment_key, segment_key
from shared.dal.records import Gap, Segment
from shared.redaction import Redactor
from tests.support.fake_calls.recordings import FakeRecordingCalls
from tests.support.fake_segments import FakeSegments
from tests.support.synthetic_call import CALL_SID, SyntheticCall, synthetic_call

SPEAKERS = speaker_roles("forward")
EXACT = Alignment(0.0, "words", 10)


def live(track: str, start: float, end: float, text: str = "hello there") -> Segment:
    return Segment(
        call_sid=CALL_SID,
        segment_key=segment_key(start, track),
        track=track,
        speaker=SPEAKERS[track],
        text=text,
        start=start,
        end=end,
        source="deepgram:nova-3",
    )


def word(track: str, start: float, end: float, text: str = "w") -> Word:
    return Word(track, start, end, text, 0.9)


def _reconciled(call: SyntheticCall) -> Reconciliation:
    alignment = estimate_offset(
        call.words,
        call.live,
        recording_started_at=call.recording_started_at,
        stream_started_at=call.stream_started_at,
    )
    return reconcile(CALL_SID, call.live, call.words, alignment, SPEAKERS, "deepgram:nova-3")


def _added_words(result: Reconciliation) -> Counter[tuple[str, str]]:
    return Counter((s.track, token) for s in result.segments for token in s.text.split())


def test_a_gap_in_live_is_filled_exactly_once_and_in_place() -> None:
    call = synthetic_call(
        seconds=60, missing={"inbound": [(20.0, 40.0)]}, live_errors=0.0, recording_errors=0.0
    )
    result = _reconciled(call)
    lost = [
        w
        for w in sorted(call.truth, key=lambda w: w.start)
        if any(d.track == w.track and d.start - 0.1 <= w.start and w.end <= d.end + 0.1 for d in call.dropped)
    ]
    assert call.dropped
    assert lost
    assert _added_words(result) == Counter((w.track, w.text) for w in lost)  # each missing word once
    assert {s.track for s in result.segments} == {"inbound"}
    assert all(s.origin == "recording" and s.segment_key.endswith("#inbound#r") for s in result.segments)
    assert {s.origin_or_live for s in result.segments} == {"recording"}
    assert {s.origin_or_live for s in call.live} == {"live"}
    assert all(s.speaker == "caller" and s.source == "deepgram:nova-3" for s in result.segments)
    position = 0  # the added words, in order, are the lost words, each where it was said
    for segment in result.segments:
        said = lost[position : position + len(segment.text.split())]
        assert segment.text.split() == [w.text for w in said]
        assert segment.start == pytest.approx(said[0].start, abs=0.5)  # the contract's ±0.5 s
        assert segment.end == pytest.approx(said[-1].end, abs=0.1)  # and what it achieves
        position += len(said)
    assert result.transcript_source == "live+recording"
    assert result.filled_seconds == pytest.approx(sum(w.duration for w in lost), abs=0.01)
    assert result.segment_count == len(call.live) + len(result.segments)
    assert len(result.gaps) == 1
    (gap,) = result.gaps
    assert gap.track == "inbound"
    assert min(d.start for d in call.dropped) == pytest.approx(gap.start, abs=0.1)
    assert max(d.end for d in call.dropped) == pytest.approx(gap.end, abs=0.1)


def test_words_heard_by_both_are_not_duplicated() -> None:
    call = synthetic_call(seconds=60)  # nothing lost: every recording word was heard live
    result = _reconciled(call)
    assert result.segments == ()
    assert (result.transcript_source, result.gaps, result.filled_seconds) == ("live", (), 0.0)
    assert result.live_coverage > 0.97
    assert result.segment_count == len(call.live)


def test_live_coverage_matches_the_definition_by_hand() -> None:
    segments = [live("inbound", 1.0, 2.0), live("outbound", 10.0, 11.0)]
    words = [
        word("inbound", 1.0, 1.4),  # inside: covered (0.4)
        word("inbound", 1.8, 2.2),  # exactly half inside: covered (0.4)
        word("inbound", 1.9, 2.4),  # a fifth inside: not covered exactly, but within the tolerance
        word("inbound", 5.0, 5.5),  # nowhere near live: not covered, added
        word("outbound", 1.0, 1.5),  # inbound's live segment does not cover the outbound track
    ]
    result = reconcile(CALL_SID, segments, words, EXACT, SPEAKERS)
    assert result.live_coverage == pytest.approx((0.4 + 0.4) / (0.4 + 0.4 + 0.5 + 0.5 + 0.5))
    assert COVER_TOLERANCE >= 0.15  # what keeps the third word from being stored twice
    assert sorted((s.track, s.start, s.end) for s in result.segments) == [
        ("inbound", 5.0, 5.5),
        ("outbound", 1.0, 1.5),
    ]
    assert result.filled_seconds == pytest.approx(1.0)
    assert set(result.gaps) == {Gap("inbound", 5.0, 5.5), Gap("outbound", 1.0, 1.5)}


def test_the_offset_moves_recording_words_into_stream_time() -> None:
    words = [word("inbound", 0.5, 0.9, "Hi."), word("inbound", 10.0, 10.4, "Bye.")]
    segments = [live("inbound", 3.5, 3.9, "Hi.")]  # recording 0.5 s = stream 3.5 s
    result = reconcile(CALL_SID, segments, words, Alignment(3.0, "timestamps"), SPEAKERS)
    assert [(s.text, s.start, s.end) for s in result.segments] == [("Bye.", 13.0, 13.4)]
    assert result.update("completed").alignment_offset == 3.0


def test_no_gap_contains_a_live_segment() -> None:
    # live holds a short segment the recording did not recognise, between two stretches live missed:
    # two gaps, not one around it
    segments = [live("inbound", 5.0, 5.3, "yes"), live("inbound", 7.5, 8.0, "long")]
    words = [word("inbound", t, t + 0.2, f"w{i}") for i, t in enumerate([3.0, 3.5, 4.0, 4.5, 5.6, 6.0])]
    words.append(word("inbound", 7.0, 9.0, "long"))  # a long word around a live segment: heard live
    result = reconcile(CALL_SID, segments, words, EXACT, SPEAKERS)
    assert result.gaps == (Gap("inbound", 3.0, 4.7), Gap("inbound", 5.6, 6.2))
    assert ("inbound", "long") not in _added_words(result)
    call = synthetic_call(
        seconds=120, missing={"inbound": [(10, 30), (50, 52)], "outbound": [(0, 15), (80, 95)]}
    )
    result = _reconciled(call)
    assert len(result.gaps) >= 4
    for gap in result.gaps:
        for segment in call.live:
            assert not (segment.track == gap.track and gap.start <= segment.start and segment.end <= gap.end)
    for segment in result.segments:  # each added word lies in one gap of its track
        assert (
            sum(
                g.track == segment.track and g.start <= segment.start and segment.end <= g.end
                for g in result.gaps
            )
            == 1
        )


def test_an_empty_recording_changes_nothing() -> None:
    result = reconcile(CALL_SID, [live("inbound", 1.0, 2.0)], [], EXACT, SPEAKERS)
    assert (result.live_coverage, result.transcript_source, result.segments, result.gaps) == (
        1.0,
        "live",
        (),
        (),
    )
    assert result.filled_seconds == 0.0


def test_without_live_segments_the_transcript_is_the_recording() -> None:
    call = synthetic_call(seconds=30)
    result = reconcile(CALL_SID, [], call.words, Alignment(call.offset, "timestamps"), speaker_roles("agent"))
    assert result.transcript_source == "recording"
    assert result.live_coverage == 0.0
    assert sum(_added_words(result).values()) == len(call.words)
    assert {s.speaker for s in result.segments if s.track == "outbound"} == {"agent"}
    assert reconcile(CALL_SID, [], [], EXACT, SPEAKERS).transcript_source == "live"  # nobody spoke


def test_segments_are_cut_at_pauses_and_sentence_ends() -> None:
    texts = ["Hello", "there.", "How", "are", "you", "today", "friend"]
    starts = [1.0, 1.3, 1.7, 2.0, 2.3, 4.0, 4.3]  # a sentence end after "there.", a pause before "today"
    words = [word("outbound", t, t + 0.25, text) for t, text in zip(starts, texts, strict=True)]
    result = reconcile(CALL_SID, [], words, EXACT, SPEAKERS)
    assert [s.text for s in result.segments] == ["Hello there.", "How are you", "today friend"]
    assert len(result.gaps) == 1  # one stretch live missed, however it is cut


def test_a_rerun_writes_the_same_keys_and_never_touches_live() -> None:
    call = synthetic_call(seconds=60, missing={"inbound": [(20, 40)], "outbound": [(30, 35)]})
    store, calls = FakeSegments(call.live), FakeRecordingCalls()
    first = _reconciled(call)
    store.write_recording_segments(first.segments)
    assert calls.save_reconciliation(first.update("completed"))

    stored = store.list_segments(CALL_SID)  # live and the first run's segments, as a re-drive reads them
    again = reconcile(CALL_SID, stored, call.words, first.alignment, SPEAKERS, "deepgram:nova-3")
    assert [s.segment_key for s in again.segments] == [s.segment_key for s in first.segments]
    assert again == first
    assert again.obsolete_keys == ()
    # same transcript version: nothing changes
    assert not calls.save_reconciliation(again.update("completed"))
    store.write_recording_segments(again.segments)
    assert len(store.list_segments(CALL_SID)) == len(call.live) + len(first.segments)
    assert [s for s in store.list_segments(CALL_SID) if not s.from_recording] == sorted(
        call.live, key=lambda s: s.segment_key
    )


def test_segments_an_earlier_run_added_and_this_one_does_not_are_obsolete() -> None:
    segments = [live("inbound", 1.0, 2.0)]
    earlier = reconcile(CALL_SID, segments, [word("inbound", 5.0, 5.5)], EXACT, SPEAKERS)
    store = FakeSegments([*segments, *earlier.segments])
    # the late live segment now covers that word: the recording adds nothing any more
    stored = [*store.list_segments(CALL_SID), live("inbound", 5.0, 5.5)]
    now = reconcile(CALL_SID, stored, [word("inbound", 5.0, 5.5)], EXACT, SPEAKERS)
    assert now.obsolete_keys == ("0000005000#inbound#r",)
    assert now.transcript_version != earlier.transcript_version
    store.delete_recording_segments(CALL_SID, now.obsolete_keys)
    assert [s.segment_key for s in store.list_segments(CALL_SID)] == ["0000001000#inbound"]
    with pytest.raises(ValueError, match="not a recording segment key"):
        store.delete_recording_segments(CALL_SID, ["0000001000#inbound"])
    with pytest.raises(ValueError, match="not a recording segment key"):
        store.write_recording_segments([live("inbound", 1.0, 2.0)])
    unmarked = replace(earlier.segments[0], origin=None)
    with pytest.raises(ValueError, match="origin=recording"):
        store.write_recording_segments([unmarked])


def test_recording_keys_sort_after_live_at_the_same_time_and_before_the_next_track() -> None:
    keys = sorted(
        [segment_key(3.5, "outbound"), recording_segment_key(3.5, "inbound"), segment_key(3.5, "inbound")]
    )
    assert keys == ["0000003500#inbound", "0000003500#inbound#r", "0000003500#outbound"]


def test_the_result_does_not_depend_on_input_order() -> None:
    call = synthetic_call(seconds=60, missing={"inbound": [(20, 40)]})
    alignment = Alignment(call.offset, "words", 10)
    first = reconcile(CALL_SID, call.live, call.words, alignment, SPEAKERS)
    words, segments = list(call.words), list(call.live)
    random.Random(5).shuffle(words)
    random.Random(6).shuffle(segments)
    assert reconcile(CALL_SID, segments, words, alignment, SPEAKERS) == first


def test_speaker_roles_follow_the_route() -> None:
    assert speaker_roles("agent") == {"inbound": "caller", "outbound": "agent"}
    assert speaker_roles(None) == {"inbound": "caller", "outbound": "callee"}


def test_a_word_live_heard_at_a_segment_edge_is_not_added_twice_though_timed_apart() -> None:
    """Seen in the local outage test: the batch pass put the caller's "Yes" 0.48 s before the live
    segment that starts with it (live had reconnected just before), beyond COVER_TOLERANCE."""
    segments = [live("inbound", 15.77, 17.0, "yes I can do Friday")]
    words = [word("inbound", 15.29, 15.6, "Yes."), word("inbound", 12.0, 12.3, "Yes.")]
    result = reconcile(CALL_SID, segments, words, EXACT, SPEAKERS)
    # the "Yes" at the live segment's edge is that segment's first word; the one 3.5 s earlier is not
    assert [(s.text, s.start) for s in result.segments] == [("Yes.", 12.0)]
    assert result.live_coverage < 1  # the coverage stays the contract's exact number


# ---- redaction ---------------------------------------------------------------------------------------


def _spoken(track: str, start: float, text: str, each: float = 0.3) -> list[Word]:
    return [word(track, start + i * each, start + (i + 1) * each, w) for i, w in enumerate(text.split())]


def test_added_segments_are_redacted_after_the_words_decided_what_to_add() -> None:
    # live heard the card number (stored redacted) but missed the SSN and a number read out in two
    stored = [live("inbound", 0.0, 3.0, "my card is [REDACTED CARD]")]
    words = [
        *_spoken("inbound", 0.0, "my card is four one one one one one one one one", each=0.25),
        *_spoken("inbound", 10.0, "my social is 123-45-6789"),
        *_spoken("inbound", 20.0, "5555 5555"),
        *_spoken("inbound", 22.0, "5555 4444"),  # after a pause: a segment of its own
    ]
    result = reconcile(CALL_SID, stored, words, EXACT, SPEAKERS, "deepgram:nova-3", redactor=Redactor())

    assert [(s.start, s.text) for s in result.segments] == [
        (10.0, "my social is [REDACTED SSN]"),
        (20.0, "[REDACTED CARD]"),  # the two pieces judged as one number
        (22.0, "[REDACTED CARD]"),
    ]
    assert result.redaction_counts == {"SSN": 1, "CARD": 1}
    assert result.update("completed").redaction_counts == {"SSN": 1, "CARD": 1}
    # the version names what is stored: redacted text, not what was heard
    assert result.transcript_version == transcript_version([*stored, *result.segments])
    raw = reconcile(CALL_SID, stored, words, EXACT, SPEAKERS, "deepgram:nova-3")
    assert [s.segment_key for s in raw.segments] == [s.segment_key for s in result.segments]
    assert (raw.gaps, raw.filled_seconds, raw.live_coverage) == (
        result.gaps,
        result.filled_seconds,
        result.live_coverage,
    )
    assert raw.transcript_version != result.transcript_version
    assert raw.redaction_counts is None
    assert raw.segments[0].text == "my social is 123-45-6789"


def test_a_rerun_redacts_the_same_way_and_rewrites_nothing() -> None:
    words = _spoken("inbound", 10.0, "card 4111 1111 1111 1111")
    first = reconcile(CALL_SID, [], words, EXACT, SPEAKERS, redactor=Redactor())
    again = reconcile(CALL_SID, [*first.segments], words, EXACT, SPEAKERS, redactor=Redactor())
    assert [s.text for s in first.segments] == ["card [REDACTED CARD]"]
    assert again.segments == first.segments
    assert again.obsolete_keys == ()
    assert again.transcript_version == first.transcript_version
    assert again.redaction_counts == {"CARD": 1}


def test_a_card_the_recording_filled_in_one_group_per_segment_is_judged_as_one_run() -> None:
    # live missed the whole reading; the recording has it, one group per segment (pauses between)
    groups = ["4111", "1111", "1111", "1111", "0 4 2 7", "1 2 3"]
    words = [w for i, group in enumerate(groups) for w in _spoken("inbound", 10.0 + 2 * i, group, each=0.2)]
    words += _spoken("inbound", 30.0, "is that right")
    result = reconcile(CALL_SID, [], words, EXACT, SPEAKERS, "deepgram:nova-3", redactor=Redactor())

    assert [s.text for s in result.segments] == [
        *["[REDACTED CARD]"] * 4,
        "[REDACTED EXPIRY]",
        "[REDACTED SECURITY_CODE]",
        "is that right",
    ]
    assert result.redaction_counts == {"CARD": 1, "EXPIRY": 1, "SECURITY_CODE": 1}


def test_the_live_segments_are_read_as_context_and_never_changed() -> None:
    # live stored the card (redacted) and missed what followed: the expiry and code the recording
    # fills in are still "right after" the card, and a card whose first half live heard is found
    stored = [
        live("inbound", 0.0, 3.0, "my card is [REDACTED CARD]"),
        live("inbound", 20.0, 21.0, "5555 5555"),
        live("outbound", 4.0, 5.0, "and the expiry"),
    ]
    words = [
        *_spoken("inbound", 5.0, "oh four twenty seven"),
        *_spoken("inbound", 8.0, "code one two three please"),
        *_spoken("inbound", 22.0, "5555 4444"),
        *_spoken("inbound", 25.0, "thanks"),
    ]
    result = reconcile(CALL_SID, stored, words, EXACT, SPEAKERS, "deepgram:nova-3", redactor=Redactor())

    assert [(s.start, s.text) for s in result.segments] == [
        (5.0, "[REDACTED EXPIRY]"),
        (8.0, "code [REDACTED SECURITY_CODE] please"),
        (22.0, "[REDACTED CARD]"),
        (25.0, "thanks"),
    ]
    assert result.redaction_counts == {"EXPIRY": 1, "SECURITY_CODE": 1, "CARD": 1}


def test_a_redaction_token_is_one_live_token_that_matches_no_recording_word() -> None:
    tokens = segment_tokens("my card is [REDACTED CARD].", 0.0, 3.0)
    assert [(t.token, t.kind) for t in tokens] == [
        ("my", "start"),
        ("card", "inner"),
        ("is", "inner"),
        (REDACTED, "end"),
    ]
    assert normalise("[REDACTED") != REDACTED
    assert all(normalise(w) != REDACTED for w in ("redacted", "[redacted]", "card]"))
