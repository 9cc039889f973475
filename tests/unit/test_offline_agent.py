"""The offline agent: a scripted conversation from the agent's own requests, labelled offline."""

from __future__ import annotations

from typing import Any

from callscribe_local.anthropic_replies import RecordedRequest
from callscribe_local.offline_agent import OFFLINE_AGENT_MODEL, OfflineAgent, OfflineModels

TOOLS = [{"name": "end_call"}, {"name": "transfer_call"}, {"name": "send_dtmf"}]


def _request(*messages: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> RecordedRequest:
    body = {
        "model": OFFLINE_AGENT_MODEL,
        "messages": list(messages),
        "tools": TOOLS if tools is None else tools,
    }
    return RecordedRequest("POST", "/v1/messages", {}, body)


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


OPENING = (_user("(The call connects.)"), _assistant("Hello, how can I help?"))


def test_the_first_answer_repeats_the_callers_words_and_says_it_is_offline() -> None:
    reply = OfflineAgent()(_request(*OPENING, _user("i need to move my delivery")))
    assert reply.text is not None
    assert '"i need to move my delivery"' in reply.text
    assert "offline agent" in reply.text
    assert reply.tool_uses == ()
    assert reply.model == OFFLINE_AGENT_MODEL


def test_a_later_answer_repeats_the_caller_without_the_introduction() -> None:
    messages = (*OPENING, _user("alpha"), _assistant("You said alpha."), _user("bravo charlie"))
    reply = OfflineAgent()(_request(*messages))
    assert reply.text == 'You said: "bravo charlie". Anything else? Say goodbye to end the call.'


def test_goodbye_ends_the_call_with_end_call() -> None:
    reply = OfflineAgent()(_request(*OPENING, _user("thank you goodbye")))
    assert reply.text == "Thank you for calling. Goodbye!"
    assert [name for name, _ in reply.tool_uses] == ["end_call"]
    assert reply.stop_reason == "tool_use"


def test_asking_for_a_person_transfers_and_a_failed_tool_is_apologised_for() -> None:
    agent = OfflineAgent()
    reply = agent(_request(*OPENING, _user("can i talk to a person")))
    assert [name for name, _ in reply.tool_uses] == ["transfer_call"]
    failed = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": True}]}
    apology = agent(_request(*OPENING, _user("a person please"), _assistant("Sure."), failed))
    assert apology.text is not None
    assert apology.text.startswith("Sorry, I could not do that.")
    assert apology.tool_uses == ()


def test_the_stand_ins_models_answer_agent_requests_as_the_agent_and_the_rest_as_the_summariser() -> None:
    models = OfflineModels()
    agent_reply = models(_request(*OPENING, _user("hello")))
    assert agent_reply.model == OFFLINE_AGENT_MODEL
    summary_request = RecordedRequest(
        "POST",
        "/v1/messages",
        {},
        {"model": "m", "messages": [_user("<transcript>\nL1 [00:00:01] caller: hello\n</transcript>")]},
    )
    summary_reply = models(summary_request)
    assert summary_reply.model == "offline-extractive"
    assert summary_reply.text is not None
    assert summary_reply.text.startswith("Extractive summary (offline")
