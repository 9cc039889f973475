"""`callscribe tail` and `callscribe users add` against the local stack's parts: moto's Cognito and the
AppSync Events stand-in over their real protocols, through the CLI's own entry point."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callscribe_local import cli
from callscribe_local.appsync_events import AppSyncEventsStandIn
from callscribe_local.aws_local import LocalAws
from callscribe_local.cli_errors import ExitCode
from callscribe_local.cognito import TokenVerifier, UserPool, sign_in
from callscribe_local.people import PeopleEndpoints, PeopleError, from_stack_outputs
from callscribe_local.tail import FeedFollower, TailError, format_message
from shared import stack_outputs
from shared.access import SUPERVISORS, VIEWERS, claims_groups
from shared.feed import LIVE_CHANNEL, call_channel
from tests.support.feed_wire import feed_fixture, signed_publish  # noqa: F401 - fixtures
from tests.support.people import (  # noqa: F401 - fixtures
    Person,
    people_pool_fixture,
    person_fixture,
    viewer_fixture,
)

pytestmark = pytest.mark.integration
CALL = "CA" + "b" * 32


def endpoints(pool: UserPool, feed: AppSyncEventsStandIn) -> PeopleEndpoints:
    return PeopleEndpoints(pool=pool, feed_http_host=feed.http_host, feed_realtime_url=feed.realtime_url)


def wait_until(predicate: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def segment(n: int) -> str:
    return json.dumps(
        {"type": "segment", "callSid": CALL, "segmentId": f"{n:010d}#inbound", "track": "inbound",
         "speaker": "caller", "start": n, "end": n + 1, "text": f"words {n}", "source": "live"}
    )  # fmt: skip


async def test_the_follower_shows_what_is_published_on_its_channel(
    people_pool: UserPool, feed: AppSyncEventsStandIn, viewer: Person
) -> None:
    shown: list[dict[str, Any]] = []
    follower = FeedFollower(
        endpoints(people_pool, feed), viewer.email, viewer.password, call_channel(CALL), shown.append
    )
    following = asyncio.create_task(follower.run(count=2))
    await asyncio.to_thread(wait_until, lambda: feed.subscriptions == 1)
    await asyncio.to_thread(signed_publish, feed.http_url, call_channel(CALL), [segment(1), segment(2)])
    assert await asyncio.wait_for(following, 15) == 2
    assert [event["text"] for event in shown] == ["words 1", "words 2"]


async def test_the_follower_reconnects_and_says_what_it_missed(
    people_pool: UserPool, feed: AppSyncEventsStandIn, viewer: Person
) -> None:
    shown: list[dict[str, Any]] = []
    notes: list[str] = []
    follower = FeedFollower(
        endpoints(people_pool, feed), viewer.email, viewer.password, LIVE_CHANNEL, shown.append, notes.append
    )
    following = asyncio.create_task(follower.run(count=2))
    await asyncio.to_thread(wait_until, lambda: feed.subscriptions == 1)
    await asyncio.to_thread(signed_publish, feed.http_url, LIVE_CHANNEL, [segment(1)])
    await asyncio.to_thread(wait_until, lambda: len(shown) == 1)
    assert await asyncio.to_thread(feed.drop_connections) == 1  # the network drops the connection
    await asyncio.to_thread(wait_until, lambda: any("reconnected" in note for note in notes))
    await asyncio.to_thread(signed_publish, feed.http_url, LIVE_CHANNEL, [segment(2)])
    assert await asyncio.wait_for(following, 15) == 2
    assert [event["text"] for event in shown] == ["words 1", "words 2"]
    assert any("connection lost" in note for note in notes)


async def test_a_wrong_password_or_a_missing_group_ends_the_follower(
    people_pool: UserPool, feed: AppSyncEventsStandIn, viewer: Person, person: Callable[..., Person]
) -> None:
    wrong = FeedFollower(endpoints(people_pool, feed), viewer.email, "not-it", LIVE_CHANNEL, print)
    with pytest.raises(TailError, match="sign-in refused"):
        await wrong.run(count=1)
    outsider = person(SUPERVISORS)
    refused = FeedFollower(
        endpoints(people_pool, feed), outsider.email, outsider.password, LIVE_CHANNEL, print
    )
    with pytest.raises(TailError, match="callscribe-viewers"):
        await refused.run(count=1)


def test_lines_for_the_terminal() -> None:
    line = format_message(json.loads(segment(3)))
    assert "CAbbbb…bbbb" in line
    assert "[caller] words 3" in line
    call = format_message(
        {"type": "call", "callSid": CALL, "status": "completed", "transcriptStatus": "completed"}
    )
    assert call.endswith("call  status=completed transcript=completed")
    assert "recording" in format_message({**json.loads(segment(4)), "source": "recording"})


# ---- through the CLI, on a "running local stack" (a state file naming these parts) --------------


@pytest.fixture
def local_state(
    tmp_path: Path, local_stack: LocalAws, people_pool: UserPool, feed: AppSyncEventsStandIn, viewer: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> cli.StackState:  # fmt: skip
    state = cli.StackState(
        pid=os.getpid(),
        api="http://127.0.0.1:1/local",
        stream="ws://127.0.0.1:1/media",
        aws=local_stack.endpoint,
        deepgram="",
        anthropic="",
        log_dir=str(tmp_path),
        account_sid="AC" + "0" * 32,
        auth_token="local",
        names={},
        console="http://127.0.0.1:1",
        console_api="http://127.0.0.1:1/api",
        console_user=viewer.email,
        console_password=viewer.password,
        feed=feed.realtime_url,
        feed_http=feed.http_url,
        user_pool={
            "region": people_pool.region,
            "pool_id": people_pool.pool_id,
            "client_id": people_pool.client_id,
            "endpoint": str(people_pool.endpoint),
        },
    )
    path = tmp_path / "state.json"
    state.save(path)
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(path))
    for key, value in local_stack.env().items():  # _point_at() sets these; put them back after
        monkeypatch.setenv(key, value)
    return state


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().out


def test_users_add_locally_creates_a_person_who_can_sign_in(
    local_state: cli.StackState, people_pool: UserPool, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(["users", "add", "new.supervisor@example.com", "--group", "supervisors"], capsys)
    assert code == 0
    assert "callscribe-viewers and callscribe-supervisors (new account)" in out
    password = out.strip().rsplit("password ", 1)[1]
    claims = TokenVerifier(people_pool).verify(
        sign_in(people_pool, "new.supervisor@example.com", password).id_token
    )
    assert claims_groups(claims) == {VIEWERS, SUPERVISORS}


def test_users_add_refuses_an_unknown_group(local_state: cli.StackState) -> None:
    with pytest.raises(SystemExit):
        cli.main(["users", "add", "x@example.com", "--group", "admins"])


def test_tail_prints_the_board_on_the_local_stack(
    local_state: cli.StackState, feed: AppSyncEventsStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    update = json.dumps({"type": "call", "callSid": CALL, "status": "ringing", "at": "T"})

    def publish_once_subscribed() -> None:
        wait_until(lambda: feed.subscriptions == 1)
        signed_publish(feed.http_url, LIVE_CHANNEL, [update])

    publisher = threading.Thread(target=publish_once_subscribed)
    publisher.start()
    code, out = run_cli(["tail", "--count", "1"], capsys)
    publisher.join()
    assert code == 0
    assert "following /calls/live" in out
    assert "call  status=ringing" in out


def test_tail_json_and_errors_are_one_line(
    local_state: cli.StackState, feed: AppSyncEventsStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(["tail", "not-a-call"], capsys)
    assert (code, out.strip()) == (2, "'not-a-call' is not a call SID (CA and 32 hex digits)")

    def publish_once_subscribed() -> None:
        wait_until(lambda: feed.subscriptions == 1)
        signed_publish(feed.http_url, call_channel(CALL), [segment(7)])

    publisher = threading.Thread(target=publish_once_subscribed)
    publisher.start()
    code, out = run_cli(["tail", CALL, "--json", "--count", "1"], capsys)
    publisher.join()
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1]) == json.loads(segment(7))


def test_tail_without_a_running_stack_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLSCRIBE_LOCAL_STATE", str(tmp_path / "none.json"))
    for command in (["tail"], ["users", "add", "ann@example.com", "--group", "viewers"]):
        assert cli.main(command) == ExitCode.STACK_STATE, command
        assert (
            capsys.readouterr().out.strip()
            == "no local stack is running: start one with: callscribe local up"
        )


def test_a_deployed_stack_is_found_by_its_outputs() -> None:
    outputs = {
        stack_outputs.USER_POOL_ID: "eu-west-1_abc",
        stack_outputs.USER_POOL_CLIENT_ID: "client",
        stack_outputs.FEED_HTTP_HOST: "x.appsync-api.eu-west-1.amazonaws.com",
        stack_outputs.FEED_REALTIME_URL: "wss://x.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
    }
    found = from_stack_outputs("Callscribe", "eu-west-1", outputs)
    assert found.pool.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
    assert not found.local
    with pytest.raises(PeopleError, match="no output FeedRealtimeUrl"):
        from_stack_outputs("Callscribe", "eu-west-1", {**outputs, stack_outputs.FEED_REALTIME_URL: ""})
