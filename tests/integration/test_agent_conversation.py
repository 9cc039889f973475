"""Agent mode end to end on real sockets: the Twilio-side phone plays audio in real time and echoes
marks; Deepgram (listen + speak), the model (streamed, scripted: Anthropic's API, and Amazon Bedrock's
InvokeModelWithResponseStream) and Twilio REST are local stand-ins spoken to by the real clients;
segments, CDR and the event land in moto."""

from __future__ import annotations

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import BusTap, LocalAws
from callscribe_local.bedrock_server import BedrockServer
from shared.anthropic_clients import BEDROCK_ANTHROPIC_VERSION
from tests.support.agent_harness import (
    GREETING,
    INSTRUCTIONS,
    agent_rig,
    call_parameters,
)
from tests.support.model_servers import PROVIDERS, default_model
from tests.support.streamer_harness import call_record, events, segments, wait_for_call_end

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_full_conversation_greets_answers_and_hangs_up_after_the_goodbye(
    local_stack: LocalAws, bus_tap: BusTap, call_sid: str, provider: str
) -> None:
    replies = (
        Reply.message("Hello there. How can I help you today?"),
        Reply.tools("Goodbye, have a nice day!", ("end_call", {"reason": "caller is done"})),
    )
    async with agent_rig(local_stack, *replies, provider=provider) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1)  # the greeting has played
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 1)
        await phone.wait_until(lambda: len(phone.echoed) >= 2)
        await phone.say(["bravo", None])
        await phone.wait_until(lambda: bool(rig.updates(call_sid)))
        # the hang-up went out only after every mark sent had come back as played
        marks_sent = [r.mark for r in phone.events("mark")]
        assert phone.echoed == marks_sent
        assert phone.echoed_by_clear == []
        assert len(phone.played) == len(phone.audio_received)
        await phone.hang_up()
        await wait_for_call_end(rig.server)
        speak = rig.deepgram.speak_connections

    update = rig.updates(call_sid)
    assert [(u.value("Status"), u.status) for u in update] == [("completed", 200)]

    # one TTS socket for the call, raw 8 kHz mu-law in the route's voice, sentence by sentence
    assert len(speak) == 1
    assert speak[0].params == {
        "model": "aura-2-thalia-en",
        "encoding": "mulaw",
        "sample_rate": "8000",
        "container": "none",
    }
    assert speak[0].flushed_texts == [
        GREETING,
        "Hello there.",
        "How can I help you today?",
        "Goodbye, have a nice day!",
    ]

    first, second = rig.model_requests()
    assert first.body["model"] == default_model(provider)
    assert first.body["stream"] is True
    assert first.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert INSTRUCTIONS in first.system_text
    assert [t["name"] for t in first.body["tools"]] == ["end_call", "transfer_call", "send_dtmf"]
    assert [(m["role"], [b.get("text") for b in m["content"]]) for m in first.body["messages"]] == [
        ("user", ["(The call connects.)"]),
        ("assistant", [GREETING]),
        ("user", ["alpha"]),
    ]
    assert [m["role"] for m in second.body["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert second.body["messages"][-1]["content"] == [{"type": "text", "text": "bravo"}]
    if isinstance(rig.anthropic, BedrockServer):  # both rounds streamed through Bedrock's own API
        assert [(i.streamed, i.body["anthropic_version"]) for i in rig.anthropic.invocations] == [
            (True, BEDROCK_ANTHROPIC_VERSION)
        ] * 2

    stored = await segments(local_stack, call_sid)
    agent = [(s.text, float(s.start), float(s.end)) for s in stored if s.speaker == "agent"]
    caller = [(s.text, float(s.start), float(s.end)) for s in stored if s.speaker == "caller"]
    assert {s.track for s in stored if s.speaker == "agent"} == {"outbound"}
    assert {s.track for s in stored if s.speaker == "caller"} == {"inbound"}
    assert [text for text, _, _ in agent] == [
        GREETING,
        "Hello there. How can I help you today?",
        "Goodbye, have a nice day!",
    ]
    assert [text for text, _, _ in caller] == ["alpha", "bravo"]
    # stream time: each answer starts after the caller's words it answers (the scripted recognizer
    # places words on 0.5 s blocks, so only this order is exact) and lasts as long as its audio
    assert caller[0][2] <= agent[1][1]
    assert caller[1][2] <= agent[2][1]
    assert all(end > start for _, start, end in agent)
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"
    assert record.segment_count == 5
    # every character spoken went to the TTS once (one socket, nothing re-spoken): what Aura bills
    assert record.tts_characters == sum(len(text) for text in speak[0].flushed_texts)
    assert record.live_audio_seconds is not None
    assert record.live_audio_seconds > 0
    published = await events(bus_tap, call_sid, wait_seconds=15)
    assert [(e["detail-type"], e["detail"]["segmentCount"]) for e in published] == [
        ("Transcript Completed", 5)
    ]
