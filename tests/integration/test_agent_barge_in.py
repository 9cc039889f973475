"""Barge-in: caller speech while agent audio is unplayed clears Twilio and the TTS at once, drops the
rest of the interrupted answer (audio still arriving, the model stream still running) and leaves in
the history only what the caller heard."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import LocalAws
from callscribe_local.deepgram_server import SpeakOptions
from tests.support.agent_harness import GREETING, agent_rig, call_parameters
from tests.support.streamer_harness import segments, wait_for_call_end

pytestmark = pytest.mark.integration

LONG = (
    "Our opening hours are eight to five on weekdays. On Saturdays we open at nine and close at noon. "
    "We are closed on Sundays and on public holidays, but you can leave a message at any time."
)
# 200 bytes of audio per character, sent 4x faster than it plays: the answer takes ~4.5 s to play,
# well past the caller's interruption (at most ~2 s in: the phone aligns words to a 1 s grid)
BYTES_PER_CHAR = 200
SLOW_SPEECH = SpeakOptions(bytes_per_char=BYTES_PER_CHAR, chunk_bytes=1280, chunk_interval=0.02)
# with a real TTS's first-byte latency, the answer's audio reaches the phone well after its Flush
SLOW_SPEECH_WITH_LATENCY = dataclasses.replace(SLOW_SPEECH, first_audio_delay=0.2)


def _texts(message: dict[str, Any]) -> list[str]:
    return [b.get("text", "") for b in message["content"] if b.get("type") == "text"]


async def test_caller_interrupts_a_playing_answer(local_stack: LocalAws, call_sid: str) -> None:
    speak = SLOW_SPEECH_WITH_LATENCY
    async with agent_rig(local_stack, Reply.message(LONG), Reply.message("Sure."), speak=speak) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)  # greeting played
        greeting_bytes = len(phone.audio_received)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(phone.played) > greeting_bytes + 4000)  # 0.5 s of the answer
        await phone.say(["charlie", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 2)
        # "Sure." (one sentence, after the clear) has played: its mark came back, then at once the
        # caller hangs up. Its Flush alone says nothing: the audio may not have reached the phone yet.
        await phone.wait_until(lambda: phone.clears == 1 and len(phone.played_after_clear()) == 1)
        await phone.hang_up()
        await wait_for_call_end(rig.server)
        tts = rig.deepgram.speak_connections[0]

    assert phone.clears == 1
    assert "Clear" in tts.control
    # the rest of the interrupted answer never reached the caller
    answer_bytes = len(phone.audio_received) - greeting_bytes - len("Sure.") * BYTES_PER_CHAR
    assert 0 < answer_bytes < len(LONG) * BYTES_PER_CHAR
    # pending marks came back through the clear, not as played
    assert phone.echoed_by_clear

    second = rig.model_requests()[1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user", "assistant", "user"]
    heard = _texts(second[3])[0]
    assert heard.endswith(" …")
    heard_words = heard.removesuffix(" …").split()
    assert 0 < len(heard_words) < len(LONG.split())
    assert heard_words == LONG.split()[: len(heard_words)]  # a prefix: what had played
    assert _texts(second[4]) == ["charlie"]

    agent_rows = [s.text for s in await segments(local_stack, call_sid) if s.speaker == "agent"]
    assert agent_rows == [GREETING, heard.removesuffix(" …"), "Sure."]


async def test_caller_interrupts_while_the_model_is_still_streaming(
    local_stack: LocalAws, call_sid: str
) -> None:
    numbers = ("one", "two", "three", "four", "five", "six", "seven", "eight")
    sentences = [f"Point number {n} is worth hearing." for n in numbers]
    slow_model = Reply.slow(" ".join(sentences), stream_delay=0.25)  # ~4.5 s to stream it all
    async with agent_rig(local_stack, slow_model, Reply.message("Okay.")) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: sentences[0] in rig.deepgram.speak_connections[0].flushed_texts)
        await phone.say(["delta", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 2)
        await phone.wait_until(lambda: "Okay." in rig.deepgram.speak_connections[0].flushed_texts)
        await phone.wait_quiet()
        await phone.hang_up()
        await wait_for_call_end(rig.server)
        flushed = rig.deepgram.speak_connections[0].flushed_texts

    # the model's stream was abandoned: its later sentences were never sent to the TTS
    assert sentences[-1] not in flushed
    second = rig.model_requests()[1].body["messages"]
    heard = " ".join(t for m in second[3:-1] for t in _texts(m))
    assert all(s not in heard for s in sentences[-2:])
    assert _texts(second[-1]) == ["delta"]


async def test_a_dropped_tts_socket_is_reopened_and_the_answer_still_plays(
    local_stack: LocalAws, call_sid: str
) -> None:
    async with agent_rig(local_stack, Reply.message("Still here. Go on.")) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        rig.deepgram.drop_speak()
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(rig.deepgram.speak_connections) == 2)
        await phone.wait_until(lambda: len(phone.played_marks) == 3)  # greeting, "Still here.", "Go on."
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    assert rig.deepgram.speak_connections[1].flushed_texts == ["Still here.", "Go on."]
    agent_rows = [s.text for s in await segments(local_stack, call_sid) if s.speaker == "agent"]
    assert agent_rows == [GREETING, "Still here. Go on."]


async def test_speech_started_alone_interrupts_before_any_words_are_recognised(
    local_stack: LocalAws, call_sid: str
) -> None:
    # no interim results: without Deepgram's VAD event the agent would hear nothing until the final
    async with agent_rig(
        local_stack, Reply.message("Yes?"), speak=SLOW_SPEECH, DEEPGRAM_INTERIM_RESULTS="false"
    ) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid, greeting=LONG))
        await phone.wait_until(lambda: len(phone.played) > 4000, within=10)  # 0.5 s of the greeting
        await phone.say(["charlie"])
        await phone.wait_until(lambda: phone.clears == 1)
        listen = [c for c in rig.deepgram.connections if c.speech_started_sent]
        finals_with_words = [
            f for c in listen for f in c.finals_sent if f["channel"]["alternatives"][0]["words"]
        ]
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    assert len(listen) == 1  # the caller's track, which asked for them
    assert listen[0].params["vad_events"] == "true"
    assert finals_with_words == []  # the clear came on SpeechStarted, before "charlie" was recognised
    agent_rows = [s.text for s in await segments(local_stack, call_sid) if s.speaker == "agent"]
    assert LONG.startswith(agent_rows[0])
    assert agent_rows[0] != LONG
