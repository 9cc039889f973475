"""The model adapter and the local model stand-ins, through the real `anthropic` SDK: the Messages API
stand-in for MODEL_PROVIDER=anthropic, the Bedrock runtime stand-in (SigV4, event streams) for
MODEL_PROVIDER=bedrock. Scenarios the providers share run on both; each provider's wire has its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic import Anthropic, AnthropicBedrock

from callscribe_local.anthropic_replies import Reply, ScriptedResponder
from callscribe_local.anthropic_server import AnthropicServer
from callscribe_local.bedrock_server import BedrockServer
from callscribe_local.offline_summarizer import OFFLINE_MODEL, OfflineSummarizer
from functions.summaries.anthropic_adapter import ANSWER_TOOL, AnthropicModel, build_client, language_model
from functions.summaries.errors import ModelOutputError, ModelRequestRejectedError, ModelUnavailableError
from functions.summaries.llm import StructuredOutput, StructuredRequest
from functions.summaries.settings import SummaryModelSettings
from functions.summaries.summary import CallSummary
from shared.anthropic_clients import BEDROCK_ANTHROPIC_VERSION, ModelProvider
from tests.support.model_servers import PROVIDERS, default_model, model_env, model_server
from tests.unit.summaries.builders import a_summary

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
API_KEY = "sk-ant-test-0123456789"
BEDROCK_MODEL = "us.anthropic.claude-haiku-5-5"
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


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(provider: str, scripted: ScriptedResponder) -> Iterator[AnthropicServer | BedrockServer]:
    with model_server(provider, scripted) as running:
        yield running


def adapter(server: AnthropicServer | BedrockServer, **env: str) -> AnthropicModel:
    """The adapter as the Lambda builds it: from its settings, on the provider they name."""
    settings = SummaryModelSettings.from_env(
        {
            "CALLS_TABLE": "c",
            "TRANSCRIPTS_TABLE": "t",
            "ANTHROPIC_MAX_RETRIES": "2",
            **model_env(server),
            **env,
        }
    )
    return language_model(settings, timeout_seconds=10)


@pytest.fixture
def model(server: AnthropicServer | BedrockServer) -> AnthropicModel:
    return adapter(server)


@pytest.fixture
def anthropic_server(scripted: ScriptedResponder) -> Iterator[AnthropicServer]:
    with AnthropicServer(scripted, api_key=API_KEY) as running:
        yield running


@pytest.fixture
def bedrock(scripted: ScriptedResponder) -> Iterator[BedrockServer]:
    with BedrockServer(scripted) as running:
        yield running


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
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer | BedrockServer, provider: str
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
    assert reply.request_id.startswith("msg_bdrk_" if provider == "bedrock" else "req_")
    # on Bedrock the price follows the profile the request named (a geographic one: +10 %)
    assert reply.bedrock_model_id == (BEDROCK_MODEL if provider == "bedrock" else None)

    [request] = server.requests
    assert request.body["model"] == default_model(provider)
    assert request.body["system"] == "You summarise calls."
    assert request.body["messages"] == [{"role": "user", "content": TRANSCRIPT}]
    schema = request.output_schema
    assert schema is not None
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(CallSummary.model_fields)


def test_overloaded_then_success_is_retried_by_the_sdk(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer | BedrockServer
) -> None:
    scripted.push(Reply.overloaded(), Reply.json(a_summary().model_dump(mode="json")))
    assert ask(model).value == a_summary()
    assert len(server.requests) == 2
    assert [r.headers.get("x-stainless-retry-count") for r in server.requests] == ["0", "1"]


def test_rate_limit_with_retry_after_is_retried(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer | BedrockServer
) -> None:
    scripted.push(
        Reply.rate_limited(retry_after_seconds=0.1), Reply.json(a_summary().model_dump(mode="json"))
    )
    assert ask(model).value == a_summary()
    assert len(server.requests) == 2


def test_persistent_overload_becomes_unavailable_after_max_retries(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer | BedrockServer, provider: str
) -> None:
    scripted.push(Reply.overloaded(), Reply.overloaded(), Reply.overloaded())
    unavailable = "503 ServiceUnavailableException" if provider == "bedrock" else "529 overloaded_error"
    with pytest.raises(ModelUnavailableError, match=f"{unavailable}: Overloaded after retries"):
        ask(model)
    assert len(server.requests) == 3  # 1 + max_retries


def test_invalid_request_is_rejected_without_retry(
    model: AnthropicModel, scripted: ScriptedResponder, server: AnthropicServer | BedrockServer, provider: str
) -> None:
    scripted.push(Reply.invalid_request("max_tokens: must be less than 128000"))
    rejected = "ValidationException" if provider == "bedrock" else "invalid_request_error"
    request_id = r"[0-9a-f-]{36}" if provider == "bedrock" else "req_"
    with pytest.raises(
        ModelRequestRejectedError, match=rf"400 {rejected}: max_tokens.*request-id {request_id}"
    ):
        ask(model)
    assert len(server.requests) == 1


def test_wrong_key_is_rejected(anthropic_server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.base_url)  # honoured by the SDK itself
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
    anthropic_server: AnthropicServer, scripted: ScriptedResponder
) -> None:
    server = anthropic_server
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


def test_error_shape_matches_the_api(anthropic_server: AnthropicServer, scripted: ScriptedResponder) -> None:
    import anthropic

    server = anthropic_server
    scripted.push(Reply.invalid_request("bad"))
    client = Anthropic(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad"},
    }
    assert caught.value.request_id is not None


def test_streaming_text(anthropic_server: AnthropicServer, scripted: ScriptedResponder) -> None:
    text = "Hello there, this reply arrives in several server-sent events."
    scripted.push(Reply.message(text))
    client = Anthropic(api_key=API_KEY, base_url=anthropic_server.base_url, max_retries=0)
    with client.messages.stream(
        model="m", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == text
    assert final.stop_reason == "end_turn"


def test_offline_summarizer_answers_the_schema_and_names_itself(
    server: AnthropicServer | BedrockServer, model: AnthropicModel
) -> None:
    server.responder = OfflineSummarizer()
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


# -- Amazon Bedrock's own wire ---------------------------------------------------------------------


def test_on_bedrock_the_request_is_invoke_model_signed_with_the_role(
    bedrock: BedrockServer, scripted: ScriptedResponder
) -> None:
    scripted.push(Reply.json(a_summary().model_dump(mode="json")))
    reply = ask(adapter(bedrock))
    assert reply.value == a_summary()
    assert reply.model == "claude-haiku-5-5"  # Bedrock reports Anthropic's name, not the profile
    [sent] = bedrock.invocations
    assert (sent.model_id, sent.streamed) == (BEDROCK_MODEL, False)
    # the model is in the path, the version in the body: Bedrock refuses `model` and `stream` there
    assert sent.body["anthropic_version"] == BEDROCK_ANTHROPIC_VERSION
    assert "model" not in sent.body
    assert "stream" not in sent.body
    assert sent.body["output_config"]["format"]["type"] == "json_schema"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/bedrock/aws4_request" in sent.headers["authorization"]
    assert "x-api-key" not in sent.headers


def test_on_bedrock_a_wrong_secret_is_refused_by_its_signature(bedrock: BedrockServer) -> None:
    client = AnthropicBedrock(
        aws_region="us-east-1",
        aws_access_key="testing",
        aws_secret_key="not-the-secret",
        base_url=bedrock.base_url,
        max_retries=2,
    )
    wrong = AnthropicModel(client, BEDROCK_MODEL, provider=ModelProvider.BEDROCK)
    with pytest.raises(
        ModelRequestRejectedError, match="403 InvalidSignatureException: The request signature"
    ):
        ask(wrong)
    assert len(bedrock.invocations) == 1  # a 403 is not retried
    assert bedrock.requests == []


def test_a_bedrock_model_that_refuses_output_config_is_answered_with_a_forced_tool(
    bedrock: BedrockServer, scripted: ScriptedResponder
) -> None:
    """Some Claude models on InvokeModel refuse `output_config`: the error says what to set, and with
    BEDROCK_STRUCTURED_OUTPUT=tool the same schema comes back as one forced tool call."""
    bedrock.native_structured_output = False
    scripted.push(Reply.json(a_summary().model_dump(mode="json")))
    with pytest.raises(ModelRequestRejectedError, match="set BEDROCK_STRUCTURED_OUTPUT=tool"):
        ask(adapter(bedrock))

    model = adapter(bedrock, BEDROCK_STRUCTURED_OUTPUT=StructuredOutput.TOOL.value)
    reply = ask(model)
    assert reply.value == a_summary()
    sent = bedrock.invocations[-1].body
    assert "output_config" not in sent
    assert sent["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    assert sent["thinking"] == {"type": "disabled"}  # a forced tool call cannot think first
    [tool] = sent["tools"]
    assert set(tool["input_schema"]["required"]) == set(CallSummary.model_fields)


def test_a_forced_tool_answer_is_checked_like_a_native_one(
    bedrock: BedrockServer, scripted: ScriptedResponder
) -> None:
    model = adapter(bedrock, BEDROCK_STRUCTURED_OUTPUT="tool")
    scripted.push(Reply.json(a_summary().model_dump(mode="json"), stop_reason="max_tokens"))
    with pytest.raises(ModelOutputError, match="max_tokens"):
        ask(model)
    scripted.push(Reply.message("I would rather not use the tool."))
    with pytest.raises(ModelOutputError, match=f"no {ANSWER_TOOL} call"):
        ask(model)


def test_bedrock_throttling_is_retried_by_the_sdk(
    bedrock: BedrockServer, scripted: ScriptedResponder
) -> None:
    scripted.push(Reply.rate_limited(), Reply.json(a_summary().model_dump(mode="json")))
    assert ask(adapter(bedrock)).value == a_summary()
    assert len(bedrock.invocations) == 2


def test_bedrock_streams_messages_events_in_event_stream_frames(
    bedrock: BedrockServer, scripted: ScriptedResponder
) -> None:
    text = "Hello there, this reply arrives in several event stream frames."
    scripted.push(Reply.tools(text, ("end_call", {"reason": "done"})))
    client = AnthropicBedrock(aws_region="us-east-1", base_url=bedrock.base_url, max_retries=0)
    with client.messages.stream(
        model=BEDROCK_MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"anthropic_version": BEDROCK_ANTHROPIC_VERSION},
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == text
    assert final.stop_reason == "tool_use"
    assert [(b.type, getattr(b, "input", None)) for b in final.content][1] == ("tool_use", {"reason": "done"})
    assert bedrock.invocations[0].streamed
    assert bedrock.requests[0].body["stream"] is True  # what the responder saw: a streamed request
