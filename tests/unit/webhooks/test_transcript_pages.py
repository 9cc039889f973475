"""GET /calls transcript paging on fakes: the cursor, the limit, and pages that add up to the whole."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import pytest

from functions.webhooks import logic
from functions.webhooks.inputs import StatusCallback
from functions.webhooks.logic import Services
from shared.dal.keys import segment_key
from shared.dal.records import Segment
from shared.errors import CallNotFoundError, MalformedRequestError
from shared.transcript_pages import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    InvalidCursorError,
    TranscriptPage,
    decode_cursor,
    encode_cursor,
    parse_limit,
)
from tests.support.fake_segments import FakeSegments
from tests.support.twilio_forms import status_params

SID = "CA" + "5" * 32
OTHER = "CA" + "6" * 32
KEY = "0000003500#outbound"


def segment(start: float, track: str, call_sid: str = SID) -> Segment:
    return Segment(
        call_sid=call_sid,
        segment_key=segment_key(start, track),
        track=track,
        speaker="caller" if track == "inbound" else "callee",
        text=f"{start} {track}",
        start=start,
        end=start + 0.5,
    )


# ---- the cursor ----------------------------------------------------------------------------------


def test_cursor_round_trips_and_is_url_safe() -> None:
    cursor = encode_cursor(SID, KEY)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)  # no padding, nothing to escape in a query string
    assert SID not in cursor
    assert KEY not in cursor
    assert decode_cursor(SID, cursor) == KEY


def test_a_cursor_of_another_call_is_refused() -> None:
    with pytest.raises(InvalidCursorError, match="another call"):
        decode_cursor(OTHER, encode_cursor(SID, KEY))


def _b64(payload: object) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64!",
        "a" * 257,
        encode_cursor(SID, KEY) + "==",  # padded: not the form we hand out
        encode_cursor(SID, KEY).replace("-", "+").replace("_", "/") + "+",  # standard alphabet
        base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),  # not UTF-8
        _b64([SID, KEY]),
        _b64("just a string"),
        _b64({"v": 1, "c": SID}),
        _b64({"v": 1, "c": SID, "k": 3500}),
        _b64({"v": 1, "c": SID, "k": "3500#outbound"}),  # not a sort key's shape
        _b64({"v": 1, "c": SID, "k": KEY + "\n"}),
        _b64({"v": 2, "c": SID, "k": KEY}),
        _b64({"c": SID, "k": KEY, "v": 1}),  # fields reordered: not our encoding
        _b64({"v": 1, "c": SID, "k": KEY, "x": 1}),
        _b64({"v": 1, "c": None, "k": KEY}),
    ],
)
def test_malformed_or_edited_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(SID, cursor)


def test_every_truncation_is_refused() -> None:
    cursor = encode_cursor(SID, KEY)
    for end in range(len(cursor)):
        with pytest.raises(InvalidCursorError):
            decode_cursor(SID, cursor[:end])


def test_a_tampered_cursor_is_refused_or_still_a_position_in_this_call() -> None:
    """The cursor is not a secret (it names a place in a transcript the caller may read whole): an
    edit is either refused or decodes to a well-formed key of the same call, never anything else."""
    cursor = encode_cursor(SID, KEY)
    accepted = 0
    for index in range(len(cursor)):
        for char in "A_-z09":
            edited = cursor[:index] + char + cursor[index + 1 :]
            if edited == cursor:
                continue
            try:
                key = decode_cursor(SID, edited)
            except InvalidCursorError:
                continue
            accepted += 1
            assert re.fullmatch(r"[0-9]{10}#[a-z]{1,16}", key)
            assert encode_cursor(SID, key) == edited
    assert accepted < len(cursor)  # nearly every edit is refused outright


# ---- the limit and the query string ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit"), [("1", 1), ("250", 250), ("0250", 250), (str(MAX_LIMIT), MAX_LIMIT)]
)
def test_limits_in_range(value: str, limit: int) -> None:
    assert parse_limit(value) == limit


@pytest.mark.parametrize(
    "value",
    ["0", str(MAX_LIMIT + 1), "-1", "+5", " 5", "5 ", "5\n", "", "abc", "1.5", "1e3", "99999999999", "٣"],
)
def test_limits_out_of_range_or_not_numbers_are_refused(value: str) -> None:
    with pytest.raises(MalformedRequestError, match="limit"):
        parse_limit(value)


def test_query_string_defaults_and_other_parameters() -> None:
    assert TranscriptPage.from_query(SID, None) == TranscriptPage(limit=DEFAULT_LIMIT, after=None)
    assert TranscriptPage.from_query(SID, {"utm": "x"}) == TranscriptPage(limit=DEFAULT_LIMIT, after=None)
    page = TranscriptPage.from_query(SID, {"limit": "10", "cursor": encode_cursor(SID, KEY)})
    assert page == TranscriptPage(limit=10, after=KEY)
    with pytest.raises(InvalidCursorError):
        TranscriptPage.from_query(SID, {"cursor": encode_cursor(OTHER, KEY)})
    with pytest.raises(MalformedRequestError):
        TranscriptPage.from_query(SID, {"limit": "0", "cursor": encode_cursor(SID, KEY)})


def test_default_page_keeps_a_response_far_below_lambdas_6_mb() -> None:
    """The numbers of transcript_pages' docstring: ~180 bytes of JSON per typical segment."""
    assert DEFAULT_LIMIT * 180 < 0.5 * 1024 * 1024
    assert DEFAULT_LIMIT >= 24 * 60  # ~24 segments per call-minute: an hour's call in one page


# ---- pages through the logic ---------------------------------------------------------------------


def _services_with(make_services: Callable[..., Services], segments: list[Segment]) -> Services:
    services = make_services()
    logic.apply_status(StatusCallback.from_form(status_params(SID, "completed", 3, duration=42)), services)
    services.segments.write_segments(segments)  # type: ignore[attr-defined]
    return services


def _read_all(services: Services, limit: int) -> tuple[list[tuple[float, str]], int]:
    lines: list[tuple[float, str]] = []
    page, pages = TranscriptPage(limit=limit), 0
    while True:
        view = logic.describe_call(SID, services, page).as_json()
        pages += 1
        assert len(view["transcript"]) <= limit
        assert view["callSid"] == SID
        assert view["status"] == "completed"
        lines += [(line["start"], line["track"]) for line in view["transcript"]]
        cursor = view["transcriptNextCursor"]
        if cursor is None:
            return lines, pages
        page = TranscriptPage.from_query(SID, {"limit": str(limit), "cursor": cursor})


def test_pages_concatenate_to_the_whole_transcript_in_order(make_services: Callable[..., Services]) -> None:
    segments = [segment(i * 0.75, "inbound" if i % 3 else "outbound") for i in range(40)]
    segments += [segment(i * 0.75, "inbound") for i in range(0, 40, 3)]  # same start, both tracks
    segments.append(segment(99.0, "outbound", call_sid=OTHER))  # another call's: never shown
    services = _services_with(make_services, segments)
    expected = [(s.start, s.track) for s in sorted(segments[:-1], key=lambda s: (s.start, s.track))]
    assert len(expected) == 54
    for limit in (1, 7, 27, 53):
        lines, pages = _read_all(services, limit)
        assert lines == expected
        assert pages == -(-54 // limit)
    whole = logic.describe_call(SID, services).as_json()
    assert [(line["start"], line["track"]) for line in whole["transcript"]] == expected
    assert whole["transcriptNextCursor"] is None


def test_pages_agree_with_the_unpaged_order_within_a_millisecond(
    make_services: Callable[..., Services],
) -> None:
    """Two tracks' segments inside one millisecond share a sort-key prefix: the view must keep the
    table's (key) order, or a page boundary between them would put them in a different order than
    a single page does."""
    late_inbound = segment(1.0004, "inbound")  # key 0000001000#inbound
    early_outbound = segment(0.9996, "outbound")  # key 0000001000#outbound
    services = _services_with(make_services, [early_outbound, late_inbound, segment(0.5, "outbound")])
    whole = logic.describe_call(SID, services).as_json()["transcript"]
    paged, _ = _read_all(services, 1)
    assert [(line["start"], line["track"]) for line in whole] == paged
    assert [s.start for s in FakeSegments([early_outbound, late_inbound]).list_segments(SID)] == [
        1.0004,
        0.9996,
    ]


def test_first_page_by_default_with_a_cursor(make_services: Callable[..., Services]) -> None:
    services = _services_with(make_services, [segment(i * 0.5, "inbound") for i in range(DEFAULT_LIMIT + 5)])
    view = logic.describe_call(SID, services).as_json()
    assert len(view["transcript"]) == DEFAULT_LIMIT
    assert decode_cursor(SID, view["transcriptNextCursor"]) == segment_key(
        (DEFAULT_LIMIT - 1) * 0.5, "inbound"
    )
    keys = list(view)
    assert keys[keys.index("transcript") + 1] == "transcriptNextCursor"


def test_unknown_call_is_not_found_before_any_segment_is_read(make_services: Callable[..., Services]) -> None:
    with pytest.raises(CallNotFoundError):
        logic.describe_call(OTHER, make_services(), TranscriptPage(limit=5, after=KEY))
