"""The agent never leaves a call hanging: silence prompts then hangs up, the maximum call length
ends politely, a model failure is apologised for (and a second one transfers), and if Twilio does
not stop the stream after the hang-up the streamer closes it itself."""

from __future__ import annotations

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import LocalAws
from streamer.agent.phrases import (
    APOLOGY_TRANSFER,
    FAILURE_TRANSFER,
    MAX_CALL_GOODBYE,
    SILENCE_GOODBYE,
    SILENCE_PROMPT,
)
from streamer.agent.sentences import split_sentences
from tests.support.agent_harness import TRANSFER_TO, agent_rig, call_parameters
from tests.support.streamer_harness import call_record, wait_for_call_end

pytestmark = pytest.mark.integration


async def test_silence_prompts_then_hangs_up_and_closes_the_stream(
    local_stack: LocalAws, call_sid: str
) -> None:
    async with agent_rig(
        local_stack,
        AGENT_SILENCE_PROMPT_SECONDS="0.8",
        AGENT_SILENCE_HANGUP_SECONDS="1.6",
        AGENT_END_GRACE_SECONDS="0.3",
    ) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: bool(rig.updates(call_sid)), within=10)
        # no `stop` from this Twilio: the streamer closes the socket itself after the grace period
        await phone.closed.wait()
        await wait_for_call_end(rig.server)
        flushed = rig.deepgram.speak_connections[0].flushed_texts
        await phone.hang_up()

    assert flushed[1:] == [SILENCE_PROMPT, *split_sentences(SILENCE_GOODBYE)]
    assert [u.value("Status") for u in rig.updates(call_sid)] == ["completed"]
    assert rig.model_requests() == []
    assert phone.echoed == [r.mark for r in phone.events("mark")]  # the goodbye had played
    record = await call_record(local_stack, call_sid)
    assert record is not None
    assert record.transcript_status == "completed"


async def test_max_call_length_ends_politely(local_stack: LocalAws, call_sid: str) -> None:
    async with agent_rig(local_stack, Reply.message("Happy to help."), AGENT_MAX_CALL_SECONDS="2.0") as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: bool(rig.updates(call_sid)), within=10)
        await phone.hang_up()
        await wait_for_call_end(rig.server)
        flushed = rig.deepgram.speak_connections[0].flushed_texts

    assert flushed[-2:] == split_sentences(MAX_CALL_GOODBYE)
    assert [u.value("Status") for u in rig.updates(call_sid)] == ["completed"]


async def test_model_error_apologises_then_transfers_on_the_second(
    local_stack: LocalAws, call_sid: str
) -> None:
    async with agent_rig(
        local_stack, Reply.invalid_request("boom"), Reply.overloaded(), Reply.overloaded()
    ) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(
            lambda: split_sentences(APOLOGY_TRANSFER)[-1] in rig.deepgram.speak_connections[0].flushed_texts
        )
        await phone.wait_quiet()
        await phone.say(["echo", None])  # "yes please"; the model fails again (overloaded, retried once)
        await phone.wait_until(lambda: bool(rig.updates(call_sid)), within=10)
        await phone.hang_up()
        await wait_for_call_end(rig.server)
        flushed = rig.deepgram.speak_connections[0].flushed_texts

    assert flushed[1:] == [*split_sentences(APOLOGY_TRANSFER), *split_sentences(FAILURE_TRANSFER)]
    (update,) = rig.updates(call_sid)
    assert f"<Dial>{TRANSFER_TO}</Dial>" in (update.value("Twiml") or "")
    assert len(rig.model_requests()) == 3  # one 400 (not retried), one 529 retried once
    # the failed turn left no half-answer in the history; the apology is there, as heard
    second_turn = rig.model_requests()[1].body["messages"]
    assert [(m["role"], [b["text"] for b in m["content"]]) for m in second_turn[2:]] == [
        ("user", ["alpha"]),
        ("assistant", [APOLOGY_TRANSFER]),
        ("user", ["echo"]),
    ]
