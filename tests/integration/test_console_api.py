"""The people's read API over real HTTP: the local API Gateway with its Cognito authoriser (moto's pool,
real tokens), the handler on the real adapters against moto (DynamoDB, the calls_by_day index, S3),
and the recording link fetched from moto's S3 as a browser would."""

from __future__ import annotations

import base64
import io
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from callscribe_local.apigw import CognitoAuthorizer, LocalApiGateway
from callscribe_local.aws_local import LocalAws
from callscribe_local.cognito import TokenVerifier, UserPool
from functions.console_api.app import RESOURCES, create_app
from functions.console_api.dependencies import build_services
from functions.console_api.settings import ConsoleApiSettings
from shared import aws, clock
from shared.access import SUPERVISORS
from shared.dal.calls.recordings import DynamoRecordingCalls
from shared.dal.calls.stream import DynamoStreamCalls
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.keys import segment_key
from shared.dal.records import CallParties, CallUpsert, RecordingUpdate, Segment, StatusAdvance, StreamClaim
from shared.dal.segments import DynamoSegments
from tests.support.apigw_events import json_event
from tests.support.log_capture import log_output_fixture  # noqa: F401 - provides `log_output`
from tests.support.people import (  # noqa: F401 - fixtures
    Person,
    people_pool_fixture,
    person_fixture,
    supervisor_fixture,
    viewer_fixture,
)
from tests.support.webhooks_env import Webhooks, webhooks_fixture  # noqa: F401 - provides `webhooks`

pytestmark = pytest.mark.integration
WAV = b"RIFF" + bytes(range(256)) * 40  # what the recordings tier stored, byte for byte


@dataclass
class Placed:
    number: str  # our number on these calls only: filters the session's shared table down to them
    done: str  # a completed, recorded, transcribed call
    live: str  # a call still in progress


@pytest.fixture
def api(local_stack: LocalAws, people_pool: UserPool) -> Iterator[LocalApiGateway]:
    settings = ConsoleApiSettings.from_env(
        {
            "CALLS_TABLE": local_stack.names.calls_table,
            "TRANSCRIPTS_TABLE": local_stack.names.transcripts_table,
            "RECORDINGS_BUCKET": local_stack.names.recordings_bucket,
        }
    )
    services = build_services(settings)
    authorizer = CognitoAuthorizer(TokenVerifier(people_pool))
    handler = create_app(lambda: services)
    with LocalApiGateway(handler, stage="api", resources=RESOURCES, authorizer=authorizer) as gateway:  # type: ignore[arg-type]
        yield gateway


@pytest.fixture
def placed(local_stack: LocalAws) -> Placed:
    names = local_stack.names
    number = f"+1415{random.randrange(10**7):07d}"
    now = datetime.now(UTC)
    webhooks, stream = DynamoWebhookCalls(names.calls_table), DynamoStreamCalls(names.calls_table)
    done, live = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    for call_sid, minutes_ago, status, rank in ((done, 30, "completed", 4), (live, 2, "in-progress", 3)):
        started = clock.iso(now - timedelta(minutes=minutes_ago))
        parties = CallParties(direction="inbound", from_number="+14155550100", to_number=number)
        webhooks.upsert_call(CallUpsert(call_sid, parties, started, route="forward"))
        webhooks.advance_status(StatusAdvance(call_sid=call_sid, status=status, rank=rank, at=started))
        stream_start = "2026-12-07T10:00:00.250Z" if call_sid == done else started
        claim = StreamClaim(call_sid=call_sid, owner=uuid.uuid4().hex, stream_sid="MZ" + uuid.uuid4().hex,
                            started_at=stream_start)  # fmt: skip
        assert stream.claim_stream(claim)  # the transcript in progress, stream time 0 stored
    recording_sid = "RE" + uuid.uuid4().hex
    webhooks.update_recording(
        RecordingUpdate(
            call_sid=done, sid=recording_sid, status="completed", url="https://api.twilio.com/x",
            duration_seconds=20, channels=2, source="DialVerb", track="both",
            started_at="Mon, 07 Dec 2026 10:00:03 +0000",
        )
    )  # fmt: skip
    key = f"recordings/{done}/{recording_sid}.wav"
    aws.s3().put_object(Bucket=names.recordings_bucket, Key=key, Body=WAV)
    assert DynamoRecordingCalls(names.calls_table).set_recording_s3_key(done, recording_sid, key)
    DynamoSegments(names.transcripts_table).write_segments(
        [Segment(call_sid=done, segment_key=segment_key(3.5, "inbound"), track="inbound", speaker="caller",
                 text="hello there", start=3.5, end=4.25, source="deepgram:nova-3")]
    )  # fmt: skip
    return Placed(number=number, done=done, live=live)


def get(api: LocalApiGateway, path: str, person: Person | None = None, **params: str) -> httpx.Response:
    headers = {} if person is None else {"Authorization": person.id_token}
    return httpx.get(f"{api.url}{path}", params=params, headers=headers)


def test_no_token_is_401_and_no_group_is_403(
    api: LocalApiGateway, placed: Placed, person: Callable[..., Person]
) -> None:
    for path in ("/calls", f"/calls/{placed.done}", f"/calls/{placed.done}/recording"):
        assert get(api, path).status_code == 401
        assert httpx.get(f"{api.url}{path}", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    outsider = person(SUPERVISORS)  # signed in, but no viewer
    for path in ("/calls", f"/calls/{placed.done}", f"/calls/{placed.done}/recording"):
        answer = get(api, path, outsider)
        assert answer.status_code == 403
        assert answer.json() == {"message": "calls are for the callscribe-viewers group"}


def test_the_list_and_the_live_board(api: LocalApiGateway, placed: Placed, viewer: Person) -> None:
    answer = get(api, "/calls", viewer, number=placed.number)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    listed = answer.json()
    assert [call["callSid"] for call in listed["calls"]] == [placed.live, placed.done]
    assert listed["nextCursor"] is None
    live, done = listed["calls"]
    assert (live["live"], live["status"], done["live"], done["status"]) == (
        True,
        "in-progress",
        False,
        "completed",
    )
    assert done["to"] == placed.number
    assert done["transcriptStatus"] == "in-progress"
    first = get(api, "/calls", viewer, number=placed.number, limit="1").json()
    second = get(api, "/calls", viewer, number=placed.number, limit="1", cursor=first["nextCursor"]).json()
    assert [c["callSid"] for c in first["calls"] + second["calls"]] == [placed.live, placed.done]
    board = get(api, "/calls", viewer, number=placed.number, live="true").json()
    assert [call["callSid"] for call in board["calls"]] == [placed.live]
    assert get(api, "/calls", viewer, number=placed.number, status="completed").json()["calls"][0][
        "callSid"
    ] == (placed.done)
    assert get(api, "/calls", viewer, cursor="garbage").status_code == 400


def test_a_call_is_what_the_iam_route_answers(
    api: LocalApiGateway, placed: Placed, viewer: Person, webhooks: Webhooks
) -> None:
    people = get(api, f"/calls/{placed.done}", viewer)
    assert people.status_code == 200
    machines = webhooks.invoke(json_event("GET", f"/calls/{placed.done}"))
    assert people.json() == json.loads(machines["body"])
    assert people.json()["transcript"][0]["segmentId"] == "0000003500#inbound"
    assert get(api, f"/calls/CA{'0' * 32}", viewer).status_code == 404


def test_recordings_are_for_supervisors_and_every_link_is_logged(
    api: LocalApiGateway, placed: Placed, viewer: Person, supervisor: Person, log_output: io.StringIO
) -> None:
    refused = get(api, f"/calls/{placed.done}/recording", viewer)
    assert refused.status_code == 403
    answer = get(api, f"/calls/{placed.done}/recording", supervisor)
    assert answer.status_code == 200
    link: dict[str, Any] = answer.json()
    assert link["offsetSeconds"] == 2.75  # recording 10:00:03, stream 10:00:00.25
    assert link["offsetMethod"] == "timestamps"
    expires = clock.parse_iso(link["expiresAt"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in link["url"]  # S3 takes nothing else for SSE-KMS objects
    fetched = httpx.get(link["url"])  # straight from S3, as the browser's player does
    assert fetched.status_code == 200
    assert fetched.content == WAV
    assert get(api, f"/calls/{placed.live}/recording", supervisor).status_code == 404  # none stored
    logs = log_output.getvalue()
    issued = [json.loads(line) for line in logs.splitlines() if '"recording link issued"' in line]
    assert len(issued) == 1
    assert (issued[0]["call_sid"], issued[0]["user_sub"]) == (placed.done, _claims(supervisor)["sub"])
    assert supervisor.email not in logs


def _claims(person: Person) -> dict[str, Any]:
    payload = person.id_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded
