"""The Deepgram stand-in itself speaks the live protocol the streamer relies on (checked with a plain
websockets client, as a Deepgram client would see it)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from callscribe_local.deepgram_server import DeepgramStandIn
from callscribe_local.recognizer import RecognizerBusyError
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for

pytestmark = pytest.mark.integration

KEY = "standin-key"
QUERY = "/v1/listen?model=nova-3&encoding=mulaw&sample_rate=8000&interim_results=true&utterance_end_ms=1000"


@pytest.fixture
async def dg() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=KEY, idle_timeout=0.5) as server:
        yield server


async def test_wrong_key_gets_401_with_deepgram_error_shape(dg: DeepgramStandIn) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(dg.url + QUERY, additional_headers={"Authorization": "Token wrong"})
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["dg-error"]
    assert response.headers["dg-request-id"]
    body = json.loads(response.body)
    assert body["err_code"] == "INVALID_AUTH"
    assert set(body) == {"err_code", "err_msg", "request_id"}


async def test_results_then_closestream_gives_final_metadata_and_1000(dg: DeepgramStandIn) -> None:
    async with connect(dg.url + QUERY, additional_headers={"Authorization": f"Token {KEY}"}) as ws:
        await ws.send(audio_for(["alpha", "bravo", None]))
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = [json.loads(m) async for m in ws]
        assert ws.close_code == 1000
    kinds = [(m["type"], m.get("is_final"), m.get("from_finalize")) for m in messages]
    assert kinds == [
        ("Results", False, False),  # interim after the first block
        ("Results", True, False),  # final every two blocks
        ("Results", False, False),
        ("Results", True, True),  # CloseStream flushes the rest
        ("Metadata", None, None),
    ]
    final = messages[1]
    assert final["channel"]["alternatives"][0]["transcript"] == "alpha bravo"
    assert (final["start"], final["duration"]) == (0.0, 1.0)
    assert (messages[3]["start"], messages[3]["duration"]) == (1.0, 0.5)
    assert messages[4]["duration"] == 1.5


async def test_idle_connection_is_closed_1011_net0001_after_metadata(dg: DeepgramStandIn) -> None:
    async with connect(dg.url + QUERY, additional_headers={"Authorization": f"Token {KEY}"}) as ws:
        await ws.send(audio_for(["alpha"]))
        messages = []
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                messages.append(json.loads(message))
        assert ws.close_code == 1011
        assert "net0001" in (ws.close_reason or "").lower()
    assert messages[-1]["type"] == "Metadata"


async def test_undecodable_encoding_is_closed_1008(dg: DeepgramStandIn) -> None:
    url = dg.url + "/v1/listen?encoding=wav-in-a-zip&sample_rate=8000"
    async with connect(url, additional_headers={"Authorization": f"Token {KEY}"}) as ws:
        await ws.send(b"\x00" * 320)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1008


class _PooledRecognizers:
    """A factory with a bounded capacity, like the pocketsphinx one: counts what it hands out and
    what comes back through `close()`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.open = 0
        self.closed = 0

    def available(self) -> bool:
        return self.open < self.capacity

    def __call__(self, params: dict[str, str]) -> ScriptedRecognizer:
        if not self.available():
            raise RecognizerBusyError("full")
        self.open += 1
        factory = self

        class _Closing(ScriptedRecognizer):
            def close(self) -> None:
                factory.open -= 1
                factory.closed += 1

        return _Closing()


async def test_a_bounded_recognizer_pool_is_refused_429_and_given_back_on_close() -> None:
    pool = _PooledRecognizers(capacity=2)
    auth = {"Authorization": f"Token {KEY}"}
    async with DeepgramStandIn(pool, api_key=KEY, idle_timeout=5) as server:
        first = await connect(server.url + QUERY, additional_headers=auth)
        second = await connect(server.url + QUERY, additional_headers=auth)
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.url + QUERY, additional_headers=auth)
        response = refused.value.response
        assert response.status_code == 429
        assert json.loads(response.body)["err_code"] == "TOO_MANY_REQUESTS"

        await first.send(json.dumps({"type": "CloseStream"}))  # a clean end
        await first.wait_closed()
        second.transport.abort()  # and an abrupt one: both give their recognizer back
        await server.wait_until(lambda: pool.closed == 2)
        assert pool.open == 0

        async with connect(server.url + QUERY, additional_headers=auth) as third:
            await third.send(json.dumps({"type": "CloseStream"}))
            await third.wait_closed()
        await server.wait_until(lambda: pool.closed == 3)
