"""The Anthropic adapter and the local Messages API stand-in, through the real `anthropic` SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic import Anthropic

from callscribe_local.anthropic_replies import Reply, ScriptedResponder
from callscribe_local.anthropic_server import AnthropicServer
from callscribe_local.offline_summarizer import OFFLINE_MODEL, OfflineSummarizer
from functions.summaries.anthropic_adapter import AnthropicModel, build_client
from functions.summaries.errors import ModelOutputError, ModelRequestRejectedError, ModelUnavailableError
from functions.summaries.llm import StructuredRequest
from functions.summaries.summary import CallSummary
from tests.unit.summaries.builders import a_summary

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
API_KEY = "sk-ant-test-key"
TRANSCRIPT = """Summarise this phone call.
The speech recogniser heard the call in language 'en'.
<transcript>
[00:00:01] caller: Hi, I'd like to move my dentist appointment from Tuesday to Friday.
[00:00:06] callee: Sure, Friday at ten works. I'll send you a confirmation email.
[00:00:11] caller: Perfect, thanks so much.
</transcript>"""


@pytest.fixture
def scripted() -> ScriptedResponder:
    return ScriptedResponder()


@pytest.fixture
def server(scripted: ScriptedResponder) -> Iterator[AnthropicServer]:
    with AnthropicServer(scripted, api_key=API_KEY) as running:
        yield running


@pytest.fixture
def model(server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> AnthropicModel:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)  # honoured by the SDK itself
    return AnthropicModel(build_client(API_KEY, timeout_seconds=10, max_retries=2), "claude-haiku-5-5")


def ask(model: AnthropicModel, prompt: str = TRANSCRIPT) -> Any:
    return model.structured(
        StructuredRequest(
            system="You summarise calls.",
            prompt=prompt,
            output=CallSummary,
            max_tokens=1024,
            timeout_seconds=10,
            purpose="single",
        )
    )


def test_structured_answer_is_parsed_and_accounted(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer
) -> None:
    scripted.push(
        Reply.json(
            a_summary().model_dump(mode="json"),
            model="claude-haiku-5-5-20261007",
            usage={"input_tokens": 812, "output_tokens": 143, "cache_read_input_tokens": 12},
        )
    )
    reply = ask(model)
    assert reply.value == a_summary()
    assert reply.model == "claude-haiku-5-5-20261007"  # what the response said, not what we asked
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.cache_read_input_tokens) == (
        812,
        143,
        12,
    )
    assert reply.request_id is not None
    assert reply.request_id.startswith("req_")

    [request] = server.requests
    assert request.body["model"] == "claude-haiku-5-5"
    assert request.body["system"] == "You summarise calls."
    assert request.body["messages"] == [{"role": "user", "content": TRANSCRIPT}]
    assert request.headers["anthropic-version"]
    schema = request.output_schema
    assert schema is not None
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(CallSummary.model_fields)


def test_overloaded_then_success_is_retried_by_the_sdk(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer
) -> None:
    scripted.push(Reply.overloaded(), Reply.json(a_summary().model_dump(mode="json")))
    assert ask(model).value == a_summary()
    assert len(server.requests) == 2
    assert [r.headers.get("x-stainless-retry-count") for r in server.requests] == ["0", "1"]


def test_rate_limit_with_retry_after_is_retried(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer
) -> None:
    scripted.push(
        Reply.rate_limited(retry_after_seconds=0.1), Reply.json(a_summary().model_dump(mode="json"))
    )
    assert ask(model).value == a_summary()
    assert len(server.requests) == 2


def test_persistent_overload_becomes_unavailable_after_max_retries(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer
) -> None:
    scripted.push(Reply.overloaded(), Reply.overloaded(), Reply.overloaded())
    with pytest.raises(ModelUnavailableError, match="529 overloaded_error"):
        ask(model)
    assert len(server.requests) == 3  # 1 + max_retries


def test_invalid_request_is_rejected_without_retry(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer
) -> None:
    scripted.push(Reply.invalid_request("max_tokens: must be less than 128000"))
    with pytest.raises(
        ModelRequestRejectedError, match=r"400 invalid_request_error: max_tokens.*request-id req_"
    ):
        ask(model)
    assert len(server.requests) == 1


def test_wrong_key_is_rejected(server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    wrong = AnthropicModel(build_client("sk-wrong", timeout_seconds=5, max_retries=2), "claude-haiku-5-5")
    with pytest.raises(ModelRequestRejectedError, match="401 authentication_error"):
        ask(wrong)


def test_cut_off_answer_is_never_accepted(model: AnthropicModel, scripted: ScriptedResponder) -> None:
    scripted.push(Reply.message('{"summary": "The caller wan', stop_reason="max_tokens"))
    with pytest.raises(ModelOutputError):
        ask(model)


def test_refusal_is_never_accepted(model: AnthropicModel, scripted: ScriptedResponder) -> None:
    scripted.push(Reply.json(a_summary().model_dump(mode="json"), stop_reason="refusal"))
    with pytest.raises(ModelOutputError, match="refusal"):
        ask(model)


def test_stand_in_refuses_scripted_answers_that_break_the_schema(
    model: AnthropicModel, scripted: ScriptedResponder
) -> None:
    scripted.push(Reply.json({"summary": "only this"}))
    with pytest.raises(ModelRequestRejectedError, match="breaks the schema"):
        ask(model)


def test_response_shape_matches_the_recorded_snapshots(
    server: AnthropicServer, scripted: ScriptedResponder
) -> None:
    [snapshot] = json.loads((FIXTURES / "sdk_snapshot_messages_parse_pydantic.json").read_text())
    recorded = snapshot["response"]["body"]
    scripted.push(Reply.json(json.loads(recorded["content"][0]["text"])))
    client = Anthropic(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-5-5",
        max_tokens=1024,
        messages=snapshot["request"]["body"]["messages"],
        output_config=snapshot["request"]["body"]["output_config"],
    )
    ours = json.loads(raw.http_response.text)
    assert set(ours) == set(recorded)
    assert set(ours["usage"]) == set(recorded["usage"])
    assert set(ours["usage"]["cache_creation"]) == set(recorded["usage"]["cache_creation"])
    assert raw.headers["request-id"].startswith("req_")
    assert server.requests[0].body["output_config"] == snapshot["request"]["body"]["output_config"]


def test_error_shape_matches_the_api(server: AnthropicServer, scripted: ScriptedResponder) -> None:
    import anthropic

    scripted.push(Reply.invalid_request("bad"))
    client = Anthropic(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad"},
    }
    assert caught.value.request_id is not None


def test_streaming_text(server: AnthropicServer, scripted: ScriptedResponder) -> None:
    text = "Hello there, this reply arrives in several server-sent events."
    scripted.push(Reply.message(text))
    client = Anthropic(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    with client.messages.stream(
        model="m", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == text
    assert final.stop_reason == "end_turn"


def test_offline_summarizer_answers_the_schema_and_names_itself(
    server: AnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.responder = OfflineSummarizer()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    model = AnthropicModel(build_client(API_KEY, timeout_seconds=10, max_retries=0), "claude-haiku-5-5")
    reply = ask(model)
    assert reply.model == OFFLINE_MODEL
    summary: CallSummary = reply.value
    assert summary.summary.startswith("Extractive summary (offline, no language model)")
    assert "move my dentist appointment" in summary.caller_intent
    assert "dentist" in summary.topics
    assert summary.sentiment.value == "positive"
    assert summary.follow_up_needed
    assert summary.action_items[0].owner.value == "callee"
    assert summary.language == "en"
