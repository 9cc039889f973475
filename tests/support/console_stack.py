"""The console on the real local stack, for the browser tests: `LocalStack` (moto, the stand-ins, the
streamer, and the people's side: moto's Cognito, the AppSync Events stand-in, the read API behind the
local API Gateway with its authoriser, and the console server), its one person (both groups), and the
people a test needs besides (a viewer, someone in no group, an account with a temporary password).

Calls get into it the way the product's own writers put them: a placed call through the simulated
phone (`place_call`), or records written through the data layer's adapters (`seed_call`,
`seed_segments`) and events published, SigV4-signed, to the feed stand-in (`publish`).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callscribe_local.aws_local import LocalNames
from callscribe_local.cognito import add_user, new_password
from callscribe_local.people_stack import PeopleSide
from callscribe_local.phone import CallerId, CallResult, Conversation, SimulatedPhone
from callscribe_local.stack import LocalStack, StackOptions
from shared import clock
from shared.access import SUPERVISORS, VIEWERS
from shared.dal.calls.webhooks import DynamoWebhookCalls
from shared.dal.keys import segment_key
from shared.dal.records import CallParties, CallUpsert, Segment, StatusAdvance
from shared.dal.segments import DynamoSegments
from shared.feed import MAX_EVENTS_PER_PUBLISH, segment_event
from shared.status import CallStatus
from tests.support.console_people import Person
from tests.support.feed_wire import signed_publish


@dataclass
class PlacedCall:
    """A call the simulated phone is placing in a thread (`join()` waits for its end)."""

    call_sid: str
    thread: threading.Thread
    result: list[CallResult] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def join(self, timeout: float = 120.0) -> CallResult:
        self.thread.join(timeout)
        if self.errors:
            raise self.errors[0]
        assert self.result, f"the call {self.call_sid} did not end within {timeout} s"
        return self.result[0]

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


@dataclass
class StackConsole:
    url: str
    stack: LocalStack
    supervisor: Person
    viewer: Person
    outsider: Person

    @property
    def people(self) -> PeopleSide:
        assert self.stack.people is not None
        return self.stack.people

    def add_person(self, groups: Iterable[str], *, temporary: bool = False) -> Person:
        """A new person in `groups`; `temporary`: created with a temporary password, as an admin
        creates people in AWS (Cognito then asks for a new one at the first sign-in)."""
        pool = self.people.pool
        email = f"person-{uuid.uuid4().hex[:10]}@example.com"
        password = new_password()
        if temporary:
            cognito = pool.client()
            cognito.admin_create_user(
                UserPoolId=pool.pool_id,
                Username=email,
                TemporaryPassword=password,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
                MessageAction="SUPPRESS",
            )
            for group in groups:
                cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=group)
        else:
            add_user(pool, email, list(groups), password=password)
        return Person(email, password, tuple(groups))

    def publish(self, channel: str, *events: str) -> None:
        """Publish events (shared.feed's JSON strings) as the product's publishers do: SigV4-signed
        HTTP, at most `MAX_EVENTS_PER_PUBLISH` a request."""
        for first in range(0, len(events), MAX_EVENTS_PER_PUBLISH):
            batch = events[first : first + MAX_EVENTS_PER_PUBLISH]
            answer = signed_publish(self.people.feed.http_url, channel, batch)
            assert answer.status_code == 200, answer.text

    def place_call(
        self, conversation: Conversation, *, speed: float = 1.0, caller: CallerId | None = None
    ) -> PlacedCall:
        """Start a call through the simulated phone in a thread (from and to `caller`'s numbers: the
        stack routes by the number called); the call SID is known at once."""
        urls = self.stack.urls
        assert urls is not None
        call_sid = "CA" + uuid.uuid4().hex
        phone = SimulatedPhone(
            urls.api,
            self.stack.auth_token,
            self.stack.account_sid,
            caller=caller or CallerId(),
            speed=speed,
            twilio_api_url=urls.twilio,
        )
        result: list[CallResult] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                result.append(asyncio.run(phone.call(conversation, call_sid=call_sid)))
            except BaseException as exc:  # handed to the test by join()
                errors.append(exc)

        thread = threading.Thread(name=f"phone-{call_sid[:8]}", daemon=True, target=run)
        thread.start()
        return PlacedCall(call_sid, thread, result, errors)

    def seed_call(
        self,
        *,
        started: datetime,
        status: str,
        route: str = "forward",
        ours: str = "+14155550100",
        them: str = "+14155550142",
        direction: str = "inbound",
        duration: int | None = None,
        call_sid: str | None = None,
    ) -> str:
        """A call record written as the webhooks write one (upsert, then its status); its SID."""
        call_sid = call_sid or "CA" + uuid.uuid4().hex
        inbound = direction == "inbound"
        parties = CallParties(
            direction=direction, from_number=them if inbound else ours, to_number=ours if inbound else them
        )
        calls = DynamoWebhookCalls(self.stack.options.names.calls_table)
        calls.upsert_call(CallUpsert(call_sid, parties, clock.iso(started), route=route))
        self.advance(call_sid, status, at=started, duration=duration)
        return call_sid

    def advance(self, call_sid: str, status: str, *, at: datetime, duration: int | None = None) -> None:
        state = CallStatus(status)
        ended = clock.iso(at + timedelta(seconds=duration or 0)) if state.is_terminal else None
        advance = StatusAdvance(
            call_sid=call_sid,
            status=status,
            rank=state.rank,
            at=clock.iso(at),
            ended_at=ended,
            duration_seconds=duration if state.is_terminal else None,
        )
        DynamoWebhookCalls(self.stack.options.names.calls_table).advance_status(advance)

    def seed_segments(self, call_sid: str, lines: Sequence[tuple[float, str, str]]) -> list[str]:
        """Final segments (start, track, text) stored as the streamer stores them; their feed events."""
        speakers = {"inbound": "caller", "outbound": "callee"}
        segments = [
            Segment(
                call_sid=call_sid,
                segment_key=segment_key(start, track),
                track=track,
                speaker=speakers[track],
                text=text,
                start=start,
                end=start + 1.5,
                source="deepgram:scripted",
            )
            for start, track, text in lines
        ]
        DynamoSegments(self.stack.options.names.transcripts_table).write_segments(segments)
        return [segment_event(segment) for segment in segments]


@contextmanager
def stack_console() -> Iterator[StackConsole]:
    # Table names of its own: the data layer binds a model per table name per process, and another
    # module's stack (and its moto) may have gone before this one
    suffix = uuid.uuid4().hex[:6]
    names = LocalNames(
        calls_table=f"browser-calls-{suffix}",
        transcripts_table=f"browser-transcripts-{suffix}",
        idempotency_table=f"browser-idempotency-{suffix}",
        event_bus_name=f"browser-bus-{suffix}",
    )
    # offline whatever the developer's shell holds: never the real Deepgram or Anthropic here
    options = StackOptions(names=names, deepgram_api_key=None, anthropic_api_key=None)
    with LocalStack(options) as stack:
        people = stack.people
        assert people is not None
        console = StackConsole(
            url=people.console.url,
            stack=stack,
            supervisor=Person(people.user, people.password, (VIEWERS, SUPERVISORS)),
            viewer=Person("", "", ()),
            outsider=Person("", "", ()),
        )
        console.viewer = console.add_person([VIEWERS])
        console.outsider = console.add_person([])
        yield console
