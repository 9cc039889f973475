"""The agent's tools and keypad input: transfer (allow-listed or refused back to the model),
send_dtmf (tones played into the call as audio), and caller DTMF reaching the model as input."""

from __future__ import annotations

from typing import Any

import pytest

from callscribe_local.anthropic_replies import Reply
from callscribe_local.aws_local import LocalAws
from streamer.agent.dtmf import dtmf_audio
from tests.support.agent_harness import TRANSFER_TO, agent_rig, call_parameters
from tests.support.streamer_harness import segments, wait_for_call_end

pytestmark = pytest.mark.integration


def _tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["content"] if b.get("type") == "tool_result"]


async def test_transfer_refuses_a_number_off_the_allow_list_then_transfers(
    local_stack: LocalAws, call_sid: str
) -> None:
    replies = (
        Reply.tools("", ("transfer_call", {"number": "+19995550000"})),
        Reply.tools("Transferring you now.", ("transfer_call", {"number": TRANSFER_TO})),
    )
    async with agent_rig(local_stack, *replies) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: bool(rig.updates(call_sid)))
        assert phone.echoed == [r.mark for r in phone.events("mark")]  # last words played first
        await phone.hang_up()  # Twilio leaves <Connect><Stream> for the new TwiML: stop
        await wait_for_call_end(rig.server)

    (update,) = rig.updates(call_sid)
    assert update.value("Twiml") is not None
    assert f"<Dial>{TRANSFER_TO}</Dial>" in (update.value("Twiml") or "")
    assert update.value("Status") is None

    first_use = rig.model_requests()[0]
    second = rig.model_requests()[1].body["messages"]
    (refused,) = _tool_results(second[-1])
    assert refused["is_error"] is True
    assert "+19995550000 is not an allowed transfer number" in refused["content"]
    assert TRANSFER_TO in refused["content"]
    transfer_tool = next(t for t in first_use.body["tools"] if t["name"] == "transfer_call")
    assert TRANSFER_TO in transfer_tool["description"]


async def test_send_dtmf_plays_tones_into_the_call(local_stack: LocalAws, call_sid: str) -> None:
    replies = (
        Reply.tools("One moment.", ("send_dtmf", {"digits": "1w2"})),
        Reply.message("I pressed them."),
        Reply.tools("", ("send_dtmf", {"digits": "99x"})),
        Reply.message("That did not work."),
    )
    async with agent_rig(local_stack, *replies) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 2)
        await phone.wait_until(lambda: "I pressed them." in rig.deepgram.speak_connections[0].flushed_texts)
        await phone.wait_quiet()
        await phone.say(["bravo", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 4)
        await phone.wait_quiet()
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    tones = dtmf_audio("1w2")
    audio = phone.audio_received
    # "One moment." then the tones then "I pressed them.": the tones are in the call, in order
    at = audio.find(tones)
    assert at > 0
    assert len(audio) - at - len(tones) > 0
    assert len(tones) == 2 * (800 + 640) + 4000  # two 100 ms tones with 80 ms gaps, a 500 ms pause

    (played,) = _tool_results(rig.model_requests()[1].body["messages"][-1])
    assert played["content"] == "Played the tones 1w2."
    assert "is_error" not in played
    (refused,) = _tool_results(rig.model_requests()[3].body["messages"][-1])
    assert refused["is_error"] is True
    assert "digits must be" in refused["content"]


async def test_caller_keypad_digits_reach_the_model_as_one_turn(local_stack: LocalAws, call_sid: str) -> None:
    async with agent_rig(local_stack, Reply.message("You pressed four two.")) as rig:
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.press("4")
        await phone.press("2")
        await phone.wait_until(lambda: len(rig.model_requests()) == 1)
        await phone.wait_quiet()
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    last = rig.model_requests()[0].body["messages"][-1]
    assert last == {
        "role": "user",
        "content": [{"type": "text", "text": "[The caller pressed the keypad: 42]"}],
    }


async def test_a_failed_end_call_leaves_the_rest_of_the_reply_a_new_stored_utterance(
    local_stack: LocalAws, call_sid: str
) -> None:
    replies = (
        Reply.tools("Goodbye then.", ("end_call", {})),
        Reply.message("Sorry, I could not hang up."),
    )
    async with agent_rig(local_stack, *replies) as rig:
        rig.twilio.fail_next(400, 21220, "Call is not in-progress. Cannot redirect.")
        phone = rig.phone(call_sid)
        await phone.answer(call_parameters(call_sid))
        await phone.wait_until(lambda: len(phone.echoed) >= 1, within=10)
        await phone.say(["alpha", None])
        await phone.wait_until(lambda: len(rig.model_requests()) == 2)
        await phone.wait_until(lambda: len(phone.echoed) >= 3)  # greeting, goodbye, the apology
        await phone.hang_up()
        await wait_for_call_end(rig.server)

    (failed,) = _tool_results(rig.model_requests()[1].body["messages"][-1])
    assert failed["is_error"] is True
    agent_rows = [s.text for s in await segments(local_stack, call_sid) if s.speaker == "agent"]
    assert "Sorry, I could not hang up." in agent_rows
    assert "Goodbye then." in agent_rows
