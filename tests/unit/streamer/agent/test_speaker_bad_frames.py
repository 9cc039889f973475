"""The TTS socket's reader must survive any text frame: one it cannot parse is logged and skipped, and
the agent keeps speaking on the same socket (a tiny local TTS server sends the frames)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.server import ServerConnection, serve

from streamer.agent.speech import Speaker
from streamer.agent.utterance import Utterance
from streamer.calllog import CallLog

NESTED = "[" * 100_000  # json raises RecursionError (not ValueError) on this
NEAR_LIMIT = '{"type": "Warning", "description": %s}' % ("[" * 950 + "]" * 950)


@pytest.mark.parametrize("frame", [NESTED, NEAR_LIMIT, "not json", "[]"])
async def test_a_frame_the_tts_cannot_mean_is_skipped_and_the_socket_keeps_speaking(frame: str) -> None:
    async def tts(ws: ServerConnection) -> None:
        await ws.send(frame)  # before anything is said: the reader meets it first
        async for message in ws:
            if json.loads(message).get("type") == "Flush":
                await ws.send(b"\x7f" * 800)
                await ws.send(json.dumps({"type": "Flushed", "sequence_id": 1}))

    finished: list[Utterance] = []
    speaker: Speaker

    async def twilio(text: str) -> None:  # Twilio plays at once: every mark comes straight back
        doc = json.loads(text)
        if doc["event"] == "mark":
            asyncio.get_running_loop().call_soon(speaker.on_mark, doc["mark"]["name"])

    async with serve(tts, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        speaker = Speaker(
            f"ws://127.0.0.1:{port}/v1/speak",
            "key",
            twilio,
            "MZ1",
            CallLog(),
            on_first_audio=lambda u: None,
            on_finished=finished.append,
        )
        run = asyncio.create_task(speaker.run())
        await speaker.wait_connected(5)
        utterance = speaker.begin()
        await speaker.say(utterance, "Hello there.")
        await speaker.finish(utterance)
        await asyncio.wait_for(utterance.done.wait(), 5)  # flushed and played on the same socket
        await speaker.close()
        await asyncio.wait_for(run, 5)

    assert finished == [utterance]
    assert utterance.heard == "Hello there."
    assert speaker.connections == 1  # the frame cost neither the socket nor a reconnect
    assert speaker.failed is None
