"""GET /calls/{callSid} pages a long transcript: real HTTP through the local API Gateway, on moto.

The whole transcript in one answer would grow past Lambda's 6 MB response limit for long calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest

from callscribe_local.apigw import LocalApiGateway
from callscribe_local.aws_local import LocalAws
from callscribe_local.calls_client import get_call
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.keys import segment_key
from shared.dal.records import CallParties, CallUpsert, Segment, StatusAdvance
from shared.dal.segments import DynamoSegments
from shared.transcript_pages import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor
from tests.support.webhooks_env import (
    Webhooks,
    webhooks_fixture,  # noqa: F401 - provides the `webhooks` fixture
)

pytestmark = pytest.mark.integration
LONG_CALL_SEGMENTS = 2500
AT = "2026-11-22T09:30:00.000Z"


@dataclass(frozen=True)
class StoredCall:
    call_sid: str
    order: list[tuple[float, str, str]]  # (start, track, text) in the contract's order


def _segments(call_sid: str, count: int, text: str = "") -> list[Segment]:
    """Both tracks, some pairs starting in the same millisecond (the track orders those)."""
    segments = []
    for i in range(count):
        track = "inbound" if i % 2 == 0 else "outbound"
        start = round((i // 2) * 1.2 + (0.0 if i % 4 < 2 else 0.35 * (i % 2)), 3)
        segments.append(
            Segment(
                call_sid=call_sid,
                segment_key=segment_key(start, track),
                track=track,
                speaker="caller" if track == "inbound" else "callee",
                text=text or f"line {i} of the call",
                start=start,
                end=start + 1.0,
                confidence=0.9,
                source="nova-2-phonecall",
            )
        )
    return segments


def _store(stack: LocalAws, count: int, text: str = "") -> StoredCall:
    call_sid = "CA" + uuid.uuid4().hex
    calls = DynamoWebhookCalls(stack.names.calls_table)
    calls.upsert_call(
        CallUpsert(
            call_sid=call_sid, parties=CallParties(direction="inbound"), started_at=AT, route="forward"
        )
    )
    calls.advance_status(StatusAdvance(call_sid=call_sid, status="completed", rank=4, at=AT, ended_at=AT))
    segments = _segments(call_sid, count, text)
    DynamoSegments(stack.names.transcripts_table).write_segments(segments)  # BatchWriteItem, 25 a request
    ordered = sorted(segments, key=lambda s: (s.start, s.track))
    return StoredCall(call_sid, [(s.start, s.track, s.text) for s in ordered])


@pytest.fixture(scope="module")
def long_call(local_stack: LocalAws) -> StoredCall:
    """One call with 2,500 final segments, stored once for the module."""
    return _store(local_stack, LONG_CALL_SEGMENTS)


@pytest.fixture
def gateway(webhooks: Webhooks) -> Iterator[LocalApiGateway]:
    with LocalApiGateway(webhooks) as gw:
        yield gw


def get(gateway: LocalApiGateway, call_sid: str, **params: str) -> httpx.Response:
    query = f"?{urlencode(params)}" if params else ""
    return httpx.get(f"{gateway.url}/calls/{call_sid}{query}", timeout=30.0)


def lines(body: dict[str, object]) -> list[tuple[float, str, str]]:
    transcript = body["transcript"]
    assert isinstance(transcript, list)
    return [(line["start"], line["track"], line["text"]) for line in transcript]


def test_default_request_returns_the_first_page_and_a_cursor(
    gateway: LocalApiGateway, long_call: StoredCall
) -> None:
    response = get(gateway, long_call.call_sid)
    assert response.status_code == 200
    body = response.json()
    assert {
        "callSid", "status", "direction", "from", "to", "startedAt", "endedAt", "durationSeconds",
        "recording", "transcriptStatus", "transcript", "summary",
    } <= set(body)  # fmt: skip
    assert (body["callSid"], body["status"]) == (long_call.call_sid, "completed")
    assert len(body["transcript"]) == DEFAULT_LIMIT < LONG_CALL_SEGMENTS
    assert lines(body) == long_call.order[:DEFAULT_LIMIT]
    assert isinstance(body["transcriptNextCursor"], str)

    rest = get(gateway, long_call.call_sid, cursor=body["transcriptNextCursor"]).json()
    assert lines(rest) == long_call.order[DEFAULT_LIMIT:]
    assert rest["transcriptNextCursor"] is None
    assert {k: v for k, v in rest.items() if not k.startswith("transcript")} == {
        k: v for k, v in body.items() if not k.startswith("transcript")
    }  # every page carries the same call record


@pytest.mark.parametrize("limit", [333, 1])  # the default page (= MAX_LIMIT) is tested above
def test_pages_cover_every_segment_once_in_order(
    gateway: LocalApiGateway, long_call: StoredCall, limit: int
) -> None:
    if limit == 1:  # 2,500 requests is slow for nothing: start one from the end
        cursor = encode_cursor(long_call.call_sid, segment_key(*long_call.order[-6][:2]))
        expected = long_call.order[-5:]
    else:
        cursor, expected = None, long_call.order
    seen: list[tuple[float, str, str]] = []
    pages = 0
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = get(gateway, long_call.call_sid, **params)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        assert 0 < len(body["transcript"]) <= limit
        seen += lines(body)
        cursor = body["transcriptNextCursor"]
        if cursor is None:
            break
    assert seen == expected  # in order, no gaps, no duplicates
    assert len(set(seen)) == len(seen)
    assert pages == -(-len(expected) // limit)  # no empty page after the last


def test_the_local_client_follows_the_cursor(gateway: LocalApiGateway, long_call: StoredCall) -> None:
    """What `callscribe show` and the demo print: the whole transcript, whatever the page size."""
    record = get_call(gateway.url, long_call.call_sid, limit=700)
    assert record is not None
    assert lines(record) == long_call.order
    assert record["transcriptNextCursor"] is None
    assert get_call(gateway.url, "CA" + uuid.uuid4().hex) is None


def test_long_segments_are_paged_by_size_too(gateway: LocalApiGateway, local_stack: LocalAws) -> None:
    """One page is one Query, which reads at most 1 MB: segments far longer than the streamer writes
    (30 KB each) come back a few hundred KB at a time, never one response of every one of them."""
    call = _store(local_stack, 60, text="word " * 6000)
    seen: list[tuple[float, str, str]] = []
    sizes: list[int] = []
    cursor = None
    while True:
        response = get(gateway, call.call_sid, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200
        sizes.append(len(response.content))
        body = response.json()
        seen += lines(body)
        cursor = body["transcriptNextCursor"]
        if cursor is None:
            break
    assert seen == call.order
    assert len(sizes) >= 2  # 60 x 30 KB = 1.8 MB of items: more than one Query's 1 MB
    assert max(sizes) < 1.1 * 1024 * 1024


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": str(MAX_LIMIT + 1)},
        {"limit": "ten"},
        {"limit": ""},
        {"cursor": ""},
        {"cursor": "bm90IGEgY3Vyc29y"},  # base64 of "not a cursor"
        {"cursor": "%%%"},
    ],
)
def test_bad_limit_or_cursor_is_400(
    gateway: LocalApiGateway, long_call: StoredCall, params: dict[str, str]
) -> None:
    response = get(gateway, long_call.call_sid, **params)
    assert response.status_code == 400
    assert set(response.json()) == {"message"}


def test_a_cursor_from_another_call_is_400(gateway: LocalApiGateway, long_call: StoredCall) -> None:
    other = "CA" + uuid.uuid4().hex
    first = get(gateway, long_call.call_sid, limit="5").json()
    foreign = encode_cursor(other, segment_key(3.5, "inbound"))
    response = get(gateway, long_call.call_sid, cursor=foreign)
    assert response.status_code == 400
    assert response.json() == {"message": "cursor belongs to another call"}
    tampered = first["transcriptNextCursor"][:-2]
    assert get(gateway, long_call.call_sid, cursor=tampered).status_code == 400
    assert get(gateway, other, cursor=first["transcriptNextCursor"]).status_code == 400
    assert get(gateway, other, limit="5").status_code == 404  # a valid request for an unknown call
