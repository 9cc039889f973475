"""The speaker's queue against the real TTS stand-in (a WebSocket server): a barge-in over two
queued utterances (a partial reply still playing, then an apology) must leave nothing of either in
the queue, or every later `Flushed` would be matched to the wrong sentence."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from callscribe_local.deepgram_server import DeepgramStandIn, SpeakOptions
from streamer.agent.speech import Speaker
from streamer.agent.utterance import Utterance
from streamer.calllog import CallLog
from tests.support.scripted_recognizer import ScriptedRecognizer

KEY = "dg-test-key"


async def test_barge_in_over_two_queued_utterances_ends_both() -> None:
    finished: list[Utterance] = []
    sent: list[dict[str, Any]] = []
    async with DeepgramStandIn(ScriptedRecognizer.factory(), api_key=KEY) as dg:
        dg.speak = SpeakOptions(bytes_per_char=20, chunk_bytes=400, first_audio_delay=0.3)
        speaker: Speaker

        async def twilio(text: str) -> None:  # Twilio plays at once: every mark comes straight back
            doc = json.loads(text)
            sent.append(doc)
            if doc["event"] == "mark":
                asyncio.get_running_loop().call_soon(speaker.on_mark, doc["mark"]["name"])

        speaker = Speaker(
            f"{dg.url}/v1/speak",
            KEY,
            twilio,
            "MZ1",
            CallLog(),
            on_first_audio=lambda u: None,
            on_finished=finished.append,
        )
        run = asyncio.create_task(speaker.run())
        await speaker.wait_connected(5)
        reply = speaker.begin(None, history_mark=1)
        await speaker.say(reply, "The first part of an answer.")
        await speaker.say(reply, "The rest of it.")
        await speaker.finish(reply)  # the model failed here: what was said still plays out
        apology = speaker.begin()
        await speaker.say(apology, "I'm sorry, could you say that again?")
        assert speaker.busy

        interrupted = speaker.interrupt()  # the caller talks over both

        assert interrupted is apology
        assert reply.done.is_set()
        assert reply.interrupted
        assert apology.done.is_set()
        assert apology.interrupted
        assert not speaker.busy
        next_reply = speaker.begin(None, history_mark=3)
        await speaker.say(next_reply, "Sure.")
        await speaker.finish(next_reply)
        await asyncio.wait_for(next_reply.done.wait(), 5)  # its own Flushed and mark, not a stale one
        await speaker.close()
        await asyncio.wait_for(run, 5)

    marks = [d["mark"]["name"] for d in sent if d["event"] == "mark"]
    assert marks == ["agent-3-1"]
    assert [d["event"] for d in sent].count("clear") == 1
    assert next_reply.heard == "Sure."
    assert finished == [reply, apology, next_reply]
