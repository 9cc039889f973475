"""SIGTERM on the real process (`python -m streamer`): /healthz turns 503 at once, new streams are
refused, the active call runs to its end and is fully transcribed, then the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.deepgram_server import DeepgramStandIn
from tests.conftest import TEST_AUTH_TOKEN
from tests.support.scripted_recognizer import ScriptedRecognizer, audio_for
from tests.support.streamer_harness import (
    DEEPGRAM_KEY,
    STREAM_URL,
    as_rows,
    blocks,
    call_record,
    events,
    expected_rows,
    segments,
    streamer_env,
)
from tests.support.twilio_media import TwilioMediaStream

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramStandIn]:
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=DEEPGRAM_KEY, idle_timeout=5) as dg:
        yield dg


async def _wait_healthy(http: httpx.AsyncClient, url: str, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(20):
        while True:
            assert process.returncode is None, "streamer exited during start-up"
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def test_sigterm_drains_active_call_then_exits_zero(
    local_stack: LocalAws, bus_tap: BusTap, deepgram: DeepgramStandIn, call_sid: str
) -> None:
    port = _free_port()
    env = {**os.environ, **streamer_env(local_stack, deepgram.url, PORT=str(port), DRAIN_SECONDS="30")}
    env["POWERTOOLS_SERVICE_NAME"] = "callscribe-streamer"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamer", cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = asyncio.create_task(process.stdout.read() if process.stdout else asyncio.sleep(0))
    words = ["alpha", "bravo", None, "charlie", "delta", None]
    try:
        async with httpx.AsyncClient() as http:
            health = f"http://127.0.0.1:{port}/healthz"
            await _wait_healthy(http, health, process)
            media_url = f"ws://127.0.0.1:{port}/media"
            twilio = TwilioMediaStream(media_url, STREAM_URL, TEST_AUTH_TOKEN, call_sid)
            await twilio.open()
            await twilio.start(tracks=("inbound",))
            next_ms = await twilio.play({"inbound": audio_for(words[:3])})
            await deepgram.wait_until(lambda: len(deepgram.connections) == 1)

            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                while True:
                    answer = await http.get(health)
                    if answer.status_code != 200:
                        break
                    await asyncio.sleep(0.02)
            assert (answer.status_code, answer.text) == (503, "draining\n")
            late = TwilioMediaStream(media_url, STREAM_URL, TEST_AUTH_TOKEN, call_sid[:-4] + "0009")
            with pytest.raises(InvalidStatus) as refused:
                await late.open()
            assert refused.value.response.status_code == 503

            # the active call goes on after SIGTERM and ends normally
            await twilio.play({"inbound": audio_for(words[3:])}, start_ms=next_ms)
            assert process.returncode is None
            await twilio.stop()
            async with asyncio.timeout(20):
                code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    logs = (await output).decode("utf-8", "replace")
    assert code == 0, logs[-3000:]

    assert as_rows(await segments(local_stack, call_sid)) == expected_rows("inbound", "caller", blocks(words))
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert len(await events(bus_tap, call_sid, wait_seconds=15)) == 1
    # structured JSON logs with the call SID, and the EMF metrics flushed at exit
    assert f'"call_sid":"{call_sid}"' in logs
    assert '"Namespace":"callscribe"' in logs
    assert '"service":"callscribe-streamer"' in logs


async def test_missing_configuration_fails_fast_naming_the_variable(local_stack: LocalAws) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DEEPGRAM_API_KEY", "DEEPGRAM_SECRET_ARN"}}
    env.update(streamer_env(local_stack, "ws://127.0.0.1:9"))
    del env["DEEPGRAM_API_KEY"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamer", cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(20):
        output, _ = await process.communicate()
    assert process.returncode == 2
    assert b"missing required environment variable DEEPGRAM_API_KEY" in output
