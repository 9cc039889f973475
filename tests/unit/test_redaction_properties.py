"""Properties of the redaction engine, over generated cards, readings and runs (hypothesis):

- every 13-19 digit window of a run that passes Luhn is redacted, wherever it starts;
- a card number, however it is read (group sizes, separators, numerals, digit words, "oh"/"o",
  "double", fillers, split over segments with the other side talking between), leaves no digit;
- what must be kept (phone numbers in phone grouping, dates, amounts, times) is kept;
- the streamer's holding gives the same text as reading the whole call at once (the summaries' and
  recordings' way), its hold bounds included, and never holds more than its bound.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.redaction import HOLD_SEGMENTS, Redactor, TrackRedactor
from shared.redaction_rules import FULL, Digit, Run, judge, luhn_valid, luhn_windows
from shared.spoken_digits import Kind, tokens
from streamer.deepgram import Segment
from streamer.redaction import CallRedaction, Pending

WORDS = {"0": ("zero", "oh", "o"), "1": ("one",), "2": ("two",), "3": ("three",), "4": ("four",)}
WORDS |= {"5": ("five",), "6": ("six",), "7": ("seven",), "8": ("eight",), "9": ("nine",)}
SEPARATORS = (" ", ", ", ". ", "/", "  ", " - ", " uh ", "... ", " slash ")


def _with_check_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("one check digit always fits")


cards = st.integers(min_value=13, max_value=19).flatmap(
    lambda length: st.text("0123456789", min_size=length - 1, max_size=length - 1).map(_with_check_digit)
)


@st.composite
def readings(draw: st.DrawFn, card: str) -> list[tuple[str, str]]:
    """(speaker, text) segments of a caller reading `card` out, the callee now and then between."""
    groups, at = [], 0
    while at < len(card):
        size = draw(st.integers(min_value=1, max_value=6))
        groups.append(card[at : at + size])
        at += size
    spoken = []
    for group in groups:
        if draw(st.booleans()):
            spoken.append(group)
            continue
        words, i = [], 0
        while i < len(group):
            if i + 1 < len(group) and group[i] == group[i + 1] and draw(st.booleans()):
                words.append("double " + draw(st.sampled_from(WORDS[group[i]])))
                i += 2
            else:
                words.append(draw(st.sampled_from(WORDS[group[i]])))
                i += 1
        spoken.append(" ".join(words))
    segments: list[tuple[str, str]] = []
    current = "my card is "
    for index, group in enumerate(spoken):
        current += group
        last = index == len(spoken) - 1
        if not last and draw(st.booleans()):
            segments.append(("caller", current))
            if draw(st.booleans()):
                segments.append(("callee", draw(st.sampled_from(["mm-hm", "yes", "go on", "okay"]))))
            current = ""
        elif not last:
            current += draw(st.sampled_from(SEPARATORS))
    segments.append(("caller", current + draw(st.sampled_from(["", ".", ","]))))
    segments.append(("caller", "thanks, that's all"))
    return segments


@settings(max_examples=150, deadline=None, database=None)
@given(st.data())
def test_a_card_read_out_in_any_way_leaves_no_digit(data: st.DataObject) -> None:
    card = data.draw(cards)
    segments = data.draw(readings(card))
    redactor = Redactor()
    out = redactor.redact_lines([s for s, _ in segments], [t for _, t in segments])
    left = [t.digits for text in out for t in tokens(text) if t.kind is Kind.DIGITS]
    assert left == [], (segments, out)
    assert redactor.counts["CARD"] >= 1
    assert out[-1] == "thanks, that's all"


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=60), st.data())
def test_every_passing_window_of_a_run_is_redacted(values: list[int], data: st.DataObject) -> None:
    groups = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    run = Run(
        [
            Digit(v, 0, i, i + 1, g, " ", False, i)
            for i, (v, g) in enumerate(zip(values, groups, strict=True))
        ],
        "",
        None,
    )
    items, _, _ = judge(run, None, FULL, forced=False)
    taken = sorted(i for item in items for i in range(item.first, item.last))
    assert len(taken) == len(set(taken)), "no digit is in two items"
    for first, last in luhn_windows(values):
        assert set(range(first, last)) <= set(taken)


@settings(max_examples=100, deadline=None, database=None)
@given(
    st.lists(
        st.one_of(
            st.from_regex(r"\A[2-9]\d\d [2-9]\d\d \d{4}\Z"),  # a phone number in phone grouping
            st.from_regex(r"\A1-800-\d{3}-\d{4}\Z"),
            st.from_regex(r"\A20[0-3]\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d)\Z"),  # a date
            st.from_regex(r"\A\$[1-9]\d{0,2}(,\d{3}){0,2}\.\d\d\Z"),  # an amount
            st.from_regex(r"\A([01]\d|2[0-3]):[0-5]\d\Z"),  # a time
            st.from_regex(r"\A\d{1,7}\Z"),  # a short number
        ),
        min_size=1,
        max_size=4,
    )
)
def test_phone_numbers_dates_amounts_times_and_short_numbers_are_kept(kept: list[str]) -> None:
    text = "so " + " and then ".join(kept) + " right"
    redactor = Redactor()
    assert redactor.redact(text) == text
    assert not redactor.counts


STEP = 2.5  # seconds between segments: 40 of them span 100 s, so the time bound is reached too


@settings(max_examples=100, deadline=None, database=None)
@given(st.data())
def test_holding_gives_what_reading_the_whole_track_gives(data: st.DataObject) -> None:
    pool = [
        "4111",
        "1111",
        "0 4 2 7",
        "1 2 3",
        "078",
        "05",
        "1120",
        "my card is",
        "okay",
        "it's 12",
        "thanks",
    ]
    texts = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=40))
    tracks = data.draw(
        st.lists(st.sampled_from(["inbound", "outbound"]), min_size=len(texts), max_size=len(texts))
    )
    speakers = {"inbound": "caller", "outbound": "callee"}
    redaction = CallRedaction(Redactor())
    stored: dict[float, str] = {}
    for index, (text, track) in enumerate(zip(texts, tracks, strict=True)):
        segment = Segment(track, text, index * STEP, index * STEP + 0.5, 0.9, 0.0)
        for pending in redaction.accept(Pending(segment, speakers[track], "deepgram:nova-3")):
            stored[pending.segment.start] = pending.segment.text
        assert redaction.held <= 2 * HOLD_SEGMENTS
    for pending in redaction.flush():
        stored[pending.segment.start] = pending.segment.text
    whole = Redactor()
    expected = whole.redact_lines([speakers[t] for t in tracks], texts, [i * STEP for i in range(len(texts))])
    assert [stored[i * STEP] for i in range(len(texts))] == expected
    assert redaction.counts == dict(whole.counts)


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.text("0123456789 ", min_size=1, max_size=12), min_size=1, max_size=200))
def test_a_track_of_nothing_but_digits_is_never_held_beyond_the_bound(texts: list[str]) -> None:
    stream: TrackRedactor[int] = TrackRedactor(Redactor())
    released = 0
    for index, text in enumerate(texts):
        released += len(stream.push(index, text))
        assert stream.held <= HOLD_SEGMENTS
    released += len(stream.finish())
    assert released == len(texts)
